"""Read-only admin views: staff inspect warehouses, listings, leases and the ledger here;
every change goes through the services (the web pages and the API)."""

from django.contrib import admin

from core.admin import ReadOnlyAdmin
from warehouses.models import CapacityDay, Lease, LeaseReview, LeaseTransfer, Listing, Warehouse


@admin.register(Warehouse)
class WarehouseAdmin(ReadOnlyAdmin):
    list_display = ["name", "owner", "country", "city", "capacity_unit", "customs_status"]
    list_filter = ["country", "capacity_unit", "customs_status"]
    search_fields = ["name", "city", "owner__legal_name"]
    list_select_related = ["owner"]


@admin.register(Listing)
class ListingAdmin(ReadOnlyAdmin):
    list_display = [
        "title",
        "warehouse",
        "units",
        "available_from",
        "available_until",
        "price_per_unit_day",
        "currency",
        "booking_mode",
        "status",
    ]
    list_filter = ["status", "booking_mode", "currency"]
    search_fields = ["title", "warehouse__name"]
    list_select_related = ["warehouse"]


@admin.register(Lease)
class LeaseAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "listing",
        "tenant",
        "units",
        "start",
        "end",
        "status",
        "total_price",
        "currency",
        "hold_expires_at",
        "parent",
    ]
    list_filter = ["status", "booking_mode"]
    search_fields = ["tenant__legal_name", "listing__title"]
    list_select_related = ["listing", "tenant"]
    raw_id_fields = ["parent"]


@admin.register(LeaseTransfer)
class LeaseTransferAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "lease",
        "from_subject",
        "to_subject",
        "units",
        "status",
        "expires_at",
        "effective_from",
        "amount",
        "recipient_lease",
    ]
    list_filter = ["status"]
    search_fields = ["from_subject__legal_name", "to_subject__legal_name"]
    list_select_related = ["lease", "from_subject", "to_subject", "recipient_lease"]
    raw_id_fields = ["lease", "recipient_lease"]


@admin.register(LeaseReview)
class LeaseReviewAdmin(ReadOnlyAdmin):
    list_display = ["id", "lease", "reviewer", "reviewed", "stars", "created_at"]
    list_filter = ["stars"]
    search_fields = ["reviewer__legal_name", "reviewed__legal_name"]
    list_select_related = ["lease", "reviewer", "reviewed"]
    raw_id_fields = ["lease"]


@admin.register(CapacityDay)
class CapacityDayAdmin(ReadOnlyAdmin):
    list_display = ["listing", "day", "capacity", "reserved"]
    raw_id_fields = ["listing"]
    show_full_result_count = False

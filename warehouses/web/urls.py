from django.urls import path

from core.routes import routes
from warehouses.web import escrow_views, transfer_views, views

app_name = "warehouses"

urlpatterns = [
    path("warehouses/", views.search, name="search"),
    path("warehouses/listings/<int:listing_id>/", views.listing_detail, name="listing"),
    path("warehouses/leases/", views.my_leases, name="leases"),
    *routes(
        "warehouses/leases/<int:lease_id>/",
        "lease",
        {
            "": views.lease_detail,
            "pay": escrow_views.lease_pay,
            "dispute": escrow_views.lease_dispute,
            "transfer": transfer_views.lease_transfer,
            "review": transfer_views.lease_review,
        },
    ),
    path("warehouses/disputes/", escrow_views.disputes, name="disputes"),
    path("warehouses/disputes/<int:dispute_id>/", escrow_views.dispute_detail, name="dispute"),
    path("warehouses/transfers/", transfer_views.transfers, name="transfers"),
    path("warehouses/transfers/<int:transfer_id>/accept/", transfer_views.transfer_accept, name="transfer-accept"),
    path(
        "warehouses/transfers/<int:transfer_id>/<slug:action>/", transfer_views.transfer_action, name="transfer-action"
    ),
    path("warehouses/leases/<int:lease_id>/<slug:action>/", views.lease_action, name="lease-action"),
    path("warehouses/mine/", views.operator_home, name="operator"),
    path("warehouses/mine/warehouses/new/", views.warehouse_new, name="warehouse-new"),
    path("warehouses/mine/listings/new/", views.listing_new, name="listing-new"),
    path("warehouses/mine/listings/<int:listing_id>/", views.manage_listing, name="manage-listing"),
]

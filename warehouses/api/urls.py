from django.urls import path

from core.routes import routes
from warehouses.api.views import escrow, leases, listings, reviews, transfers

# Route names follow core.routes: "leases/<int:lease_id>/approve/" is api-lease-approve.
urlpatterns = [
    *routes(
        "",
        "api",
        {
            "listings": listings.ListingListView,
            "warehouses": listings.WarehouseListView,
            "leases": leases.LeaseListView,
            "disputes": escrow.DisputeListView,
            "transfers": transfers.TransferListView,
        },
    ),
    *routes(
        "listings/<int:listing_id>/",
        "api-listing",
        {"": listings.ListingDetailView, "calendar": listings.ListingCalendarView},
    ),
    path("warehouses/<int:warehouse_id>/", listings.WarehouseDetailView.as_view(), name="api-warehouse"),
    *routes(
        "leases/<int:lease_id>/",
        "api-lease",
        {
            "": leases.LeaseDetailView,
            "approve": leases.LeaseApproveView,
            "reject": leases.LeaseRejectView,
            "check-in": leases.LeaseCheckInView,
            "complete": leases.LeaseCompleteView,
            "cancel": leases.LeaseCancelView,
            "no-show": leases.LeaseNoShowView,
            "withdraw": leases.LeaseWithdrawView,
            "transfers": transfers.LeaseTransferOfferView,
            "review": reviews.LeaseReviewView,
            "reviews": reviews.LeaseReviewListView,
            "pay": escrow.LeasePayView,
            "dispute": escrow.LeaseDisputeView,
        },
    ),
    *routes(
        "disputes/<int:dispute_id>/",
        "api-dispute",
        {"": escrow.DisputeDetailView, "resolve": escrow.DisputeResolveView},
    ),
    *routes(
        "transfers/<int:transfer_id>/",
        "api-transfer",
        {
            "": transfers.TransferDetailView,
            "accept": transfers.TransferAcceptView,
            "consent": transfers.TransferConsentView,
            "decline": transfers.TransferDeclineView,
            "withdraw": transfers.TransferWithdrawView,
        },
    ),
]

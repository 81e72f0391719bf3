from django.urls import path

from warehouses.api.views import escrow, leases, listings, reviews, transfers

urlpatterns = [
    path("listings/", listings.ListingListView.as_view(), name="api-listings"),
    path("listings/<int:listing_id>/", listings.ListingDetailView.as_view(), name="api-listing"),
    path(
        "listings/<int:listing_id>/calendar/",
        listings.ListingCalendarView.as_view(),
        name="api-listing-calendar",
    ),
    path("warehouses/", listings.WarehouseListView.as_view(), name="api-warehouses"),
    path("warehouses/<int:warehouse_id>/", listings.WarehouseDetailView.as_view(), name="api-warehouse"),
    path("leases/", leases.LeaseListView.as_view(), name="api-leases"),
    path("leases/<int:lease_id>/", leases.LeaseDetailView.as_view(), name="api-lease"),
    path("leases/<int:lease_id>/approve/", leases.LeaseApproveView.as_view(), name="api-lease-approve"),
    path("leases/<int:lease_id>/reject/", leases.LeaseRejectView.as_view(), name="api-lease-reject"),
    path("leases/<int:lease_id>/check-in/", leases.LeaseCheckInView.as_view(), name="api-lease-check-in"),
    path("leases/<int:lease_id>/complete/", leases.LeaseCompleteView.as_view(), name="api-lease-complete"),
    path("leases/<int:lease_id>/cancel/", leases.LeaseCancelView.as_view(), name="api-lease-cancel"),
    path("leases/<int:lease_id>/no-show/", leases.LeaseNoShowView.as_view(), name="api-lease-no-show"),
    path("leases/<int:lease_id>/withdraw/", leases.LeaseWithdrawView.as_view(), name="api-lease-withdraw"),
    path(
        "leases/<int:lease_id>/transfers/",
        transfers.LeaseTransferOfferView.as_view(),
        name="api-lease-transfers",
    ),
    path("leases/<int:lease_id>/review/", reviews.LeaseReviewView.as_view(), name="api-lease-review"),
    path("leases/<int:lease_id>/reviews/", reviews.LeaseReviewListView.as_view(), name="api-lease-reviews"),
    path("leases/<int:lease_id>/pay/", escrow.LeasePayView.as_view(), name="api-lease-pay"),
    path("leases/<int:lease_id>/dispute/", escrow.LeaseDisputeView.as_view(), name="api-lease-dispute"),
    path("disputes/", escrow.DisputeListView.as_view(), name="api-disputes"),
    path("disputes/<int:dispute_id>/", escrow.DisputeDetailView.as_view(), name="api-dispute"),
    path(
        "disputes/<int:dispute_id>/resolve/",
        escrow.DisputeResolveView.as_view(),
        name="api-dispute-resolve",
    ),
    path("transfers/", transfers.TransferListView.as_view(), name="api-transfers"),
    path("transfers/<int:transfer_id>/", transfers.TransferDetailView.as_view(), name="api-transfer"),
    path("transfers/<int:transfer_id>/accept/", transfers.TransferAcceptView.as_view(), name="api-transfer-accept"),
    path(
        "transfers/<int:transfer_id>/consent/",
        transfers.TransferConsentView.as_view(),
        name="api-transfer-consent",
    ),
    path(
        "transfers/<int:transfer_id>/decline/",
        transfers.TransferDeclineView.as_view(),
        name="api-transfer-decline",
    ),
    path(
        "transfers/<int:transfer_id>/withdraw/",
        transfers.TransferWithdrawView.as_view(),
        name="api-transfer-withdraw",
    ),
]

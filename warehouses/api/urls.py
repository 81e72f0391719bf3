from django.urls import path

from warehouses.api import views

urlpatterns = [
    path("listings/", views.ListingListView.as_view(), name="api-listings"),
    path("listings/<int:listing_id>/", views.ListingDetailView.as_view(), name="api-listing"),
    path(
        "listings/<int:listing_id>/calendar/",
        views.ListingCalendarView.as_view(),
        name="api-listing-calendar",
    ),
    path("warehouses/", views.WarehouseListView.as_view(), name="api-warehouses"),
    path("warehouses/<int:warehouse_id>/", views.WarehouseDetailView.as_view(), name="api-warehouse"),
    path("leases/", views.LeaseListView.as_view(), name="api-leases"),
    path("leases/<int:lease_id>/", views.LeaseDetailView.as_view(), name="api-lease"),
    path("leases/<int:lease_id>/approve/", views.LeaseApproveView.as_view(), name="api-lease-approve"),
    path("leases/<int:lease_id>/reject/", views.LeaseRejectView.as_view(), name="api-lease-reject"),
    path("leases/<int:lease_id>/check-in/", views.LeaseCheckInView.as_view(), name="api-lease-check-in"),
    path("leases/<int:lease_id>/complete/", views.LeaseCompleteView.as_view(), name="api-lease-complete"),
    path("leases/<int:lease_id>/cancel/", views.LeaseCancelView.as_view(), name="api-lease-cancel"),
    path("leases/<int:lease_id>/no-show/", views.LeaseNoShowView.as_view(), name="api-lease-no-show"),
    path("leases/<int:lease_id>/withdraw/", views.LeaseWithdrawView.as_view(), name="api-lease-withdraw"),
    path(
        "leases/<int:lease_id>/transfers/",
        views.LeaseTransferOfferView.as_view(),
        name="api-lease-transfers",
    ),
    path("leases/<int:lease_id>/review/", views.LeaseReviewView.as_view(), name="api-lease-review"),
    path("leases/<int:lease_id>/reviews/", views.LeaseReviewListView.as_view(), name="api-lease-reviews"),
    path("leases/<int:lease_id>/pay/", views.LeasePayView.as_view(), name="api-lease-pay"),
    path("leases/<int:lease_id>/dispute/", views.LeaseDisputeView.as_view(), name="api-lease-dispute"),
    path("disputes/", views.DisputeListView.as_view(), name="api-disputes"),
    path("disputes/<int:dispute_id>/", views.DisputeDetailView.as_view(), name="api-dispute"),
    path(
        "disputes/<int:dispute_id>/resolve/",
        views.DisputeResolveView.as_view(),
        name="api-dispute-resolve",
    ),
    path("transfers/", views.TransferListView.as_view(), name="api-transfers"),
    path("transfers/<int:transfer_id>/", views.TransferDetailView.as_view(), name="api-transfer"),
    path("transfers/<int:transfer_id>/accept/", views.TransferAcceptView.as_view(), name="api-transfer-accept"),
    path(
        "transfers/<int:transfer_id>/consent/",
        views.TransferConsentView.as_view(),
        name="api-transfer-consent",
    ),
    path(
        "transfers/<int:transfer_id>/decline/",
        views.TransferDeclineView.as_view(),
        name="api-transfer-decline",
    ),
    path(
        "transfers/<int:transfer_id>/withdraw/",
        views.TransferWithdrawView.as_view(),
        name="api-transfer-withdraw",
    ),
]

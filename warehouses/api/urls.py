from django.urls import path

from warehouses.api import views

urlpatterns = [
    path("warehouses/listings/", views.ListingListView.as_view(), name="api-listings"),
    path("warehouses/listings/<int:listing_id>/", views.ListingDetailView.as_view(), name="api-listing"),
    path(
        "warehouses/listings/<int:listing_id>/calendar/",
        views.ListingCalendarView.as_view(),
        name="api-listing-calendar",
    ),
    path("warehouses/warehouses/", views.WarehouseListView.as_view(), name="api-warehouses"),
    path("warehouses/warehouses/<int:warehouse_id>/", views.WarehouseDetailView.as_view(), name="api-warehouse"),
    path("warehouses/leases/", views.LeaseListView.as_view(), name="api-leases"),
    path("warehouses/leases/<int:lease_id>/", views.LeaseDetailView.as_view(), name="api-lease"),
    path("warehouses/leases/<int:lease_id>/approve/", views.LeaseApproveView.as_view(), name="api-lease-approve"),
    path("warehouses/leases/<int:lease_id>/reject/", views.LeaseRejectView.as_view(), name="api-lease-reject"),
    path("warehouses/leases/<int:lease_id>/check-in/", views.LeaseCheckInView.as_view(), name="api-lease-check-in"),
    path("warehouses/leases/<int:lease_id>/complete/", views.LeaseCompleteView.as_view(), name="api-lease-complete"),
    path("warehouses/leases/<int:lease_id>/cancel/", views.LeaseCancelView.as_view(), name="api-lease-cancel"),
    path("warehouses/leases/<int:lease_id>/no-show/", views.LeaseNoShowView.as_view(), name="api-lease-no-show"),
    path("warehouses/leases/<int:lease_id>/withdraw/", views.LeaseWithdrawView.as_view(), name="api-lease-withdraw"),
    path(
        "warehouses/leases/<int:lease_id>/transfers/",
        views.LeaseTransferOfferView.as_view(),
        name="api-lease-transfers",
    ),
    path("warehouses/leases/<int:lease_id>/review/", views.LeaseReviewView.as_view(), name="api-lease-review"),
    path("warehouses/leases/<int:lease_id>/reviews/", views.LeaseReviewListView.as_view(), name="api-lease-reviews"),
    path("warehouses/leases/<int:lease_id>/pay/", views.LeasePayView.as_view(), name="api-lease-pay"),
    path("warehouses/leases/<int:lease_id>/dispute/", views.LeaseDisputeView.as_view(), name="api-lease-dispute"),
    path("warehouses/disputes/", views.DisputeListView.as_view(), name="api-disputes"),
    path("warehouses/disputes/<int:dispute_id>/", views.DisputeDetailView.as_view(), name="api-dispute"),
    path(
        "warehouses/disputes/<int:dispute_id>/resolve/",
        views.DisputeResolveView.as_view(),
        name="api-dispute-resolve",
    ),
    path("warehouses/transfers/", views.TransferListView.as_view(), name="api-transfers"),
    path("warehouses/transfers/<int:transfer_id>/", views.TransferDetailView.as_view(), name="api-transfer"),
    path(
        "warehouses/transfers/<int:transfer_id>/accept/", views.TransferAcceptView.as_view(), name="api-transfer-accept"
    ),
    path(
        "warehouses/transfers/<int:transfer_id>/consent/",
        views.TransferConsentView.as_view(),
        name="api-transfer-consent",
    ),
    path(
        "warehouses/transfers/<int:transfer_id>/decline/",
        views.TransferDeclineView.as_view(),
        name="api-transfer-decline",
    ),
    path(
        "warehouses/transfers/<int:transfer_id>/withdraw/",
        views.TransferWithdrawView.as_view(),
        name="api-transfer-withdraw",
    ),
]

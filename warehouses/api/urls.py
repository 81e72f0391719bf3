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
]

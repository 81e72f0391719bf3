from django.urls import path

from warehouses.web import views

app_name = "warehouses"

urlpatterns = [
    path("warehouses/", views.search, name="search"),
    path("warehouses/listings/<int:listing_id>/", views.listing_detail, name="listing"),
    path("warehouses/leases/", views.my_leases, name="leases"),
    path("warehouses/leases/<int:lease_id>/", views.lease_detail, name="lease"),
    path("warehouses/leases/<int:lease_id>/<slug:action>/", views.lease_action, name="lease-action"),
    path("warehouses/mine/", views.operator_home, name="operator"),
    path("warehouses/mine/warehouses/new/", views.warehouse_new, name="warehouse-new"),
    path("warehouses/mine/listings/new/", views.listing_new, name="listing-new"),
    path("warehouses/mine/listings/<int:listing_id>/", views.manage_listing, name="manage-listing"),
]

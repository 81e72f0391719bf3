from django.urls import path

from warehouses.web import escrow_views, transfer_views, views

app_name = "warehouses"

urlpatterns = [
    path("warehouses/", views.search, name="search"),
    path("warehouses/listings/<int:listing_id>/", views.listing_detail, name="listing"),
    path("warehouses/leases/", views.my_leases, name="leases"),
    path("warehouses/leases/<int:lease_id>/", views.lease_detail, name="lease"),
    path("warehouses/leases/<int:lease_id>/pay/", escrow_views.lease_pay, name="lease-pay"),
    path("warehouses/leases/<int:lease_id>/dispute/", escrow_views.lease_dispute, name="lease-dispute"),
    path("warehouses/disputes/", escrow_views.disputes, name="disputes"),
    path("warehouses/disputes/<int:dispute_id>/", escrow_views.dispute_detail, name="dispute"),
    path("warehouses/leases/<int:lease_id>/transfer/", transfer_views.lease_transfer, name="lease-transfer"),
    path("warehouses/leases/<int:lease_id>/review/", transfer_views.lease_review, name="lease-review"),
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

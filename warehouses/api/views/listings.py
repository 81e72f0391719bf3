"""Listings and warehouses: search, create, change, the operator's calendar."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import validated
from warehouses import selectors
from warehouses.api import serializers as s
from warehouses.api.views.common import ERRORS, PROBLEM, TAGS, SearchPagination, acting_subject
from warehouses.models import Listing, Warehouse
from warehouses.services import listings as listing_services


class ListingListView(GenericAPIView):
    """GET: availability-aware search of published listings (public). POST: an operator
    creates a listing (draft unless `publish`)."""

    serializer_class = s.ListingSerializer
    queryset = Listing.objects.none()
    pagination_class = SearchPagination

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(
        parameters=[s.ListingSearchSerializer],
        responses={200: s.ListingSerializer(many=True), 400: PROBLEM},
        tags=TAGS,
        description=(
            "Dates are calendar days and the range is half-open [start, end): a lease ending on a day leaves that day "
            "free. With start and end, only listings with at least `units` (default 1) free on every day of the "
            "range are returned, each with the total price (`quote`) and the operator's grade. Sort by `price`, "
            "`-price`, `grade` (best operator first) or `distance` (needs lat and lon)."
        ),
    )
    def get(self, request):
        search = selectors.ListingSearch(**validated(s.ListingSearchSerializer, request.query_params))
        page = self.paginate_queryset(selectors.search_listings(search=search))
        data = s.ListingSerializer(page, many=True, context={"search": search}).data
        return self.get_paginated_response(data)

    @extend_schema(request=s.ListingInputSerializer, responses={201: s.ListingSerializer, **ERRORS}, tags=TAGS)
    def post(self, request):
        values = dict(validated(s.ListingInputSerializer, request.data))
        listing = listing_services.create_listing(actor=request.user, warehouse_id=values.pop("warehouse"), **values)
        listing = selectors.get_listing(user=request.user, listing_id=listing.pk)
        return Response(s.ListingSerializer(listing).data, status=status.HTTP_201_CREATED)


class ListingDetailView(APIView):
    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(responses={200: s.ListingSerializer, 404: PROBLEM}, tags=TAGS)
    def get(self, request, listing_id: int):
        return Response(s.ListingSerializer(selectors.get_listing(user=request.user, listing_id=listing_id)).data)

    @extend_schema(request=s.ListingUpdateSerializer, responses={200: s.ListingSerializer, **ERRORS}, tags=TAGS)
    def patch(self, request, listing_id: int):
        values = dict(validated(s.ListingUpdateSerializer, request.data))
        selectors.get_own_listing(user=request.user, listing_id=listing_id)
        with transaction.atomic():  # all of the changes or none
            if "units" in values:
                listing_services.change_listing_capacity(
                    actor=request.user, listing_id=listing_id, units=values.pop("units")
                )
            if "available_until" in values:
                listing_services.extend_listing(
                    actor=request.user, listing_id=listing_id, available_until=values.pop("available_until")
                )
            new_status = values.pop("status", None)
            if values:
                listing_services.update_listing_terms(actor=request.user, listing_id=listing_id, **values)
            if new_status:
                listing_services.set_listing_status(actor=request.user, listing_id=listing_id, status=new_status)
        return Response(s.ListingSerializer(selectors.get_own_listing(user=request.user, listing_id=listing_id)).data)


class ListingCalendarView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE, description="First day (default: today)"),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Exclusive (default: start + 60 days)"),
        ],
        responses={200: s.CalendarDaySerializer(many=True), 404: PROBLEM},
        tags=TAGS,
        description="The operator's per-day availability calendar of one of their listings.",
    )
    def get(self, request, listing_id: int):
        listing = selectors.get_own_listing(user=request.user, listing_id=listing_id)
        asked = {k: request.query_params[k] for k in ("start", "end") if k in request.query_params}
        rng = validated(s.ListingSearchSerializer, asked)
        start = rng.get("start") or max(timezone.localdate(), listing.available_from)
        end = rng.get("end") or start + timedelta(days=60)
        days = selectors.calendar(listing=listing, start=start, end=end)
        return Response([{"day": d.day, "capacity": d.capacity, "reserved": d.reserved, "free": d.free} for d in days])


class WarehouseListView(GenericAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = s.WarehouseSerializer
    queryset = Warehouse.objects.none()

    @extend_schema(responses={200: s.WarehouseSerializer(many=True)}, tags=TAGS)
    def get(self, request):
        page = self.paginate_queryset(selectors.warehouses_of(user=request.user).order_by("name", "id"))
        return self.get_paginated_response(s.WarehouseSerializer(page, many=True).data)

    @extend_schema(request=s.WarehouseInputSerializer, responses={201: s.WarehouseSerializer, **ERRORS}, tags=TAGS)
    def post(self, request):
        values = dict(validated(s.WarehouseInputSerializer, request.data))
        owner = acting_subject(request.user, values.pop("owner", None), "owner")
        warehouse = listing_services.create_warehouse(actor=request.user, owner_id=owner, **values)
        return Response(s.WarehouseSerializer(warehouse).data, status=status.HTTP_201_CREATED)


class WarehouseDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.WarehouseSerializer, 404: PROBLEM}, tags=TAGS)
    def get(self, request, warehouse_id: int):
        return Response(
            s.WarehouseSerializer(selectors.get_own_warehouse(user=request.user, warehouse_id=warehouse_id)).data
        )

    @extend_schema(request=s.WarehouseInputSerializer, responses={200: s.WarehouseSerializer, **ERRORS}, tags=TAGS)
    def patch(self, request, warehouse_id: int):
        data = s.WarehouseInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = {k: v for k, v in data.validated_data.items() if k != "owner" and k in data.initial_data}
        selectors.get_own_warehouse(user=request.user, warehouse_id=warehouse_id)
        warehouse = listing_services.update_warehouse(actor=request.user, warehouse_id=warehouse_id, **values)
        return Response(s.WarehouseSerializer(warehouse).data)

"""Search pages are serialised by `FastListSerializer`: its output must be exactly what
DRF's own ListSerializer gives for the same listings (values, formats, nulls, nesting,
the quote and the distance that depend on the search)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from rest_framework import serializers

from warehouses import selectors
from warehouses.api import serializers as s
from warehouses.api.fast import FastListSerializer

pytestmark = pytest.mark.django_db


def drf_output(listings, context):
    return serializers.ListSerializer(child=s.ListingSerializer(), instance=listings, context=context).data


@pytest.fixture
def varied_listings(make_warehouse, make_listing):
    cold = make_warehouse(
        name="Cold store",
        temperature_min_c=Decimal("-25.0"),
        temperature_max_c=Decimal("-18.5"),
        hazmat_classes=["3", "8"],
        certifications=["ISO 9001", "TAPA FSR"],
    )
    plain = make_warehouse(name="Plain shed", customs_status="none", services=[], certifications=[])
    return [
        make_listing(warehouse_=cold, units=40, price_per_unit_day=Decimal("0.3333"), min_tenant_grade="B"),
        make_listing(warehouse_=plain, units=7, booking_mode="instant", cancellation_fee_percent=Decimal("12.5")),
        make_listing(units=100),
    ]


@pytest.mark.parametrize("with_search", [False, True])
def test_fast_list_output_is_drfs_output(varied_listings, today, with_search):
    search = (
        selectors.ListingSearch(
            start=today + timedelta(days=2), end=today + timedelta(days=9), units=5, lat=52.0, lon=4.5, sort="distance"
        )
        if with_search
        else None
    )
    listings = list(selectors.search_listings(search=search or selectors.ListingSearch()))
    assert len(listings) == 3
    context = {"search": search} if search else {}
    fast = s.ListingSerializer(listings, many=True, context=context)
    assert isinstance(fast, FastListSerializer)
    assert fast.data == drf_output(listings, context)
    if with_search:
        assert all(row["quote"] and row["distance_km"] is not None for row in fast.data)
    else:
        assert all(row["quote"] is None for row in fast.data)

"""Fixtures for the warehouse marketplace: an operator with a warehouse and a published
listing, merchants (tenants) of several grades, made through the services so every
listing has its capacity ledger."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.factories import MembershipFactory, SubjectFactory
from warehouses.services import listings as listing_services


def make_member(**subject_fields):
    membership = MembershipFactory(subject=SubjectFactory(**subject_fields))
    user = membership.user
    user.subject = membership.subject
    return user


@pytest.fixture
def today() -> date:
    return timezone.localdate()


@pytest.fixture
def operator():
    return make_member(
        is_merchant=False, is_warehouse_operator=True, country="NL", legal_name="Rotterdam Storage BV", grade="A"
    )


@pytest.fixture
def merchant():
    return make_member(is_merchant=True, grade="B", legal_name="Merchant One Ltd")


@pytest.fixture
def other_merchant():
    return make_member(is_merchant=True, grade="B", legal_name="Merchant Two Ltd")


@pytest.fixture
def make_warehouse(operator):
    def make(owner=None, **overrides):
        owner = owner or operator
        values = {
            "name": "Maasvlakte DC",
            "country": "NL",
            "city": "Rotterdam",
            "address": "Europaweg 1",
            "latitude": Decimal("51.95"),
            "longitude": Decimal("4.05"),
            "capacity_unit": "pallet",
            "customs_status": "bonded",
            "services": ["pick_and_pack"],
            "certifications": ["ISO 9001"],
        } | overrides
        return listing_services.create_warehouse(actor=owner, owner_id=owner.subject.pk, **values)

    return make


@pytest.fixture
def warehouse(make_warehouse):
    return make_warehouse()


@pytest.fixture
def make_listing(operator, warehouse, today):
    def make(*, owner=None, warehouse_=None, units=100, start_offset=1, days=60, publish=True, **terms):
        owner = owner or operator
        values = {
            "title": "Bonded pallets",
            "price_per_unit_day": Decimal("1.2500"),
            "currency": "EUR",
            "booking_mode": "request",
        } | terms
        return listing_services.create_listing(
            actor=owner,
            warehouse_id=(warehouse_ or warehouse).pk,
            units=units,
            available_from=today + timedelta(days=start_offset),
            available_until=today + timedelta(days=start_offset + days),
            publish=publish,
            **values,
        )

    return make


@pytest.fixture
def listing(make_listing):
    return make_listing()

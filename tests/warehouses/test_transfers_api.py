"""Lease transfers and reviews through the API and the web pages: the whole flow, bad
input as 400 with field errors, the credit gate's 403 with reasons, and the permission
matrix (parties only; everyone else gets 404)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from credit.models import CreditEvent
from tests.factories import RegulatorFactory, StaffFactory
from tests.payments.escrow_helpers import fund_lease, make_escrow_institution
from tests.warehouses.conftest import make_member
from tests.warehouses.test_leases import blacklist
from warehouses.models import Lease, LeaseTransfer
from warehouses.services import leases, ledger, transfers

pytestmark = pytest.mark.django_db

API = "/api/v1/warehouses"


@pytest.fixture
def payer():
    return make_escrow_institution()


@pytest.fixture
def recipient():
    return make_member(is_merchant=True, grade="B", legal_name="Recipient GmbH", country="DE")


@pytest.fixture
def approved(merchant, make_listing, today):
    listing = make_listing(start_offset=0, booking_mode="instant")
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=10,
        start=today + timedelta(days=1),
        end=today + timedelta(days=5),
    )
    assert lease.status == Lease.Status.APPROVED
    return lease


def test_offer_accept_consent_over_the_api(client_for, merchant, recipient, operator, payer, approved):
    fund_lease(approved, institution=payer)
    response = client_for(merchant).post(
        f"{API}/leases/{approved.pk}/transfers/", {"to_subject": recipient.subject.pk, "units": 4}, format="json"
    )
    assert response.status_code == 201, response.content
    transfer = response.json()
    assert (transfer["status"], transfer["units"], transfer["requires_consent"]) == ("offered", 4, True)
    assert transfer["to_subject"]["legal_name"] == "Recipient GmbH"
    inbox = client_for(recipient).get(f"{API}/transfers/", {"role": "to"}).json()["results"]
    assert [t["id"] for t in inbox] == [transfer["id"]]
    response = client_for(recipient).post(
        f"{API}/transfers/{transfer['id']}/accept/", {"institution": payer.pk}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "awaiting_operator"
    waiting = client_for(operator).get(f"{API}/transfers/", {"status": "awaiting_operator"}).json()["results"]
    assert [t["id"] for t in waiting] == [transfer["id"]]
    response = client_for(operator).post(f"{API}/transfers/{transfer['id']}/consent/", {}, format="json")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "completed"
    assert body["amount"] == "20.00" and body["recipient_lease"]
    theirs = client_for(recipient).get(f"{API}/leases/{body['recipient_lease']}/").json()
    assert (theirs["units"], theirs["status"], theirs["parent"]) == (4, "approved", approved.pk)
    assert theirs["escrow_reference"] == f"lease:{body['recipient_lease']}"
    original = client_for(merchant).get(f"{API}/leases/{approved.pk}/").json()
    assert original["status"] == "transferred"
    assert ledger.reconcile(listing_ids=[approved.listing_id]) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"units": 0}, "units"),
        ({"units": -1}, "units"),
        ({"units": 11}, "units"),
        ({"to_self": True}, "to_subject"),
        ({"to_subject": None}, "to_subject"),
        ({"to_subject": 987654321}, "to_subject"),
        ({"to_subject": 2**70}, "to_subject"),
    ],
)
def test_bad_offers_are_400_with_field_errors_and_write_nothing(client_for, merchant, recipient, approved, body, field):
    payload = {"to_subject": recipient.subject.pk, "units": 2} | body
    if payload.pop("to_self", False):
        payload["to_subject"] = merchant.subject.pk
    response = client_for(merchant).post(f"{API}/leases/{approved.pk}/transfers/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not LeaseTransfer.objects.exists()


def test_offering_a_held_or_ended_lease_is_400(client_for, merchant, recipient, make_listing, approved):
    held = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=make_listing(booking_mode="request").pk,
        units=1,
        start=approved.start,
        end=approved.end,
    )
    body = {"to_subject": recipient.subject.pk, "units": 1}
    response = client_for(merchant).post(f"{API}/leases/{held.pk}/transfers/", body, format="json")
    assert response.status_code == 400 and "lease" in response.json()["errors"]
    with time_machine.travel(timezone.now() + timedelta(days=5), tick=False):
        response = client_for(merchant).post(f"{API}/leases/{approved.pk}/transfers/", body, format="json")
    assert response.status_code == 400 and "lease" in response.json()["errors"]
    assert not LeaseTransfer.objects.exists()


def test_blacklisted_recipient_gets_403_with_the_reason(client_for, merchant, recipient, payer, approved):
    transfer = transfers.offer_transfer(
        actor=merchant, lease_id=approved.pk, to_subject_id=recipient.subject.pk, units=2
    )
    blacklist(recipient.subject)
    response = client_for(recipient).post(
        f"{API}/transfers/{transfer.pk}/accept/", {"institution": payer.pk}, format="json"
    )
    assert response.status_code == 403
    assert "Blacklisted" in response.json()["errors"]["credit"][0]
    assert client_for(recipient).get(f"{API}/transfers/{transfer.pk}/").json()["status"] == "refused"


def test_accept_needs_a_usable_institution(client_for, merchant, recipient, approved):
    transfer = transfers.offer_transfer(
        actor=merchant, lease_id=approved.pk, to_subject_id=recipient.subject.pk, units=2
    )
    for body in ({}, {"institution": merchant.subject.pk}):
        response = client_for(recipient).post(f"{API}/transfers/{transfer.pk}/accept/", body, format="json")
        assert response.status_code == 400 and "institution" in response.json()["errors"]
    transfer.refresh_from_db()
    assert transfer.status == LeaseTransfer.Status.OFFERED


def test_review_over_the_api(client_for, merchant, operator, payer, make_listing, today):
    listing = make_listing(start_offset=0, booking_mode="instant")
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=1,
        start=today,
        end=today + timedelta(days=1),
    )
    fund_lease(lease, institution=payer)
    leases.check_in_lease(actor=operator, lease_id=lease.pk)
    response = client_for(merchant).post(f"{API}/leases/{lease.pk}/review/", {"stars": 5}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "lease_not_completed"
    with time_machine.travel(timezone.now() + timedelta(days=1), tick=False):
        leases.complete_lease(actor=operator, lease_id=lease.pk)
    response = client_for(merchant).post(f"{API}/leases/{lease.pk}/review/", {"stars": 6}, format="json")
    assert response.status_code == 400 and "stars" in response.json()["errors"]
    response = client_for(merchant).post(
        f"{API}/leases/{lease.pk}/review/", {"stars": 4, "comment": "Clean and on time"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["reviewed"]["id"] == operator.subject.pk
    assert CreditEvent.objects.filter(subject=operator.subject, kind_id="positive_rating").exists()
    again = client_for(merchant).post(f"{API}/leases/{lease.pk}/review/", {"stars": 1}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_reviewed"
    listed = client_for(operator).get(f"{API}/leases/{lease.pk}/reviews/").json()
    assert [(r["stars"], r["comment"]) for r in listed] == [(4, "Clean and on time")]
    assert client_for(make_member(is_merchant=True)).get(f"{API}/leases/{lease.pk}/reviews/").status_code == 404


# --- Permission matrix -------------------------------------------------------------------


@pytest.fixture
def world(merchant, recipient, operator, other_merchant, approved):
    transfer = transfers.offer_transfer(
        actor=merchant, lease_id=approved.pk, to_subject_id=recipient.subject.pk, units=2
    )
    return {
        "lease": approved,
        "transfer": transfer,
        "roles": {
            "anonymous": None,
            "transferor": merchant,
            "recipient": recipient,
            "operator": operator,
            "other_merchant": other_merchant,
            "other_operator": make_member(is_merchant=False, is_warehouse_operator=True, grade="B"),
            "regulator": RegulatorFactory(),
            "staff": StaffFactory(),
        },
    }


# (method, url, body, {role: status}); "*" is everyone not named. Bodies that would change
# state for the party allowed are chosen so the call is refused by the rules (400/409), so
# one world serves every row.
MATRIX = [
    ("get", "/transfers/", None, {"*": 200, "anonymous": 401}),
    (
        "get",
        "/transfers/{transfer}/",
        None,
        {"*": 404, "anonymous": 401, "transferor": 200, "recipient": 200, "operator": 200},
    ),
    (
        "post",
        "/leases/{lease}/transfers/",
        {"to_subject": 0, "units": 99},
        {"*": 404, "anonymous": 401, "transferor": 400},
    ),
    (
        "post",
        "/transfers/{transfer}/accept/",
        {},
        {"*": 404, "anonymous": 401, "transferor": 400, "recipient": 400, "operator": 400},
    ),
    (
        "post",
        "/transfers/{transfer}/consent/",
        {},
        {"*": 404, "anonymous": 401, "transferor": 404, "recipient": 404, "operator": 409},
    ),
    (
        "post",
        "/transfers/{transfer}/withdraw/",
        {},
        {"*": 404, "anonymous": 401, "transferor": 200, "recipient": 409, "operator": 409},
    ),
    (
        "post",
        "/transfers/{transfer}/decline/",
        {},
        {"*": 404, "anonymous": 401, "transferor": 409, "recipient": 200, "operator": 409},
    ),
    ("post", "/leases/{lease}/review/", {"stars": 5}, {"*": 404, "anonymous": 401, "transferor": 409, "operator": 409}),
    ("get", "/leases/{lease}/reviews/", None, {"*": 404, "anonymous": 401, "transferor": 200, "operator": 200}),
]
ROLES = ["anonymous", "transferor", "recipient", "operator", "other_merchant", "other_operator", "regulator", "staff"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "template", "body", "expected"), MATRIX, ids=[f"{m} {t}" for m, t, _, _ in MATRIX])
def test_permission_matrix(client_for, world, role, method, template, body, expected):
    url = API + template.format(lease=world["lease"].pk, transfer=world["transfer"].pk)
    client = client_for(world["roles"][role])
    response = getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)
    want = expected.get(role, expected["*"])
    assert response.status_code == want, (role, url, response.content[:300])
    if want == 401:  # the API key scheme is offered first (README, The API: 401 with WWW-Authenticate)
        assert response["WWW-Authenticate"] == "Api-Key"


def test_transfer_lists_show_only_the_parties(client_for, world):
    roles, transfer_id = world["roles"], world["transfer"].pk
    for role in ("transferor", "recipient", "operator"):
        assert [t["id"] for t in client_for(roles[role]).get(f"{API}/transfers/").json()["results"]] == [transfer_id]
    for role in ("other_merchant", "other_operator", "regulator", "staff"):
        assert client_for(roles[role]).get(f"{API}/transfers/").json()["results"] == []


# --- Web pages ---------------------------------------------------------------------------


def test_web_transfer_flow_with_field_errors(client, merchant, recipient, operator, payer, approved):
    client.force_login(merchant)
    page = client.get(f"/warehouses/leases/{approved.pk}/").content.decode()
    assert f"/warehouses/leases/{approved.pk}/transfer/" in page
    form_url = f"/warehouses/leases/{approved.pk}/transfer/"
    assert client.get(form_url).status_code == 200
    bad = client.post(form_url, {"recipient_country": "DE", "recipient_registration": "NOPE-1", "units": 2})
    assert bad.status_code == 400
    assert "No subject with this registration number or legal name in this country." in bad.content.decode()
    registration = {"recipient_country": "DE", "recipient_registration": recipient.subject.registration_number}
    too_many = client.post(form_url, {**registration, "units": 11})
    assert too_many.status_code == 400 and 'class="field-error"' in too_many.content.decode()
    self_offer = client.post(
        form_url,
        {
            "recipient_country": merchant.subject.country,
            "recipient_registration": merchant.subject.registration_number,
            "units": 1,
        },
    )
    assert self_offer.status_code == 400 and "cannot be transferred to its own tenant" in self_offer.content.decode()
    assert not LeaseTransfer.objects.exists()
    by_name = {"recipient_country": "DE", "recipient_registration": "recipient gmbh"}
    ok = client.post(form_url, {**by_name, "units": 3, "note": "Moving out early"})
    assert ok.status_code == 302
    transfer = LeaseTransfer.objects.get()
    lease_page = client.get(f"/warehouses/leases/{approved.pk}/").content.decode()
    assert "Recipient GmbH" in lease_page
    assert f"Transfer {transfer.pk} of this lease is open" in lease_page
    assert 'data-testid="transfer-link"' not in lease_page

    client.force_login(recipient)
    assert "Lease transfers (1 offer to you)" in client.get("/warehouses/leases/").content.decode()
    inbox = client.get("/warehouses/transfers/").content.decode()
    assert f"accept-form-{transfer.pk}" in inbox and "Moving out early" in inbox
    assert f'data-testid="offer-price-{transfer.pk}">15.00 EUR' in inbox  # 3 units x 4 days x 1.25
    assert 'data-testid="awaiting-consent"' not in inbox  # a merchant runs no warehouse
    missing = client.post(f"/warehouses/transfers/{transfer.pk}/accept/", {})
    assert missing.status_code == 400 and "This field is required." in missing.content.decode()
    accepted = client.post(f"/warehouses/transfers/{transfer.pk}/accept/", {f"t{transfer.pk}-institution": payer.pk})
    assert accepted.status_code == 302

    client.force_login(operator)
    consent_page = client.get("/warehouses/transfers/").content.decode()
    assert 'data-testid="awaiting-consent"' in consent_page and "Recipient GmbH" in consent_page
    assert "1 awaiting your consent" in client.get("/warehouses/mine/").content.decode()
    client.post(f"/warehouses/transfers/{transfer.pk}/consent/")
    transfer.refresh_from_db()
    assert transfer.status == LeaseTransfer.Status.COMPLETED
    page = client.get(f"/warehouses/leases/{approved.pk}/").content.decode()
    assert 'data-testid="split-into"' in page and f"/warehouses/leases/{transfer.recipient_lease_id}/" in page

    client.force_login(recipient)
    theirs = client.get(f"/warehouses/leases/{transfer.recipient_lease_id}/")
    assert theirs.status_code == 200 and "Taken over by transfer" in theirs.content.decode()


def test_web_outsiders_get_404_on_transfer_pages(client, merchant, other_merchant, recipient, approved):
    transfer = transfers.offer_transfer(
        actor=merchant, lease_id=approved.pk, to_subject_id=recipient.subject.pk, units=2
    )
    client.force_login(merchant)  # the transferor sees the offer but cannot accept it
    assert client.post(f"/warehouses/transfers/{transfer.pk}/accept/", {}).status_code == 404
    client.force_login(other_merchant)
    assert client.get(f"/warehouses/leases/{approved.pk}/transfer/").status_code == 404
    assert client.post(f"/warehouses/transfers/{transfer.pk}/accept/", {}).status_code == 404
    assert client.post(f"/warehouses/transfers/{transfer.pk}/withdraw/").status_code == 404
    assert "Recipient GmbH" not in client.get("/warehouses/transfers/").content.decode()


def test_web_accept_refused_by_the_credit_gate_shows_why_and_no_accept_form(
    client, merchant, recipient, payer, approved
):
    refused = transfers.offer_transfer(
        actor=merchant, lease_id=approved.pk, to_subject_id=recipient.subject.pk, units=2
    )
    client.force_login(recipient)
    # A missing institution re-renders the whole page: the error beside the field, the list kept.
    missing = client.post(f"/warehouses/transfers/{refused.pk}/accept/", {})
    assert missing.status_code == 400
    assert "This field is required." in missing.content.decode()
    assert 'data-testid="transfer-list"' in missing.content.decode() and "No transfers." not in missing.content.decode()
    blacklist(recipient.subject)
    response = client.post(f"/warehouses/transfers/{refused.pk}/accept/", {f"t{refused.pk}-institution": payer.pk})
    assert response.status_code == 302 and response["Location"] == "/warehouses/transfers/"
    page = client.get("/warehouses/transfers/").content.decode()
    assert "Blacklisted" in page  # the gate's reason, as a message
    assert f"accept-form-{refused.pk}" not in page  # the refused offer is no longer offered
    assert "Refused by the credit gate" in page
    again = client.post(f"/warehouses/transfers/{refused.pk}/accept/", {})
    assert again.status_code == 302
    assert "refused by the credit gate; it cannot be accepted" in client.get("/warehouses/transfers/").content.decode()


def test_web_review_and_ratings_on_listing_pages(client, merchant, operator, payer, make_listing, today):
    listing = make_listing(start_offset=0, booking_mode="instant")
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=1,
        start=today,
        end=today + timedelta(days=1),
    )
    fund_lease(lease, institution=payer)
    leases.check_in_lease(actor=operator, lease_id=lease.pk)
    with time_machine.travel(timezone.now() + timedelta(days=1), tick=False):
        leases.complete_lease(actor=operator, lease_id=lease.pk)
    client.force_login(merchant)
    assert f"/warehouses/leases/{lease.pk}/review/" in client.get(f"/warehouses/leases/{lease.pk}/").content.decode()
    bad = client.post(f"/warehouses/leases/{lease.pk}/review/", {"stars": 9})
    assert bad.status_code == 400 and 'class="field-error"' in bad.content.decode()
    assert client.post(f"/warehouses/leases/{lease.pk}/review/", {"stars": 2, "comment": "Dusty"}).status_code == 302
    page = client.get(f"/warehouses/leases/{lease.pk}/").content.decode()
    assert "Dusty" in page and "(2/5)" in page and f"/warehouses/leases/{lease.pk}/review/" not in page
    assert "2.0/5</strong> from 1 rating" in client.get(f"/warehouses/listings/{listing.pk}/").content.decode()
    client.force_login(operator)
    assert (
        "2.0/5</strong> from 1 on this listing"
        in client.get(f"/warehouses/mine/listings/{listing.pk}/").content.decode()
    )
    assert "2.0/5</strong> from 1 rating" in client.get("/warehouses/mine/").content.decode()


def test_web_review_page_of_a_lease_not_reviewable_says_why_instead_of_failing(
    client, merchant, operator, payer, make_listing, today, approved
):
    client.force_login(merchant)
    not_completed = client.get(f"/warehouses/leases/{approved.pk}/review/")
    assert not_completed.status_code == 200
    page = not_completed.content.decode()
    assert "cannot be reviewed by you now" in page and 'data-testid="review-form"' not in page
    listing = make_listing(start_offset=0, booking_mode="instant")
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=1,
        start=today,
        end=today + timedelta(days=1),
    )
    fund_lease(lease, institution=payer)
    leases.check_in_lease(actor=operator, lease_id=lease.pk)
    with time_machine.travel(timezone.now() + timedelta(days=1), tick=False):
        leases.complete_lease(actor=operator, lease_id=lease.pk)
    assert client.post(f"/warehouses/leases/{lease.pk}/review/", {"stars": 4}).status_code == 302
    again = client.get(f"/warehouses/leases/{lease.pk}/review/")  # already reviewed
    assert again.status_code == 200 and "cannot be reviewed by you now" in again.content.decode()
    second = client.post(f"/warehouses/leases/{lease.pk}/review/", {"stars": 1})
    assert second.status_code == 400 and "already reviewed this lease" in second.content.decode()


def test_listing_consent_setting_over_the_api(client_for, operator, warehouse, today):
    body = {
        "warehouse": warehouse.pk,
        "title": "Open transfers",
        "units": 10,
        "available_from": today + timedelta(days=1),
        "available_until": today + timedelta(days=30),
        "price_per_unit_day": "1.00",
        "currency": "EUR",
        "transfer_requires_consent": False,
    }
    created = client_for(operator).post(f"{API}/listings/", body, format="json")
    assert created.status_code == 201 and created.json()["transfer_requires_consent"] is False
    listing_id = created.json()["id"]
    patched = client_for(operator).patch(
        f"{API}/listings/{listing_id}/", {"transfer_requires_consent": True}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["transfer_requires_consent"] is True


def test_transfer_list_query_count_does_not_grow_with_rows(client_for, merchant, make_listing, today):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    listing = make_listing(start_offset=0, booking_mode="instant")
    client = client_for(merchant)

    def offer_one():
        lease = leases.request_lease(
            actor=merchant,
            tenant_id=merchant.subject.pk,
            listing_id=listing.pk,
            units=1,
            start=today + timedelta(days=1),
            end=today + timedelta(days=3),
        )
        transfers.offer_transfer(
            actor=merchant, lease_id=lease.pk, to_subject_id=make_member(is_merchant=True).subject.pk, units=1
        )

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"{API}/transfers/").status_code == 200
        return len(ctx.captured_queries)

    offer_one()
    one = count()
    for _ in range(4):
        offer_one()
    assert count() == one


def test_operator_toggles_transfer_consent_on_the_listing_page(client, operator, other_merchant, listing):
    url = f"/warehouses/mine/listings/{listing.pk}/"
    client.force_login(operator)
    assert 'data-testid="toggle-transfer-consent"' in client.get(url).content.decode()
    assert client.post(url, {"transfer_requires_consent": "no"}).status_code == 302
    listing.refresh_from_db()
    assert listing.transfer_requires_consent is False
    client.force_login(other_merchant)
    assert client.post(url, {"transfer_requires_consent": "yes"}).status_code == 404
    listing.refresh_from_db()
    assert listing.transfer_requires_consent is False

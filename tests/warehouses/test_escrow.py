"""Escrow for leases, end to end through the services, the API and the pages: paying in
through a compliant institution, check-in needs the money, staged releases with the
platform fee, refunds by the cancellation policy, disputes and their credit outcomes."""

import uuid
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from credit.models import CreditEvent
from payments import services as payment_services
from payments.models import LedgerAccount
from payments.selectors import escrow_summary
from tests.factories import RegulatorFactory, StaffFactory
from tests.payments.escrow_helpers import fund_lease, make_escrow_institution
from warehouses.errors import InvalidTransition
from warehouses.models import Lease
from warehouses.services import escrow as escrow_services
from warehouses.services import leases
from warehouses.tasks import release_escrow_periods_task

pytestmark = pytest.mark.django_db
LEASES = "/api/v1/warehouses/leases/"


@pytest.fixture
def institution():
    return make_escrow_institution(corridors=(("EUR", "NL"),), legal_name="Demo Pay BV")


@pytest.fixture
def instant_listing(make_listing):
    return make_listing(start_offset=0, days=120, booking_mode="instant")


def book(merchant, listing, units, start, end) -> Lease:
    return leases.request_lease(
        actor=merchant, tenant_id=merchant.subject.pk, listing_id=listing.pk, units=units, start=start, end=end
    )


def balance_of(kind: str, subject_id=None) -> Decimal:
    account = LedgerAccount.objects.filter(kind=kind, subject_id=subject_id).first()
    return sum((e.amount for e in account.entries.all()), Decimal("0.00")) if account else Decimal("0.00")


def at(day):
    """Pretend it is noon UTC on `day`."""
    return mock.patch(
        "django.utils.timezone.now",
        return_value=timezone.now().replace(year=day.year, month=day.month, day=day.day, hour=12),
    )


def pay(client, lease_id, institution_id, key=None):
    return client.post(
        f"{LEASES}{lease_id}/pay/",
        {"institution": institution_id},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()),
    )


# --- Paying in ----------------------------------------------------------------------------


def test_pay_through_a_compliant_institution_funds_the_escrow(
    client_for, merchant, instant_listing, institution, today
):
    lease = book(merchant, instant_listing, 10, today, today + timedelta(days=4))  # 10 x 4 x 1.25 = 50
    before = client_for(merchant).get(f"{LEASES}{lease.pk}/").json()["escrow"]
    assert (before["status"], before["due"], before["balance"]) == ("unpaid", "50.00", "0.00")
    response = pay(client_for(merchant), lease.pk, institution.pk)
    assert response.status_code == 200, response.json()
    block = response.json()["escrow"]
    assert (block["status"], block["held"], block["balance"], block["due"]) == ("funded", "50.00", "50.00", "0.00")
    assert balance_of("tenant", merchant.subject.pk) == Decimal("-50.00")


def test_pay_is_refused_with_reasons_for_a_suspended_institution_or_a_missing_corridor(
    client_for, merchant, instant_listing, institution, today
):
    lease = book(merchant, instant_listing, 10, today, today + timedelta(days=4))
    no_corridor = make_escrow_institution(corridors=(("EUR", "DE"),), legal_name="Berlin Pay GmbH")
    response = pay(client_for(merchant), lease.pk, no_corridor.pk)
    assert response.status_code == 409
    assert response.json()["code"] == "payment_route_refused"
    assert response.json()["errors"]["institution"] == ["Berlin Pay GmbH has no EUR corridor for NL."]
    payment_services.suspend_institution(actor=RegulatorFactory(), institution_id=institution.pk, reason="Audit")
    response = pay(client_for(merchant), lease.pk, institution.pk)
    assert response.status_code == 409
    assert response.json()["errors"]["institution"] == ["Demo Pay BV is suspended."]
    unknown = pay(client_for(merchant), lease.pk, 987654)
    assert unknown.status_code == 400 and unknown.json()["errors"]["institution"] == ["Choose a payment institution."]
    bad = pay(client_for(merchant), lease.pk, "abc")
    assert bad.status_code == 400 and "institution" in bad.json()["errors"]
    assert escrow_summary(reference=lease.escrow_ref)["status"] == "unpaid"


def test_pay_is_idempotent_replays_and_refuses_another_payload_under_the_same_key(
    client_for, merchant, instant_listing, institution, today
):
    lease = book(merchant, instant_listing, 10, today, today + timedelta(days=4))
    client = client_for(merchant)
    first = pay(client, lease.pk, institution.pk, key="pay-1")
    replay = pay(client, lease.pk, institution.pk, key="pay-1")
    assert replay.status_code == 200 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    other = make_escrow_institution(legal_name="Second Pay BV")
    assert pay(client, lease.pk, other.pk, key="pay-1").status_code == 422
    # A new key: the escrow is funded already, so nothing more moves.
    again = pay(client, lease.pk, other.pk, key="pay-2")
    assert again.status_code == 200 and again.json()["escrow"]["held"] == "50.00"
    assert balance_of("tenant", merchant.subject.pk) == Decimal("-50.00")


def test_only_the_tenant_pays(client_for, merchant, operator, other_merchant, instant_listing, institution, today):
    lease = book(merchant, instant_listing, 10, today, today + timedelta(days=4))
    assert pay(client_for(other_merchant), lease.pk, institution.pk).status_code == 404
    assert pay(client_for(operator), lease.pk, institution.pk).status_code == 403


def test_check_in_needs_a_funded_escrow(client_for, merchant, operator, instant_listing, institution, today):
    lease = book(merchant, instant_listing, 10, today, today + timedelta(days=4))
    response = client_for(operator).post(f"{LEASES}{lease.pk}/check-in/")
    assert response.status_code == 409
    assert response.json()["code"] == "escrow_not_funded"
    assert "has not paid into escrow yet" in response.json()["detail"]
    fund_lease(lease, institution=institution)
    assert client_for(operator).post(f"{LEASES}{lease.pk}/check-in/").json()["status"] == "active"


def test_no_check_in_after_a_dispute_decision_paid_the_escrow_out(
    client_for, merchant, operator, instant_listing, institution, today
):
    lease = book(merchant, instant_listing, 10, today, today + timedelta(days=4))
    fund_lease(lease, institution=institution)
    dispute = client_for(merchant).post(f"{LEASES}{lease.pk}/dispute/", {"reason": "Site closed"}).json()
    decided = client_for(StaffFactory()).post(
        f"/api/v1/warehouses/disputes/{dispute['id']}/resolve/",
        {"resolution": "payer", "reason": "Refund in full"},
        format="json",
    )
    assert decided.status_code == 200
    response = client_for(operator).post(f"{LEASES}{lease.pk}/check-in/")
    assert response.status_code == 409 and response.json()["code"] == "escrow_decided"
    lease.refresh_from_db()
    assert lease.status == Lease.Status.APPROVED


def test_check_in_waits_while_a_dispute_freezes_the_escrow(
    client_for, merchant, operator, instant_listing, institution, today
):
    lease = book(merchant, instant_listing, 10, today, today + timedelta(days=4))
    fund_lease(lease, institution=institution)
    assert client_for(merchant).post(f"{LEASES}{lease.pk}/dispute/", {"reason": "Wrong site"}).status_code == 201
    response = client_for(operator).post(f"{LEASES}{lease.pk}/check-in/")
    assert response.status_code == 409 and response.json()["code"] == "escrow_frozen"
    assert "check-in waits for the decision" in response.json()["detail"]
    lease.refresh_from_db()
    assert lease.status == Lease.Status.APPROVED
    assert balance_of("operator", operator.subject.pk) == 0  # nothing released


# --- Staged releases ------------------------------------------------------------------------


def test_staged_releases_sum_to_the_price_exactly_with_the_fee_on_each(
    merchant, operator, make_listing, institution, today, settings
):
    settings.ENTREPOT = {**settings.ENTREPOT, "ESCROW_PLATFORM_FEE_PERCENT": "3", "ESCROW_RELEASE_PERIOD_DAYS": 30}
    listing = make_listing(start_offset=0, days=120, booking_mode="instant", price_per_unit_day=Decimal("1.3333"))
    lease = book(merchant, listing, 7, today, today + timedelta(days=70))  # 7 x 70 x 1.3333 = 653.317 -> 653.32
    assert lease.total_price == Decimal("653.32")
    fund_lease(lease, institution=institution)
    leases.check_in_lease(actor=operator, lease_id=lease.pk)
    # First period at check-in: 653.32 x 30/70 = 279.994 -> 279.99 (rounded down).
    assert escrow_summary(reference=lease.escrow_ref)["released"] == Decimal("279.99")
    release_escrow_periods_task()  # same day again: nothing more
    assert escrow_summary(reference=lease.escrow_ref)["released"] == Decimal("279.99")
    with at(today + timedelta(days=29)):
        release_escrow_periods_task()
    assert escrow_summary(reference=lease.escrow_ref)["released"] == Decimal("279.99")
    with at(today + timedelta(days=30)):
        assert release_escrow_periods_task() == 1
        assert release_escrow_periods_task() == 0  # idempotent
    assert escrow_summary(reference=lease.escrow_ref)["released"] == Decimal("559.98")
    with at(today + timedelta(days=60)):  # the last period takes the remainder: 93.34
        release_escrow_periods_task()
    summary = escrow_summary(reference=lease.escrow_ref)
    assert (summary["released"], summary["balance"], summary["status"]) == (
        Decimal("653.32"),
        Decimal("0.00"),
        "released",
    )
    # Fees 3 % per release, half up: 8.40 + 8.40 + 2.80.
    assert balance_of("platform_fee") == Decimal("19.60")
    assert balance_of("operator", operator.subject.pk) == Decimal("633.72")
    assert balance_of("operator", operator.subject.pk) + balance_of("platform_fee") == lease.total_price
    with at(today + timedelta(days=70)):
        leases.complete_lease(actor=operator, lease_id=lease.pk)
    assert escrow_summary(reference=lease.escrow_ref)["released"] == Decimal("653.32")


def test_completion_releases_the_remainder(merchant, operator, instant_listing, institution, today):
    lease = book(merchant, instant_listing, 10, today, today + timedelta(days=40))  # 500.00
    fund_lease(lease, institution=institution)
    leases.check_in_lease(actor=operator, lease_id=lease.pk)
    assert escrow_summary(reference=lease.escrow_ref)["released"] == Decimal("375.00")  # 500 x 30/40
    with at(today + timedelta(days=40)):
        leases.complete_lease(actor=operator, lease_id=lease.pk)
    summary = escrow_summary(reference=lease.escrow_ref)
    assert (summary["status"], summary["released"], summary["balance"]) == ("released", Decimal("500.00"), 0)


# --- Refunds by the cancellation policy ----------------------------------------------------


@pytest.mark.parametrize(("days_ahead", "fee"), [(7, Decimal("0.00")), (6, Decimal("50.00"))])
def test_cancellation_refunds_by_the_free_window(merchant, operator, make_listing, institution, today, days_ahead, fee):
    listing = make_listing(
        start_offset=1, days=60, booking_mode="instant", free_cancellation_days=7, cancellation_fee_percent=50
    )
    start = today + timedelta(days=days_ahead)
    lease = book(merchant, listing, 10, start, start + timedelta(days=8))  # 100.00
    fund_lease(lease, institution=institution)
    lease = leases.cancel_lease(actor=merchant, lease_id=lease.pk)
    assert lease.cancellation_fee == fee
    summary = escrow_summary(reference=lease.escrow_ref)
    assert (summary["refunded"], summary["released"], summary["balance"]) == (100 - fee, fee, 0)
    assert balance_of("tenant", merchant.subject.pk) == -fee
    platform = (fee * 3 / 100).quantize(Decimal("0.01"))
    assert balance_of("operator", operator.subject.pk) == fee - platform


def test_operator_withdrawal_refunds_everything_and_a_no_show_is_a_late_cancellation(
    merchant, operator, make_listing, institution, today
):
    listing = make_listing(start_offset=0, days=60, booking_mode="instant", cancellation_fee_percent=20)
    withdrawn = book(merchant, listing, 10, today + timedelta(days=2), today + timedelta(days=4))  # 25.00
    fund_lease(withdrawn, institution=institution)
    leases.withdraw_lease(actor=operator, lease_id=withdrawn.pk, reason="Roof repairs")
    summary = escrow_summary(reference=withdrawn.escrow_ref)
    assert (summary["status"], summary["refunded"], summary["released"]) == ("refunded", Decimal("25.00"), 0)

    no_show = book(merchant, listing, 10, today, today + timedelta(days=8))  # 100.00
    fund_lease(no_show, institution=institution)
    with at(today + timedelta(days=1)):
        leases.report_no_show(actor=operator, lease_id=no_show.pk)
    summary = escrow_summary(reference=no_show.escrow_ref)
    assert (summary["released"], summary["refunded"], summary["balance"]) == (Decimal("20.00"), Decimal("80.00"), 0)


# --- Disputes ---------------------------------------------------------------------------------


@pytest.fixture
def active_lease(merchant, operator, instant_listing, institution, today):
    lease = book(merchant, instant_listing, 10, today, today + timedelta(days=60))  # 750.00
    fund_lease(lease, institution=institution)
    leases.check_in_lease(actor=operator, lease_id=lease.pk)  # releases 375.00
    lease.refresh_from_db()
    return lease


def test_a_dispute_freezes_the_escrow_and_the_beat_releases_nothing(client_for, merchant, active_lease, today):
    response = client_for(merchant).post(f"{LEASES}{active_lease.pk}/dispute/", {"reason": "Pallets damaged"})
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "open" and response.json()["opener"]["id"] == merchant.subject.pk
    with at(today + timedelta(days=30)):
        assert release_escrow_periods_task() == 0
    summary = escrow_summary(reference=active_lease.escrow_ref)
    assert (summary["status"], summary["released"], summary["balance"]) == (
        "frozen",
        Decimal("375.00"),
        Decimal("375.00"),
    )
    block = client_for(merchant).get(f"{LEASES}{active_lease.pk}/").json()["escrow"]
    assert (block["status"], block["open_dispute"]) == ("frozen", True)
    again = client_for(merchant).post(f"{LEASES}{active_lease.pk}/dispute/", {"reason": "Again"})
    assert again.status_code == 409 and again.json()["code"] == "dispute_already_open"


@pytest.mark.parametrize(
    ("resolution", "payee_amount", "released", "refunded", "loser"),
    [
        ("payer", None, Decimal("375.00"), Decimal("375.00"), "operator"),
        ("payee", None, Decimal("750.00"), Decimal("0.00"), "tenant"),
        ("split", "100.00", Decimal("475.00"), Decimal("275.00"), None),
    ],
)
def test_staff_resolve_and_the_loser_gets_dispute_lost(
    client_for, merchant, operator, active_lease, resolution, payee_amount, released, refunded, loser
):
    dispute = client_for(operator).post(f"{LEASES}{active_lease.pk}/dispute/", {"reason": "Unpaid handling"}).json()
    body = {"resolution": resolution, "reason": "Evidence reviewed"}
    if payee_amount:
        body["payee_amount"] = payee_amount
    url = f"/api/v1/warehouses/disputes/{dispute['id']}/resolve/"
    assert client_for(merchant).post(url, body, format="json").status_code == 403  # parties do not decide
    response = client_for(StaffFactory()).post(url, body, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["resolution"]) == ("resolved", resolution)
    summary = escrow_summary(reference=active_lease.escrow_ref)
    assert (summary["released"], summary["refunded"], summary["balance"], summary["frozen"]) == (
        released,
        refunded,
        0,
        False,
    )
    events = list(CreditEvent.objects.filter(kind_id="dispute_lost").values_list("subject_id", flat=True))
    expected = {"operator": [operator.subject.pk], "tenant": [merchant.subject.pk], None: []}[loser]
    assert events == expected
    # Deciding again changes nothing and records nothing more.
    assert client_for(StaffFactory()).post(url, {**body, "resolution": "payee"}, format="json").status_code == 200
    assert CreditEvent.objects.filter(kind_id="dispute_lost").count() == len(expected)
    # Both parties see the decision and its reasons.
    for who in (merchant, operator):
        seen = client_for(who).get("/api/v1/warehouses/disputes/").json()["results"]
        assert [(d["id"], d["decision_reason"]) for d in seen] == [(dispute["id"], "Evidence reviewed")]


def test_dispute_window_after_completion(client_for, merchant, operator, active_lease, today, settings):
    with at(active_lease.end):
        leases.complete_lease(actor=operator, lease_id=active_lease.pk)
    with at(active_lease.end + timedelta(days=15)):
        late = client_for(merchant).post(f"{LEASES}{active_lease.pk}/dispute/", {"reason": "Late"})
    assert late.status_code == 409 and late.json()["code"] == "dispute_window_closed"
    with at(active_lease.end + timedelta(days=13)):
        ok = client_for(merchant).post(f"{LEASES}{active_lease.pk}/dispute/", {"reason": "Goods missing"})
    assert ok.status_code == 201


def test_dispute_permissions_strangers_see_nothing(client_for, merchant, other_merchant, active_lease):
    dispute = client_for(merchant).post(f"{LEASES}{active_lease.pk}/dispute/", {"reason": "Damaged"}).json()
    stranger = client_for(other_merchant)
    assert stranger.get("/api/v1/warehouses/disputes/").json()["results"] == []
    assert stranger.get(f"/api/v1/warehouses/disputes/{dispute['id']}/").status_code == 404
    body = {"resolution": "payer", "reason": "x"}
    assert stranger.post(f"/api/v1/warehouses/disputes/{dispute['id']}/resolve/", body).status_code == 404
    assert stranger.post(f"{LEASES}{active_lease.pk}/dispute/", {"reason": "me too"}).status_code == 404
    staff = client_for(StaffFactory()).get("/api/v1/warehouses/disputes/?status=open").json()["results"]
    assert [d["id"] for d in staff] == [dispute["id"]]
    assert client_for(None).get("/api/v1/warehouses/disputes/").status_code == 401


def test_unpaid_lease_cannot_be_disputed_and_frozen_escrow_blocks_cancellation(
    client_for, merchant, make_listing, institution, today
):
    listing = make_listing(start_offset=1, days=60, booking_mode="instant")
    lease = book(merchant, listing, 10, today + timedelta(days=10), today + timedelta(days=12))
    unpaid = client_for(merchant).post(f"{LEASES}{lease.pk}/dispute/", {"reason": "x"})
    assert unpaid.status_code == 409 and unpaid.json()["code"] == "escrow_not_funded"
    fund_lease(lease, institution=institution)
    assert client_for(merchant).post(f"{LEASES}{lease.pk}/dispute/", {"reason": "x"}).status_code == 201
    response = client_for(merchant).post(f"{LEASES}{lease.pk}/cancel/", {})
    assert response.status_code == 409 and response.json()["code"] == "escrow_frozen"
    lease.refresh_from_db()
    assert lease.status == Lease.Status.APPROVED  # the cancellation rolled back with the refund


# --- Lists: the escrow block without N+1 -------------------------------------------------------


def test_lease_list_shows_escrow_blocks_in_a_fixed_number_of_queries(
    client_for, merchant, instant_listing, institution, today
):
    client = client_for(merchant)
    first = book(merchant, instant_listing, 1, today, today + timedelta(days=2))
    fund_lease(first, institution=institution)
    client.get(LEASES)  # warm up (session, content types)
    with CaptureQueriesContext(connection) as one:
        client.get(LEASES)
    for i in range(5):
        lease = book(merchant, instant_listing, 1, today + timedelta(days=i), today + timedelta(days=i + 2))
        fund_lease(lease, institution=institution)
    with CaptureQueriesContext(connection) as six:
        results = client.get(LEASES).json()["results"]
    assert len(results) == 6 and {r["escrow"]["status"] for r in results} == {"funded"}
    assert len(six) == len(one), [q["sql"][:120] for q in six.captured_queries]


# --- Pages ---------------------------------------------------------------------------------------


def test_web_pay_page_offers_compliant_institutions_and_explains_the_others(
    client, merchant, operator, instant_listing, institution, today
):
    make_escrow_institution(corridors=(("EUR", "DE"),), legal_name="Berlin Pay GmbH")
    lease = book(merchant, instant_listing, 10, today, today + timedelta(days=4))
    client.force_login(operator)
    page = client.get(f"/warehouses/leases/{lease.pk}/").content.decode()
    assert "Check-in can be confirmed once the tenant has paid into escrow." in page
    assert client.get(f"/warehouses/leases/{lease.pk}/pay/").status_code == 404  # only the tenant pays
    client.force_login(merchant)
    page = client.get(f"/warehouses/leases/{lease.pk}/").content.decode()
    assert 'data-testid="escrow-status">unpaid<' in page and "Pay into escrow" in page
    assert "Berlin Pay GmbH has no EUR corridor for NL." in page  # the form is on the lease page
    form = client.get(f"/warehouses/leases/{lease.pk}/pay/").content.decode()
    assert "Demo Pay BV" in form and "Berlin Pay GmbH has no EUR corridor for NL." in form
    missing = client.post(f"/warehouses/leases/{lease.pk}/pay/", {})
    assert missing.status_code == 400 and "field-error" in missing.content.decode()
    done = client.post(f"/warehouses/leases/{lease.pk}/pay/", {"institution": institution.pk})
    assert done.status_code == 302
    page = client.get(f"/warehouses/leases/{lease.pk}/").content.decode()
    assert 'data-testid="escrow-status">funded<' in page and "via Demo Pay BV" in page


def test_web_dispute_and_staff_resolve_pages(client, merchant, other_merchant, active_lease):
    client.force_login(merchant)
    assert client.post(f"/warehouses/leases/{active_lease.pk}/dispute/", {"reason": ""}).status_code == 400
    client.post(f"/warehouses/leases/{active_lease.pk}/dispute/", {"reason": "Pallets damaged"})
    page = client.get(f"/warehouses/leases/{active_lease.pk}/").content.decode()
    assert 'data-testid="escrow-status">frozen<' in page and "Pallets damaged" in page
    dispute_id = client.get("/api/v1/warehouses/disputes/").json()["results"][0]["id"]
    assert client.post(f"/warehouses/disputes/{dispute_id}/", {f"d{dispute_id}-resolution": "payee"}).status_code == 404
    client.force_login(other_merchant)
    assert client.get(f"/warehouses/disputes/{dispute_id}/").status_code == 404
    client.force_login(StaffFactory())
    listing_page = client.get("/warehouses/disputes/").content.decode()
    assert "Pallets damaged" in listing_page and "Decide" in listing_page
    prefix = f"d{dispute_id}-"
    bad = client.post(f"/warehouses/disputes/{dispute_id}/", {prefix + "resolution": "split", prefix + "reason": "x"})
    assert bad.status_code == 400 and "Required for a split." in bad.content.decode()
    too_much = client.post(
        f"/warehouses/disputes/{dispute_id}/",
        {prefix + "resolution": "split", prefix + "payee_amount": "999.00", prefix + "reason": "x"},
    )
    assert too_much.status_code == 400 and "At most 375.00 EUR remains in escrow." in too_much.content.decode()
    ok = client.post(
        f"/warehouses/disputes/{dispute_id}/", {prefix + "resolution": "payer", prefix + "reason": "Photos show damage"}
    )
    assert ok.status_code == 302
    client.force_login(merchant)
    page = client.get(f"/warehouses/leases/{active_lease.pk}/").content.decode()
    assert "Photos show damage" in page and 'data-testid="escrow-status">refunded<' not in page
    assert escrow_summary(reference=active_lease.escrow_ref)["refunded"] == Decimal("375.00")


def test_pay_refused_for_a_lease_that_is_not_live(client_for, merchant, make_listing, institution, today):
    listing = make_listing(start_offset=1, days=60)  # request mode: held
    lease = book(merchant, listing, 10, today + timedelta(days=10), today + timedelta(days=12))
    response = pay(client_for(merchant), lease.pk, institution.pk)
    assert response.status_code == 409 and response.json()["code"] == "not_payable"
    with pytest.raises(InvalidTransition):
        escrow_services.pay_lease(actor=merchant, lease_id=lease.pk, institution_id=institution.pk)


def test_web_lease_list_shows_escrow_status_and_strangers_cannot_open_the_pay_page(
    client, merchant, other_merchant, instant_listing, institution, today
):
    paid = book(merchant, instant_listing, 2, today, today + timedelta(days=2))
    fund_lease(paid, institution=institution)
    book(merchant, instant_listing, 2, today + timedelta(days=3), today + timedelta(days=5))
    client.force_login(merchant)
    page = client.get("/warehouses/leases/").content.decode()
    assert page.count('data-testid="lease-escrow">funded<') == 1
    assert page.count('data-testid="lease-escrow">unpaid<') == 1
    client.force_login(other_merchant)
    assert client.get(f"/warehouses/leases/{paid.pk}/pay/").status_code == 404
    assert client.post(f"/warehouses/leases/{paid.pk}/dispute/", {"reason": "x"}).status_code == 404

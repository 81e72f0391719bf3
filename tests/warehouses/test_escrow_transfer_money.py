"""Money across escrow and lease transfers, exact to the cent (README: *Escrow and disputes*,
*Lease transfer*): a worked example with staged releases, a transfer of part of an active
lease and a cancellation that takes money back from the operator, then a Hypothesis property
over random sequences of bookings, payments, check-ins, days passing (beat), chained partial
transfers, cancellations, no-shows, operator withdrawals, completions and decided disputes.

The invariants, once every lease has ended (completed, cancelled or defaulted):
(a) the operator (its releases plus the platform fees on them) received exactly the price
    of the completed leases plus the cancellation fees of the leases that ended unused while
    paid; at every step it never got more than the price of the live and completed leases
    plus those fees (no unit-day paid twice);
(b) each tenant paid exactly the same for its own leases: a transferor for the parts it kept
    or used, a recipient for its part;
(c) every transaction balances, no escrow goes negative (the database checks both at every
    step) and every escrow ends at zero.
A dispute decision puts the money where staff say, so (a) and (b) are checked on the leases
(the original and everything split from it) that no decision touched; (c) holds everywhere.
"""

import datetime as dt
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from core.errors import DomainError
from payments.errors import EscrowFrozen
from payments.models import EscrowTransaction, LedgerAccount, LedgerEntry
from payments.selectors import escrow_summary
from tests.factories import StaffFactory
from tests.payments.escrow_helpers import make_escrow_institution
from tests.warehouses.conftest import make_member
from warehouses.models import Lease
from warehouses.services import escrow as escrow_services
from warehouses.services import leases, transfers

pytestmark = pytest.mark.django_db
ZERO = Decimal("0.00")


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC)


def at(day: dt.date):
    return time_machine.travel(noon(day), tick=False)


class Clock(dict):
    """The day an example's stopped clock shows: setting `clock["day"]` moves time-machine's
    clock to noon UTC of that day."""

    def __init__(self, traveller: time_machine.Traveller, day: dt.date):
        super().__init__()
        self.traveller = traveller
        self["day"] = day

    def __setitem__(self, key: str, day: dt.date) -> None:
        super().__setitem__(key, day)
        self.traveller.move_to(noon(day), tick=False)


def check_deferred():
    """Run the deferred ledger checks now (balanced, no escrow negative)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def account_total(kind: str, subject_id=None) -> Decimal:
    total = LedgerEntry.objects.filter(account__kind=kind, account__subject_id=subject_id).aggregate(s=Sum("amount"))
    return total["s"] or ZERO


@pytest.fixture
def institution():
    return make_escrow_institution(corridors=(("EUR", "NL"),), legal_name="Demo Pay BV")


@pytest.fixture
def money_settings(settings):
    settings.ENTREPOT = {**settings.ENTREPOT, "ESCROW_PLATFORM_FEE_PERCENT": "3", "ESCROW_RELEASE_PERIOD_DAYS": 30}
    return settings


# --- Worked example (README) ----------------------------------------------------------------


def transfer(*, lease, to, units, institution, day):
    with at(day):
        offer = transfers.offer_transfer(
            actor=lease_tenant(lease), lease_id=lease.pk, to_subject_id=to.subject.pk, units=units
        )
        return transfers.accept_transfer(actor=to, transfer_id=offer.pk, institution_id=institution.pk)


_users: dict[int, object] = {}


def lease_tenant(lease):
    return _users[lease.tenant_id]


@pytest.fixture
def parties(operator, merchant, other_merchant):
    _users.clear()
    third = make_member(is_merchant=True, grade="B", legal_name="Merchant Three Ltd")
    for user in (merchant, other_merchant, third):
        _users[user.subject.pk] = user
    return operator, [merchant, other_merchant, third]


def test_worked_example_recipient_pays_its_whole_part_and_the_operator_is_paid_once(
    parties, make_listing, institution, money_settings, today
):
    operator, (transferor, recipient, _) = parties
    listing = make_listing(start_offset=0, days=90, booking_mode="instant", transfer_requires_consent=False)
    with at(today):
        lease = leases.request_lease(
            actor=transferor,
            tenant_id=transferor.subject.pk,
            listing_id=listing.pk,
            units=10,
            start=today,
            end=today + timedelta(days=40),
        )
        assert lease.total_price == Decimal("500.00")  # 10 units x 40 days x 1.25
        escrow_services.pay_lease(actor=transferor, lease_id=lease.pk, institution_id=institution.pk)
        leases.check_in_lease(actor=operator, lease_id=lease.pk)  # first 30-day period: 375.00
    assert escrow_summary(reference=lease.escrow_ref)["released"] == Decimal("375.00")

    done = transfer(lease=lease, to=recipient, units=4, institution=institution, day=today + timedelta(days=3))
    taken = done.recipient_lease
    past, kept = sorted((c for c in lease.children.all() if c.pk != taken.pk), key=lambda c: c.start)
    # past 10 x 3 x 1.25, kept 6 x 37 x 1.25, the recipient's 4 x 37 x 1.25: 500.00 in all.
    assert (past.total_price, kept.total_price, taken.total_price) == (
        Decimal("37.50"),
        Decimal("277.50"),
        Decimal("185.00"),
    )
    # The operator already has 375.00: the transferor's own leases (315.00) and 60.00 of the
    # recipient's part. The recipient pays 185.00 in one transaction: 125.00 (all that was
    # left) into its escrow, refunded to the transferor from the original's, and 60.00
    # straight to the transferor.
    (tx,) = EscrowTransaction.objects.filter(kind="transfer")
    entries = {(e.account.kind, e.account.subject_id, e.account.reference): e.amount for e in tx.entries.all()}
    assert entries == {
        ("tenant", recipient.subject.pk, ""): Decimal("-185.00"),
        ("escrow", None, taken.escrow_ref): Decimal("125.00"),
        ("escrow", None, lease.escrow_ref): Decimal("-125.00"),
        ("tenant", transferor.subject.pk, ""): Decimal("185.00"),
    }
    assert account_total("tenant", transferor.subject.pk) == Decimal("-315.00")  # 37.50 + 277.50
    assert account_total("tenant", recipient.subject.pk) == Decimal("-185.00")
    assert escrow_summary(reference=lease.escrow_ref)["balance"] == ZERO
    assert escrow_summary(reference=taken.escrow_ref)["status"] == "funded"

    # The recipient checks in on day 3: its first period's share is 185 x 30/37 = 150.00, of
    # which the operator already has 60.00, so 90.00 is released; the rest (35.00) on day 33.
    with at(today + timedelta(days=3)):
        leases.check_in_lease(actor=operator, lease_id=taken.pk)
    assert escrow_summary(reference=taken.escrow_ref)["released"] == Decimal("90.00")
    with at(today + timedelta(days=33)):
        escrow_services.release_period_for_lease(lease_id=taken.pk)
    assert escrow_summary(reference=taken.escrow_ref)["released"] == Decimal("125.00")
    with at(today + timedelta(days=40)):
        assert leases.complete_due_leases() == 3
    check_deferred()
    # The operator got 375.00 + 90.00 + 35.00 = 500.00 gross: 485.00 to it and 15.00 (3 % of
    # each release: 11.25 + 2.70 + 1.05) to the platform.
    assert account_total("operator", operator.subject.pk) == Decimal("485.00")
    assert account_total("platform_fee") == Decimal("15.00")
    assert escrow_summary(reference=lease.escrow_ref)["balance"] == ZERO
    assert escrow_summary(reference=taken.escrow_ref)["balance"] == ZERO
    assert account_total("tenant", transferor.subject.pk) == Decimal("-315.00")
    assert account_total("tenant", recipient.subject.pk) == Decimal("-185.00")


def test_worked_example_cancelling_a_part_paid_ahead_takes_the_excess_back_from_the_operator(
    parties, make_listing, institution, money_settings, today
):
    operator, (transferor, recipient, _) = parties
    listing = make_listing(
        start_offset=0,
        days=90,
        booking_mode="instant",
        transfer_requires_consent=False,
        cancellation_fee_percent=Decimal("10"),
    )
    with at(today):
        lease = leases.request_lease(
            actor=transferor,
            tenant_id=transferor.subject.pk,
            listing_id=listing.pk,
            units=10,
            start=today,
            end=today + timedelta(days=40),
        )
        escrow_services.pay_lease(actor=transferor, lease_id=lease.pk, institution_id=institution.pk)
        leases.check_in_lease(actor=operator, lease_id=lease.pk)
    taken = transfer(
        lease=lease, to=recipient, units=4, institution=institution, day=today + timedelta(days=3)
    ).recipient_lease
    with at(today + timedelta(days=3)):
        cancelled = leases.cancel_lease(actor=recipient, lease_id=taken.pk)
    # Late cancellation: the fee is 10 % of 185.00 = 18.50. The operator already had 60.00
    # for these days, so it gives 41.50 back (40.25 from it, 1.25 platform fee from the
    # platform) and the escrow refunds its 125.00: the recipient paid 18.50 in the end.
    assert cancelled.cancellation_fee == Decimal("18.50")
    check_deferred()
    assert account_total("tenant", recipient.subject.pk) == Decimal("-18.50")
    assert escrow_summary(reference=taken.escrow_ref)["balance"] == ZERO
    with at(today + timedelta(days=40)):
        assert leases.complete_due_leases() == 2
    # 37.50 + 277.50 + 18.50 = 333.50 gross for the operator.
    gross = account_total("operator", operator.subject.pk) + account_total("platform_fee")
    assert gross == Decimal("333.50")
    assert account_total("tenant", transferor.subject.pk) == Decimal("-315.00")


def test_children_prices_add_up_to_the_original_and_due_is_what_paying_charges(
    client_for, parties, make_listing, institution, money_settings, today
):
    _, (transferor, recipient, _) = parties
    listing = make_listing(
        start_offset=0,
        days=90,
        booking_mode="instant",
        transfer_requires_consent=False,
        price_per_unit_day=Decimal("1.3333"),
    )
    with at(today):
        lease = leases.request_lease(
            actor=transferor,
            tenant_id=transferor.subject.pk,
            listing_id=listing.pk,
            units=7,
            start=today,
            end=today + timedelta(days=70),
        )
    assert lease.total_price == Decimal("653.32")  # 7 x 70 x 1.3333 = 653.317
    done = transfer(lease=lease, to=recipient, units=3, institution=institution, day=today + timedelta(days=3))
    taken = done.recipient_lease
    past, kept = sorted((c for c in lease.children.all() if c.pk != taken.pk), key=lambda c: c.start)
    # Rounded alone they would be 28.00 + 357.32 + 267.99 = 653.31: the kept part takes the cent.
    assert (past.total_price, kept.total_price, taken.total_price) == (
        Decimal("28.00"),
        Decimal("357.33"),
        Decimal("267.99"),
    )
    # Unpaid: the transferor's two leases share the original's escrow, and `due` on either is
    # what paying charges, both of them.
    block = client_for(transferor).get(f"/api/v1/warehouses/leases/{kept.pk}/").json()["escrow"]
    assert block["due"] == "385.33" == str(escrow_services.amount_due(lease=kept))
    recipient_block = client_for(recipient).get(f"/api/v1/warehouses/leases/{taken.pk}/").json()["escrow"]
    assert recipient_block["due"] == "267.99"
    with at(today + timedelta(days=3)):
        escrow_services.pay_lease(actor=transferor, lease_id=kept.pk, institution_id=institution.pk)
    assert escrow_summary(reference=kept.escrow_ref)["held"] == Decimal("385.33")


def test_a_decided_escrow_cannot_follow_a_transfer(parties, make_listing, institution, money_settings, today):
    _, (transferor, recipient, _) = parties
    listing = make_listing(start_offset=0, days=90, booking_mode="instant", transfer_requires_consent=False)
    with at(today):
        lease = leases.request_lease(
            actor=transferor,
            tenant_id=transferor.subject.pk,
            listing_id=listing.pk,
            units=4,
            start=today + timedelta(days=2),
            end=today + timedelta(days=12),
        )
        escrow_services.pay_lease(actor=transferor, lease_id=lease.pk, institution_id=institution.pk)
        dispute = escrow_services.open_lease_dispute(actor=transferor, lease_id=lease.pk, reason="Wrong racking")
        escrow_services.resolve_lease_dispute(
            actor=StaffFactory(), dispute_id=dispute.pk, resolution="payer", reason="Refund in full"
        )
        offer = transfers.offer_transfer(
            actor=transferor, lease_id=lease.pk, to_subject_id=recipient.subject.pk, units=2
        )
        with pytest.raises(DomainError) as exc:
            transfers.accept_transfer(actor=recipient, transfer_id=offer.pk, institution_id=institution.pk)
    assert exc.value.code == "escrow_decided"
    lease.refresh_from_db()
    assert lease.status == Lease.Status.APPROVED and not lease.children.exists()
    assert account_total("tenant", recipient.subject.pk) == ZERO


# --- Property ---------------------------------------------------------------------------------

LEASE = st.integers(min_value=0, max_value=30)
BOOK = st.tuples(
    st.just("book"),
    st.integers(0, 2),  # tenant
    st.integers(1, 6),  # units
    st.sampled_from([0, 0, 1, 3]),  # starts in n days
    st.integers(1, 25),  # days
    st.booleans(),  # pays at once
)
TRANSFER = st.tuples(st.just("transfer"), LEASE, st.integers(1, 6), st.integers(0, 2))
STEP = st.one_of(
    BOOK,
    BOOK,
    st.tuples(st.just("pay"), LEASE),
    st.tuples(st.just("pay"), LEASE),
    st.tuples(st.just("check_in"), LEASE),
    st.tuples(st.just("check_in"), LEASE),
    st.tuples(st.just("advance"), st.integers(1, 9)),
    st.tuples(st.just("advance"), st.integers(1, 9)),
    TRANSFER,
    TRANSFER,
    TRANSFER,
    st.tuples(st.just("cancel"), LEASE),
    st.tuples(st.just("no_show"), LEASE),
    st.tuples(st.just("withdraw"), LEASE),
    st.tuples(st.just("dispute"), LEASE, st.sampled_from(["payer", "payee", "split"])),
)
TERMS = st.tuples(
    st.sampled_from([Decimal("1.2500"), Decimal("1.3333"), Decimal("0.7777")]),
    st.sampled_from([Decimal("0"), Decimal("10"), Decimal("35")]),  # cancellation fee %
    st.integers(0, 3),  # free cancellation days
    st.sampled_from([3, 7]),  # release period days
)


def _root(lease: Lease, by_id: dict[int, Lease]) -> int:
    while lease.parent_id is not None:
        lease = by_id[lease.parent_id]
    return lease.pk


class Model:
    """What each party must have paid or received, from the leases' fate alone."""

    def __init__(self, listing):
        self.listing = listing
        self.fees: dict[int, Decimal] = {}  # lease id -> fee kept by the operator (ended unused while paid)
        self.decided_roots: set[int] = set()

    def groups(self):
        """lease trees (an original and everything split from it): root -> leases."""
        every = {lease.pk: lease for lease in Lease.objects.filter(listing=self.listing)}
        groups: dict[int, list[Lease]] = {}
        for lease in every.values():
            groups.setdefault(_root(lease, every), []).append(lease)
        return groups

    @staticmethod
    def moved(references, kinds, subject_id=None) -> Decimal:
        condition = Q(transaction__reference__in=references, account__kind__in=kinds)
        if subject_id is not None:
            condition &= Q(account__subject_id=subject_id)
        return LedgerEntry.objects.filter(condition).aggregate(s=Sum("amount"))["s"] or ZERO

    def check(self, *, final: bool):
        check_deferred()
        for root, group in self.groups().items():
            if root in self.decided_roots:
                continue
            references = {lease.escrow_ref for lease in group}
            completed = sum((g.total_price for g in group if g.status == Lease.Status.COMPLETED), ZERO)
            fees = sum((self.fees.get(g.pk, ZERO) for g in group), ZERO)
            gross = self.moved(references, ["operator", "platform_fee"])
            if not final:
                live = sum((g.total_price for g in group if g.status in escrow_services.LIVE), ZERO)
                assert gross <= completed + live + fees, (root, gross, completed, live, fees)
                continue
            assert gross == completed + fees, (root, gross, completed, fees)  # (a)
            for tenant_id in {g.tenant_id for g in group}:
                own = [g for g in group if g.tenant_id == tenant_id]
                expected = sum((g.total_price for g in own if g.status == Lease.Status.COMPLETED), ZERO)
                expected += sum((self.fees.get(g.pk, ZERO) for g in own), ZERO)
                paid = -self.moved(references, ["tenant"], subject_id=tenant_id)
                assert paid == expected, (root, tenant_id, paid, expected)  # (b)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@example(  # paid ahead, then transferred twice the same day and cancelled: reimbursements and a reclaim
    terms=(Decimal("1.3333"), Decimal("10"), 0, 7),
    bookings=[("book", 0, 6, 0, 10, True)],
    steps=[
        ("check_in", 0),
        ("advance", 1),
        ("transfer", 0, 5, 1),
        ("transfer", 1, 3, 2),
        ("cancel", 0),
        ("advance", 3),
    ],
)
@given(
    terms=TERMS,
    bookings=st.lists(BOOK, min_size=1, max_size=3),
    steps=st.lists(STEP, min_size=4, max_size=18),
)
def test_any_sequence_pays_the_operator_once_and_each_tenant_for_its_own_days(
    terms, bookings, steps, parties, make_listing, institution, settings, today
):
    operator, tenants = parties
    price, fee_percent, free_days, period = terms
    settings.ENTREPOT = {**settings.ENTREPOT, "ESCROW_PLATFORM_FEE_PERCENT": "3", "ESCROW_RELEASE_PERIOD_DAYS": period}
    staff = StaffFactory()
    sid = transaction.savepoint()  # each example starts from the same state
    try:
        with time_machine.travel(noon(today), tick=False) as traveller:
            clock = Clock(traveller, today)
            listing = make_listing(
                start_offset=0,
                days=120,
                booking_mode="instant",
                transfer_requires_consent=False,
                price_per_unit_day=price,
                cancellation_fee_percent=fee_percent,
                free_cancellation_days=free_days,
            )
            model = Model(listing)
            for step in [*bookings, *steps]:
                run_step(
                    step,
                    model=model,
                    operator=operator,
                    tenants=tenants,
                    institution=institution,
                    staff=staff,
                    clock=clock,
                )
                model.check(final=False)
            wind_down(model=model, operator=operator, clock=clock)
            model.check(final=True)
            for account in LedgerAccount.objects.filter(kind="escrow", reference__startswith="lease:"):
                assert (account.entries.aggregate(s=Sum("amount"))["s"] or ZERO) == ZERO, account.reference  # (c)
            unbalanced = EscrowTransaction.objects.annotate(total=Sum("entries__amount")).exclude(total=0)
            assert not unbalanced.exists()
            record_events(model)
    finally:
        transaction.savepoint_rollback(sid)


def _pick(model: Model, index: int, kind: str) -> Lease | None:
    """The `index`-th lease (cyclically) among those the step can apply to, so that most
    steps do something; any lease when none fits (the step is then refused)."""
    every = list(Lease.objects.filter(listing=model.listing).order_by("id"))
    if not every:
        return None
    today = timezone.localdate()
    fits = {
        "pay": lambda g: g.status in escrow_services.LIVE and not _funded(g),
        "check_in": lambda g: (
            g.status == Lease.Status.HELD or (g.status == Lease.Status.APPROVED and g.start <= today < g.end)
        ),
        "transfer": lambda g: g.status in escrow_services.LIVE and max(today, g.start) < g.end,
        "cancel": lambda g: g.status == Lease.Status.APPROVED,
        "withdraw": lambda g: g.status == Lease.Status.APPROVED,
        "no_show": lambda g: g.status == Lease.Status.APPROVED and g.start < today,
        "dispute": lambda g: g.status in (*escrow_services.LIVE, Lease.Status.COMPLETED) and _funded(g),
    }[kind]
    candidates = [g for g in every if fits(g)] or every
    return candidates[index % len(candidates)]


def _funded(lease: Lease) -> bool:
    return escrow_summary(reference=lease.escrow_ref)["funded"]


def _beat():
    for lease_id in escrow_services.active_lease_ids():
        escrow_services.release_period_for_lease(lease_id=lease_id)
    leases.complete_due_leases()


def run_step(step, *, model, operator, tenants, institution, staff, clock):
    kind = step[0]
    today = clock["day"]
    if kind == "advance":
        clock["day"] = today + timedelta(days=step[1])
        _beat()
        return
    if kind == "book":
        _, who, units, offset, days, pays = step
        tenant = tenants[who]
        try:
            lease = leases.request_lease(
                actor=tenant,
                tenant_id=tenant.subject.pk,
                listing_id=model.listing.pk,
                units=units,
                start=today + timedelta(days=offset),
                end=today + timedelta(days=offset + days),
            )
            if pays:
                escrow_services.pay_lease(actor=tenant, lease_id=lease.pk, institution_id=institution.pk)
        except DomainError:
            pass
        return
    lease = _pick(model, step[1], kind)
    if lease is None:
        return
    tenant = _users[lease.tenant_id]
    try:
        if kind == "check_in" and lease.status == Lease.Status.HELD:
            leases.approve_lease(actor=operator, lease_id=lease.pk)
        elif kind == "pay":
            escrow_services.pay_lease(actor=tenant, lease_id=lease.pk, institution_id=institution.pk)
        elif kind == "check_in":  # the tenant pays first when it has not yet
            if lease.status == Lease.Status.APPROVED and not _funded(lease):
                escrow_services.pay_lease(actor=tenant, lease_id=lease.pk, institution_id=institution.pk)
            leases.check_in_lease(actor=operator, lease_id=lease.pk)
        elif kind == "transfer":
            _, _, units, to = step
            recipient = tenants[to]
            if recipient.subject.pk == lease.tenant_id:
                recipient = tenants[(to + 1) % len(tenants)]
            offer = transfers.offer_transfer(
                actor=tenant, lease_id=lease.pk, to_subject_id=recipient.subject.pk, units=min(units, lease.units)
            )
            try:
                transfers.accept_transfer(actor=recipient, transfer_id=offer.pk, institution_id=institution.pk)
            except DomainError:
                transfers.withdraw_transfer(actor=tenant, transfer_id=offer.pk)
        elif kind in ("cancel", "no_show", "withdraw"):
            funded = _funded(lease)
            if kind == "cancel":
                ended = leases.cancel_lease(actor=tenant, lease_id=lease.pk)
                fee = ended.cancellation_fee or ZERO
            elif kind == "no_show":
                ended = leases.report_no_show(actor=operator, lease_id=lease.pk)
                fee = escrow_services.no_show_fee(lease=ended, listing=model.listing)
            else:
                ended = leases.withdraw_lease(actor=operator, lease_id=lease.pk, reason="Racking repairs")
                fee = ZERO
            if ended.status != lease.status:  # not a repeat of an earlier ending (which changes nothing)
                model.fees[ended.pk] = fee if funded else ZERO
        elif kind == "dispute":
            dispute_step(lease, resolution=step[2], model=model, tenant=tenant, staff=staff)
    except DomainError:
        pass


def dispute_step(lease, *, resolution, model, tenant, staff):
    """Open a dispute, check that the frozen escrow moves nothing, then decide it."""
    reference = lease.escrow_ref
    dispute = escrow_services.open_lease_dispute(actor=tenant, lease_id=lease.pk, reason="Goods damaged")
    before = EscrowTransaction.objects.filter(reference=reference).count()
    _beat()
    sharing = escrow_services.leases_of_reference(reference).filter(status=Lease.Status.APPROVED).first()
    if sharing is not None:
        with pytest.raises(EscrowFrozen):
            leases.cancel_lease(actor=_users[sharing.tenant_id], lease_id=sharing.pk)
    assert EscrowTransaction.objects.filter(reference=reference).count() == before
    balance = escrow_summary(reference=reference)["balance"]
    escrow_services.resolve_lease_dispute(
        actor=staff,
        dispute_id=dispute.pk,
        resolution=resolution,
        payee_amount=(balance / 2).quantize(Decimal("0.01")) if resolution == "split" else None,
        reason="Decided on the photos",
    )
    every = {g.pk: g for g in Lease.objects.filter(listing=model.listing)}
    model.decided_roots.add(_root(every[lease.pk], every))


def wind_down(*, model, operator, clock):
    """Let every lease end: past every end day, active leases complete, approved ones are
    cancelled by their tenants (a late cancellation when paid)."""
    ends = Lease.objects.filter(listing=model.listing).values_list("end", flat=True)
    clock["day"] = max([clock["day"], *ends]) + timedelta(days=1)
    _beat()
    for lease in Lease.objects.filter(listing=model.listing, status__in=[Lease.Status.HELD, Lease.Status.APPROVED]):
        funded = _funded(lease)
        ended = leases.cancel_lease(actor=_users[lease.tenant_id], lease_id=lease.pk)
        model.fees[ended.pk] = (ended.cancellation_fee or ZERO) if funded else ZERO
    _beat()
    assert not Lease.objects.filter(listing=model.listing, status__in=escrow_services.LIVE).exists()
    assert timezone.localdate() == clock["day"]


def record_events(model: Model):
    """What the example exercised (pytest --hypothesis-show-statistics)."""
    transfers_ = EscrowTransaction.objects.filter(kind="transfer").prefetch_related("entries__account")
    for tx in transfers_:
        escrow_in = sum((e.amount for e in tx.entries.all() if e.account.kind == "escrow" and e.amount > 0), ZERO)
        paid = -sum((e.amount for e in tx.entries.all() if e.amount < 0 and e.account.kind == "tenant"), ZERO)
        event(
            "transfer: part of the price straight to the transferor" if paid > escrow_in else "transfer: all in escrow"
        )
    if EscrowTransaction.objects.filter(kind="refund", entries__account__kind="operator").exists():
        event("operator gave money back (reclaim)")
    if Lease.objects.filter(listing=model.listing, parent__isnull=False).exists():
        event("a lease was split by a transfer")
    if Lease.objects.filter(listing=model.listing, parent__parent__isnull=False).exists():
        event("chained transfer")
    if Lease.objects.filter(listing=model.listing, status=Lease.Status.COMPLETED).exists():
        event("a lease completed")
    if model.decided_roots:
        event("dispute decided")

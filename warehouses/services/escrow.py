"""What escrow means for a lease: paying in, staged releases, refunds by the cancellation
policy, and disputes. The money moves through `payments.services.escrow` (warehouses -> payments ->
credit); this module decides the amounts.

- An approved lease is *payment due*: the tenant pays its price into the escrow of
  `lease.escrow_ref` (`lease:<id>`, or the original's reference for a transferor's
  continuation after a transfer) through a compliant payment institution with an enabled
  corridor for the lease currency and the warehouse country.
- Check-in needs a funded escrow. At check-in the share of every release period that has
  started is released to the operator (less the platform fee); a daily beat task releases
  each further period as it starts; completion releases what remains. Shares are rounded
  down to the cent and the last period takes the remainder, so the releases sum to the
  price exactly.
- Cancellation refunds the price less the cancellation fee; the fee goes to the operator
  (less the platform fee). An operator's withdrawal refunds everything; a tenant no-show
  counts as a late cancellation (the listing's fee to the operator, the rest refunded).
- Nothing is released or refunded while a dispute has the escrow frozen.

One rule keeps the money exact across transfers and cancellations. For a paid escrow,

    paid ahead = price of its approved, active and completed leases - balance

is what the operator has already been paid for those leases (releases, plus what an escrow
it was transferred from had released for its days). Releases top it up to the schedule;
a cancellation refunds price - fee and counts the lease's share of `paid ahead` (what
exceeds the other leases' prices) towards the fee, taking back from the operator whatever
exceeds the fee. A transfer (payments.services.escrow.follow_transfer) keeps the rule true for both
escrows: the child leases' prices add up to the original's price.

Each function runs inside the caller's transaction, under the listing and lease locks the
lease services take first (the escrow row's lock comes after them). Amounts are worked out
from a summary read under the escrow row's lock (`payments.services.escrow.locked_summary`), so they
hold on their own, not only because the lease locks keep other lease changes out.
"""

from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from core import money
from core.errors import NotAllowed
from credit.selectors.accounts import is_member, subject_ids_acted_for
from payments import selectors as payment_selectors
from payments.errors import EscrowFrozen
from payments.services import disputes as payment_disputes
from payments.services import escrow as payment_escrow
from warehouses.errors import InvalidTransition, LeaseNotFound
from warehouses.models import Lease, Listing
from warehouses.selectors import escrow_ref_expression
from warehouses.services.locks import lock_lease

LIVE = (Lease.Status.APPROVED, Lease.Status.ACTIVE)


def _config(name: str, default):
    return getattr(settings, "ENTREPOT", {}).get(name, default)


def period_days() -> int:
    return int(_config("ESCROW_RELEASE_PERIOD_DAYS", 30))


def released_share(*, lease: Lease, on: date) -> Decimal:
    """How much of the lease price is due to the operator on day `on`: the share of every
    release period that has started, rounded down to the cent; the whole price once the
    last period has started (so the last release takes any rounding remainder)."""
    if lease.status == Lease.Status.COMPLETED:
        return lease.total_price
    if on < lease.start:
        return Decimal("0.00")
    days, period = lease.days, period_days()
    periods = -(-days // period)
    started = min(periods, (on - lease.start).days // period + 1)
    if started >= periods:
        return lease.total_price
    return money.quantize(lease.total_price * started * period / days, lease.currency, rounding=ROUND_DOWN)


def leases_of_reference(reference: str):
    """The leases an escrow guards: the lease itself, or after a transfer the transferor's
    continuations that kept the original's escrow (the `transferred` original holds none)."""
    condition = Q(escrow_reference=reference)
    if reference.startswith("lease:") and reference[6:].isdecimal():
        condition |= Q(pk=int(reference[6:]), escrow_reference="")
    return Lease.objects.filter(condition).exclude(status=Lease.Status.TRANSFERRED)


def live_prices(*, references) -> dict[str, Decimal]:
    """For each escrow reference, the price of its live leases (as `leases_of_reference`
    finds them), in one query: a page of leases needs them for every split escrow on it."""
    references = set(references)
    if not references:
        return {}
    own = [int(r[6:]) for r in references if r.startswith("lease:") and r[6:].isdecimal()]
    rows = (
        Lease.objects.filter(Q(escrow_reference__in=references) | Q(pk__in=own, escrow_reference=""))
        .filter(status__in=LIVE)
        .annotate(ref=escrow_ref_expression())
        .order_by()
        .values("ref")
        .annotate(total=Sum("total_price"))
        .values_list("ref", "total")
    )
    totals = dict(rows)
    return {reference: totals.get(reference, Decimal("0.00")) for reference in references}


def amount_due(*, lease: Lease, prices: dict[str, Decimal] | None = None) -> Decimal:
    """What the tenant pays in: the price of every live lease sharing the escrow. `prices`
    (from `live_prices`) saves the query when it holds the lease's escrow."""
    if prices is not None and lease.escrow_ref in prices:
        total = prices[lease.escrow_ref]
    else:
        rows = leases_of_reference(lease.escrow_ref).filter(status__in=LIVE).values_list("total_price", flat=True)
        total = sum(rows, Decimal("0.00"))
    return total or lease.total_price


def is_funded(*, lease: Lease) -> bool:
    return payment_selectors.escrow_summaries(references=[lease.escrow_ref])[lease.escrow_ref]["funded"]


def _locked(lease_id: int) -> tuple[Listing, Lease]:
    lease = lock_lease(lease_id)
    return lease.listing, lease


# --- Paying in ----------------------------------------------------------------------------


def pay_lease(*, actor, lease_id: int, institution_id: int) -> Lease:
    """The tenant pays the lease price into escrow. Paying a funded escrow does nothing."""
    with transaction.atomic():
        listing, lease = _locked(lease_id)
        if not is_member(user=actor, subject_id=lease.tenant_id):
            if is_member(user=actor, subject_id=listing.warehouse.owner_id):
                raise NotAllowed("Only the tenant pays into escrow.", code="tenant_only")
            raise LeaseNotFound()
        if lease.status not in LIVE:
            raise InvalidTransition(
                f"A {lease.get_status_display().lower()} lease takes no payment.", code="not_payable"
            )
        payment_escrow.hold_payment(
            actor=actor,
            reference=lease.escrow_ref,
            payer_subject_id=lease.tenant_id,
            payee_subject_id=listing.warehouse.owner_id,
            institution_id=institution_id,
            amount=amount_due(lease=lease),
            currency=lease.currency,
            country=listing.warehouse.country,
        )
    return lease


# --- Hooks called by the lease services, inside their transaction ---------------------------


def require_funded(*, lease: Lease) -> None:
    """Check-in needs the price in escrow, and an escrow no open dispute has frozen: checking
    in starts the releases, and goods should not move in while the money is contested."""
    summary = payment_selectors.escrow_summaries(references=[lease.escrow_ref])[lease.escrow_ref]
    if not summary["funded"]:
        raise InvalidTransition(
            "The tenant has not paid into escrow yet: check-in needs the lease price in escrow.",
            code="escrow_not_funded",
        )
    if summary["decided"]:
        # A dispute decision has already paid the escrow out; nothing would guarantee the stay.
        raise InvalidTransition(
            "A dispute decision settled this lease's escrow: the lease cannot start. Book again to store goods.",
            code="escrow_decided",
        )
    if summary["frozen"]:
        raise InvalidTransition(
            "A dispute about this lease is open and its escrow is frozen: check-in waits for the decision.",
            code="escrow_frozen",
        )


def paid_ahead(*, guarded, balance: Decimal) -> Decimal:
    """What the operator already got for the leases an escrow guards (see the module
    docstring): their prices (approved, active, completed) less what the escrow still holds."""
    prices = sum((g.total_price for g in guarded if g.status in LIVE or g.status == Lease.Status.COMPLETED), Decimal(0))
    return prices - balance


def release_due(*, actor, lease: Lease, on: date | None = None, final: bool = False):
    """Release what has become due for the escrow of `lease` (all leases sharing it): the
    scheduled shares of its active and completed leases less what the operator already got
    for them (`paid_ahead`). With `final` (or when none of them is live any more) release
    everything left. A frozen or unfunded escrow: nothing happens. Safe to repeat."""
    reference = lease.escrow_ref
    on = on or timezone.localdate()
    with transaction.atomic():
        summary = payment_escrow.locked_summary(reference=reference)
        if not summary["funded"] or summary["frozen"] or summary["balance"] <= 0:
            return None
        guarded = list(leases_of_reference(reference))
        if final or not any(g.status in LIVE for g in guarded):
            amount = summary["balance"]
        else:
            target = sum(
                (
                    released_share(lease=g, on=on)
                    for g in guarded
                    if g.status in (Lease.Status.ACTIVE, Lease.Status.COMPLETED)
                ),
                Decimal("0.00"),
            )
            already = paid_ahead(guarded=guarded, balance=summary["balance"])
            amount = min(max(target - already, Decimal("0.00")), summary["balance"])
        if amount <= 0:
            return None
        return payment_escrow.release_to_payee(
            actor=actor,
            reference=reference,
            amount=amount,
            memo=f"Release for lease {lease.pk} due on {on.isoformat()}",
        )


def settle_cancellation(*, actor, lease: Lease, fee: Decimal, memo: str) -> None:
    """The lease ends unused: the tenant gets its price less `fee` back and the operator
    ends up with `fee` for it. The operator may already have been paid for the lease's days
    (`prepaid`: the part of the escrow's `paid_ahead` beyond its other leases' prices, which
    is `price - balance` when positive): the prepaid counts towards the fee, so the escrow
    releases only `fee - prepaid`, refunds `price - fee`, and when the prepaid exceeds the
    fee the operator gives the excess back to the tenant. A frozen escrow refuses (409) so
    the lease change rolls back too; an unpaid escrow, or one a dispute decision settled,
    moves nothing."""
    reference = lease.escrow_ref
    with transaction.atomic():
        summary = payment_escrow.locked_summary(reference=reference)
        if not summary["funded"]:
            return
        if summary["frozen"]:
            raise EscrowFrozen("The escrow is frozen by an open dispute: the lease cannot end until it is decided.")
        if summary["decided"]:
            return  # the decision put the money where it belongs
        price, balance = lease.total_price, summary["balance"]
        fee = min(fee, price)
        prepaid = min(price, max(price - balance, Decimal("0.00")))
        if prepaid <= fee:
            payment_escrow.settle(
                actor=actor, reference=reference, payee_amount=fee - prepaid, payer_amount=price - fee, memo=memo
            )
        else:
            payment_escrow.refund_to_payer(actor=actor, reference=reference, amount=price - prepaid, memo=memo)
            payment_escrow.reclaim_from_payee(actor=actor, reference=reference, amount=prepaid - fee, memo=memo)


def no_show_fee(*, lease: Lease, listing: Listing) -> Decimal:
    """A no-show counts as a late cancellation: the listing's fee percentage of the price."""
    return money.quantize(lease.total_price * listing.cancellation_fee_percent / 100, lease.currency)


# --- The beat task's service ----------------------------------------------------------------


def release_period_for_lease(*, lease_id: int, on: date | None = None):
    """Release what is due for one active lease (daily beat). Safe to repeat."""
    with transaction.atomic():
        _listing, lease = _locked(lease_id)
        if lease.status != Lease.Status.ACTIVE:
            return None
        return release_due(actor=None, lease=lease, on=on)


def active_lease_ids(*, chunk: int = 5000):
    """Every active lease id, read in keyset chunks so a large marketplace is covered whole."""
    last = 0
    while True:
        ids = list(
            Lease.objects.filter(status=Lease.Status.ACTIVE, id__gt=last)
            .order_by("id")
            .values_list("id", flat=True)[:chunk]
        )
        yield from ids
        if len(ids) < chunk:
            return
        last = ids[-1]


# --- Disputes -------------------------------------------------------------------------------


def dispute_window_days() -> int:
    return int(_config("DISPUTE_WINDOW_DAYS", 14))


def open_lease_dispute(*, actor, lease_id: int, reason: str, subject_id: int | None = None):
    """The tenant or the operator disputes an approved or active lease, or a completed one
    within the dispute window. The escrow freezes until platform staff decide."""
    with transaction.atomic():
        listing, lease = _locked(lease_id)
        tenant_id, operator_id = lease.tenant_id, listing.warehouse.owner_id
        mine = subject_ids_acted_for(user=actor)
        sides = [s for s in (tenant_id, operator_id) if s in mine]
        if not sides:
            raise LeaseNotFound()
        if subject_id is not None:
            if subject_id not in sides:
                raise NotAllowed(
                    "You do not act for a party to this lease.", field_errors={"subject": ["Not a party."]}
                )
            opener = subject_id
        else:
            opener = sides[0]
        window = dispute_window_days()
        if lease.status == Lease.Status.COMPLETED:
            if lease.completed_at and timezone.now() > lease.completed_at + timedelta(days=window):
                raise InvalidTransition(
                    f"Disputes are possible until {window} days after completion.", code="dispute_window_closed"
                )
        elif lease.status not in LIVE:
            raise InvalidTransition(
                f"A {lease.get_status_display().lower()} lease cannot be disputed.", code="not_disputable"
            )
        respondent = operator_id if opener == tenant_id else tenant_id
        return payment_disputes.open_dispute(
            actor=actor,
            reference=lease.escrow_ref,
            opener_subject_id=opener,
            respondent_subject_id=respondent,
            reason=reason,
        )


def resolve_lease_dispute(*, actor, dispute_id: int, resolution: str, payee_amount=None, reason: str = ""):
    """Platform staff decide a dispute. The losing party (the operator when the tenant is
    refunded everything, the tenant when the operator gets everything) gets a
    `dispute_lost` credit event; a split records none."""
    from credit.services.events import record_credit_event

    with transaction.atomic():
        dispute = payment_disputes.resolve_dispute(
            actor=actor, dispute_id=dispute_id, resolution=resolution, payee_amount=payee_amount, reason=reason
        )
        if not getattr(dispute, "resolved_now", False):
            return dispute  # already decided earlier: nothing more to record
        operator_id = dispute.escrow.payee_id
        # The tenant side is the party that is not the operator (after a transfer it may not
        # be the subject that paid the escrow in).
        tenant_id = dispute.respondent_id if dispute.opener_id == operator_id else dispute.opener_id
        loser = {"payer": operator_id, "payee": tenant_id}.get(dispute.resolution)
        if loser is not None:
            record_credit_event(
                actor=actor,
                subject_id=loser,
                kind="dispute_lost",
                source="platform",
                occurred_at=timezone.now(),
                source_reference=dispute.reference,
                evidence_reference=f"dispute:{dispute.pk}",
            )
    return dispute

"""The lease lifecycle, declared once (core.transitions). The services in
warehouses/services/leases.py (and payment_deadline.py, transfer_split.py) name a
transition: each locks the lease (`locks.lock_lease`: the listing first, then the lease),
checks who acts (before anything else, so a stranger learns nothing, not even that a step
was already taken) and applies it; `LEASE.run` locks and applies in one call.

    name          from                 to           audit action            guards; work in the transaction
    approve       held                 approved     lease.approved          credit gate again
    reject        held                 rejected     lease.rejected          -; units back to the ledger
    expire_hold   held                 expired      lease.expired           -; units back (the expire step)
    expire_unpaid approved             expired      lease.payment_overdue   -; units back (the expire step)
    check_in      approved             active       lease.checked_in        lease dates, escrow funded;
                                                                            release the first period
    complete      active               completed    lease.completed         end day reached; lease_completed
                                                                            for both parties, release the rest
    cancel        held, approved       cancelled    lease.cancelled         -; units back, refund by the policy,
                                                                            late_cancellation when a fee is due
    no_show       approved             defaulted    lease.tenant_no_show    start day passed; units back,
                                                                            no-show fee, lease_defaulted (tenant)
    withdraw      approved             defaulted    lease.operator_withdrew -; units back, full refund,
                                                                            lease_defaulted (operator)
    transfer      approved, active     transferred  lease.transferred       (see transfer_split.py)

Nothing runs on commit: credit events and escrow moves belong to the same transaction.
"""

from decimal import Decimal

from django.utils import timezone

from core.transitions import Lifecycle, Transition
from credit.selectors.accounts import is_member
from warehouses.errors import InvalidTransition, LeaseNotFound
from warehouses.models import Lease
from warehouses.services import escrow, gate, ledger
from warehouses.services.locks import lock_lease

Status = Lease.Status
GATE_ONLY_REASONS = {"instant_booking", "instant_needs_grade"}  # said at the request, not again


def lease_snapshot(lease: Lease) -> dict:
    snapshot = {
        "status": lease.status,
        "tenant": lease.tenant_id,
        "units": lease.units,
        "start": lease.start.isoformat(),
        "end": lease.end.isoformat(),
        "total_price": str(lease.total_price),
        "currency": lease.currency,
        "escrow_reference": lease.escrow_ref,
    }
    if lease.cancellation_fee is not None:
        snapshot["cancellation_fee"] = str(lease.cancellation_fee)
    if lease.defaulted_party:
        snapshot["defaulted_party"] = lease.defaulted_party
    return snapshot


def _answerable_by(lease: Lease) -> int | None:
    """The party an audit row is about: the tenant, or the operator that withdrew."""
    if lease.status == Status.DEFAULTED and lease.defaulted_party == Lease.Party.OPERATOR:
        return lease.listing.warehouse.owner_id
    return lease.tenant_id


REFUSED_VERB = {
    "approve": "approved",
    "reject": "rejected",
    "check_in": "checked in",
    "complete": "completed",
    "cancel": "cancelled",
    "no_show": "a no-show",
    "withdraw": "withdrawn",
    "transfer": "transferred",
}


def _refusal(lease: Lease, name: str) -> Exception:
    verb = REFUSED_VERB.get(name, f"moved by '{name}'")
    return InvalidTransition(f"A {lease.get_status_display().lower()} lease cannot be {verb}.")


# --- Who may ask (checked under the lock, before anything else: a stranger learns nothing) ---


def require_operator(*, actor, lease: Lease) -> None:
    """A member of the listing's operator; no actor is the system (beat tasks)."""
    if actor is not None and not is_member(user=actor, subject_id=lease.listing.warehouse.owner_id):
        raise LeaseNotFound()  # the lease is not visible to them at all


def require_tenant(*, actor, lease: Lease) -> None:
    if not is_member(user=actor, subject_id=lease.tenant_id):
        raise LeaseNotFound()


# --- Guards: guard(lease, *, actor, **context) raises to refuse ------------------------------


def tenant_passes_gate(lease: Lease, *, reasons: list, **context) -> None:
    """The tenant's standing may have changed since the request. Adds the gate's reasons to
    `reasons`, the list the service passes as the new `decision_reasons`."""
    outcome = gate.check_lease(tenant=lease.tenant, listing=lease.listing)
    reasons += [r for r in outcome.reasons if r["code"] not in GATE_ONLY_REASONS]


def within_lease_dates(lease: Lease, **context) -> None:
    if not lease.start <= timezone.localdate() < lease.end:
        raise InvalidTransition(
            f"Check-in is possible from {lease.start.isoformat()} until before {lease.end.isoformat()}.",
            code="outside_lease_dates",
        )


def escrow_funded(lease: Lease, **context) -> None:
    escrow.require_funded(lease=lease)


def end_day_reached(lease: Lease, **context) -> None:
    if timezone.localdate() < lease.end:
        raise InvalidTransition(f"The lease runs until {lease.end.isoformat()} (exclusive).", code="lease_not_ended")


def start_day_passed(lease: Lease, **context) -> None:
    if timezone.localdate() <= lease.start:
        raise InvalidTransition(
            f"A no-show can be recorded from the day after the start ({lease.start.isoformat()}).",
            code="too_early_for_no_show",
        )


# --- Work in the transaction: work(lease, *, actor, **context) -------------------------------


def record_credit_event(*, actor, subject_id: int, kind: str, lease: Lease, magnitude=Decimal("1")) -> None:
    """Lease outcomes feed the registry through the scoring engineer's service."""
    from credit.services.events import record_credit_event as record

    record(
        actor=actor,
        subject_id=subject_id,
        kind=kind,
        source="platform",
        occurred_at=timezone.now(),
        magnitude=magnitude,
        source_reference=f"lease:{lease.pk}",
    )


def release_units(lease: Lease, **context) -> None:
    """The lease's units go back to the ledger (the listing is locked)."""
    ledger.release(listing=lease.listing, start=lease.start, end=lease.end, units=lease.units)


def release_first_period(lease: Lease, *, actor, **context) -> None:
    escrow.release_due(actor=actor, lease=lease, on=timezone.localdate())  # the first period's share


def continues_after_split(*, lease: Lease) -> bool:
    """The days before a transfer of part of a lease: the same tenant's tenancy goes on in
    the kept part (a sibling starting where this one ends), whose completion is the one
    that counts. So a transfer never earns the parties an extra `lease_completed`."""
    return (
        lease.parent_id is not None
        and Lease.objects.filter(parent_id=lease.parent_id, tenant_id=lease.tenant_id, start=lease.end).exists()
    )


def settle_completion(lease: Lease, *, actor, **context) -> None:
    """The escrow releases the remainder (unless a dispute froze it); then both parties'
    records get `lease_completed`. The escrow first: a credit event locks the subject's
    recompute request, and a dispute decision locks the escrow before its own credit event,
    so the other order could deadlock with it (ARCHITECTURE.md, lock order)."""
    escrow.release_due(actor=actor, lease=lease)
    if not continues_after_split(lease=lease):
        for subject_id in (lease.tenant_id, lease.listing.warehouse.owner_id):
            record_credit_event(actor=actor, subject_id=subject_id, kind="lease_completed", lease=lease)


def settle_cancellation(lease: Lease, *, actor, **context) -> None:
    fee = lease.cancellation_fee
    escrow.settle_cancellation(actor=actor, lease=lease, fee=fee, memo=f"Lease {lease.pk} cancelled")
    if fee > 0:
        record_credit_event(actor=actor, subject_id=lease.tenant_id, kind="late_cancellation", lease=lease)


def settle_default(lease: Lease, *, actor, **context) -> None:
    """Operator default: everything back to the tenant. Tenant no-show: a late cancellation.
    The defaulting side's record gets `lease_defaulted`."""
    party = lease.defaulted_party
    no_show = party == Lease.Party.TENANT
    fee = escrow.no_show_fee(lease=lease, listing=lease.listing) if no_show else Decimal("0.00")
    escrow.settle_cancellation(actor=actor, lease=lease, fee=fee, memo=f"Lease {lease.pk}: {party} default")
    record_credit_event(actor=actor, subject_id=_answerable_by(lease), kind="lease_defaulted", lease=lease)


_EXPIRE = {"target": Status.EXPIRED, "work": (release_units,)}  # hold and payment expiry: one step
_DEFAULT = {"target": Status.DEFAULTED, "work": (release_units, settle_default), "stamp": ("defaulted_at",)}

LEASE = Lifecycle(
    model=Lease,
    lock=lock_lease,
    snapshot=lease_snapshot,
    subject_id=_answerable_by,
    refuse=_refusal,
    transitions={
        "approve": Transition(
            sources=(Status.HELD,),
            target=Status.APPROVED,
            action="lease.approved",
            guards=(tenant_passes_gate,),
            stamp=("decided_at",),
        ),
        "reject": Transition(
            sources=(Status.HELD,),
            target=Status.REJECTED,
            action="lease.rejected",
            work=(release_units,),
            stamp=("decided_at",),
        ),
        "expire_hold": Transition(sources=(Status.HELD,), action="lease.expired", stamp=("decided_at",), **_EXPIRE),
        "expire_unpaid": Transition(sources=(Status.APPROVED,), action="lease.payment_overdue", **_EXPIRE),
        "check_in": Transition(
            sources=(Status.APPROVED,),
            target=Status.ACTIVE,
            action="lease.checked_in",
            guards=(within_lease_dates, escrow_funded),
            work=(release_first_period,),
            stamp=("checked_in_at",),
        ),
        "complete": Transition(
            sources=(Status.ACTIVE,),
            target=Status.COMPLETED,
            action="lease.completed",
            guards=(end_day_reached,),
            work=(settle_completion,),
            stamp=("completed_at",),
        ),
        "cancel": Transition(
            sources=(Status.HELD, Status.APPROVED),
            target=Status.CANCELLED,
            action="lease.cancelled",
            work=(release_units, settle_cancellation),
            stamp=("cancelled_at",),
        ),
        "no_show": Transition(
            sources=(Status.APPROVED,), action="lease.tenant_no_show", guards=(start_day_passed,), **_DEFAULT
        ),
        "withdraw": Transition(sources=(Status.APPROVED,), action="lease.operator_withdrew", **_DEFAULT),
        "transfer": Transition(
            sources=(Status.APPROVED, Status.ACTIVE), target=Status.TRANSFERRED, action="lease.transferred"
        ),
    },
)

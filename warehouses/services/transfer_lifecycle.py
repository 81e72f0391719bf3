"""The lease transfer lifecycle, declared once (core.transitions). The services in
warehouses/services/transfers.py lock the transfer (`locks.lock_transfer`: listing, lease,
transfer), check who acts and name a transition.

    name            from                         to                 audit action (subject)
    accept          offered                      awaiting_operator  lease_transfer.accepted (recipient)
    accept_at_once  offered                      offered            lease_transfer.accepted (recipient);
                                                                    `execute` follows in the same transaction
    execute         offered                      completed          lease_transfer.completed (recipient)
    consent         awaiting_operator            completed          lease_transfer.completed (recipient)
    refuse          offered, awaiting_operator   refused            lease_transfer.refused (recipient)
    decline         offered, awaiting_operator   declined           lease_transfer.declined (transferor)
    withdraw        offered, awaiting_operator   withdrawn          lease_transfer.withdrawn (transferor)
    expire          offered, awaiting_operator   expired            lease_transfer.expired (transferor)

`execute` and `consent` run after the lease is split (transfer_split.py), which also moves
the lease to `transferred` through the lease lifecycle. Every transition that ends the
transfer stamps `decided_at`.
"""

from datetime import date

from django.utils import timezone

from core.audit import record_audit
from core.transitions import Lifecycle, Transition
from warehouses.errors import CreditGateRefused, InvalidTransition
from warehouses.models import Lease, LeaseTransfer
from warehouses.services import gate
from warehouses.services.lease_lifecycle import GATE_ONLY_REASONS
from warehouses.services.locks import lock_transfer

Status = LeaseTransfer.Status
OPEN = LeaseTransfer.OPEN
TRANSFERABLE = (Lease.Status.APPROVED, Lease.Status.ACTIVE)
RECIPIENT_ACTIONS = {"lease_transfer.accepted", "lease_transfer.refused", "lease_transfer.completed"}


def transfer_snapshot(transfer: LeaseTransfer) -> dict:
    return {
        "status": transfer.status,
        "lease": transfer.lease_id,
        "from_subject": transfer.from_subject_id,
        "to_subject": transfer.to_subject_id,
        "units": transfer.units,
        "institution": transfer.institution_id,
        "expires_at": transfer.expires_at.isoformat() if transfer.expires_at else None,
        "effective_from": transfer.effective_from.isoformat() if transfer.effective_from else None,
        "amount": str(transfer.amount) if transfer.amount is not None else None,
        "recipient_lease": transfer.recipient_lease_id,
    }


def _audit(*, action: str, target: LeaseTransfer, subject_id, **kwargs) -> None:
    """The recipient's steps are audited on the recipient's record, the rest on the transferor's."""
    subject_id = target.to_subject_id if action in RECIPIENT_ACTIONS else target.from_subject_id
    record_audit(action=action, target=target, subject_id=subject_id, **kwargs)


REFUSALS = {  # name: (message, code) for a transfer whose status does not allow the step
    "accept": ("A {status} transfer cannot be accepted.", "transfer_closed"),
    "accept_at_once": ("A {status} transfer cannot be accepted.", "transfer_closed"),
    "consent": ("A transfer that is {status} cannot be consented to.", "transfer_not_awaiting_operator"),
    "decline": ("You cannot decline a transfer that is {status}.", "transfer_cannot_decline"),
    "withdraw": ("A {status} transfer cannot be withdrawn.", "transfer_closed"),
}


def refusal(transfer: LeaseTransfer, name: str) -> Exception:
    message, code = REFUSALS.get(name, ("A {status} transfer cannot move by '" + name + "'.", "transfer_closed"))
    return InvalidTransition(message.format(status=transfer.get_status_display().lower()), code=code)


def require_allowed(name: str, transfer: LeaseTransfer) -> None:
    """Refuse now, as the transition would, before the steps that come ahead of it."""
    if transfer.status not in TRANSFER.transitions[name].sources:
        raise refusal(transfer, name)


_CLOSES = {"sources": OPEN, "stamp": ("decided_at",)}

TRANSFER = Lifecycle(
    model=LeaseTransfer,
    lock=lock_transfer,
    snapshot=transfer_snapshot,
    subject_id=lambda transfer: transfer.from_subject_id,
    refuse=refusal,
    audit=_audit,
    transitions={
        "accept": Transition(
            sources=(Status.OFFERED,),
            target=Status.AWAITING_OPERATOR,
            action="lease_transfer.accepted",
            stamp=("accepted_at",),
        ),
        "accept_at_once": Transition(
            sources=(Status.OFFERED,), target=Status.OFFERED, action="lease_transfer.accepted", stamp=("accepted_at",)
        ),
        "execute": Transition(
            sources=(Status.OFFERED,), target=Status.COMPLETED, action="lease_transfer.completed", stamp=("decided_at",)
        ),
        "consent": Transition(
            sources=(Status.AWAITING_OPERATOR,),
            target=Status.COMPLETED,
            action="lease_transfer.completed",
            stamp=("decided_at",),
        ),
        "refuse": Transition(target=Status.REFUSED, action="lease_transfer.refused", **_CLOSES),
        "decline": Transition(target=Status.DECLINED, action="lease_transfer.declined", **_CLOSES),
        "withdraw": Transition(target=Status.WITHDRAWN, action="lease_transfer.withdrawn", **_CLOSES),
        "expire": Transition(target=Status.EXPIRED, action="lease_transfer.expired", **_CLOSES),
    },
)


def effective_from(*, lease: Lease, today: date) -> date:
    """First day the recipient would hold: today, or the lease's start if that is later."""
    return max(today, lease.start)


def transferability_errors(*, lease: Lease, units: int | None, today: date) -> dict[str, list[str]]:
    field_errors: dict[str, list[str]] = {}
    if lease.status not in TRANSFERABLE:
        field_errors["lease"] = [
            f"Only an approved or active lease can be transferred; this one is {lease.get_status_display().lower()}."
        ]
    elif effective_from(lease=lease, today=today) >= lease.end:
        field_errors["lease"] = [f"The lease has no days left to transfer (it ends before {lease.end.isoformat()})."]
    if units is not None and not (1 <= units <= lease.units):
        field_errors["units"] = [f"Between 1 and the lease's {lease.units} units."]
    return field_errors


def close(name: str, transfer: LeaseTransfer, *, actor, reason: str, reasons: list[dict]) -> LeaseTransfer:
    """Refuse, decline, withdraw or expire a locked transfer, adding `reasons` to its own."""
    return TRANSFER.apply(name, transfer, actor=actor, reason=reason, fields={"reasons": transfer.reasons + reasons})


def lapse_if_due(transfer: LeaseTransfer, *, lease: Lease, now) -> str | None:
    """Under the locks: an open transfer whose offer lapsed, or whose lease can no longer
    be transferred, becomes `expired`. Returns the reason (the caller raises after commit)."""
    if transfer.expires_at <= now:
        reason = f"The offer lapsed at {transfer.expires_at:%Y-%m-%d %H:%M} UTC."
    else:
        problems = transferability_errors(lease=lease, units=transfer.units, today=timezone.localdate(now))
        if not problems:
            return None
        reason = next(iter(problems.values()))[0]
    close("expire", transfer, actor=None, reason=reason, reasons=[{"code": "expired", "message": reason}])
    return reason


def still_open(*, actor, transfer: LeaseTransfer) -> tuple[list[dict], Exception | None]:
    """Before acceptance and consent, under the locks: a lapsed offer expires; otherwise the
    recipient passes the same credit gate as a new tenant, or the transfer is refused.
    Returns the gate's reasons, or the error the caller raises once the closing commits."""
    lease = transfer.lease
    lapsed = lapse_if_due(transfer, lease=lease, now=timezone.now())
    if lapsed is not None:
        return [], InvalidTransition(lapsed, code="transfer_expired")
    try:
        outcome = gate.check_lease(tenant=transfer.to_subject, listing=lease.listing)
    except CreditGateRefused as exc:
        reason = "; ".join(r["message"] for r in exc.reasons)
        close("refuse", transfer, actor=actor, reason=reason, reasons=exc.reasons)
        return [], exc
    return [r for r in outcome.reasons if r["code"] not in GATE_ONLY_REASONS], None

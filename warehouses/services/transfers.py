"""Lease transfer: a tenant hands all or part of an approved or active lease (some units,
the remaining days) to another subject.

    offered ──accept──> awaiting_operator ──consent──> completed
       │        │              └─decline──> declined
       │        └─(listing needs no consent)──> completed
       │        └─(credit gate refuses)──> refused
       ├─decline (recipient)──> declined
       ├─withdraw (transferor, also while awaiting_operator)──> withdrawn
       └─(expires_at passes, or the lease stops being transferable)──> expired

The recipient passes the same credit gate as a new tenant (`gate.check_lease`), at
acceptance and again at execution. The remaining days are [effective_from, lease.end) with
effective_from = max(today, lease.start), fixed when the transfer executes.

Execution (one transaction; the listing's lock first, then the lease's, then the
transfer's, like every lease service) closes the original as `transferred` and replaces it
with up to three child leases (`parent` = the original, same unit price):

- the transferor's past part: all units on [start, effective_from), if non-empty;
- the transferor's kept part: units - k on [effective_from, end), if k < units;
- the recipient's part: k units on [effective_from, end), `approved` (it checks in itself).

The transferor's parts keep the original's status and its escrow (`escrow_reference` =
the original's reference); the recipient's part has its own escrow `lease:<id>`. Per day
the children reserve exactly what the original reserved, so the capacity ledger is not
touched and the reconciliation (which counts the children, not the `transferred` original)
stays clean. The escrow follows through `payments.escrow.follow_transfer` inside the same
transaction: the recipient pays the price of its part into its lease's escrow and the
original's escrow refunds that amount to the transferor. Edge cases, each noted in the
transfer's `reasons`:
- the original was never paid: nothing moves, the recipient's lease is payment due;
- part of the original's escrow was already released to the operator (staged releases):
  the recipient still pays the whole price of its part, in the same transaction: what the
  escrow still holds beyond the transferor's own leases goes into the recipient's escrow
  (and is refunded to the transferor from the original's), the rest goes straight to the
  transferor, who had paid the operator for those days. The recipient's escrow then counts
  that as already paid to the operator (see warehouses/services/escrow.py), so the operator
  is paid for every unit-day exactly once, even when nothing was left to move.
The children's prices add up to the original's price exactly (the transferor's last part
absorbs the rounding), so no cent is lost or paid twice.
A frozen escrow (open dispute) refuses the transfer (409 `escrow_frozen`), and so does one a
dispute decision has settled (409 `escrow_decided`); nothing is written.
"""

import logging
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import record_audit
from credit import errors
from credit.models import Subject
from credit.selectors.accounts import is_member
from payments import escrow as payment_escrow
from payments import selectors as payment_selectors
from warehouses.errors import CreditGateRefused, InvalidTransition, LeaseNotFound, TransferNotFound
from warehouses.models import Lease, LeaseTransfer, Listing
from warehouses.services import gate
from warehouses.services.leases import _locked_lease, lease_price

logger = logging.getLogger(__name__)

TRANSFERABLE = (Lease.Status.APPROVED, Lease.Status.ACTIVE)


def _config(name: str, default):
    return getattr(settings, "ENTREPOT", {}).get(name, default)


def effective_from(*, lease: Lease, today: date) -> date:
    """First day the recipient would hold: today, or the lease's start if that is later."""
    return max(today, lease.start)


def _snapshot(transfer: LeaseTransfer) -> dict:
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


def _lease_snapshot(lease: Lease) -> dict:
    return {
        "status": lease.status,
        "tenant": lease.tenant_id,
        "units": lease.units,
        "start": lease.start.isoformat(),
        "end": lease.end.isoformat(),
        "total_price": str(lease.total_price),
        "escrow_reference": lease.escrow_ref,
    }


def _transferability_errors(*, lease: Lease, units: int | None, today: date) -> dict[str, list[str]]:
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


def _lock_transfer(*, transfer_id: int) -> tuple[Listing, Lease, LeaseTransfer]:
    lease_id = LeaseTransfer.objects.filter(pk=transfer_id).values_list("lease_id", flat=True).first()
    if lease_id is None:
        raise TransferNotFound()
    listing, lease = _locked_lease(lease_id=lease_id)
    transfer = (
        LeaseTransfer.objects.select_for_update(of=("self",))
        .select_related("to_subject", "from_subject")
        .get(pk=transfer_id)
    )
    return listing, lease, transfer


def offer_transfer(
    *, actor, lease_id: int, to_subject_id: int | None, units: int | None, note: str = ""
) -> LeaseTransfer:
    """A member of the tenant offers `units` of the lease for its remaining days to another
    subject. Bad input is a 400 with field errors and writes nothing."""
    now = timezone.now()
    today = timezone.localdate(now)
    lease = Lease.objects.select_related("listing__warehouse").filter(pk=lease_id).first()
    if lease is None or not is_member(user=actor, subject_id=lease.tenant_id):
        raise LeaseNotFound()
    field_errors = _transferability_errors(lease=lease, units=units, today=today)
    if units is None:
        field_errors.setdefault("units", ["Required."])
    if to_subject_id is None:
        field_errors["to_subject"] = ["Name the subject that takes the lease over."]
    elif to_subject_id == lease.tenant_id:
        field_errors["to_subject"] = ["A lease cannot be transferred to its own tenant."]
    elif to_subject_id == lease.listing.warehouse.owner_id:
        # As with request_lease's own-listing rule: the operator cannot be its own tenant.
        field_errors["to_subject"] = ["A lease cannot be transferred to the operator of its listing."]
    elif not Subject.objects.filter(pk=to_subject_id).exists():
        field_errors["to_subject"] = ["No such subject."]
    if field_errors:
        raise errors.InvalidInput(next(iter(field_errors.values()))[0], field_errors=field_errors)
    with transaction.atomic():
        listing, lease = _locked_lease(lease_id=lease_id)
        field_errors = _transferability_errors(lease=lease, units=units, today=today)
        if field_errors:
            raise errors.InvalidInput(next(iter(field_errors.values()))[0], field_errors=field_errors)
        existing = (
            LeaseTransfer.objects.select_for_update(of=("self",))
            .filter(lease=lease, status__in=LeaseTransfer.OPEN)
            .first()
        )
        if existing is not None and existing.expires_at <= now:  # lapsed, the beat has not caught up yet
            _lapse_if_due(transfer=existing, lease=lease, now=now)
            existing = None
        if existing is not None:
            if (existing.to_subject_id, existing.units) == (to_subject_id, units):
                return existing  # the same offer again: nothing to do
            raise errors.Conflict(
                f"Transfer {existing.pk} of this lease is still open; withdraw it first.", code="transfer_pending"
            )
        try:
            with transaction.atomic():  # savepoint: a racing duplicate hits the partial unique index
                transfer = LeaseTransfer.objects.create(
                    lease=lease,
                    from_subject_id=lease.tenant_id,
                    to_subject_id=to_subject_id,
                    units=units,
                    expires_at=now + timedelta(hours=_config("TRANSFER_OFFER_HOURS", 72)),
                    note=note,
                    offered_by=actor if getattr(actor, "is_authenticated", False) else None,
                )
        except IntegrityError:
            raise errors.Conflict("Another transfer of this lease is open.", code="transfer_pending") from None
        record_audit(
            actor=actor,
            action="lease_transfer.offered",
            target=transfer,
            subject_id=lease.tenant_id,
            new=_snapshot(transfer),
            reason=note,
        )
    return transfer


def _close(*, actor, transfer: LeaseTransfer, status: str, now, reason: str, reasons=None, subject_id=None) -> None:
    old = _snapshot(transfer)
    transfer.status = status
    transfer.decided_at = now
    if reasons:
        transfer.reasons = transfer.reasons + list(reasons)
    transfer.save(update_fields=["status", "decided_at", "reasons"])
    record_audit(
        actor=actor,
        action=f"lease_transfer.{status}",
        target=transfer,
        subject_id=subject_id or transfer.from_subject_id,
        old=old,
        new=_snapshot(transfer),
        reason=reason,
    )


def _lapse_if_due(*, transfer: LeaseTransfer, lease: Lease, now) -> str | None:
    """Under the locks: an open transfer whose offer lapsed, or whose lease can no longer
    be transferred, becomes `expired`. Returns the reason (the caller raises after commit)."""
    if transfer.expires_at <= now:
        reason = f"The offer lapsed at {transfer.expires_at:%Y-%m-%d %H:%M} UTC."
    else:
        problems = _transferability_errors(lease=lease, units=transfer.units, today=timezone.localdate(now))
        if not problems:
            return None
        reason = next(iter(problems.values()))[0]
    _close(
        actor=None,
        transfer=transfer,
        status=LeaseTransfer.Status.EXPIRED,
        now=now,
        reason=reason,
        reasons=[{"code": "expired", "message": reason}],
    )
    return reason


def _route_problems(*, institution_id: int, listing: Listing) -> list[dict]:
    return payment_selectors.payment_route_problems(
        institution_id=institution_id, currency=listing.currency, country=listing.warehouse.country
    )


def accept_transfer(*, actor, transfer_id: int, institution_id: int | None) -> LeaseTransfer:
    """The recipient accepts, naming the payment institution it pays through. The credit
    gate decides; then the transfer waits for the operator's consent or executes at once.
    Accepting twice is harmless (the second call returns the transfer as it stands)."""
    now = timezone.now()
    transfer = LeaseTransfer.objects.filter(pk=transfer_id).first()
    if transfer is None or not is_member(user=actor, subject_id=transfer.to_subject_id):
        raise TransferNotFound()
    if transfer.status in (LeaseTransfer.Status.AWAITING_OPERATOR, LeaseTransfer.Status.COMPLETED):
        return transfer
    if institution_id is None:
        raise errors.InvalidInput(
            "Choose the payment institution you pay through.", field_errors={"institution": ["Required."]}
        )
    lapsed = refusal = None
    with transaction.atomic():
        listing, lease, transfer = _lock_transfer(transfer_id=transfer_id)
        if transfer.status in (LeaseTransfer.Status.AWAITING_OPERATOR, LeaseTransfer.Status.COMPLETED):
            return transfer  # a concurrent or repeated accept got here first
        if transfer.status != LeaseTransfer.Status.OFFERED:
            raise InvalidTransition(
                f"A {transfer.get_status_display().lower()} transfer cannot be accepted.", code="transfer_closed"
            )
        problems = _route_problems(institution_id=institution_id, listing=listing)
        if problems:
            raise errors.InvalidInput(
                problems[0]["message"],
                code="payment_route",
                field_errors={"institution": [p["message"] for p in problems]},
            )
        lapsed = _lapse_if_due(transfer=transfer, lease=lease, now=now)
        if lapsed is None:
            try:
                outcome = gate.check_lease(tenant=transfer.to_subject, listing=listing)
            except CreditGateRefused as exc:
                refusal = exc
                _close(
                    actor=actor,
                    transfer=transfer,
                    status=LeaseTransfer.Status.REFUSED,
                    now=now,
                    reason="; ".join(r["message"] for r in exc.reasons),
                    reasons=exc.reasons,
                    subject_id=transfer.to_subject_id,
                )
            else:
                old = _snapshot(transfer)
                transfer.institution_id = institution_id
                transfer.accepted_at = now
                transfer.reasons = transfer.reasons + [
                    r for r in outcome.reasons if r["code"] not in {"instant_booking", "instant_needs_grade"}
                ]
                if listing.transfer_requires_consent:
                    transfer.status = LeaseTransfer.Status.AWAITING_OPERATOR
                    transfer.save(update_fields=["institution", "accepted_at", "reasons", "status"])
                    record_audit(
                        actor=actor,
                        action="lease_transfer.accepted",
                        target=transfer,
                        subject_id=transfer.to_subject_id,
                        old=old,
                        new=_snapshot(transfer),
                    )
                else:
                    transfer.save(update_fields=["institution", "accepted_at", "reasons"])
                    record_audit(
                        actor=actor,
                        action="lease_transfer.accepted",
                        target=transfer,
                        subject_id=transfer.to_subject_id,
                        old=old,
                        new=_snapshot(transfer),
                    )
                    _execute(actor=actor, listing=listing, lease=lease, transfer=transfer, now=now)
                return transfer
    if refusal is not None:
        raise refusal
    raise InvalidTransition(lapsed, code="transfer_expired")


def consent_transfer(*, actor, transfer_id: int) -> LeaseTransfer:
    """The operator consents: the credit gate is asked again, then the transfer executes."""
    now = timezone.now()
    lapsed = refusal = None
    with transaction.atomic():
        listing, lease, transfer = _lock_transfer(transfer_id=transfer_id)
        if not is_member(user=actor, subject_id=listing.warehouse.owner_id):
            raise TransferNotFound()
        if transfer.status == LeaseTransfer.Status.COMPLETED:
            return transfer
        if transfer.status != LeaseTransfer.Status.AWAITING_OPERATOR:
            raise InvalidTransition(
                f"A transfer that is {transfer.get_status_display().lower()} cannot be consented to.",
                code="transfer_not_awaiting_operator",
            )
        lapsed = _lapse_if_due(transfer=transfer, lease=lease, now=now)
        if lapsed is None:
            try:
                gate.check_lease(tenant=transfer.to_subject, listing=listing)
            except CreditGateRefused as exc:
                refusal = exc
                _close(
                    actor=actor,
                    transfer=transfer,
                    status=LeaseTransfer.Status.REFUSED,
                    now=now,
                    reason="; ".join(r["message"] for r in exc.reasons),
                    reasons=exc.reasons,
                    subject_id=transfer.to_subject_id,
                )
            else:
                _execute(actor=actor, listing=listing, lease=lease, transfer=transfer, now=now)
                return transfer
    if refusal is not None:
        raise refusal
    raise InvalidTransition(lapsed, code="transfer_expired")


def decline_transfer(*, actor, transfer_id: int, reason: str = "") -> LeaseTransfer:
    """The operator declines a transfer awaiting consent (reason required), or the
    recipient declines an offer."""
    now = timezone.now()
    with transaction.atomic():
        listing, lease, transfer = _lock_transfer(transfer_id=transfer_id)
        is_operator = is_member(user=actor, subject_id=listing.warehouse.owner_id)
        is_recipient = is_member(user=actor, subject_id=transfer.to_subject_id)
        if not (is_operator or is_recipient or is_member(user=actor, subject_id=transfer.from_subject_id)):
            raise TransferNotFound()
        if transfer.status == LeaseTransfer.Status.DECLINED:
            return transfer
        if is_operator and transfer.status == LeaseTransfer.Status.AWAITING_OPERATOR:
            if not reason.strip():
                raise errors.InvalidInput("Say why you decline.", field_errors={"reason": ["Required."]})
            code = "operator_declined"
        elif is_recipient and transfer.status == LeaseTransfer.Status.OFFERED:
            code = "recipient_declined"
        else:
            raise InvalidTransition(
                f"You cannot decline a transfer that is {transfer.get_status_display().lower()}.",
                code="transfer_cannot_decline",
            )
        _close(
            actor=actor,
            transfer=transfer,
            status=LeaseTransfer.Status.DECLINED,
            now=now,
            reason=reason,
            reasons=[{"code": code, "message": reason or "Declined."}],
        )
    return transfer


def withdraw_transfer(*, actor, transfer_id: int, reason: str = "") -> LeaseTransfer:
    """The transferor takes back an offer not yet executed."""
    now = timezone.now()
    with transaction.atomic():
        listing, lease, transfer = _lock_transfer(transfer_id=transfer_id)
        if not is_member(user=actor, subject_id=transfer.from_subject_id):
            if is_member(user=actor, subject_id=transfer.to_subject_id) or is_member(
                user=actor, subject_id=listing.warehouse.owner_id
            ):
                raise InvalidTransition("Only the transferor can withdraw an offer.", code="not_transferor")
            raise TransferNotFound()
        if transfer.status == LeaseTransfer.Status.WITHDRAWN:
            return transfer
        if transfer.status not in LeaseTransfer.OPEN:
            raise InvalidTransition(
                f"A {transfer.get_status_display().lower()} transfer cannot be withdrawn.", code="transfer_closed"
            )
        _close(
            actor=actor,
            transfer=transfer,
            status=LeaseTransfer.Status.WITHDRAWN,
            now=now,
            reason=reason,
            reasons=[{"code": "withdrawn", "message": reason or "Withdrawn by the transferor."}],
        )
    return transfer


def expire_transfer(*, transfer_id: int) -> bool:
    now = timezone.now()
    with transaction.atomic():
        listing, lease, transfer = _lock_transfer(transfer_id=transfer_id)
        if transfer.status not in LeaseTransfer.OPEN:
            return False
        return _lapse_if_due(transfer=transfer, lease=lease, now=now) is not None


def expire_transfers(*, limit: int = 500) -> int:
    """Beat: open transfers past their expiry, or whose lease ended or changed state."""
    now = timezone.now()
    due = list(
        LeaseTransfer.objects.filter(status__in=LeaseTransfer.OPEN)
        .exclude(expires_at__gt=now, lease__status__in=TRANSFERABLE, lease__end__gt=timezone.localdate(now))
        .order_by("expires_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    count = 0
    for transfer_id in due:
        try:
            count += expire_transfer(transfer_id=transfer_id)
        except errors.Busy:
            logger.info("Transfer %s busy; it expires on the next run", transfer_id)
    return count


def _child(
    *, lease: Lease, tenant_id: int, units: int, start: date, end: date, status: str, now, total_price=None, **extra
) -> Lease:
    if total_price is None:
        total_price = lease_price(unit_price=lease.unit_price, units=units, start=start, end=end)
    return Lease.objects.create(
        listing_id=lease.listing_id,
        tenant_id=tenant_id,
        units=units,
        start=start,
        end=end,
        status=status,
        booking_mode=lease.booking_mode,
        unit_price=lease.unit_price,
        total_price=total_price,
        currency=lease.currency,
        parent=lease,
        **extra,
    )


def _execute(*, actor, listing: Listing, lease: Lease, transfer: LeaseTransfer, now) -> None:
    """Under the listing, lease and transfer locks: split the lease and move the escrow."""
    today = timezone.localdate(now)
    problems = _transferability_errors(lease=lease, units=transfer.units, today=today)
    if problems:  # callers lapse such transfers first; this is the last guard
        raise InvalidTransition(next(iter(problems.values()))[0], code="lease_not_transferable")
    begin = effective_from(lease=lease, today=today)
    k = transfer.units
    old_lease = _lease_snapshot(lease)
    inherited = {
        "decided_at": lease.decided_at,
        "checked_in_at": lease.checked_in_at,
        "requested_by": lease.requested_by,
        "note": lease.note,
        "escrow_reference": lease.escrow_ref,
        "decision_reasons": [
            {
                "code": "split_from_transfer",
                "message": f"Kept by the transferor from lease {lease.pk} (transfer {transfer.pk}).",
            }
        ],
    }
    # The children's prices add up to the original's exactly: the recipient pays the plain
    # price of its part, the transferor's last part absorbs the rounding (a cent or two).
    recipient_price = lease_price(unit_price=lease.unit_price, units=k, start=begin, end=lease.end)
    if k == lease.units and begin == lease.start:
        recipient_price = lease.total_price  # the whole lease changes hands
    past_price = lease_price(unit_price=lease.unit_price, units=lease.units, start=lease.start, end=begin)
    children: list[Lease] = []
    if begin > lease.start:
        children.append(
            _child(
                lease=lease,
                tenant_id=lease.tenant_id,
                units=lease.units,
                start=lease.start,
                end=begin,
                status=lease.status,
                now=now,
                total_price=past_price if k < lease.units else lease.total_price - recipient_price,
                **inherited,
            )
        )
    if k < lease.units:
        children.append(
            _child(
                lease=lease,
                tenant_id=lease.tenant_id,
                units=lease.units - k,
                start=begin,
                end=lease.end,
                status=lease.status,
                now=now,
                total_price=lease.total_price - recipient_price - (past_price if begin > lease.start else 0),
                **inherited,
            )
        )
    recipient = _child(
        lease=lease,
        tenant_id=transfer.to_subject_id,
        units=k,
        start=begin,
        end=lease.end,
        status=Lease.Status.APPROVED,
        now=now,
        total_price=recipient_price,
        decided_at=now,
        decision_reasons=[
            {"code": "transferred_in", "message": f"Taken over from lease {lease.pk} (transfer {transfer.pk})."}
        ]
        + [r for r in transfer.reasons if r.get("code") not in {"expired", "withdrawn"}],
    )
    children.append(recipient)
    escrow_reasons = _follow_escrow(actor=actor, lease=lease, recipient=recipient, transfer=transfer)
    lease.status = Lease.Status.TRANSFERRED
    lease.save(update_fields=["status"])
    transfer.status = LeaseTransfer.Status.COMPLETED
    transfer.effective_from = begin
    transfer.amount = recipient.total_price
    transfer.recipient_lease = recipient
    transfer.decided_at = now
    transfer.reasons = transfer.reasons + escrow_reasons
    transfer.save(update_fields=["status", "effective_from", "amount", "recipient_lease", "decided_at", "reasons"])
    record_audit(
        actor=actor,
        action="lease.transferred",
        target=lease,
        subject_id=lease.tenant_id,
        old=old_lease,
        new={
            **_lease_snapshot(lease),
            "transfer": transfer.pk,
            "children": [{"id": c.pk, **_lease_snapshot(c)} for c in children],
        },
        reason=f"Transfer {transfer.pk}: {k} units from {begin.isoformat()} to subject {transfer.to_subject_id}.",
    )
    record_audit(
        actor=actor,
        action="lease_transfer.completed",
        target=transfer,
        subject_id=transfer.to_subject_id,
        new=_snapshot(transfer),
    )


def _follow_escrow(*, actor, lease: Lease, recipient: Lease, transfer: LeaseTransfer) -> list[dict]:
    """Move the money for the recipient's part (see payments.escrow.follow_transfer and
    the module docstring). Returns the reasons recorded on the transfer."""
    source_ref, price = lease.escrow_ref, recipient.total_price
    tx = payment_escrow.follow_transfer(
        actor=actor,
        from_reference=source_ref,
        to_reference=recipient.escrow_ref,
        transferor_subject_id=transfer.from_subject_id,
        recipient_subject_id=transfer.to_subject_id,
        institution_id=transfer.institution_id,
        amount=price,
    )
    currency = lease.currency
    if tx is None:
        return [
            {
                "code": "payment_due",
                "message": "The lease had not been paid into escrow: the recipient pays its part like a new lease.",
            }
        ]
    moved, reimbursed = tx.moved, tx.reimbursed
    if reimbursed > 0:
        return [
            {
                "code": "escrow_partly_released",
                "message": (
                    f"The recipient paid {price} {currency}: {moved} {currency} into its lease's escrow (the "
                    f"transferor was refunded that from {source_ref}) and {reimbursed} {currency} straight to the "
                    "transferor, for days the operator had already been paid for."
                ),
            }
        ]
    return [
        {
            "code": "escrow_followed",
            "message": f"The recipient paid {moved} {currency} into escrow; the transferor was refunded the same.",
        }
    ]

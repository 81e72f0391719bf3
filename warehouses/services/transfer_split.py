"""Executing a lease transfer: the lease is split and the escrow follows.

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
stays clean. The escrow follows through `payments.services.escrow.follow_transfer` inside the same
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

from datetime import date

from django.utils import timezone

from payments.services import escrow as payment_escrow
from warehouses.errors import InvalidTransition
from warehouses.models import Lease, LeaseTransfer
from warehouses.services.lease_lifecycle import LEASE, lease_snapshot
from warehouses.services.leases import lease_price
from warehouses.services.transfer_lifecycle import TRANSFER, effective_from, transferability_errors


def _child(
    *, lease: Lease, tenant_id: int, units: int, start: date, end: date, status: str, now, total_price=None, **extra
) -> Lease:
    if total_price is None:
        total_price = lease_price(
            unit_price=lease.unit_price, units=units, start=start, end=end, currency=lease.currency
        )
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


def execute_transfer(name: str, *, actor, transfer: LeaseTransfer) -> LeaseTransfer:
    """Under the listing, lease and transfer locks: split the lease, move the escrow, then
    the lease's `transfer` and the transfer's `name` (`execute` or `consent`) transitions."""
    lease = transfer.lease
    now = timezone.now()
    today = timezone.localdate(now)
    problems = transferability_errors(lease=lease, units=transfer.units, today=today)
    if problems:  # callers lapse such transfers first; this is the last guard
        raise InvalidTransition(next(iter(problems.values()))[0], code="lease_not_transferable")
    begin = effective_from(lease=lease, today=today)
    k = transfer.units
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
    recipient_price = lease_price(
        unit_price=lease.unit_price, units=k, start=begin, end=lease.end, currency=lease.currency
    )
    if k == lease.units and begin == lease.start:
        recipient_price = lease.total_price  # the whole lease changes hands
    past_price = lease_price(
        unit_price=lease.unit_price, units=lease.units, start=lease.start, end=begin, currency=lease.currency
    )
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
    LEASE.apply(
        "transfer",
        lease,
        actor=actor,
        reason=f"Transfer {transfer.pk}: {k} units from {begin.isoformat()} to subject {transfer.to_subject_id}.",
        note={"transfer": transfer.pk, "children": [{"id": c.pk, **lease_snapshot(c)} for c in children]},
    )
    fields = {
        "effective_from": begin,
        "amount": recipient.total_price,
        "recipient_lease": recipient,
        "reasons": transfer.reasons + escrow_reasons,
    }
    return TRANSFER.apply(name, transfer, actor=actor, fields=fields)


def _follow_escrow(*, actor, lease: Lease, recipient: Lease, transfer: LeaseTransfer) -> list[dict]:
    """Move the money for the recipient's part (see payments.services.escrow.follow_transfer and
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

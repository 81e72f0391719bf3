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

Execution splits the lease and moves the escrow: see transfer_split.py. The lifecycle's
table is in transfer_lifecycle.py; each service below locks the transfer (the listing's
lock first, then the lease's, then the transfer's), checks who acts and names a transition.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import record_audit
from core.db import service_atomic
from core.errors import Conflict, InvalidInput
from credit.models import Subject
from credit.selectors.accounts import is_member
from payments import selectors as payment_selectors
from warehouses.errors import InvalidTransition, LeaseNotFound, TransferNotFound
from warehouses.models import Lease, LeaseTransfer
from warehouses.services.locks import each_locked, lock_lease, lock_transfer
from warehouses.services.transfer_lifecycle import (
    TRANSFER,
    TRANSFERABLE,
    close,
    lapse_if_due,
    refusal,
    require_allowed,
    still_open,
    transfer_snapshot,
    transferability_errors,
)
from warehouses.services.transfer_split import execute_transfer

logger = logging.getLogger(__name__)

ACCEPTED = (LeaseTransfer.Status.AWAITING_OPERATOR, LeaseTransfer.Status.COMPLETED)


def _config(name: str, default):
    return getattr(settings, "ENTREPOT", {}).get(name, default)


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
    field_errors = transferability_errors(lease=lease, units=units, today=today)
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
        raise InvalidInput(next(iter(field_errors.values()))[0], field_errors=field_errors)
    with service_atomic():
        lease = lock_lease(lease_id)
        field_errors = transferability_errors(lease=lease, units=units, today=today)
        if field_errors:
            raise InvalidInput(next(iter(field_errors.values()))[0], field_errors=field_errors)
        existing = (
            LeaseTransfer.objects.select_for_update(of=("self",))
            .filter(lease=lease, status__in=LeaseTransfer.OPEN)
            .first()
        )
        if existing is not None and existing.expires_at <= now:  # lapsed, the beat has not caught up yet
            lapse_if_due(existing, lease=lease, now=now)
            existing = None
        if existing is not None:
            if (existing.to_subject_id, existing.units) == (to_subject_id, units):
                return existing  # the same offer again: nothing to do
            raise Conflict(
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
            raise Conflict("Another transfer of this lease is open.", code="transfer_pending") from None
        record_audit(
            actor=actor,
            action="lease_transfer.offered",
            target=transfer,
            subject_id=lease.tenant_id,
            new=transfer_snapshot(transfer),
            reason=note,
        )
    return transfer


def accept_transfer(*, actor, transfer_id: int, institution_id: int | None) -> LeaseTransfer:
    """The recipient accepts, naming the payment institution it pays through. The credit
    gate decides; then the transfer waits for the operator's consent or executes at once.
    Accepting twice is harmless (the second call returns the transfer as it stands)."""
    transfer = LeaseTransfer.objects.filter(pk=transfer_id).first()
    if transfer is None or not is_member(user=actor, subject_id=transfer.to_subject_id):
        raise TransferNotFound()
    if transfer.status in ACCEPTED:
        return transfer
    if institution_id is None:
        raise InvalidInput(
            "Choose the payment institution you pay through.", field_errors={"institution": ["Required."]}
        )
    with service_atomic():
        transfer = lock_transfer(transfer_id)
        if transfer.status in ACCEPTED:
            return transfer  # a concurrent or repeated accept got here first
        require_allowed("accept", transfer)
        listing = transfer.lease.listing
        problems = payment_selectors.payment_route_problems(
            institution_id=institution_id, currency=listing.currency, country=listing.warehouse.country
        )
        if problems:
            raise InvalidInput(
                problems[0]["message"],
                code="payment_route",
                field_errors={"institution": [p["message"] for p in problems]},
            )
        reasons, failure = still_open(actor=actor, transfer=transfer)
        if failure is None:
            fields = {"institution_id": institution_id, "reasons": transfer.reasons + reasons}
            if listing.transfer_requires_consent:
                return TRANSFER.apply("accept", transfer, actor=actor, fields=fields)
            TRANSFER.apply("accept_at_once", transfer, actor=actor, fields=fields)
            return execute_transfer("execute", actor=actor, transfer=transfer)
    raise failure  # the transfer expired or was refused: that much is committed


def consent_transfer(*, actor, transfer_id: int) -> LeaseTransfer:
    """The operator consents: the credit gate is asked again, then the transfer executes."""
    with service_atomic():
        transfer = lock_transfer(transfer_id)
        if not is_member(user=actor, subject_id=transfer.lease.listing.warehouse.owner_id):
            raise TransferNotFound()
        if transfer.status == LeaseTransfer.Status.COMPLETED:
            return transfer
        require_allowed("consent", transfer)
        _reasons, failure = still_open(actor=actor, transfer=transfer)
        if failure is None:
            return execute_transfer("consent", actor=actor, transfer=transfer)
    raise failure


def decline_transfer(*, actor, transfer_id: int, reason: str = "") -> LeaseTransfer:
    """The operator declines a transfer awaiting consent (reason required), or the
    recipient declines an offer."""
    with service_atomic():
        transfer = lock_transfer(transfer_id)
        is_operator = is_member(user=actor, subject_id=transfer.lease.listing.warehouse.owner_id)
        is_recipient = is_member(user=actor, subject_id=transfer.to_subject_id)
        if not (is_operator or is_recipient or is_member(user=actor, subject_id=transfer.from_subject_id)):
            raise TransferNotFound()
        if transfer.status == LeaseTransfer.Status.DECLINED:
            return transfer
        if is_operator and transfer.status == LeaseTransfer.Status.AWAITING_OPERATOR:
            if not reason.strip():
                raise InvalidInput("Say why you decline.", field_errors={"reason": ["Required."]})
            code = "operator_declined"
        elif is_recipient and transfer.status == LeaseTransfer.Status.OFFERED:
            code = "recipient_declined"
        else:
            raise refusal(transfer, "decline")
        return close(
            "decline", transfer, actor=actor, reason=reason, reasons=[{"code": code, "message": reason or "Declined."}]
        )


def withdraw_transfer(*, actor, transfer_id: int, reason: str = "") -> LeaseTransfer:
    """The transferor takes back an offer not yet executed."""
    with service_atomic():
        transfer = lock_transfer(transfer_id)
        if not is_member(user=actor, subject_id=transfer.from_subject_id):
            if is_member(user=actor, subject_id=transfer.to_subject_id) or is_member(
                user=actor, subject_id=transfer.lease.listing.warehouse.owner_id
            ):
                raise InvalidTransition("Only the transferor can withdraw an offer.", code="not_transferor")
            raise TransferNotFound()
        message = reason or "Withdrawn by the transferor."
        return close(
            "withdraw", transfer, actor=actor, reason=reason, reasons=[{"code": "withdrawn", "message": message}]
        )


def expire_transfer(*, transfer_id: int) -> bool:
    with service_atomic():
        transfer = lock_transfer(transfer_id)
        if transfer.status not in LeaseTransfer.OPEN:
            return False
        return lapse_if_due(transfer, lease=transfer.lease, now=timezone.now()) is not None


def expire_transfers(*, limit: int = 500) -> int:
    """Beat: open transfers past their expiry, or whose lease ended or changed state."""
    now = timezone.now()
    due = list(
        LeaseTransfer.objects.filter(status__in=LeaseTransfer.OPEN)
        .exclude(expires_at__gt=now, lease__status__in=TRANSFERABLE, lease__end__gt=timezone.localdate(now))
        .order_by("expires_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    return each_locked(expire_transfer, due, key="transfer_id", what="Open transfer")

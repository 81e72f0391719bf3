"""Disputes about an escrow: a party opens one, which freezes the escrow; platform staff
decide it, which pays out what remains and unfreezes the escrow.

The lifecycle is declared once (core.transitions), as `DISPUTE`:

    transition  from   to        guards                           audit action
    resolve     open   resolved  staff only, split within escrow  dispute.resolved
                work: pay out the remaining money as decided, unfreeze the escrow

Opening creates the dispute (`open_dispute`, audit `dispute.opened`): a creation, not a
transition. Lock order, as every money move: the escrow row, then the dispute; ledger
accounts are only appended to.
"""

from decimal import Decimal

from django.db import transaction

from core.audit import acting_user, record_audit
from core.errors import InvalidInput
from core.transitions import Lifecycle, Transition
from payments import errors
from payments.models import Dispute, Escrow
from payments.selectors import escrow_totals
from payments.services.escrow import lock_escrow, set_frozen
from payments.services.ledger import CENT, post_refund, post_release, require_exact


def dispute_snapshot(dispute: Dispute) -> dict:
    return {
        "status": dispute.status,
        "resolution": dispute.resolution,
        "payee_amount": None if dispute.payee_amount is None else str(dispute.payee_amount),
        "payer_amount": None if dispute.payer_amount is None else str(dispute.payer_amount),
    }


def lock_dispute(dispute_id: int) -> Dispute:
    """The dispute's escrow row, then the dispute (the lock order of every money move). The
    locked escrow is the dispute's `escrow`."""
    escrow_id = Dispute.objects.filter(pk=dispute_id).values_list("escrow_id", flat=True).first()
    if escrow_id is None:
        raise errors.DisputeNotFound()
    escrow = Escrow.objects.select_for_update(of=("self",)).select_related("account").get(pk=escrow_id)
    dispute = Dispute.objects.select_for_update(of=("self",)).get(pk=dispute_id)
    dispute.escrow = escrow
    return dispute


# --- Guards and work of the transitions ---------------------------------------------------


def require_staff(dispute=None, *, actor, **context) -> None:
    if not getattr(actor, "is_staff", False):
        raise errors.StaffOnly()


def split_within_escrow(dispute: Dispute, *, resolution: str, split_amount, **context) -> None:
    """A split cannot give the payee more than remains in escrow."""
    if resolution != Dispute.Resolution.SPLIT:
        return
    escrow = dispute.escrow
    require_exact(split_amount, escrow.currency, field="payee_amount")
    remaining = escrow_totals(account_id=escrow.account_id)["balance"]
    if split_amount > remaining:
        raise InvalidInput(
            f"The escrow holds {remaining} {escrow.currency}.",
            code="invalid_resolution",
            field_errors={"payee_amount": [f"At most {remaining} {escrow.currency} remains in escrow."]},
        )


def pay_out_decision(dispute: Dispute, *, actor, resolution: str, split_amount, **context) -> None:
    """Pay what remains in escrow as decided, record the amounts and unfreeze the escrow."""
    escrow = dispute.escrow
    remaining = escrow_totals(account_id=escrow.account_id)["balance"]
    if resolution == Dispute.Resolution.PAYER:
        to_payee, to_payer = Decimal("0.00"), remaining
    elif resolution == Dispute.Resolution.PAYEE:
        to_payee, to_payer = remaining, Decimal("0.00")
    else:
        to_payee, to_payer = split_amount, remaining - split_amount
    memo = f"Dispute {dispute.pk} decided: {Dispute.Resolution(resolution).label}"
    if to_payee > 0:
        post_release(actor=actor, escrow=escrow, amount=to_payee, balance=remaining, memo=memo)
    if to_payer > 0:
        post_refund(actor=actor, escrow=escrow, amount=to_payer, balance=remaining - to_payee, memo=memo)
    dispute.payee_amount, dispute.payer_amount = to_payee, to_payer
    dispute.save(update_fields=["payee_amount", "payer_amount"])
    set_frozen(escrow, reason=None)
    dispute.resolved_now = True  # for callers that record the outcome once


DISPUTE = Lifecycle(
    model=Dispute,
    lock=lock_dispute,
    snapshot=dispute_snapshot,
    subject_id=lambda dispute: dispute.opener_id,
    transitions={
        "resolve": Transition(
            sources=(Dispute.Status.OPEN,),
            target=Dispute.Status.RESOLVED,
            action="dispute.resolved",
            guards=(require_staff, split_within_escrow),
            work=(pay_out_decision,),
            stamp=("decided_at",),
        ),
    },
)


# --- Services -----------------------------------------------------------------------------


def open_dispute(*, actor, reference: str, opener_subject_id: int, respondent_subject_id: int, reason: str) -> Dispute:
    """Open a dispute about an escrow and freeze it. The caller checks that the actor acts
    for the opener and that the thing guarded may still be disputed."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            "Say what the dispute is about.", code="reason_required", field_errors={"reason": ["Required."]}
        )
    with transaction.atomic():
        escrow = lock_escrow(reference)
        if escrow is None:
            raise errors.EscrowNotFunded("Nothing has been paid into escrow yet, so there is nothing to dispute.")
        if Dispute.objects.filter(escrow=escrow, status=Dispute.Status.OPEN).exists():
            raise errors.DisputeAlreadyOpen()
        dispute = Dispute.objects.create(
            escrow=escrow,
            reference=reference,
            opener_id=opener_subject_id,
            respondent_id=respondent_subject_id,
            opened_by=acting_user(actor),
            reason=reason[:4000],
        )
        set_frozen(escrow, reason=f"Dispute {dispute.pk}")
        record_audit(
            actor=actor,
            action="dispute.opened",
            target=dispute,
            subject_id=opener_subject_id,
            new=dispute_snapshot(dispute) | {"reference": reference},
            reason=reason,
        )
    return dispute


def resolve_dispute(*, actor, dispute_id: int, resolution: str, payee_amount=None, reason: str = "") -> Dispute:
    """Platform staff decide: `payer` refunds what remains in escrow, `payee` releases it
    (less the platform fee), `split` releases `payee_amount` and refunds the rest. The
    escrow is unfrozen. Deciding a resolved dispute again returns it unchanged. Staff are
    checked before anything is read, so a refusal tells nothing about the dispute."""
    require_staff(actor=actor)
    field_errors: dict[str, list[str]] = {}
    if resolution not in Dispute.Resolution.values:
        field_errors["resolution"] = [f"Choose one of: {', '.join(Dispute.Resolution.values)}."]
    reason = (reason or "").strip()
    if not reason:
        field_errors["reason"] = ["Give the reasons; both parties see them."]
    split_amount = None
    if resolution == Dispute.Resolution.SPLIT:
        try:
            split_amount = Decimal(str(payee_amount))
            if not split_amount.is_finite() or split_amount < 0 or split_amount != split_amount.quantize(CENT):
                raise ValueError
        except Exception:  # noqa: BLE001
            field_errors["payee_amount"] = ["Enter the amount for the operator (0 or more, 2 decimals)."]
    if field_errors:
        raise InvalidInput(next(iter(field_errors.values()))[0], code="invalid_resolution", field_errors=field_errors)
    return DISPUTE.run(
        "resolve",
        actor=actor,
        pk=dispute_id,
        reason=reason,
        fields={"resolution": resolution, "decision_reason": reason[:4000], "decided_by": acting_user(actor)},
        resolution=resolution,
        split_amount=split_amount,
    )

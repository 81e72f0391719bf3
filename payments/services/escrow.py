"""Escrow: holds a payer's money for an opaque reference (such as `lease:12`) in the
ledger (payments.services.ledger) and moves it to the payee in stages, back to the payer,
or on to another escrow.

Services take the escrow row's lock (`select_for_update`) and run inside the caller's
transaction when there is one (warehouses holds the lease lock around them), but do not rely
on it: the first payment for a reference creates the row race-free (INSERT ... ON CONFLICT
DO NOTHING, then the lock), a transfer locks its two escrows in primary-key order, and
amounts are checked against a balance read under the lock. `locked_summary` lets a caller
work out amounts from a read under that lock. Lock order: escrow rows (in primary-key
order), then a dispute (payments.services.disputes); ledger accounts are never locked.
Nothing here knows what a lease is: callers decide amounts (staged releases, cancellation
fees) and who may act. Payments never imports warehouses.

Freezing by hand is a lifecycle on `frozen` (core.transitions), `ESCROW_FREEZE`:

    transition  from   to     guards            audit action
    freeze      False  True   -                 escrow.frozen
    unfreeze    True   False  no open dispute   escrow.unfrozen
"""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core import money
from core.audit import record_audit
from core.errors import InvalidInput
from core.transitions import Lifecycle, Transition
from payments import errors
from payments.models import Dispute, Escrow, EscrowTransaction, LedgerAccount
from payments.selectors import escrow_summaries, escrow_totals, payment_route_problems
from payments.services.ledger import (
    ledger_account,
    parse_amount,
    platform_fee,
    post_refund,
    post_release,
    post_transaction,
    require_exact,
)


def lock_escrow(reference: str) -> Escrow | None:
    return Escrow.objects.select_for_update(of=("self",)).select_related("account").filter(reference=reference).first()


def lock_escrows(references: list[str]) -> dict[str, Escrow]:
    """Lock the existing escrows of `references` in primary-key order, so that two callers
    locking the same pair in opposite orders queue instead of deadlocking."""
    locked = (
        Escrow.objects.select_for_update(of=("self",))
        .select_related("account")
        .filter(reference__in=set(references))
        .order_by("pk")
    )
    return {escrow.reference: escrow for escrow in locked}


def _create_locked(
    *, reference: str, currency: str, country: str, payer_id: int, payee_id: int, amount_due: Decimal
) -> Escrow:
    """Create the escrow of `reference` unless it exists, then lock it. A concurrent first
    payment for the same reference makes the INSERT wait for its transaction instead of
    failing on the unique reference; the lock taken afterwards then sees that escrow, funded.
    """
    account = ledger_account(kind=LedgerAccount.Kind.ESCROW, currency=currency, reference=reference)
    Escrow.objects.bulk_create(
        [
            Escrow(
                reference=reference,
                account=account,
                currency=currency,
                country=country,
                payer_id=payer_id,
                payee_id=payee_id,
                amount_due=amount_due,
            )
        ],
        ignore_conflicts=True,
    )
    return lock_existing_escrow(reference)


def _snapshot(escrow: Escrow, totals: dict | None = None) -> dict:
    if totals is None:
        totals = escrow_totals(account_id=escrow.account_id)
    return {k: str(v) for k, v in totals.items()} | {"frozen": escrow.frozen}


def lock_existing_escrow(reference: str) -> Escrow:
    escrow = lock_escrow(reference)
    if escrow is None:
        raise errors.EscrowNotFound()
    return escrow


def locked_summary(*, reference: str) -> dict:
    """The summary of the escrow of `reference` (as payments.selectors.escrow_summaries),
    read under the escrow row's lock, which the caller's transaction then holds until it
    ends: amounts worked out from it are still right when they are paid out. Call inside a
    transaction. A reference never paid has no row to lock and reads as unpaid."""
    lock_escrow(reference)
    return escrow_summaries(references=[reference])[reference]


# --- Paying in ----------------------------------------------------------------------------


def _check_route(*, institution_id, currency: str, country: str) -> None:
    """An unknown institution is bad input (400); a known one that cannot take the payment
    is refused with every reason (409)."""
    problems = payment_route_problems(institution_id=institution_id, currency=currency, country=country)
    if problems and problems[0]["code"] == "institution_not_found":
        raise InvalidInput(
            problems[0]["message"], code="institution_not_found", field_errors={"institution": [problems[0]["message"]]}
        )
    if problems:
        raise errors.PaymentRouteRefused(reasons=problems)


def _funding_transaction(escrow: Escrow) -> EscrowTransaction | None:
    """The payment that funded the escrow: its hold, or the transfer that created it (which
    may have put nothing into it when everything had been released already)."""
    return (
        EscrowTransaction.objects.filter(
            reference=escrow.reference,
            kind__in=[EscrowTransaction.Kind.HOLD, EscrowTransaction.Kind.TRANSFER],
        )
        .order_by("id")
        .first()
    )


def hold_payment(
    *,
    actor,
    reference: str,
    payer_subject_id: int,
    payee_subject_id: int,
    institution_id: int,
    amount,
    currency: str,
    country: str,
) -> EscrowTransaction:
    """The payer pays `amount` into the escrow of `reference` through a payment institution
    that is compliant and has an enabled corridor for the currency and country. Paying an
    escrow that is already funded returns its funding transaction and moves nothing."""
    amount = require_exact(parse_amount(amount), currency)
    with transaction.atomic():
        escrow = lock_escrow(reference)
        if escrow is not None:
            funding = _funding_transaction(escrow)
            if funding is not None:
                return funding
        _check_route(institution_id=institution_id, currency=currency, country=country)
        if escrow is None:
            escrow = _create_locked(
                reference=reference,
                currency=currency,
                country=country,
                payer_id=payer_subject_id,
                payee_id=payee_subject_id,
                amount_due=amount,
            )
            funding = _funding_transaction(escrow)
            if funding is not None:  # a concurrent first payment got there first
                return funding
        payer = ledger_account(kind=LedgerAccount.Kind.TENANT, currency=currency, subject_id=payer_subject_id)
        tx = post_transaction(
            reference=reference,
            kind=EscrowTransaction.Kind.HOLD,
            entries=[(payer, -amount), (escrow.account, amount)],
            actor=actor,
            memo=f"Paid into escrow for {reference}",
            institution_id=institution_id,
        )
        record_audit(
            actor=actor,
            action="escrow.held",
            target=escrow,
            subject_id=payer_subject_id,
            new=_snapshot(escrow) | {"institution_id": institution_id, "amount": str(amount), "currency": currency},
        )
    return tx


# --- Paying out ---------------------------------------------------------------------------


def release_to_payee(*, actor, reference: str, amount, memo: str = "") -> EscrowTransaction | None:
    """Pay `amount` of the escrow to the payee (less the platform fee). Zero does nothing.
    A frozen escrow refuses."""
    return _pay_out(
        actor=actor,
        reference=reference,
        amount=amount,
        memo=memo or "Release to the operator",
        move=post_release,
        action="escrow.released",
        to_payee=True,
    )


def refund_to_payer(*, actor, reference: str, amount, memo: str = "") -> EscrowTransaction | None:
    """Pay `amount` of the escrow back to the payer. Zero does nothing. A frozen escrow
    refuses."""
    return _pay_out(
        actor=actor,
        reference=reference,
        amount=amount,
        memo=memo or "Refund to the tenant",
        move=post_refund,
        action="escrow.refunded",
        to_payee=False,
    )


def _pay_out(*, actor, reference: str, amount, memo: str, move, action: str, to_payee: bool):
    if Decimal(str(amount)) == 0:
        return None
    amount = parse_amount(amount)
    with transaction.atomic():
        escrow = lock_existing_escrow(reference)
        if escrow.frozen:
            raise errors.EscrowFrozen()
        # One read under the lock: it checks the amount, and with the amount gives the
        # totals after the move for the audit record.
        old = escrow_totals(account_id=escrow.account_id)
        if amount != old["balance"]:
            # The whole balance may always leave: an escrow funded before amounts were
            # rounded to the currency's own decimals (yen with cents) can still be emptied.
            require_exact(amount, escrow.currency)
        tx = move(actor=actor, escrow=escrow, amount=amount, balance=old["balance"], memo=memo)
        paid_out = "released" if to_payee else "refunded"
        new = old | {
            "balance": money.quantize(old["balance"] - amount, escrow.currency),
            paid_out: money.quantize(old[paid_out] + amount, escrow.currency),
        }
        record_audit(
            actor=actor,
            action=action,
            target=escrow,
            subject_id=escrow.payee_id if to_payee else escrow.payer_id,
            old=_snapshot(escrow, old),
            new=_snapshot(escrow, new),
            reason=memo,
        )
    return tx


def settle(*, actor, reference: str, payee_amount, payer_amount, memo: str) -> None:
    """Release `payee_amount` and refund `payer_amount` in one go (cancellation fees)."""
    with transaction.atomic():
        release_to_payee(actor=actor, reference=reference, amount=payee_amount, memo=memo)
        refund_to_payer(actor=actor, reference=reference, amount=payer_amount, memo=memo)


def set_frozen(escrow: Escrow, *, reason: str | None) -> None:
    """Freeze the locked `escrow` for `reason`, or unfreeze it (None). No audit: callers
    audit what froze it (a freeze, a dispute)."""
    escrow.frozen, escrow.frozen_reason = reason is not None, reason or ""
    escrow.frozen_at = timezone.now() if reason is not None else None
    escrow.save(update_fields=["frozen", "frozen_reason", "frozen_at"])


def no_open_dispute(escrow: Escrow, **context) -> None:
    if Dispute.objects.filter(escrow=escrow, status=Dispute.Status.OPEN).exists():
        raise errors.DisputeAlreadyOpen("An open dispute holds this escrow: resolve the dispute to unfreeze it.")


# Freezing by hand (a dispute freezes and unfreezes its escrow itself, payments.services.disputes).
ESCROW_FREEZE = Lifecycle(
    model=Escrow,
    lock=lock_existing_escrow,
    snapshot=lambda escrow: {"frozen": escrow.frozen},
    subject_id=lambda escrow: escrow.payer_id,
    state_field="frozen",
    transitions={
        "freeze": Transition(sources=(False,), target=True, action="escrow.frozen", stamp=("frozen_at",)),
        "unfreeze": Transition(sources=(True,), target=False, action="escrow.unfrozen", guards=(no_open_dispute,)),
    },
)


def freeze(*, actor, reference: str, reason: str) -> Escrow:
    return ESCROW_FREEZE.run("freeze", actor=actor, pk=reference, reason=reason, fields={"frozen_reason": reason})


def unfreeze(*, actor, reference: str, reason: str = "") -> Escrow:
    fields = {"frozen_reason": "", "frozen_at": None}
    return ESCROW_FREEZE.run("unfreeze", actor=actor, pk=reference, reason=reason, fields=fields)


# --- Transfers ----------------------------------------------------------------------------


def follow_transfer(
    *,
    actor,
    from_reference: str,
    to_reference: str,
    transferor_subject_id: int,
    recipient_subject_id: int,
    institution_id: int | None,
    amount,
) -> EscrowTransaction | None:
    """When a lease (or part of it) changes hands, its money follows in ONE balanced
    transaction. `amount` is the full price of the part handed over; the recipient pays all
    of it:

    - `moved` = min(amount, balance of `from_reference`) goes into the new escrow of
      `to_reference`, and the escrow of `from_reference` refunds it to the transferor;
    - the rest (`amount - moved`) is the share of the part that the source escrow already
      released to the payee: the recipient pays it straight to the transferor, who had paid
      for those days. The payee is paid for every day exactly once.

    Entries: recipient -amount, to-escrow +moved, from-escrow -moved, transferor +amount.
    What the source escrow already released counts first for the leases the transferor
    keeps, so `moved` is as large as possible. Example: 500.00 paid, 375.00 released, part
    185.00: moved 125.00, the recipient pays 60.00 to the transferor, the transferor gets
    185.00 back in all.

    The new escrow exists (and counts as paid) even when nothing moved into it. Returns the
    transaction (with `moved` and `reimbursed` set), or None when `from_reference` was never
    paid (the new lease is then simply payment due). Refuses a frozen source (open
    dispute) and one a dispute decision has settled (its money went where the decision
    said), and a `to_reference` already paid into directly (escrow_already_funded: the
    recipient's part would be paid twice). `institution_id` None means the institution of
    the original payment. Runs inside the caller's transaction; repeating it returns the
    first one (with its `moved` and `reimbursed`) and moves nothing."""
    amount = parse_amount(amount)
    with transaction.atomic():
        locked = lock_escrows([from_reference, to_reference])
        source = locked.get(from_reference)
        if source is None:
            return None
        target = locked.get(to_reference)
        if target is not None:
            return _earlier_transfer(target)
        if source.frozen:
            raise errors.EscrowFrozen("The escrow of the lease is frozen by an open dispute; it cannot be transferred.")
        if Dispute.objects.filter(escrow=source, status=Dispute.Status.RESOLVED).exists():
            raise errors.EscrowDecided()
        balance = escrow_totals(account_id=source.account_id)["balance"]
        moved = min(amount, max(balance, Decimal("0.00")))
        reimbursed = amount - moved
        if institution_id is None:
            first = _funding_transaction(source)
            institution_id = first.institution_id if first is not None else None
        _check_route(institution_id=institution_id, currency=source.currency, country=source.country)
        target = _create_locked(
            reference=to_reference,
            currency=source.currency,
            country=source.country,
            payer_id=recipient_subject_id,
            payee_id=source.payee_id,
            amount_due=amount,
        )
        if _funding_transaction(target) is not None:  # funded concurrently, by another source
            return _earlier_transfer(target)
        recipient = ledger_account(
            kind=LedgerAccount.Kind.TENANT, currency=source.currency, subject_id=recipient_subject_id
        )
        transferor = ledger_account(
            kind=LedgerAccount.Kind.TENANT, currency=source.currency, subject_id=transferor_subject_id
        )
        tx = post_transaction(
            reference=to_reference,
            kind=EscrowTransaction.Kind.TRANSFER,
            entries=[(recipient, -amount), (target.account, moved), (source.account, -moved), (transferor, amount)],
            actor=actor,
            memo=(
                f"Transfer from {from_reference}: the recipient pays {amount}; {moved} into escrow (refunded to the "
                f"transferor from {from_reference}), {reimbursed} to the transferor for days already released"
            ),
            institution_id=institution_id,
        )
        record_audit(
            actor=actor,
            action="escrow.transferred",
            target=target,
            subject_id=recipient_subject_id,
            new={
                "from": from_reference,
                "to": to_reference,
                "amount": str(amount),
                "moved": str(moved),
                "reimbursed": str(reimbursed),
                "currency": source.currency,
            },
        )
    tx.moved, tx.reimbursed = moved, reimbursed
    return tx


def _earlier_transfer(target: Escrow) -> EscrowTransaction:
    """The transfer that funded `target` (a repeated follow_transfer), with the `moved` and
    `reimbursed` it recorded: the recipient paid `moved + reimbursed` (its tenant debit) and
    `moved` went into `target`. A target funded by a payment of its own takes no transfer."""
    funding = _funding_transaction(target)
    if funding is None or funding.kind != EscrowTransaction.Kind.TRANSFER:
        raise errors.EscrowAlreadyFunded(
            f"The escrow of {target.reference} is paid already: a transfer cannot pay it again."
        )
    paid = moved = Decimal("0.00")
    for account_id, kind, amount in funding.entries.values_list("account_id", "account__kind", "amount"):
        if account_id == target.account_id:
            moved += amount
        elif kind == LedgerAccount.Kind.TENANT and amount < 0:
            paid -= amount
    funding.moved, funding.reimbursed = moved, paid - moved
    return funding


def reclaim_from_payee(*, actor, reference: str, amount, memo: str = "") -> EscrowTransaction | None:
    """Take back from the payee `amount` it was already paid for what `reference` guards
    and pay it to the payer, in one transaction: the payee returns `amount` less the
    platform fee it paid on it, the platform returns that fee. Used when a lease whose days
    were paid ahead (a transferred part of an active lease) ends before they are used, so
    the payer gets back what the cancellation policy says. Zero does nothing."""
    if Decimal(str(amount)) == 0:
        return None
    amount = parse_amount(amount)
    with transaction.atomic():
        escrow = lock_existing_escrow(reference)
        if escrow.frozen:
            raise errors.EscrowFrozen()
        require_exact(amount, escrow.currency)
        fee = platform_fee(amount, escrow.currency)
        payee = ledger_account(kind=LedgerAccount.Kind.OPERATOR, currency=escrow.currency, subject_id=escrow.payee_id)
        platform = ledger_account(kind=LedgerAccount.Kind.PLATFORM_FEE, currency=escrow.currency)
        payer = ledger_account(kind=LedgerAccount.Kind.TENANT, currency=escrow.currency, subject_id=escrow.payer_id)
        tx = post_transaction(
            reference=reference,
            kind=EscrowTransaction.Kind.REFUND,
            entries=[(payee, -(amount - fee)), (platform, -fee), (payer, amount)],
            actor=actor,
            memo=memo or "Taken back from the operator for days paid ahead",
        )
        record_audit(
            actor=actor,
            action="escrow.reclaimed",
            target=escrow,
            subject_id=escrow.payee_id,
            new={"amount": str(amount), "platform_fee": str(fee), "currency": escrow.currency},
            reason=memo,
        )
    return tx

"""Escrow: a double-entry ledger that holds a payer's money for an opaque reference (such as
`lease:12`) and moves it to the payee in stages, back to the payer, or on to another escrow.

Accounts (payments.models.LedgerAccount), one per currency:
- `tenant` per payer subject: goes negative as the payer pays in (what the platform owes it
  back is the escrow, not this account);
- `escrow` per reference: never below zero;
- `operator` per payee subject, and one `platform_fee` account.

Every journal transaction's entries sum to zero per currency. The services check it under
the escrow row's lock; the database checks it again at commit (a deferred
constraint trigger, see migration 0003_escrow) and refuses any UPDATE or DELETE.

Services take the escrow row's lock (`select_for_update`) and run inside the caller's
transaction when there is one (warehouses holds the lease lock around them), but do not rely
on it: the first payment for a reference creates the row race-free (INSERT ... ON CONFLICT
DO NOTHING, then the lock), a transfer locks its two escrows in primary-key order, and
amounts are checked against a balance read under the lock. `locked_summary` lets a caller
work out amounts from a read under that lock.
Nothing here knows what a lease is: callers decide amounts (staged releases, cancellation
fees) and who may act. Payments never imports warehouses.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import actor_label, record_audit
from core.errors import InvalidInput
from payments import errors
from payments.models import Dispute, Escrow, EscrowTransaction, LedgerAccount, LedgerEntry
from payments.selectors import escrow_summaries, escrow_totals, payment_route_problems

CENT = Decimal("0.01")


def platform_fee_percent() -> Decimal:
    return Decimal(str(getattr(settings, "ENTREPOT", {}).get("ESCROW_PLATFORM_FEE_PERCENT", "3")))


def platform_fee(amount: Decimal) -> Decimal:
    """The fee withheld from a release, rounded half up to the cent."""
    return (amount * platform_fee_percent() / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def _amount(value, field: str = "amount") -> Decimal:
    try:
        amount = Decimal(str(value))
    except Exception:  # noqa: BLE001 - any unparsable value is bad input
        amount = Decimal("NaN")
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT) or amount >= Decimal("1e17"):
        raise InvalidInput(
            "Enter a positive amount with at most 2 decimals.",
            code="invalid_amount",
            field_errors={field: ["Enter a positive amount with at most 2 decimals."]},
        )
    return amount


def _user(actor):
    if getattr(actor, "is_authenticated", False) and hasattr(actor, "pk") and not hasattr(actor, "hashed_key"):
        return actor
    return None


def _account(*, kind: str, currency: str, subject_id: int | None = None, reference: str = "") -> LedgerAccount:
    lookup = {"kind": kind, "currency": currency, "subject_id": subject_id, "reference": reference}
    account = LedgerAccount.objects.filter(**lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return LedgerAccount.objects.create(**lookup)
    except IntegrityError:  # created concurrently
        return LedgerAccount.objects.get(**lookup)


def _post(
    *,
    reference: str,
    kind: str,
    entries: list[tuple[LedgerAccount, Decimal]],
    actor,
    memo: str,
    institution_id: int | None = None,
) -> EscrowTransaction:
    """Write one balanced journal transaction (zero amounts are left out)."""
    entries = [(account, amount) for account, amount in entries if amount != 0]
    totals: dict[str, Decimal] = {}
    for account, amount in entries:
        totals[account.currency] = totals.get(account.currency, Decimal(0)) + amount
    if not entries or any(total != 0 for total in totals.values()):
        raise AssertionError(f"unbalanced ledger transaction for {reference}: {totals}")
    tx = EscrowTransaction.objects.create(
        reference=reference,
        kind=kind,
        institution_id=institution_id,
        actor=_user(actor),
        actor_label=actor_label(actor),
        memo=memo[:300],
    )
    LedgerEntry.objects.bulk_create(
        [LedgerEntry(transaction=tx, account=account, amount=amount) for account, amount in entries]
    )
    return tx


def _lock(reference: str) -> Escrow | None:
    return Escrow.objects.select_for_update(of=("self",)).select_related("account").filter(reference=reference).first()


def _lock_many(references: list[str]) -> dict[str, Escrow]:
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
    account = _account(kind=LedgerAccount.Kind.ESCROW, currency=currency, reference=reference)
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
    return _lock_existing(reference)


def _snapshot(escrow: Escrow, totals: dict | None = None) -> dict:
    if totals is None:
        totals = escrow_totals(account_id=escrow.account_id)
    return {k: str(v) for k, v in totals.items()} | {"frozen": escrow.frozen}


def _lock_existing(reference: str) -> Escrow:
    escrow = _lock(reference)
    if escrow is None:
        raise errors.EscrowNotFound()
    return escrow


def locked_summary(*, reference: str) -> dict:
    """The summary of the escrow of `reference` (as payments.selectors.escrow_summaries),
    read under the escrow row's lock, which the caller's transaction then holds until it
    ends: amounts worked out from it are still right when they are paid out. Call inside a
    transaction. A reference never paid has no row to lock and reads as unpaid."""
    _lock(reference)
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
    amount = _amount(amount)
    with transaction.atomic():
        escrow = _lock(reference)
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
        payer = _account(kind=LedgerAccount.Kind.TENANT, currency=currency, subject_id=payer_subject_id)
        tx = _post(
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


def _release_locked(*, actor, escrow: Escrow, amount: Decimal, balance: Decimal, memo: str) -> EscrowTransaction:
    """Escrow -> payee, then the platform fee from the payee's share (two transactions).
    `balance` is the escrow's balance read under its lock."""
    if amount > balance:
        raise errors.InsufficientEscrow(f"The escrow holds {balance} {escrow.currency}; {amount} cannot be released.")
    payee = _account(kind=LedgerAccount.Kind.OPERATOR, currency=escrow.currency, subject_id=escrow.payee_id)
    release = _post(
        reference=escrow.reference,
        kind=EscrowTransaction.Kind.RELEASE,
        entries=[(escrow.account, -amount), (payee, amount)],
        actor=actor,
        memo=memo,
    )
    fee = platform_fee(amount)
    if fee > 0:
        platform = _account(kind=LedgerAccount.Kind.PLATFORM_FEE, currency=escrow.currency)
        _post(
            reference=escrow.reference,
            kind=EscrowTransaction.Kind.FEE,
            entries=[(payee, -fee), (platform, fee)],
            actor=actor,
            memo=f"Platform fee {platform_fee_percent()}% of {amount}",
        )
    return release


def _refund_locked(*, actor, escrow: Escrow, amount: Decimal, balance: Decimal, memo: str) -> EscrowTransaction:
    """Escrow -> payer. `balance` is the escrow's balance read under its lock."""
    if amount > balance:
        raise errors.InsufficientEscrow(f"The escrow holds {balance} {escrow.currency}; {amount} cannot be refunded.")
    payer = _account(kind=LedgerAccount.Kind.TENANT, currency=escrow.currency, subject_id=escrow.payer_id)
    return _post(
        reference=escrow.reference,
        kind=EscrowTransaction.Kind.REFUND,
        entries=[(escrow.account, -amount), (payer, amount)],
        actor=actor,
        memo=memo,
    )


def release_to_payee(*, actor, reference: str, amount, memo: str = "") -> EscrowTransaction | None:
    """Pay `amount` of the escrow to the payee (less the platform fee). Zero does nothing.
    A frozen escrow refuses."""
    return _pay_out(
        actor=actor,
        reference=reference,
        amount=amount,
        memo=memo or "Release to the operator",
        move=_release_locked,
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
        move=_refund_locked,
        action="escrow.refunded",
        to_payee=False,
    )


def _pay_out(*, actor, reference: str, amount, memo: str, move, action: str, to_payee: bool):
    if Decimal(str(amount)) == 0:
        return None
    amount = _amount(amount)
    with transaction.atomic():
        escrow = _lock_existing(reference)
        if escrow.frozen:
            raise errors.EscrowFrozen()
        # One read under the lock: it checks the amount, and with the amount gives the
        # totals after the move for the audit record.
        old = escrow_totals(account_id=escrow.account_id)
        tx = move(actor=actor, escrow=escrow, amount=amount, balance=old["balance"], memo=memo)
        paid_out = "released" if to_payee else "refunded"
        new = old | {
            "balance": (old["balance"] - amount).quantize(CENT),
            paid_out: (old[paid_out] + amount).quantize(CENT),
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


def freeze(*, actor, reference: str, reason: str) -> Escrow:
    with transaction.atomic():
        escrow = _lock_existing(reference)
        if escrow.frozen:
            return escrow
        escrow.frozen, escrow.frozen_reason, escrow.frozen_at = True, reason, timezone.now()
        escrow.save(update_fields=["frozen", "frozen_reason", "frozen_at"])
        record_audit(
            actor=actor,
            action="escrow.frozen",
            target=escrow,
            subject_id=escrow.payer_id,
            old={"frozen": False},
            new={"frozen": True},
            reason=reason,
        )
    return escrow


def unfreeze(*, actor, reference: str, reason: str = "") -> Escrow:
    with transaction.atomic():
        escrow = _lock_existing(reference)
        if not escrow.frozen:
            return escrow
        if Dispute.objects.filter(escrow=escrow, status=Dispute.Status.OPEN).exists():
            raise errors.DisputeAlreadyOpen("An open dispute holds this escrow: resolve the dispute to unfreeze it.")
        escrow.frozen, escrow.frozen_reason, escrow.frozen_at = False, "", None
        escrow.save(update_fields=["frozen", "frozen_reason", "frozen_at"])
        record_audit(
            actor=actor,
            action="escrow.unfrozen",
            target=escrow,
            subject_id=escrow.payer_id,
            old={"frozen": True},
            new={"frozen": False},
            reason=reason,
        )
    return escrow


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
    amount = _amount(amount)
    with transaction.atomic():
        locked = _lock_many([from_reference, to_reference])
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
        recipient = _account(kind=LedgerAccount.Kind.TENANT, currency=source.currency, subject_id=recipient_subject_id)
        transferor = _account(
            kind=LedgerAccount.Kind.TENANT, currency=source.currency, subject_id=transferor_subject_id
        )
        tx = _post(
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
    amount = _amount(amount)
    with transaction.atomic():
        escrow = _lock_existing(reference)
        if escrow.frozen:
            raise errors.EscrowFrozen()
        fee = platform_fee(amount)
        payee = _account(kind=LedgerAccount.Kind.OPERATOR, currency=escrow.currency, subject_id=escrow.payee_id)
        platform = _account(kind=LedgerAccount.Kind.PLATFORM_FEE, currency=escrow.currency)
        payer = _account(kind=LedgerAccount.Kind.TENANT, currency=escrow.currency, subject_id=escrow.payer_id)
        tx = _post(
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


# --- Disputes -----------------------------------------------------------------------------


def _dispute_snapshot(dispute: Dispute) -> dict:
    return {
        "status": dispute.status,
        "resolution": dispute.resolution,
        "payee_amount": None if dispute.payee_amount is None else str(dispute.payee_amount),
        "payer_amount": None if dispute.payer_amount is None else str(dispute.payer_amount),
    }


def open_dispute(*, actor, reference: str, opener_subject_id: int, respondent_subject_id: int, reason: str) -> Dispute:
    """Open a dispute about an escrow and freeze it. The caller checks that the actor acts
    for the opener and that the thing guarded may still be disputed."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            "Say what the dispute is about.", code="reason_required", field_errors={"reason": ["Required."]}
        )
    with transaction.atomic():
        escrow = _lock(reference)
        if escrow is None:
            raise errors.EscrowNotFunded("Nothing has been paid into escrow yet, so there is nothing to dispute.")
        if Dispute.objects.filter(escrow=escrow, status=Dispute.Status.OPEN).exists():
            raise errors.DisputeAlreadyOpen()
        dispute = Dispute.objects.create(
            escrow=escrow,
            reference=reference,
            opener_id=opener_subject_id,
            respondent_id=respondent_subject_id,
            opened_by=_user(actor),
            reason=reason[:4000],
        )
        escrow.frozen, escrow.frozen_reason, escrow.frozen_at = True, f"Dispute {dispute.pk}", timezone.now()
        escrow.save(update_fields=["frozen", "frozen_reason", "frozen_at"])
        record_audit(
            actor=actor,
            action="dispute.opened",
            target=dispute,
            subject_id=opener_subject_id,
            new=_dispute_snapshot(dispute) | {"reference": reference},
            reason=reason,
        )
    return dispute


def resolve_dispute(*, actor, dispute_id: int, resolution: str, payee_amount=None, reason: str = "") -> Dispute:
    """Platform staff decide: `payer` refunds what remains in escrow, `payee` releases it
    (less the platform fee), `split` releases `payee_amount` and refunds the rest. The
    escrow is unfrozen. Deciding a resolved dispute again returns it unchanged."""
    if not getattr(actor, "is_staff", False):
        raise errors.StaffOnly()
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
    with transaction.atomic():
        escrow_id = Dispute.objects.filter(pk=dispute_id).values_list("escrow_id", flat=True).first()
        if escrow_id is None:
            raise errors.DisputeNotFound()
        escrow = Escrow.objects.select_for_update(of=("self",)).select_related("account").get(pk=escrow_id)
        dispute = Dispute.objects.select_for_update(of=("self",)).get(pk=dispute_id)
        if dispute.status == Dispute.Status.RESOLVED:
            return dispute
        old = _dispute_snapshot(dispute)
        remaining = escrow_totals(account_id=escrow.account_id)["balance"]
        if resolution == Dispute.Resolution.PAYER:
            to_payee, to_payer = Decimal("0.00"), remaining
        elif resolution == Dispute.Resolution.PAYEE:
            to_payee, to_payer = remaining, Decimal("0.00")
        else:
            if split_amount > remaining:
                raise InvalidInput(
                    f"The escrow holds {remaining} {escrow.currency}.",
                    code="invalid_resolution",
                    field_errors={"payee_amount": [f"At most {remaining} {escrow.currency} remains in escrow."]},
                )
            to_payee, to_payer = split_amount, remaining - split_amount
        memo = f"Dispute {dispute.pk} decided: {Dispute.Resolution(resolution).label}"
        if to_payee > 0:
            _release_locked(actor=actor, escrow=escrow, amount=to_payee, balance=remaining, memo=memo)
        if to_payer > 0:
            _refund_locked(actor=actor, escrow=escrow, amount=to_payer, balance=remaining - to_payee, memo=memo)
        now = timezone.now()
        dispute.status = Dispute.Status.RESOLVED
        dispute.resolution = resolution
        dispute.payee_amount, dispute.payer_amount = to_payee, to_payer
        dispute.decision_reason = reason[:4000]
        dispute.decided_by = _user(actor)
        dispute.decided_at = now
        dispute.save()
        escrow.frozen, escrow.frozen_reason, escrow.frozen_at = False, "", None
        escrow.save(update_fields=["frozen", "frozen_reason", "frozen_at"])
        dispute.resolved_now = True  # for callers that record the outcome once
        record_audit(
            actor=actor,
            action="dispute.resolved",
            target=dispute,
            subject_id=dispute.opener_id,
            old=old,
            new=_dispute_snapshot(dispute),
            reason=reason,
        )
    return dispute

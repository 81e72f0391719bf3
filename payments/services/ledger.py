"""The escrow ledger: double-entry accounts and balanced journal transactions.

Accounts (payments.models.LedgerAccount), one per currency:
- `tenant` per payer subject: goes negative as the payer pays in (what the platform owes it
  back is the escrow, not this account);
- `escrow` per reference: never below zero;
- `operator` per payee subject, and one `platform_fee` account.

Every journal transaction's entries sum to zero per currency. `post_transaction` checks it
under the escrow row's lock (taken by its callers, payments.services.escrow and
.disputes); the database checks it again at commit (a deferred constraint trigger, see
migration 0003_escrow) and refuses any UPDATE or DELETE. Ledger accounts are never locked:
they are only appended to, under the lock of the escrow that moves money.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from core import money
from core.audit import acting_user, actor_label
from core.errors import InvalidInput
from payments import errors
from payments.models import Escrow, EscrowTransaction, LedgerAccount, LedgerEntry

CENT = Decimal("0.01")


def platform_fee_percent() -> Decimal:
    return Decimal(str(getattr(settings, "ENTREPOT", {}).get("ESCROW_PLATFORM_FEE_PERCENT", "3")))


def platform_fee(amount: Decimal, currency: str) -> Decimal:
    """The fee withheld from a release, rounded half up to the currency's minor units."""
    return money.quantize(amount * platform_fee_percent() / 100, currency, rounding=ROUND_HALF_UP)


def require_exact(amount: Decimal, currency: str, field: str = "amount") -> Decimal:
    """`amount` if the currency has that many decimals (no yen fractions), else InvalidInput."""
    if not money.is_exact(amount, currency):
        digits = money.places(currency)
        message = (
            f"An amount in {currency} has at most {digits} decimals."
            if digits
            else (f"An amount in {currency} is a whole number.")
        )
        raise InvalidInput(message, code="invalid_amount", field_errors={field: [message]})
    return amount


def parse_amount(value, field: str = "amount") -> Decimal:
    """A positive amount with at most 2 decimals, or InvalidInput naming `field`."""
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


def ledger_account(*, kind: str, currency: str, subject_id: int | None = None, reference: str = "") -> LedgerAccount:
    """The account, created race-free the first time it is needed."""
    lookup = {"kind": kind, "currency": currency, "subject_id": subject_id, "reference": reference}
    account = LedgerAccount.objects.filter(**lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return LedgerAccount.objects.create(**lookup)
    except IntegrityError:  # created concurrently
        return LedgerAccount.objects.get(**lookup)


def post_transaction(
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
        actor=acting_user(actor),
        actor_label=actor_label(actor),
        memo=memo[:300],
    )
    LedgerEntry.objects.bulk_create(
        [LedgerEntry(transaction=tx, account=account, amount=amount) for account, amount in entries]
    )
    return tx


def post_release(*, actor, escrow: Escrow, amount: Decimal, balance: Decimal, memo: str) -> EscrowTransaction:
    """Escrow -> payee, then the platform fee from the payee's share (two transactions).
    `balance` is the escrow's balance read under its lock."""
    if amount > balance:
        raise errors.InsufficientEscrow(f"The escrow holds {balance} {escrow.currency}; {amount} cannot be released.")
    payee = ledger_account(kind=LedgerAccount.Kind.OPERATOR, currency=escrow.currency, subject_id=escrow.payee_id)
    release = post_transaction(
        reference=escrow.reference,
        kind=EscrowTransaction.Kind.RELEASE,
        entries=[(escrow.account, -amount), (payee, amount)],
        actor=actor,
        memo=memo,
    )
    fee = platform_fee(amount, escrow.currency)
    if fee > 0:
        platform = ledger_account(kind=LedgerAccount.Kind.PLATFORM_FEE, currency=escrow.currency)
        post_transaction(
            reference=escrow.reference,
            kind=EscrowTransaction.Kind.FEE,
            entries=[(payee, -fee), (platform, fee)],
            actor=actor,
            memo=f"Platform fee {platform_fee_percent()}% of {amount}",
        )
    return release


def post_refund(*, actor, escrow: Escrow, amount: Decimal, balance: Decimal, memo: str) -> EscrowTransaction:
    """Escrow -> payer. `balance` is the escrow's balance read under its lock."""
    if amount > balance:
        raise errors.InsufficientEscrow(f"The escrow holds {balance} {escrow.currency}; {amount} cannot be refunded.")
    payer = ledger_account(kind=LedgerAccount.Kind.TENANT, currency=escrow.currency, subject_id=escrow.payer_id)
    return post_transaction(
        reference=escrow.reference,
        kind=EscrowTransaction.Kind.REFUND,
        entries=[(escrow.account, -amount), (payer, amount)],
        actor=actor,
        memo=memo,
    )

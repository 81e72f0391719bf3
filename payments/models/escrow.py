"""Escrow: a double-entry ledger (append-only) and disputes."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from payments.models.institutions import CURRENCY_FIELD, MONEY_FIELD, InstitutionProfile


class LedgerAccount(models.Model):
    """One account of the escrow ledger, in one currency. A balance is the sum of the
    account's entries (there is no stored balance): tenant accounts go negative as tenants
    pay in, escrow accounts (one per reference) never go below zero."""

    class Kind(models.TextChoices):
        TENANT = "tenant", "Tenant (payer)"
        ESCROW = "escrow", "Escrow"
        OPERATOR = "operator", "Operator (payee)"
        PLATFORM_FEE = "platform_fee", "Platform fee"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    subject = models.ForeignKey("credit.Subject", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=80, blank=True, help_text="Escrow accounts: what they guard, e.g. lease:12")
    currency = models.CharField(**CURRENCY_FIELD)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject", "currency"],
                condition=Q(kind__in=["tenant", "operator"]),
                name="ledgeraccount_unique_party",
            ),
            models.UniqueConstraint(
                fields=["reference", "currency"], condition=Q(kind="escrow"), name="ledgeraccount_unique_escrow"
            ),
            models.UniqueConstraint(
                fields=["currency"], condition=Q(kind="platform_fee"), name="ledgeraccount_unique_fee"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["tenant", "operator"], subject__isnull=False, reference="")
                    | Q(kind="escrow", subject__isnull=True) & ~Q(reference="")
                    | Q(kind="platform_fee", subject__isnull=True, reference="")
                ),
                name="ledgeraccount_kind_keys",
            ),
        ]

    def __str__(self):
        key = self.reference or (f"subject {self.subject_id}" if self.subject_id else "platform")
        return f"{self.get_kind_display()} {key} ({self.currency})"


class Escrow(models.Model):
    """What an escrow guards (an opaque reference such as `lease:12`), who pays in and who
    is paid out, and whether it is frozen by a dispute. The money itself is in the ledger."""

    reference = models.CharField(max_length=80, unique=True)
    account = models.OneToOneField(LedgerAccount, on_delete=models.PROTECT, related_name="escrow")
    currency = models.CharField(**CURRENCY_FIELD)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 of the goods' location")
    payer = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, related_name="+")
    payee = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, related_name="+")
    amount_due = models.DecimalField(**MONEY_FIELD, help_text="The price the payer pays in")
    frozen = models.BooleanField(default=False)
    frozen_reason = models.TextField(blank=True)
    frozen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_due__gt=0), name="escrow_amount_positive"),
        ]

    def __str__(self):
        return f"Escrow {self.reference} ({self.currency})"


class EscrowTransaction(models.Model):
    """A journal transaction: its entries sum to zero per currency (checked by the database
    at commit). Append-only."""

    class Kind(models.TextChoices):
        HOLD = "hold", "Payment into escrow"
        RELEASE = "release", "Release to the operator"
        REFUND = "refund", "Refund to the tenant"
        FEE = "fee", "Platform fee"
        TRANSFER = "transfer", "Transfer to another escrow"

    reference = models.CharField(max_length=80, db_index=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    institution = models.ForeignKey(
        InstitutionProfile, null=True, blank=True, on_delete=models.PROTECT, related_name="escrow_transactions"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    memo = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.reference}"


class LedgerEntry(models.Model):
    """A signed amount on one account: positive adds to the account's balance. Append-only."""

    transaction = models.ForeignKey(EscrowTransaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="entries")
    amount = models.DecimalField(**MONEY_FIELD)

    class Meta:
        ordering = ["transaction_id", "id"]
        verbose_name_plural = "ledger entries"
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledgerentry_amount_nonzero")]


class Dispute(models.Model):
    """A party contests what happens to an escrow. While open, the escrow is frozen.
    Platform staff decide it: all remaining money to the payer, to the payee, or a split."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    class Resolution(models.TextChoices):
        PAYER = "payer", "In favour of the tenant (refund)"
        PAYEE = "payee", "In favour of the operator (release)"
        SPLIT = "split", "Split"

    escrow = models.ForeignKey(Escrow, on_delete=models.PROTECT, related_name="disputes")
    reference = models.CharField(max_length=80, db_index=True)
    opener = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, related_name="+")
    respondent = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, related_name="+")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(max_length=4000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolution = models.CharField(max_length=5, choices=Resolution.choices, blank=True)
    payee_amount = models.DecimalField(**MONEY_FIELD, null=True, blank=True, help_text="Released to the payee")
    payer_amount = models.DecimalField(**MONEY_FIELD, null=True, blank=True, help_text="Refunded to the payer")
    decision_reason = models.TextField(blank=True, help_text="Shown to both parties")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["escrow"], condition=Q(status="open"), name="dispute_one_open"),
            models.CheckConstraint(
                condition=Q(status="open", resolution="") | Q(status="resolved") & ~Q(resolution=""),
                name="dispute_resolution_when_resolved",
            ),
        ]

    def __str__(self):
        return f"Dispute {self.pk} on {self.reference} ({self.status})"

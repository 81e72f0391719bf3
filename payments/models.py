"""Payment institutions: their API keys, licences, corridors, reserves, compliance runs,
screenings, idempotency records, watchlists and webhooks."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from rest_framework_api_key.models import AbstractAPIKey


class ProviderAPIKey(AbstractAPIKey):
    """A payment provider's key: a visible prefix plus a secret shown once; the library
    stores only a SHA-512 hash of the whole key."""

    class Scope(models.TextChoices):
        SCREEN = "screen", "Screen counterparties"
        REPORT = "report", "Report payment outcomes"
        RESERVES = "reserves", "File reserve reports"
        WEBHOOKS = "webhooks", "Manage watchlist and webhooks"
        FILINGS = "filings", "Withdraw licences and corridors"

    institution = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, related_name="api_keys")
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "provider API key"
        verbose_name_plural = "provider API keys"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


# --- Institutions: licences, corridors, capital and reserves -----------------------------

CURRENCY_FIELD = {"max_length": 3, "help_text": "ISO 4217"}
MONEY_FIELD = {"max_digits": 20, "decimal_places": 2}


class InstitutionProfile(models.Model):
    """The payment-institution side of a subject. `status` is derived from the latest
    compliance run (see payments.compliance) unless a regulator has suspended it."""

    class KYB(models.TextChoices):
        PENDING = "pending", "Pending verification"
        VERIFIED = "verified", "Verified"
        REJECTED = "rejected", "Rejected"

    class Status(models.TextChoices):
        COMPLIANT = "compliant", "Compliant"
        UNDER_REVIEW = "under_review", "Under review"
        SUSPENDED = "suspended", "Suspended"

    subject = models.OneToOneField(
        "credit.Subject", on_delete=models.PROTECT, primary_key=True, related_name="institution_profile"
    )
    paid_in_capital = models.DecimalField(**MONEY_FIELD, default=0)
    capital_currency = models.CharField(**CURRENCY_FIELD)
    kyb_status = models.CharField(max_length=10, choices=KYB.choices, default=KYB.PENDING)
    kyb_verified_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.UNDER_REVIEW)
    status_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    regulator_suspended = models.BooleanField(default=False, help_text="Suspended by a regulator's decision")
    screening_minimum_grade = models.CharField(
        max_length=1, default="C", help_text="Screening denies counterparties graded below this (A > B > M > C > D)"
    )
    latest_run = models.ForeignKey("ComplianceRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    check_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="Durable mark: a check run is due (cleared by the run)"
    )
    check_requested_trigger = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["subject__legal_name", "subject_id"]
        constraints = [
            models.CheckConstraint(condition=Q(paid_in_capital__gte=0), name="institution_capital_nonnegative"),
        ]

    def __str__(self):
        return f"{self.subject.legal_name} ({self.status})"


class Licence(models.Model):
    """A licence to provide payment services. Valid on days d with
    valid_from <= d < valid_to (valid_to is exclusive: the first day it no longer holds)."""

    institution = models.ForeignKey(InstitutionProfile, on_delete=models.PROTECT, related_name="licences")
    number = models.CharField(max_length=80)
    issuing_authority = models.CharField(max_length=200)
    business_types = models.JSONField(default=list, help_text="e.g. ['cross-border payments', 'e-money']")
    currencies = models.JSONField(default=list, help_text="ISO 4217 codes the licence covers")
    countries = models.JSONField(default=list, help_text="ISO 3166-1 alpha-2 codes the licence covers")
    valid_from = models.DateField()
    valid_to = models.DateField(help_text="Exclusive: the first day the licence no longer holds")
    renewal_filed_on = models.DateField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(
        null=True, blank=True, help_text="Withdrawn by the institution: kept for history, no longer relied on"
    )
    withdrawn_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-valid_to", "id"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "number"], name="licence_unique_number"),
            models.CheckConstraint(condition=Q(valid_to__gt=models.F("valid_from")), name="licence_period_positive"),
        ]

    def __str__(self):
        return f"{self.number} ({self.issuing_authority})"

    def covers(self, *, currency: str, country: str) -> bool:
        return currency in self.currencies and country in self.countries


class Corridor(models.Model):
    """A currency and country pair the institution asks to serve. The latest compliance
    run switches it on or off (`enabled`) without touching the institution's status."""

    institution = models.ForeignKey(InstitutionProfile, on_delete=models.PROTECT, related_name="corridors")
    currency = models.CharField(**CURRENCY_FIELD)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    fx_registration_reference = models.CharField(max_length=80, blank=True, help_text="SAFE registration (CNY)")
    partner_bank = models.CharField(max_length=200, blank=True, help_text="Partner bank (CNY)")
    enabled = models.BooleanField(default=False)
    disabled_reason = models.TextField(blank=True)
    withdrawn_at = models.DateTimeField(
        null=True, blank=True, help_text="Switched off by the institution; compliance runs leave it off"
    )
    withdrawn_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["currency", "country"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "currency", "country"], name="corridor_unique_pair"),
        ]

    def __str__(self):
        return f"{self.currency}/{self.country}"


class ReserveAccount(models.Model):
    class BankKind(models.TextChoices):
        CENTRAL_BANK = "central_bank", "Central bank"
        QUALIFIED_BANK = "qualified_bank", "Qualified commercial bank"
        OTHER = "other", "Other (does not count towards coverage)"

    institution = models.ForeignKey(InstitutionProfile, on_delete=models.PROTECT, related_name="reserve_accounts")
    bank = models.CharField(max_length=200)
    bank_kind = models.CharField(max_length=15, choices=BankKind.choices, default=BankKind.QUALIFIED_BANK)
    account_reference = models.CharField(max_length=80)
    currency = models.CharField(**CURRENCY_FIELD)
    closed_on = models.DateField(
        null=True, blank=True, help_text="Closed on this day: reports dated after it cannot use it"
    )
    closed_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["currency", "bank", "id"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "account_reference"], name="reserveaccount_unique_ref"),
        ]

    def __str__(self):
        return f"{self.bank} {self.account_reference} ({self.currency})"


class ReserveReport(models.Model):
    """Customer funds owed against reserve balances at the end of `report_date`, in one
    currency. Append-only: a correction is a later report for the same date."""

    class Source(models.TextChoices):
        WEB = "web", "Web"
        API = "api", "API"

    institution = models.ForeignKey(InstitutionProfile, on_delete=models.PROTECT, related_name="reserve_reports")
    report_date = models.DateField()
    currency = models.CharField(**CURRENCY_FIELD)
    customer_funds_owed = models.DecimalField(**MONEY_FIELD)
    source = models.CharField(max_length=5, choices=Source.choices, default=Source.WEB)
    submitted_by_label = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-report_date", "-id"]
        indexes = [models.Index(fields=["institution", "-report_date"])]
        constraints = [
            models.CheckConstraint(condition=Q(customer_funds_owed__gte=0), name="reservereport_owed_nonnegative"),
        ]


class ReserveBalance(models.Model):
    report = models.ForeignKey(ReserveReport, on_delete=models.CASCADE, related_name="balances")
    account = models.ForeignKey(ReserveAccount, on_delete=models.PROTECT, related_name="+")
    balance = models.DecimalField(**MONEY_FIELD)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "account"], name="reservebalance_unique_account"),
            models.CheckConstraint(condition=Q(balance__gte=0), name="reservebalance_nonnegative"),
        ]


class ReserveOutflow(models.Model):
    class Destination(models.TextChoices):
        CUSTOMER_SETTLEMENT = "customer_settlement", "Customers' settlement accounts"
        MERCHANT_SETTLEMENT = "merchant_settlement", "Merchants' settlement accounts"
        OWN_FUNDS = "own_funds", "The institution's filed own-funds account"
        PENDING_SETTLEMENT = "pending_settlement", "Pending-settlement accounts"
        PARTNER_INSTITUTION = "partner_institution", "Partner institutions"
        INVESTMENT = "investment", "Investments"
        RELATED_PARTY = "related_party", "Related parties"
        OTHER = "other", "Other"

    report = models.ForeignKey(ReserveReport, on_delete=models.CASCADE, related_name="outflows")
    destination_type = models.CharField(max_length=25, choices=Destination.choices)
    amount = models.DecimalField(**MONEY_FIELD)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "destination_type"], name="reserveoutflow_unique_type"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="reserveoutflow_nonnegative"),
        ]


# --- Compliance runs (append-only) -------------------------------------------------------


class Outcome(models.TextChoices):
    PASS = "pass", "Pass"
    WARN = "warn", "Warn (review)"
    FAIL = "fail", "Fail"


class ComplianceRun(models.Model):
    """One run of every rule against an institution, kept forever."""

    class Trigger(models.TextChoices):
        DAILY = "daily", "Daily check"
        LICENCE_CHANGED = "licence_changed", "Licence changed"
        CORRIDOR_CHANGED = "corridor_changed", "Corridor changed"
        RESERVE_ACCOUNT_CHANGED = "reserve_account", "Reserve account changed"
        PROFILE_CHANGED = "profile_changed", "Capital or KYB changed"
        RESERVE_REPORT = "reserve_report", "New reserve report"
        GRADE_CHANGED = "grade_changed", "Grade changed"
        BLACKLISTED = "blacklisted", "Blacklisted"
        BLACKLIST_LIFTED = "blacklist_lifted", "Blacklist entry lifted"
        REGULATOR = "regulator", "Regulator request"

    institution = models.ForeignKey(InstitutionProfile, on_delete=models.PROTECT, related_name="runs")
    as_of = models.DateField(help_text="The calendar day (UTC) the rules were evaluated for")
    started_at = models.DateTimeField()
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    outcome = models.CharField(max_length=4, choices=Outcome.choices)
    derived_status = models.CharField(max_length=15, choices=InstitutionProfile.Status.choices)
    summary = models.TextField(blank=True)
    parameters = models.JSONField(default=dict, help_text="The thresholds in force for this run")
    rules_version = models.CharField(max_length=20)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["institution", "-started_at"])]


class RuleResult(models.Model):
    run = models.ForeignKey(ComplianceRun, on_delete=models.PROTECT, related_name="results")
    rule = models.CharField(max_length=60)
    outcome = models.CharField(max_length=4, choices=Outcome.choices)
    reason = models.TextField()
    evidence = models.JSONField(default=dict)
    corridor = models.ForeignKey(Corridor, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["run", "position", "id"]


# --- Screening, API calls and idempotency ------------------------------------------------


class ScreeningDecision(models.Model):
    """A stored allow / review / deny decision with its inputs and the data and model
    versions it was based on, so it can be explained later."""

    class Decision(models.TextChoices):
        ALLOW = "allow", "Allow"
        REVIEW = "review", "Review"
        DENY = "deny", "Deny"

    institution = models.ForeignKey(InstitutionProfile, on_delete=models.PROTECT, related_name="screenings")
    api_key_prefix = models.CharField(max_length=8, db_index=True)
    batch_id = models.UUIDField(db_index=True)
    position = models.PositiveIntegerField(default=0)
    decided_at = models.DateTimeField(db_index=True)
    inputs = models.JSONField()
    decision = models.CharField(max_length=6, choices=Decision.choices)
    reasons = models.JSONField(default=list)
    subject = models.ForeignKey("credit.Subject", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    candidates = models.JSONField(default=list)
    subject_snapshot = models.JSONField(default=dict, help_text="grade, score, rated_at, blacklisted at decision")
    data_version = models.CharField(max_length=80, help_text="The subject's rating time or 'registry' for misses")
    model_version = models.CharField(max_length=20, help_text="The scoring model version in force")
    threshold_grade = models.CharField(max_length=1)

    class Meta:
        ordering = ["-decided_at", "-id"]


class APICallRecord(models.Model):
    """Every payment-provider API call: who, when, what, and which decision."""

    at = models.DateTimeField(db_index=True)
    api_key_prefix = models.CharField(max_length=8, db_index=True)
    institution = models.ForeignKey("credit.Subject", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    status_code = models.PositiveSmallIntegerField()
    decision = models.CharField(max_length=200, blank=True, help_text="e.g. 'allow=3 review=1 deny=0' or an error code")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["institution", "-at"], name="apicallrecord_institution_at")]


class PaymentReport(models.Model):
    """A payment outcome an institution reported about a subject, and the credit event it became."""

    class Outcome(models.TextChoices):
        PAID_ON_TIME = "paid_on_time", "Settled on time"
        PAID_LATE = "paid_late", "Settled late"
        CHARGEBACK = "chargeback", "Chargeback"
        CONFIRMED_FRAUD = "confirmed_fraud", "Confirmed fraud"
        REFUND_ISSUED = "refund_issued", "Refund issued"

    institution = models.ForeignKey(InstitutionProfile, on_delete=models.PROTECT, related_name="payment_reports")
    api_key_prefix = models.CharField(max_length=8)
    subject = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    days_late = models.PositiveIntegerField(default=0)
    amount = models.DecimalField(**MONEY_FIELD, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    payment_reference = models.CharField(max_length=200)
    occurred_at = models.DateTimeField()
    credit_event = models.ForeignKey(
        "credit.CreditEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "payment_reference", "outcome"], name="paymentreport_unique_reference"
            ),
        ]


# --- Watchlist and webhooks --------------------------------------------------------------


class WatchlistEntry(models.Model):
    institution = models.ForeignKey(InstitutionProfile, on_delete=models.CASCADE, related_name="watchlist")
    subject = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-added_at", "-id"]
        verbose_name_plural = "watchlist entries"
        constraints = [models.UniqueConstraint(fields=["institution", "subject"], name="watchlist_unique_subject")]


class WebhookEndpoint(models.Model):
    class EventType(models.TextChoices):
        GRADE_CHANGED = "subject.grade_changed", "Subject grade changed"
        BLACKLISTED = "subject.blacklisted", "Subject blacklisted"
        BLACKLIST_LIFTED = "subject.blacklist_lifted", "Subject's blacklist entry lifted"
        STATUS_CHANGED = "institution.status_changed", "Institution's compliance status changed"

    institution = models.ForeignKey(InstitutionProfile, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100, help_text="whsec_<base64>; signs every delivery")
    previous_secret = models.CharField(
        max_length=100, blank=True, help_text="The secret before the last rotation; also signs until it expires"
    )
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    event_types = models.JSONField(default=list)
    description = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.url

    @property
    def is_removed(self) -> bool:
        """Removed by the institution: kept (disabled) for its delivery log only."""
        return not self.enabled and self.disabled_reason.startswith("Removed")


class WebhookDelivery(models.Model):
    """Outbox row, written in the same transaction as its cause. A worker (woken on commit,
    and by a beat sweep) POSTs it until it succeeds or runs out of attempts."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Gave up"
        DISABLED = "disabled", "Endpoint disabled"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=64, help_text="webhook-id: the same for every attempt")
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhookdelivery_due"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhookdelivery_unique_event"),
        ]


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["-at", "-id"]


# --- Escrow: a double-entry ledger (append-only) and disputes ----------------------------


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

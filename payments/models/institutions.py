"""Payment institutions: the profile, licences, corridors, capital and reserves, and the
compliance runs (append-only) that derive the institution's status."""

from django.db import models
from django.db.models import Q

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

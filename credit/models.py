"""The registry: subjects, the people acting for them, credit events, the versioned
scoring model, ratings, the blacklist with its appeals and repairs, and the audit log."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

REGISTRATION_NUMBER_VALIDATOR = RegexValidator(
    r"^[A-Z0-9][A-Z0-9./-]{1,39}$",
    "Use 2 to 40 letters, digits, dots, slashes or hyphens, starting with a letter or digit.",
    code="invalid_registration_number",
)
CURRENCY_VALIDATOR = RegexValidator(r"^[A-Z]{3}$", "Use an ISO 4217 code such as USD.", code="invalid_currency")


class Subject(models.Model):
    """A registered trading enterprise. Its current score and grade are a snapshot of its
    latest Rating, kept here because search and screening read them on every request."""

    class Grade(models.TextChoices):
        A = "A", "A: excellent"
        B = "B", "B: good"
        M = "M", "M: new, too little history"
        C = "C", "C: weak"
        D = "D", "D: poor or blacklisted"

    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    registration_number = models.CharField(max_length=40, validators=[REGISTRATION_NUMBER_VALIDATOR])
    legal_name = models.CharField(max_length=300)
    # Kinds of enterprise; a subject may be several at once.
    is_merchant = models.BooleanField(default=False)
    is_warehouse_operator = models.BooleanField(default=False)
    is_payment_institution = models.BooleanField(default=False)
    is_logistics_provider = models.BooleanField(default=False)
    # Operation modes.
    mode_b2b = models.BooleanField(default=False)
    mode_b2c = models.BooleanField(default=False)
    mode_b2b2c = models.BooleanField(default=False)
    mode_import = models.BooleanField(default=False)
    mode_export = models.BooleanField(default=False)
    # Public profile.
    trading_name = models.CharField(max_length=300, blank=True)
    city = models.CharField(max_length=120, blank=True)
    address = models.CharField(max_length=500, blank=True)
    website = models.URLField(blank=True)
    description = models.TextField(blank=True, max_length=4000)
    founded_on = models.DateField(null=True, blank=True)
    # Current standing (snapshot of the latest rating and the blacklist).
    score = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    grade = models.CharField(max_length=1, choices=Grade.choices, default=Grade.M)
    rated_at = models.DateTimeField(null=True, blank=True)
    is_blacklisted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["country", "registration_number"], name="subject_unique_registration"),
            models.CheckConstraint(condition=Q(country__regex=r"^[A-Z]{2}$"), name="subject_country_alpha2"),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | (Q(score__gte=0) & Q(score__lte=100)), name="subject_score_range"
            ),
        ]
        indexes = [models.Index(fields=["grade"]), models.Index(fields=["legal_name"])]
        ordering = ["legal_name", "id"]

    def __str__(self):
        return f"{self.legal_name} ({self.country} {self.registration_number})"

    @property
    def kinds(self) -> list[str]:
        names = {
            "merchant": self.is_merchant,
            "warehouse_operator": self.is_warehouse_operator,
            "payment_institution": self.is_payment_institution,
            "logistics_provider": self.is_logistics_provider,
        }
        return [name for name, flag in names.items() if flag]

    @property
    def operation_modes(self) -> list[str]:
        names = {
            "B2B": self.mode_b2b,
            "B2C": self.mode_b2c,
            "B2B2C": self.mode_b2b2c,
            "import": self.mode_import,
            "export": self.mode_export,
        }
        return [name for name, flag in names.items() if flag]


class Membership(models.Model):
    """A person acting for a subject. Pending memberships (someone asking to join an
    existing subject) carry no rights until an owner or admin approves them."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Administrator"
        MEMBER = "member", "Member"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PENDING = "pending", "Pending approval"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "subject"], name="membership_unique_user_subject")]

    def __str__(self):
        return f"{self.user} @ {self.subject} ({self.role}, {self.status})"


# --- Credit events and the scoring model -----------------------------------------------


class Component(models.TextChoices):
    FULFILMENT = "fulfilment", "Fulfilment"
    PAYMENT = "payment", "Payment behaviour"
    DISPUTES = "disputes", "Disputes and complaints"
    REGULATORY = "regulatory", "Regulatory record"
    VERIFICATION = "verification", "Verification and tenure"


class EventKind(models.Model):
    """The catalogue of credit event kinds. Impact here is the default; a scoring model
    version may override it."""

    code = models.SlugField(max_length=60, primary_key=True)
    name = models.CharField(max_length=120)
    component = models.CharField(max_length=20, choices=Component.choices)
    default_impact = models.DecimalField(max_digits=6, decimal_places=2, help_text="Points; negative hurts")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["component", "code"]

    def __str__(self):
        return self.name


class CreditEvent(models.Model):
    """An append-only fact about a subject. A mistake is corrected by a reversal event
    (`reverses` set), never by editing or deleting."""

    class Source(models.TextChoices):
        PLATFORM = "platform", "Platform"
        REGULATOR = "regulator", "Regulator"
        PAYMENT_INSTITUTION = "payment_institution", "Payment institution"

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="credit_events")
    kind = models.ForeignKey(EventKind, on_delete=models.PROTECT, related_name="events")
    source = models.CharField(max_length=24, choices=Source.choices)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    magnitude = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Multiplier of the kind's impact, e.g. days late",
    )
    evidence_reference = models.CharField(max_length=300, blank=True, help_text="Private")
    source_reference = models.CharField(max_length=200, blank=True, help_text="e.g. a lease or payment id")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["subject", "occurred_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(magnitude__gte=0), name="creditevent_magnitude_nonnegative"),
            models.CheckConstraint(
                condition=Q(reverses__isnull=True) | ~Q(reason=""), name="creditevent_reversal_has_reason"
            ),
        ]

    def __str__(self):
        return f"{self.kind_id} on {self.subject_id} at {self.occurred_at:%Y-%m-%d}"


class ScoringModel(models.Model):
    """A published, immutable version of the scoring parameters (see credit/scoring.py for
    the shape of `parameters`). Exactly one version is active."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    version = models.PositiveIntegerField(unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    parameters = models.JSONField()
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="active"), name="scoringmodel_one_active"),
        ]

    def __str__(self):
        return f"v{self.version} ({self.status})"


class Rating(models.Model):
    """One computation of a subject's score; history is kept for charts and as-of queries."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="ratings")
    model = models.ForeignKey(ScoringModel, on_delete=models.PROTECT, related_name="ratings")
    score = models.DecimalField(max_digits=6, decimal_places=2)
    grade = models.CharField(max_length=1, choices=Subject.Grade.choices)
    components = models.JSONField(default=dict)
    reasons = models.JSONField(default=list)
    event_count = models.PositiveIntegerField(default=0)
    blacklist_override = models.BooleanField(default=False)
    computed_at = models.DateTimeField(db_index=True)
    trigger = models.CharField(max_length=20, default="event")

    class Meta:
        ordering = ["-computed_at", "-id"]
        indexes = [models.Index(fields=["subject", "-computed_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=0) & Q(score__lte=100), name="rating_score_range"),
        ]


class RecomputeRequest(models.Model):
    """Durable outbox: a subject whose rating must be recomputed. Written in the same
    transaction as the event, so the need survives a Redis outage."""

    subject = models.OneToOneField(Subject, on_delete=models.CASCADE, primary_key=True, related_name="+")
    requested_at = models.DateTimeField()


class RecomputeRun(models.Model):
    """A full recompute of every subject, in chunks of subject ids."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    model = models.ForeignKey(ScoringModel, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    total_chunks = models.PositiveIntegerField(default=0)
    done_chunks = models.PositiveIntegerField(default=0)
    total_subjects = models.PositiveIntegerField(default=0)
    done_subjects = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="running"), name="recomputerun_one_running"),
            models.CheckConstraint(
                condition=Q(done_chunks__lte=models.F("total_chunks")), name="recomputerun_progress"
            ),
        ]


class RecomputeChunk(models.Model):
    run = models.ForeignKey(RecomputeRun, on_delete=models.CASCADE, related_name="chunks")
    first_subject_id = models.BigIntegerField()
    last_subject_id = models.BigIntegerField()
    done_at = models.DateTimeField(null=True, blank=True)
    subjects = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "first_subject_id"], name="recomputechunk_unique_start"),
        ]


class DomainEventType(models.TextChoices):
    """The types of the domain events (core.models.DomainEvent) the registry publishes to
    the apps above it."""

    GRADE_CHANGED = "subject.grade_changed", "Grade changed"
    BLACKLISTED = "subject.blacklisted", "Blacklisted"
    BLACKLIST_LIFTED = "subject.blacklist_lifted", "Blacklist entry lifted"


# --- Blacklist, appeals and repair -----------------------------------------------------


class Severity(models.TextChoices):
    MINOR = "minor", "Minor"
    GENERAL = "general", "General"
    SERIOUS = "serious", "Serious"


class BlacklistEntry(models.Model):
    class Category(models.TextChoices):
        FRAUD = "fraud", "Fraud"
        CONTRACT_DEFAULT = "contract_default", "Contract default"
        COUNTERFEIT = "counterfeit", "Counterfeit goods"
        SMUGGLING = "smuggling", "Smuggling or customs violation"
        TAX = "tax", "Tax violation"
        FX = "fx", "Foreign-exchange violation"
        SANCTIONS = "sanctions", "Sanctions"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        LIFTED = "lifted", "Lifted"
        EXPIRED = "expired", "Expired"
        REPAIRED = "repaired", "Repaired"

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="blacklist_entries")
    category = models.CharField(max_length=20, choices=Category.choices)
    legal_basis = models.CharField(max_length=500)
    decision_reference = models.CharField(max_length=120, help_text="The regulator's decision number")
    description = models.TextField(max_length=4000)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    fine_amount = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    fine_currency = models.CharField(max_length=3, blank=True, validators=[CURRENCY_VALIDATOR])
    fine_paid = models.BooleanField(default=False)
    starts_on = models.DateField()
    publication_ends_on = models.DateField(help_text="Exclusive: published on days before this date")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_on", "-id"]
        verbose_name_plural = "blacklist entries"
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "decision_reference"],
                condition=Q(status="active"),
                name="blacklist_one_active_per_decision",
            ),
            models.CheckConstraint(
                condition=Q(publication_ends_on__gt=models.F("starts_on")), name="blacklist_period_positive"
            ),
            models.CheckConstraint(
                condition=Q(fine_amount__isnull=True) | (Q(fine_amount__gt=0) & ~Q(fine_currency="")),
                name="blacklist_fine_has_currency",
            ),
        ]

    def __str__(self):
        return f"{self.subject} {self.category} ({self.status})"


class ReviewRequest(models.Model):
    """What a subject's member files about a blacklist entry, for the regulator to answer:
    filed → acknowledged (the reply, due within working days of filing) → decided (due
    within working days of the reply). Appeals and repair applications are both one; their
    lifecycle is declared once, in credit.services.blacklist.reviews."""

    FILED = "filed"
    ACKNOWLEDGED = "acknowledged"
    OPEN = (FILED, ACKNOWLEDGED)

    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    filed_at = models.DateTimeField()
    reply_due_on = models.DateField()
    replied_at = models.DateTimeField(null=True, blank=True)
    reply = models.TextField(blank=True)
    decision_due_on = models.DateField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reasons = models.TextField(blank=True)

    class Meta:
        abstract = True
        ordering = ["-filed_at", "-id"]


class Appeal(ReviewRequest):
    class Challenge(models.TextChoices):
        CONTENT = "content", "The content of the entry"
        PERIOD = "period", "The publication period"
        REPAIR_RESULT = "repair_result", "The result of a repair application"

    class Status(models.TextChoices):
        FILED = "filed", "Filed, awaiting reply"
        ACKNOWLEDGED = "acknowledged", "Replied, awaiting decision"
        UPHELD = "upheld", "Upheld"
        DISMISSED = "dismissed", "Dismissed"

    entry = models.ForeignKey(BlacklistEntry, on_delete=models.PROTECT, related_name="appeals")
    challenge = models.CharField(max_length=20, choices=Challenge.choices)
    grounds = models.TextField(max_length=8000)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.FILED)

    class Meta(ReviewRequest.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["entry", "challenge"],
                condition=Q(status__in=["filed", "acknowledged"]),
                name="appeal_one_open_per_challenge",
            ),
        ]


class RepairApplication(ReviewRequest):
    class Status(models.TextChoices):
        FILED = "filed", "Filed, awaiting reply"
        ACKNOWLEDGED = "acknowledged", "Replied, awaiting decision"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    entry = models.ForeignKey(BlacklistEntry, on_delete=models.PROTECT, related_name="repairs")
    correction_evidence = models.TextField(max_length=8000, help_text="How the misconduct was corrected")
    commitment = models.TextField(max_length=8000, help_text="The subject's credit commitment")
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.FILED)

    class Meta(ReviewRequest.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["entry"], condition=Q(status__in=["filed", "acknowledged"]), name="repair_one_open_per_entry"
            ),
        ]

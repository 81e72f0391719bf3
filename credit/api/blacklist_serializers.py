"""The blacklist API's serializers: entries, appeals and repair applications, the input
of each write, a subject's standing and record."""

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from credit.api.events import CreditEventSerializer
from credit.models import Appeal, BlacklistEntry, RepairApplication, Severity
from credit.selectors import blacklist as selectors
from credit.selectors.standing import ACTIONS
from credit.services import blacklist as services

# --- Serializers ---------------------------------------------------------------------------


class SubjectRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    country = serializers.CharField()
    registration_number = serializers.CharField()
    legal_name = serializers.CharField()


class EntrySerializer(serializers.ModelSerializer):
    subject = SubjectRefSerializer(read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True)
    earliest_repair_on = serializers.SerializerMethodField()

    class Meta:
        model = BlacklistEntry
        fields = [
            "id",
            "subject",
            "category",
            "legal_basis",
            "decision_reference",
            "description",
            "severity",
            "fine_amount",
            "fine_currency",
            "fine_paid",
            "starts_on",
            "publication_ends_on",
            "decided_by",
            "status",
            "status_changed_at",
            "status_reason",
            "created_at",
            "earliest_repair_on",
        ]

    def get_earliest_repair_on(self, entry) -> str:
        return services.earliest_repair_date(entry=entry).isoformat()


class EntryInputSerializer(serializers.Serializer):
    subject_id = serializers.IntegerField()
    category = serializers.ChoiceField(choices=BlacklistEntry.Category.choices)
    legal_basis = serializers.CharField(max_length=500)
    decision_reference = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=4000)
    severity = serializers.ChoiceField(choices=Severity.choices)
    starts_on = serializers.DateField(required=False, help_text="Default today; never in the future")
    publication_ends_on = serializers.DateField(
        required=False, help_text="Exclusive. Default: start + the severity's maximum period"
    )
    fine_amount = serializers.DecimalField(max_digits=16, decimal_places=2, required=False, allow_null=True)
    fine_currency = serializers.CharField(max_length=3, required=False, allow_blank=True, default="")
    fine_paid = serializers.BooleanField(required=False, default=False)


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=4000)


# The fields an appeal and a repair application share (credit.models.ReviewRequest),
# after each one's own.
REVIEW_FIELDS = [
    "status",
    "filed_by",
    "filed_at",
    "reply_due_on",
    "replied_at",
    "reply",
    "decision_due_on",
    "decided_at",
    "decided_by",
    "decision_reasons",
    "next_step",
    "next_step_due_on",
    "overdue",
]


class AppealSerializer(serializers.ModelSerializer):
    entry_id = serializers.IntegerField(read_only=True)
    subject_id = serializers.IntegerField(source="entry.subject_id", read_only=True)
    filed_by = serializers.CharField(source="filed_by.username", read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, default=None, allow_null=True)
    next_step = serializers.SerializerMethodField()
    next_step_due_on = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Appeal
        fields = ["id", "entry_id", "subject_id", "challenge", "grounds", *REVIEW_FIELDS]

    def _deadline(self, obj):
        return selectors.next_deadline(obj)

    def get_next_step(self, obj) -> str | None:
        deadline = self._deadline(obj)
        return deadline.step if deadline else None

    def get_next_step_due_on(self, obj) -> str | None:
        deadline = self._deadline(obj)
        return deadline.due_on.isoformat() if deadline else None

    def get_overdue(self, obj) -> bool:
        deadline = self._deadline(obj)
        return bool(deadline and deadline.overdue)


class RepairSerializer(AppealSerializer):
    class Meta:
        model = RepairApplication
        fields = ["id", "entry_id", "subject_id", "correction_evidence", "commitment", *REVIEW_FIELDS]


class AppealInputSerializer(serializers.Serializer):
    challenge = serializers.ChoiceField(choices=Appeal.Challenge.choices)
    grounds = serializers.CharField(max_length=8000)


class RepairInputSerializer(serializers.Serializer):
    correction_evidence = serializers.CharField(max_length=8000, help_text="How the misconduct was corrected")
    commitment = serializers.CharField(max_length=8000, help_text="The subject's credit commitment")


class ReplyInputSerializer(serializers.Serializer):
    reply = serializers.CharField(max_length=8000)


class AppealDecisionInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=[("uphold", "Uphold"), ("dismiss", "Dismiss")])
    reasons = serializers.CharField(max_length=8000)
    new_publication_ends_on = serializers.DateField(
        required=False, help_text="Required when upholding a period challenge (exclusive end)"
    )


class RepairDecisionInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reasons = serializers.CharField(max_length=8000)


StandingSerializer = inline_serializer(
    "Standing",
    {
        "subject_id": serializers.IntegerField(),
        "action": serializers.ChoiceField(choices=list(ACTIONS)),
        "allowed": serializers.BooleanField(),
        "reasons": serializers.ListField(child=serializers.DictField()),
    },
)


# A credit event in a subject's own record: as the regulators' API shows it, without the
# subject (it is the record's), the component or who recorded it.
class EventRecordSerializer(CreditEventSerializer):
    class Meta(CreditEventSerializer.Meta):
        fields = [f for f in CreditEventSerializer.Meta.fields if f not in ("subject_id", "component", "recorded_by")]


class RecordSerializer(serializers.Serializer):
    subject = SubjectRefSerializer()
    grade = serializers.CharField(source="subject.grade")
    score = serializers.DecimalField(source="subject.score", max_digits=6, decimal_places=2, allow_null=True)
    is_blacklisted = serializers.BooleanField(source="subject.is_blacklisted")
    events = EventRecordSerializer(many=True)
    entries = EntrySerializer(many=True)
    appeals = AppealSerializer(many=True)
    repairs = RepairSerializer(many=True)

"""Django admin for the registry. History (events, ratings, runs) is read-only here:
changes go through services, which write their audit records."""

from django.contrib import admin, messages

from core.admin import ReadOnlyAdmin
from core.models import AuditEntry
from credit.models import (
    Appeal,
    BlacklistEntry,
    CreditEvent,
    EventKind,
    Rating,
    RecomputeRun,
    RepairApplication,
    ScoringModel,
)


@admin.register(EventKind)
class EventKindAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "component", "default_impact")
    list_filter = ("component",)


@admin.register(CreditEvent)
class CreditEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "subject", "kind", "source", "occurred_at", "magnitude", "reverses")
    list_filter = ("source", "kind__component")
    search_fields = ("subject__legal_name", "subject__registration_number", "source_reference")
    list_select_related = ("subject", "kind", "reverses")
    raw_id_fields = ("subject", "reverses", "recorded_by")


@admin.register(Rating)
class RatingAdmin(ReadOnlyAdmin):
    list_display = ("id", "subject", "score", "grade", "model", "computed_at", "trigger")
    list_filter = ("grade", "trigger")
    search_fields = ("subject__legal_name", "subject__registration_number")
    list_select_related = ("subject", "model")
    raw_id_fields = ("subject",)


@admin.register(RecomputeRun)
class RecomputeRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "status", "model", "started_at", "finished_at", "done_chunks", "total_chunks")
    list_filter = ("status",)


@admin.register(ScoringModel)
class ScoringModelAdmin(admin.ModelAdmin):
    """Staff add a draft version (parameters as JSON, see credit/scoring.py), then publish it
    with the action: `publish_scoring_model` validates it, retires the active version and
    audits the change; a full recompute applies it. Published versions are immutable."""

    list_display = ("version", "status", "published_at", "published_by", "notes")
    list_filter = ("status",)
    readonly_fields = ("status", "published_at", "published_by", "created_at")
    fields = ("version", "parameters", "notes", "status", "published_at", "published_by", "created_at")
    actions = ["publish_drafts"]

    def get_changeform_initial_data(self, request):
        from credit.selectors.ratings import scoring_models

        latest = scoring_models().first()
        initial = super().get_changeform_initial_data(request)
        if latest is not None:
            initial.setdefault("version", latest.version + 1)
            initial.setdefault("parameters", latest.parameters)
        return initial

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status != ScoringModel.Status.DRAFT:
            return False  # published and retired versions are history
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.status = ScoringModel.Status.DRAFT  # only the publish action makes a version active
        super().save_model(request, obj, form, change)

    @admin.action(description="Publish the selected draft (retires the active version)")
    def publish_drafts(self, request, queryset):
        from core import errors
        from credit.services.ratings import publish_scoring_model, start_full_recompute

        drafts = list(queryset.filter(status=ScoringModel.Status.DRAFT))
        if len(drafts) != 1:
            self.message_user(request, "Select exactly one draft version to publish.", level=messages.ERROR)
            return
        draft = drafts[0]
        try:
            model = publish_scoring_model(
                actor=request.user, parameters=draft.parameters, notes=draft.notes, draft_id=draft.pk
            )
        except errors.DomainError as exc:
            details = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.field_errors.items())
            self.message_user(request, f"{exc.message} {details}", level=messages.ERROR)
            return
        try:
            run = start_full_recompute(actor=request.user)
            follow = f"full recompute run {run.pk} started"
        except errors.Conflict:
            follow = "a full recompute is already running; the nightly run applies the new version"
        self.message_user(request, f"Version {model.version} is active; {follow}.", level=messages.SUCCESS)


# --- Blacklist, appeals, repair and the audit trail (read-only history) ---------------------


class AppealInline(admin.TabularInline):
    model = Appeal
    extra = 0
    can_delete = False
    fields = ("challenge", "status", "filed_at", "reply_due_on", "decision_due_on", "decided_at", "decision_reasons")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RepairInline(AppealInline):
    model = RepairApplication
    fields = ("status", "filed_at", "reply_due_on", "decision_due_on", "decided_at", "decision_reasons")
    readonly_fields = fields


@admin.register(BlacklistEntry)
class BlacklistEntryAdmin(ReadOnlyAdmin):
    """Decisions are made in the regulator console (/regulator/), through services."""

    list_display = (
        "id",
        "subject",
        "category",
        "severity",
        "decision_reference",
        "starts_on",
        "publication_ends_on",
        "status",
    )
    list_filter = ("status", "severity", "category")
    search_fields = ("subject__legal_name", "subject__registration_number", "decision_reference")
    list_select_related = ("subject",)
    raw_id_fields = ("subject", "decided_by")
    inlines = [AppealInline, RepairInline]


class ReviewRequestAdmin(ReadOnlyAdmin):
    """Appeals and repair applications are answered in the regulator console."""

    search_fields = ("entry__subject__legal_name", "entry__decision_reference")
    list_select_related = ("entry__subject",)
    raw_id_fields = ("entry", "filed_by", "decided_by")


@admin.register(Appeal)
class AppealAdmin(ReviewRequestAdmin):
    list_display = ("id", "entry", "challenge", "status", "filed_at", "reply_due_on", "decision_due_on")
    list_filter = ("status", "challenge")


@admin.register(RepairApplication)
class RepairApplicationAdmin(ReviewRequestAdmin):
    list_display = ("id", "entry", "status", "filed_at", "reply_due_on", "decision_due_on")
    list_filter = ("status",)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor_label", "action", "target_type", "target_id", "subject")
    list_filter = ("action", "target_type")
    search_fields = ("actor_label", "action", "target_id", "reason", "subject__legal_name")
    list_select_related = ("subject",)
    raw_id_fields = ("actor", "subject")
    date_hierarchy = "at"

"""Publishing a scoring model version, and the catalogue the first version needs."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.audit import record_audit
from core.errors import NotAllowed, NotFound
from credit import scoring
from credit.models import EventKind, ScoringModel


def publish_scoring_model(*, actor, parameters: dict, notes: str = "", draft_id: int | None = None) -> ScoringModel:
    """Validate `parameters`, retire the active version and make this one active (a new
    version, or the given draft). Staff only. Audited. Ratings computed afterwards record
    the new version; start a full recompute to apply it to everyone."""
    if not getattr(actor, "is_staff", False):
        raise NotAllowed("Only platform staff publish scoring models.", code="staff_only")
    scoring.validate_parameters(parameters, known_kinds=EventKind.objects.values_list("code", flat=True))
    now = timezone.now()
    with transaction.atomic():
        previous = ScoringModel.objects.select_for_update().filter(status=ScoringModel.Status.ACTIVE).first()
        if previous is not None and previous.parameters == parameters and draft_id is None:
            return previous  # already in force: nothing to publish
        if previous is not None:
            previous.status = ScoringModel.Status.RETIRED
            previous.save(update_fields=["status"])
        if draft_id is not None:
            try:
                model = ScoringModel.objects.select_for_update().get(pk=draft_id, status=ScoringModel.Status.DRAFT)
            except ScoringModel.DoesNotExist:
                raise NotFound("No such draft scoring model.", code="draft_not_found") from None
            model.parameters, model.notes = parameters, notes or model.notes
        else:
            latest = ScoringModel.objects.order_by("-version").values_list("version", flat=True).first() or 0
            model = ScoringModel(version=latest + 1, parameters=parameters, notes=notes)
        model.status = ScoringModel.Status.ACTIVE
        model.published_at = now
        model.published_by = actor
        model.save()
        record_audit(
            actor=actor,
            action="scoring_model.published",
            target=model,
            old={"version": previous.version, "parameters": previous.parameters} if previous else None,
            new={"version": model.version, "parameters": parameters},
            reason=notes,
        )
    return model


def ensure_scoring_catalogue() -> None:
    """Create the event kind catalogue and model v1 if missing (what migration 0002 does).
    Idempotent; used by the demo seed and by tests after a database flush."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("credit.migrations.0002_scoring_catalogue")
    if EventKind.objects.count() >= len(migration.CATALOGUE) and ScoringModel.objects.exists():
        return
    with transaction.atomic():
        migration.create_catalogue(apps, None)

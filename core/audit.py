"""The audit trail every service writes inside its own transaction."""

from django.db import models

from core import rows
from core.models import AuditEntry


def actor_label(actor) -> str:
    if actor is None:
        return "system"
    if hasattr(actor, "prefix") and hasattr(actor, "hashed_key"):
        return f"api-key:{actor.prefix}"
    return getattr(actor, "username", None) or str(actor)


def acting_user(actor):
    """The signed-in user behind `actor`, or None (an API key, the system)."""
    if getattr(actor, "is_authenticated", False) and hasattr(actor, "pk") and not hasattr(actor, "hashed_key"):
        return actor
    return None


def record_audit(
    *, actor, action: str, target: models.Model, subject_id=None, old=None, new=None, reason="", target_id=None
) -> AuditEntry:
    """`target_id` overrides `str(target.pk)` when the key is long or secret-derived (API keys
    are audited by their prefix)."""
    user = acting_user(actor)
    # Every service writes one: a prepared INSERT (core.rows), not one the ORM compiles.
    return rows.insert(
        AuditEntry(
            actor=user,
            actor_label=actor_label(actor),
            action=action,
            subject_id=subject_id,
            target_type=target._meta.label_lower,
            target_id=str(target.pk) if target_id is None else str(target_id),
            old=old,
            new=new,
            reason=reason,
        )
    )


def save_audited(
    obj: models.Model,
    values: dict,
    *,
    actor,
    action: str,
    subject_id=None,
    reason="",
    old=None,
    new=None,
    also_save: tuple[str, ...] = (),
) -> models.Model:
    """Set `values` on `obj`, save only those fields (and `also_save`, e.g. "updated_at"),
    and audit the change in the caller's transaction. The audit row holds the fields' old
    and new values, or `old`/`new` where the caller words them (money as strings, dates in
    ISO form); an `old` passed in is read before anything is set."""
    before = {name: getattr(obj, name) for name in values}
    for name, value in values.items():
        setattr(obj, name, value)
    obj.save(update_fields=[*values, *also_save])
    record_audit(
        actor=actor,
        action=action,
        target=obj,
        subject_id=subject_id,
        old=before if old is None else old,
        new=dict(values) if new is None else new,
        reason=reason,
    )
    return obj

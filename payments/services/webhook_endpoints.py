"""The watchlist and webhook endpoints: watch subjects, manage endpoints, rotate secrets."""

from django.db import transaction
from django.utils import timezone

from core.audit import record_audit
from credit.models import Subject
from payments import errors
from payments.services.common import lock_profile, raise_if_errors, require_manager


def watch_subject(*, actor, institution_id: int, subject_id: int):
    from payments.models import WatchlistEntry

    require_manager(actor, institution_id)
    if not Subject.objects.filter(pk=subject_id).exists():
        from credit.errors import SubjectNotFound

        raise SubjectNotFound(f"No subject with id {subject_id}.")
    with transaction.atomic():
        entry, created = WatchlistEntry.objects.get_or_create(institution_id=institution_id, subject_id=subject_id)
        if created:
            record_audit(
                actor=actor,
                action="watchlist.added",
                target=entry,
                subject_id=institution_id,
                new={"subject_id": subject_id},
            )
    return entry


def unwatch_subject(*, actor, institution_id: int, subject_id: int) -> bool:
    from payments.models import WatchlistEntry

    require_manager(actor, institution_id)
    with transaction.atomic():
        entry = WatchlistEntry.objects.filter(institution_id=institution_id, subject_id=subject_id).first()
        if entry is None:
            return False
        record_audit(
            actor=actor,
            action="watchlist.removed",
            target=entry,
            subject_id=institution_id,
            old={"subject_id": subject_id},
        )
        entry.delete()
    return True


def create_webhook_endpoint(*, actor, institution_id: int, url: str, event_types: list[str], description: str = ""):
    """Returns the endpoint; its whsec_ secret is readable by the institution (it needs it
    to verify signatures)."""
    from payments.models import WebhookEndpoint
    from payments.webhooks import generate_secret

    require_manager(actor, institution_id)
    field_errors: dict = {}
    url, types = _clean_endpoint_fields(url or "", event_types or [], field_errors)
    raise_if_errors(field_errors)
    with transaction.atomic():
        lock_profile(institution_id)
        endpoint = WebhookEndpoint.objects.create(
            institution_id=institution_id,
            url=url,
            secret=generate_secret(),
            event_types=types,
            description=(description or "").strip()[:200],
        )
        record_audit(
            actor=actor,
            action="webhook.endpoint_created",
            target=endpoint,
            subject_id=institution_id,
            new={"url": url, "event_types": types},
        )
    return endpoint


def delete_webhook_endpoint(*, actor, institution_id: int, endpoint_id: int) -> None:
    from payments.models import WebhookEndpoint
    from payments.services.webhook_deliveries import switch_off_endpoint

    require_manager(actor, institution_id)
    with transaction.atomic():
        endpoint = (
            WebhookEndpoint.objects.select_for_update(of=("self",))
            .filter(pk=endpoint_id, institution_id=institution_id)
            .first()
        )
        if endpoint is None:
            raise errors.EndpointNotFound()
        if not endpoint.enabled and endpoint.disabled_reason.startswith("Removed"):
            return
        switch_off_endpoint(
            endpoint, actor=actor, action="webhook.endpoint_removed", disabled_reason="Removed by the institution."
        )


def _clean_endpoint_fields(url, event_types, field_errors: dict) -> tuple[str | None, list[str] | None]:
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    from payments.models import WebhookEndpoint
    from payments.webhooks import url_target_problem

    if url is not None:
        url = (url or "").strip()
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            field_errors["url"] = ["Enter an http(s) URL."]
        else:
            problem = url_target_problem(url)
            if problem:
                field_errors["url"] = [problem]
    if event_types is not None:
        event_types = sorted(set(event_types or []))
        unknown = set(event_types) - set(WebhookEndpoint.EventType.values)
        if unknown or not event_types:
            field_errors["event_types"] = [f"Choose from: {', '.join(WebhookEndpoint.EventType.values)}."]
    return url, event_types


def _lock_endpoint(institution_id: int, endpoint_id: int):
    from payments.models import WebhookEndpoint

    endpoint = (
        WebhookEndpoint.objects.select_for_update(of=("self",))
        .filter(pk=endpoint_id, institution_id=institution_id)
        .first()
    )
    if endpoint is None or (not endpoint.enabled and endpoint.disabled_reason.startswith("Removed")):
        raise errors.EndpointNotFound()  # removed endpoints stay listed for their log only
    return endpoint


def update_webhook_endpoint(
    *,
    actor,
    institution_id: int,
    endpoint_id: int,
    url: str | None = None,
    event_types: list[str] | None = None,
    enabled: bool | None = None,
    description: str | None = None,
):
    """Change an endpoint's URL, event types, description or enabled flag (None: unchanged).
    Disabling stops its pending deliveries; enabling again sends only new events. Safe to
    repeat: nothing is written when nothing changes."""
    from payments.models import WebhookDelivery

    require_manager(actor, institution_id)
    field_errors: dict = {}
    url, event_types = _clean_endpoint_fields(url, event_types, field_errors)
    raise_if_errors(field_errors)
    with transaction.atomic():
        endpoint = _lock_endpoint(institution_id, endpoint_id)
        fields = ("url", "event_types", "description", "enabled")
        old = {f: getattr(endpoint, f) for f in fields}
        if url is not None:
            endpoint.url = url
        if event_types is not None:
            endpoint.event_types = event_types
        if description is not None:
            endpoint.description = description.strip()[:200]
        if enabled is not None:
            endpoint.enabled = bool(enabled)
        new = {f: getattr(endpoint, f) for f in fields}
        if old == new:
            return endpoint
        if old["enabled"] != new["enabled"]:
            endpoint.disabled_reason = "" if endpoint.enabled else "Disabled by the institution."
            if not endpoint.enabled:
                WebhookDelivery.objects.filter(endpoint=endpoint, status=WebhookDelivery.Status.PENDING).update(
                    status=WebhookDelivery.Status.DISABLED, next_attempt_at=None
                )
        endpoint.save(update_fields=[*fields, "disabled_reason"])
        record_audit(
            actor=actor,
            action="webhook.endpoint_changed",
            target=endpoint,
            subject_id=institution_id,
            old={k: v for k, v in old.items() if new[k] != v},
            new={k: v for k, v in new.items() if old[k] != v},
        )
    return endpoint


def rotate_webhook_secret(*, actor, institution_id: int, endpoint_id: int):
    """Give the endpoint a new `whsec_` secret, returned once as (endpoint, secret). For
    WEBHOOK_SECRET_ROTATION_GRACE_HOURS deliveries are signed with both the new and the
    previous secret (two signatures in `webhook-signature`), so receivers can switch over
    without losing a delivery; rotating again within the grace period drops the oldest."""
    from django.conf import settings

    from payments.webhooks import generate_secret

    require_manager(actor, institution_id)
    grace_hours = settings.ENTREPOT["PAYMENTS"].get("WEBHOOK_SECRET_ROTATION_GRACE_HOURS", 24)
    with transaction.atomic():
        endpoint = _lock_endpoint(institution_id, endpoint_id)
        now = timezone.now()
        old_expiry = endpoint.previous_secret_expires_at
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + timezone.timedelta(hours=grace_hours)
        endpoint.secret = generate_secret()
        endpoint.secret_rotated_at = now
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "secret_rotated_at"])
        record_audit(  # never the secrets themselves
            actor=actor,
            action="webhook.secret_rotated",
            target=endpoint,
            subject_id=institution_id,
            old={"previous_secret_expires_at": old_expiry.isoformat() if old_expiry else None},
            new={
                "secret_rotated_at": now.isoformat(),
                "previous_secret_expires_at": endpoint.previous_secret_expires_at.isoformat(),
            },
        )
    return endpoint, endpoint.secret

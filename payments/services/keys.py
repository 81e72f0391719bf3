"""Provider API keys: issue and revoke."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.audit import record_audit
from core.errors import InvalidInput
from payments import errors
from payments.models import ProviderAPIKey
from payments.selectors import api_keys_visible_to, institutions_managed_by


def issue_api_key(
    *, actor, institution_id: int, name: str, scopes: list[str], expires_at: datetime | None = None
) -> tuple[ProviderAPIKey, str]:
    """Returns the key and its full secret, which is never retrievable again."""
    if not institutions_managed_by(user=actor).filter(pk=institution_id).exists():
        raise errors.NotAnInstitution()
    unknown = set(scopes) - set(ProviderAPIKey.Scope.values)
    if unknown or not scopes:
        raise InvalidInput(
            "Choose at least one valid scope.",
            code="invalid_scopes",
            field_errors={"scopes": [f"Unknown or empty scopes: {sorted(unknown)}"]},
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput(
            "The expiry must be in the future.",
            code="invalid_expiry",
            field_errors={"expires_at": ["Must be in the future."]},
        )
    with transaction.atomic():
        key, secret = ProviderAPIKey.objects.create_key(
            name=name, institution_id=institution_id, scopes=sorted(scopes), created_by=actor, expiry_date=expires_at
        )
        record_audit(
            actor=actor,
            action="api_key.issued",
            target=key,
            target_id=key.prefix,
            subject_id=institution_id,
            new={
                "prefix": key.prefix,
                "name": name,
                "scopes": key.scopes,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return key, secret


def revoke_api_key(*, actor, prefix: str, reason: str = "") -> ProviderAPIKey:
    with transaction.atomic():
        key = api_keys_visible_to(user=actor).select_for_update(of=("self",)).filter(prefix=prefix).first()
        if key is None:
            raise errors.APIKeyNotFound()
        if key.revoked:
            return key
        key.revoked = True
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked", "revoked_at"])
        record_audit(
            actor=actor,
            action="api_key.revoked",
            target=key,
            target_id=key.prefix,
            subject_id=key.institution_id,
            old={"revoked": False},
            new={"revoked": True},
            reason=reason,
        )
    return key

from datetime import timedelta
from time import monotonic

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction
from django.db.models import signals
from django.utils import timezone
from rest_framework import authentication, exceptions

from core import rows
from payments import hotpath
from payments.models import InstitutionProfile, ProviderAPIKey

KEYWORD = "Api-Key"
LAST_USED_RESOLUTION = timedelta(minutes=1)


class APIKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <prefix>.<secret>`. The request acts as the key's
    institution: request.user is anonymous, request.auth and request.api_key the key.

    The key (found by its unique prefix among unrevoked keys, as drf-api-key's
    `get_from_key` does) and its institution's profile are read in one query, so the
    compliance gate (InstitutionAPIKey) needs no second one. Each process keeps what it
    read for ENTREPOT["PAYMENTS"]["API_KEY_CACHE_SECONDS"] (2 s; 0 turns it off): a key
    revoked or an institution suspended is refused within that time (normally at once in
    the process that saved the change, whose signal clears its copy). The secret's SHA-512
    hash and the expiry date are checked on every request."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, key = header.partition(" ")
        if scheme != KEYWORD:
            return None
        key = key.strip()
        if not key:
            raise exceptions.AuthenticationFailed("The Api-Key header carries no key.")
        if not (key.isascii() and key.isprintable()):  # never a key (a NUL cannot even be looked up): no query
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        api_key = key_with_institution(key.partition(".")[0])
        if api_key is None or not api_key.is_valid(key):
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        now = timezone.now()
        # Recorded to the minute: one write per key per minute, not one per request (many
        # concurrent requests on one key would otherwise queue on the same row lock).
        if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
            ProviderAPIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
            api_key.last_used_at = now
            _note_used(api_key)
        request._request.api_key = api_key
        return (AnonymousUser(), api_key)

    def authenticate_header(self, request):
        return KEYWORD


# prefix -> [expires (monotonic), key values, profile values or None]: this process's
# copy of recently used keys and their institutions, for API_KEY_CACHE_SECONDS.
_recent: dict[str, list] = {}
_RECENT_MAX = 10_000


def _cache_seconds() -> float:
    return float(settings.ENTREPOT["PAYMENTS"].get("API_KEY_CACHE_SECONDS", 0))


def forget_cached_keys(**kwargs) -> None:
    """Drop this process's cached keys and institutions (now and after the current
    transaction commits). Connected to every save/delete of a key or an institution
    profile; other processes see the change within API_KEY_CACHE_SECONDS."""
    _recent.clear()
    transaction.on_commit(_recent.clear)


for _model in (ProviderAPIKey, InstitutionProfile):
    signals.post_save.connect(forget_cached_keys, sender=_model, dispatch_uid=f"forget-keys-save-{_model.__name__}")
    signals.post_delete.connect(forget_cached_keys, sender=_model, dispatch_uid=f"forget-keys-del-{_model.__name__}")


def _read(prefix: str) -> list | None:
    found = hotpath.key_and_profile(prefix)
    if found is None:
        return None
    return [0.0, *found]


def key_with_institution(prefix: str) -> ProviderAPIKey | None:
    """The unrevoked key with this prefix, its `institution_profile` attribute set to the
    institution's InstitutionProfile (None when it has not registered). Read in one query,
    or from this process's copy when it is younger than API_KEY_CACHE_SECONDS."""
    ttl = _cache_seconds()
    now = monotonic()
    entry = _recent.get(prefix) if ttl > 0 else None
    if entry is None or entry[0] <= now:
        entry = _read(prefix)
        if entry is None:
            _recent.pop(prefix, None)
            return None
        if ttl > 0:
            if len(_recent) >= _RECENT_MAX:
                _recent.clear()
            entry[0] = now + ttl
            _recent[prefix] = entry
    key_fields = rows.fields(ProviderAPIKey)
    api_key = ProviderAPIKey.from_db(connection.alias, [f.attname for f in key_fields], list(entry[1]))
    api_key._cached_entry = entry
    profile = None
    if entry[2] is not None:
        profile_fields = rows.fields(InstitutionProfile)
        profile = InstitutionProfile.from_db(connection.alias, [f.attname for f in profile_fields], list(entry[2]))
    api_key.institution_profile = profile
    return api_key


def _note_used(api_key: ProviderAPIKey) -> None:
    entry = getattr(api_key, "_cached_entry", None)
    if entry is not None:
        last_used = rows.fields(ProviderAPIKey).index(ProviderAPIKey._meta.get_field("last_used_at"))
        entry[1][last_used] = api_key.last_used_at

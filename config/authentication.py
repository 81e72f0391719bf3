"""DRF's token authentication, cheaper: the token and its user are read by one prepared
SELECT (core.rows) instead of a query the ORM compiles on every request, and each
process keeps what it read for ENTREPOT["TOKEN_CACHE_SECONDS"] (2 s; 0 turns it off, as in
the tests), like the payment API's keys. A token deleted or a user deactivated is refused
within that time (at once in the process that saved the change, whose signal clears its
copy). Same answers as `rest_framework.authentication.TokenAuthentication`: 401 for an
unknown token or an inactive user; request.auth is the Token."""

from time import monotonic

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import signals
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from core import rows

_sql: dict[str, str] = {}
# token key -> (expires (monotonic), row): this process's copy of recently used tokens.
_recent: dict[str, tuple[float, tuple]] = {}
_RECENT_MAX = 10_000


def _cache_seconds() -> float:
    return float(getattr(settings, "ENTREPOT", {}).get("TOKEN_CACHE_SECONDS", 0))


def forget_cached_tokens(**kwargs) -> None:
    _recent.clear()
    transaction.on_commit(_recent.clear)


for _model in (Token, get_user_model()):
    signals.post_save.connect(forget_cached_tokens, sender=_model, dispatch_uid=f"forget-tokens-{_model.__name__}")
    signals.post_delete.connect(forget_cached_tokens, sender=_model, dispatch_uid=f"forget-tokens-d-{_model.__name__}")


def _token_sql() -> str:
    if "token" not in _sql:
        user_model = get_user_model()
        user_pk = user_model._meta.pk.column
        _sql["token"] = (
            f"SELECT {rows.select_list(Token, 't')}, {rows.select_list(user_model, 'u')} "
            f"FROM {Token._meta.db_table} t JOIN {user_model._meta.db_table} u "
            f'ON u."{user_pk}" = t."{Token._meta.get_field("user").column}" WHERE t."key" = %s'
        )
    return _sql["token"]


def _row(key: str) -> tuple | None:
    ttl = _cache_seconds()
    now = monotonic()
    cached = _recent.get(key) if ttl > 0 else None
    if cached is not None and cached[0] > now:
        return cached[1]
    with connection.cursor() as cursor:
        cursor.execute(_token_sql(), [key])
        row = cursor.fetchone()
    if row is None:
        _recent.pop(key, None)
    elif ttl > 0:
        if len(_recent) >= _RECENT_MAX:
            _recent.clear()
        _recent[key] = (now + ttl, row)
    return row


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        if not (key.isascii() and key.isalnum() and len(key) <= Token._meta.get_field("key").max_length):
            raise exceptions.AuthenticationFailed(_("Invalid token."))  # never a key: no query (NUL bytes)
        row = _row(key)
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token, user = rows.instances(row, (Token, ()), (get_user_model(), ()))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token.user = user
        return (user, token)

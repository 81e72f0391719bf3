"""DRF's token authentication, with the token and its user read by one prepared SELECT
(config.rows) instead of a query the ORM compiles on every request. Same answers as
`rest_framework.authentication.TokenAuthentication`: 401 for an unknown token or an
inactive user; request.auth is the Token."""

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from config import rows

_sql: dict[str, str] = {}


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


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        if not (key.isascii() and key.isalnum() and len(key) <= Token._meta.get_field("key").max_length):
            raise exceptions.AuthenticationFailed(_("Invalid token."))  # never a key: no query (NUL bytes)
        with connection.cursor() as cursor:
            cursor.execute(_token_sql(), [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token, user = rows.instances(row, (Token, ()), (get_user_model(), ()))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token.user = user
        return (user, token)

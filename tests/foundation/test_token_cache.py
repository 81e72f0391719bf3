"""API tokens: one prepared query, and a per-process copy kept TOKEN_CACHE_SECONDS."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config import authentication

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def token_cache(monkeypatch):
    """The production setting (2 s), with a clock the test moves."""
    monkeypatch.setitem(settings.ENTREPOT, "TOKEN_CACHE_SECONDS", 2)
    clock = Clock(1000.0)
    monkeypatch.setattr(authentication, "monotonic", clock)
    authentication._recent.clear()
    yield clock
    authentication._recent.clear()


def api_for(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_token_authenticates_its_user_and_a_wrong_one_is_401(member):
    token = Token.objects.create(user=member)
    response = api_for(token.key).get(ME)
    assert response.status_code == 200
    assert response.json()["username"] == member.username
    for bad in ("0" * 40, "not a token", "x" * 500, "abc\u00e9"):
        refused = api_for(bad).get(ME)
        assert refused.status_code == 401, bad
        assert refused["Content-Type"].startswith("application/problem+json")


def test_an_inactive_user_is_refused(member):
    token = Token.objects.create(user=member)
    get_user_model().objects.filter(pk=member.pk).update(is_active=False)
    assert api_for(token.key).get(ME).status_code == 401


def test_a_token_deleted_in_this_process_is_refused_at_once(member, token_cache):
    token = Token.objects.create(user=member)
    client = api_for(token.key)
    assert client.get(ME).status_code == 200
    token.delete()  # logout: the signal clears this process's copy
    assert client.get(ME).status_code == 401


def test_a_change_made_elsewhere_applies_within_the_cache_time(member, token_cache):
    """Another process's change (no signal here: raw SQL) is seen after at most 2 s."""
    token = Token.objects.create(user=member)
    client = api_for(token.key)
    assert client.get(ME).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Token._meta.db_table} WHERE key = %s", [token.key])
    token_cache.now += 1.9
    assert client.get(ME).status_code == 200
    token_cache.now += 0.2
    assert client.get(ME).status_code == 401

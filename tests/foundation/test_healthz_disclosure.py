"""The public /healthz says up or down per component and nothing more: the error text of a
failing check (hosts, ports, database users) and the timing are for signed-in staff."""

import json

import pytest
from django.db.utils import OperationalError

from config import health

pytestmark = pytest.mark.django_db

SECRET_BITS = ["127.0.0.1", "6399", "10.9.8.7", "entrepot_db_user", "Error", "refused", "password"]


class _BrokenConnection:
    def cursor(self):
        raise OperationalError(
            'connection to server at "10.9.8.7", port 5432 failed: '
            'FATAL: password authentication failed for user "entrepot_db_user"'
        )


@pytest.fixture
def everything_down(settings, monkeypatch):
    settings.REDIS_URL = "redis://127.0.0.1:6399/0"  # nothing listens there
    monkeypatch.setattr(health, "connection", _BrokenConnection())


PUBLIC_BODY = {
    "status": "unavailable",
    "down": ["database", "redis", "celery"],
    "checks": {"database": {"ok": False}, "redis": {"ok": False}, "celery": {"ok": False}},
}


def test_the_public_answer_is_up_or_down_per_component_only(client, everything_down):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == PUBLIC_BODY
    text = response.content.decode()
    assert not [bit for bit in SECRET_BITS if bit in text]
    assert response["Cache-Control"] == "no-store" and "Cookie" in response["Vary"]


def test_a_signed_in_non_staff_user_sees_the_public_answer(client, member, regulator, everything_down):
    for user in (member, regulator):
        client.force_login(user)
        assert client.get("/healthz").json() == PUBLIC_BODY


def test_staff_see_why_each_component_is_down(client, staff_user, everything_down, caplog):
    client.force_login(staff_user)
    body = client.get("/healthz").json()
    assert "10.9.8.7" in body["checks"]["database"]["error"]
    assert "6399" in body["checks"]["redis"]["error"]
    assert body["checks"]["celery"]["error"] == "unreachable: Redis is down"
    assert "elapsed_ms" in body
    # The operators' log has the details whoever asked.
    assert "10.9.8.7" in caplog.text and "6399" in caplog.text


def test_a_healthy_database_and_redis_are_reported_up_without_details(client, settings, monkeypatch):
    monkeypatch.setattr(health, "_check_celery", lambda: None)
    body = client.get("/healthz").json()
    assert body == {
        "status": "ok",
        "down": [],
        "checks": {"database": {"ok": True}, "redis": {"ok": True}, "celery": {"ok": True}},
    }
    assert json.dumps(body).count("error") == 0

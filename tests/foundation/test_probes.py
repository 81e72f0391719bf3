"""The Kubernetes probes: /livez (the process answers, no I/O) and /readyz (the database
answers). Neither depends on Redis or Celery, whose outage the pages survive."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.db import OperationalError, connection

REPO = Path(__file__).resolve().parents[2]
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def redis_down(settings):
    settings.REDIS_URL = DEAD_REDIS
    settings.CELERY_BROKER_URL = DEAD_REDIS
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": DEAD_REDIS}}


def test_livez_answers_without_touching_database_or_redis(client, redis_down):
    # No django_db mark: any database access would raise here.
    response = client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "up"}


@pytest.mark.django_db
def test_readyz_is_up_when_the_database_answers_even_with_redis_down(client, redis_down):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "up"}


@pytest.mark.django_db
def test_readyz_is_503_and_says_nothing_more_when_the_database_fails(client):
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("connection refused to db.internal")):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "down"}
    assert b"db.internal" not in response.content


@pytest.mark.parametrize("path", ["/livez", "/readyz"])
def test_probes_refuse_writes(client, path):
    assert client.post(path).status_code == 405


def test_production_serves_the_probes_over_plain_http():
    """The kubelet calls the pod over HTTP: the probes are exempt from the HTTPS redirect,
    the pages are not. The database is unreachable here, so /readyz answers 503 (not 301)."""
    script = (
        "import django, json; django.setup()\n"
        "from django.test import Client\n"
        "c = Client(HTTP_HOST='entrepot.example', raise_request_exception=False)\n"
        "print(json.dumps({p: c.get(p).status_code for p in ['/livez', '/readyz', '/']}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
            "DATABASE_URL": "postgres://entrepot:secret@127.0.0.1:1/entrepot",
            "REDIS_URL": DEAD_REDIS,
            "DJANGO_ALLOWED_HOSTS": "entrepot.example",
            "DJANGO_LOG_LEVEL": "CRITICAL",
        }
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    statuses = json.loads(result.stdout.strip().splitlines()[-1])
    assert statuses == {"/livez": 200, "/readyz": 503, "/": 301}

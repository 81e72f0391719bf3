"""The background machinery end to end: a real worker on real Redis changes the database;
/healthz reports the worker and Redis truthfully; the web keeps working without Redis."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from credit.tasks import clear_expired_sessions_task

pytestmark = pytest.mark.integration


def _session(*, expires_in: timedelta) -> str:
    store = SessionStore()
    store["who"] = "someone"
    store.create()
    Session.objects.filter(session_key=store.session_key).update(expire_date=timezone.now() + expires_in)
    return store.session_key


def test_worker_clears_expired_sessions(transactional_db, celery_worker_process, wait_for):
    expired = _session(expires_in=-timedelta(days=1))
    current = _session(expires_in=timedelta(days=1))

    clear_expired_sessions_task.delay()

    wait_for(lambda: not Session.objects.filter(session_key=expired).exists(), message="the expired session to go")
    assert Session.objects.filter(session_key=current).exists()
    assert "platform.clear_expired_sessions" in celery_worker_process.log()


def test_worker_knows_every_task_the_beat_schedules(celery_worker_process):
    """A beat entry naming a task no worker knows would fail every time it fires."""
    from config.celery import app

    registered = app.control.inspect(destination=[celery_worker_process.hostname], timeout=5).registered()
    names = {name.split(" ")[0] for name in registered[celery_worker_process.hostname]}
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "platform.clear_expired_sessions" in names
    assert scheduled <= names, f"Scheduled but unknown to the worker: {scheduled - names}"


def test_worker_consumes_every_queue(celery_worker_process):
    """The tests' worker stands in for every production worker Deployment at once."""
    from config.celery import QUEUES, app

    active = app.control.inspect(destination=[celery_worker_process.hostname], timeout=5).active_queues()
    assert sorted(queue["name"] for queue in active[celery_worker_process.hostname]) == sorted(QUEUES)


def test_healthz_is_200_with_database_redis_and_worker(transactional_db, celery_worker_process, client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["down"] == []
    assert all(check["ok"] for check in body["checks"].values())


def test_healthz_is_503_naming_redis_when_redis_is_down(db, client, private_redis):
    private_redis.stop()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert "redis" in body["down"]
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


def test_healthz_is_503_naming_celery_without_worker(db, client, private_redis):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["celery"]


def test_healthz_recovers_when_redis_comes_back(
    transactional_db, client, private_redis, celery_worker_factory, wait_for
):
    celery_worker_factory(broker_url=private_redis.url)
    assert client.get("/healthz").status_code == 200
    private_redis.stop()
    assert client.get("/healthz").json()["down"] == ["redis", "celery"]
    private_redis.start()

    def healthy():
        return client.get("/healthz").status_code == 200

    # The worker reconnects to the restarted broker on its own.
    wait_for(healthy, timeout=40, message="the worker to reconnect to Redis")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", 200),
        ("/accounts/login/", 200),
        ("/accounts/signup/", 200),
        ("/registry/", 200),
        ("/registry/?q=trading", 200),
        ("/registry/blacklist/", 200),
        ("/api/docs/", 200),
        ("/api/v1/registry/subjects/?q=trading", 200),
        ("/api/v1/me/", 401),
    ],
)
def test_pages_render_with_redis_down(db, client, private_redis, path, expected):
    private_redis.stop()
    response = client.get(path)
    assert response.status_code == expected


def test_sign_in_and_account_work_with_redis_down(db, client, private_redis, member):
    from tests.factories import PASSWORD

    private_redis.stop()
    response = client.post("/accounts/login/", {"username": member.username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/account/").status_code == 200
    # The throttles count in Redis; without it the API serves rather than fails.
    me = client.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["username"] == member.username

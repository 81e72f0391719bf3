"""platform/compose.yaml, production on one host: one worker per queue, PgBouncer in
transaction pooling for the app, `migrate` straight to PostgreSQL, and an env.example that
wires them so. (No Docker engine is needed: the file is read as YAML.)"""

from pathlib import Path
from urllib.parse import urlsplit

import yaml

from config.celery import QUEUES

PLATFORM = Path(__file__).resolve().parents[2] / "platform"
APP_SERVICES = {"web", "beat", *(f"worker-{queue}" for queue in QUEUES)}


def services() -> dict:
    return yaml.safe_load((PLATFORM / "compose.yaml").read_text())["services"]


def env_example() -> dict:
    lines = (PLATFORM / "env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_one_worker_per_queue_consuming_exactly_that_queue():
    workers = {}
    for name, service in services().items():
        command = service.get("command") or []
        if command[:4] == ["celery", "-A", "config", "worker"]:
            workers[name] = command[command.index("-Q") + 1]
    assert sorted(workers.values()) == sorted(QUEUES)
    assert all(name == f"worker-{queue}" for name, queue in workers.items())


def test_one_beat():
    beats = [
        name for name, s in services().items() if (s.get("command") or [])[:4] == ["celery", "-A", "config", "beat"]
    ]
    assert beats == ["beat"]


def test_pgbouncer_pools_transactions_and_the_app_waits_for_it():
    all_services = services()
    pgbouncer = all_services["pgbouncer"]
    assert pgbouncer["environment"]["POOL_MODE"] == "transaction"
    assert pgbouncer["environment"]["DB_HOST"] == "postgres"
    port = int(pgbouncer["environment"]["LISTEN_PORT"])
    for name in APP_SERVICES:
        depends = all_services[name]["depends_on"]
        assert depends["pgbouncer"]["condition"] == "service_healthy", name
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
    env = env_example()
    url = urlsplit(env["DATABASE_URL"])
    assert (url.hostname, url.port) == ("pgbouncer", port)


def test_migrate_goes_straight_to_postgresql():
    migrate = services()["migrate"]
    assert "pgbouncer" not in migrate["depends_on"]
    script = migrate["command"][-1]
    assert script.startswith('DATABASE_URL="$${DATABASE_DIRECT_URL:?')
    assert script.endswith("exec python manage.py migrate --noinput")
    env = env_example()
    direct, pooled = urlsplit(env["DATABASE_DIRECT_URL"]), urlsplit(env["DATABASE_URL"])
    assert (direct.hostname, direct.port) == ("postgres", 5432)
    assert (direct.username, direct.password, direct.path) == (pooled.username, pooled.password, pooled.path)
    assert (direct.username, direct.password, direct.path[1:]) == (
        env["POSTGRES_USER"],
        env["POSTGRES_PASSWORD"],
        env["POSTGRES_DB"],
    )


def test_the_web_healthcheck_asks_readiness_not_healthz():
    script = services()["web"]["healthcheck"]["test"][-1]
    assert "/readyz" in script
    assert "/healthz" not in script

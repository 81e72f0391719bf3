"""The project as a whole: it imports cleanly from the repo root, its migrations match its
models, and production settings pass Django's deployment checks."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# The suite's PostgreSQL server (the test settings' default). The commands run with it read
# no table: migrations are checked against the models, the schema is built from the code.
DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/entrepot")


def run(args, *, env=None, timeout=120):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    return subprocess.run(  # noqa: S603
        [sys.executable, *args],
        cwd=REPO,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_stdlib_platform_is_not_shadowed_from_the_repo_root():
    result = run(["-c", "import uuid, platform; print(platform.system())"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Linux"
    assert not (REPO / "platform" / "__init__.py").exists()


def test_django_starts_from_the_repo_root():
    result = run(["manage.py", "check"], env={"DATABASE_URL": DATABASE_URL})
    assert result.returncode == 0, result.stdout + result.stderr


def test_migrations_match_the_models():
    result = run(
        ["manage.py", "makemigrations", "--check", "--dry-run"],
        env={"DJANGO_SETTINGS_MODULE": "config.settings.local", "DATABASE_URL": DATABASE_URL},
    )
    assert result.returncode == 0, f"Models and migrations differ:\n{result.stdout}{result.stderr}"
    assert "No changes detected" in result.stdout


def production_env(**overrides):
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DATABASE_URL": "postgres://entrepot:secret@db.internal:5432/entrepot",
        "REDIS_URL": "redis://redis.internal:6379/0",
        "DJANGO_ALLOWED_HOSTS": "entrepot.example",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def test_check_deploy_is_clean_under_production_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"])
def test_production_has_no_defaults_for_secrets_and_services(missing):
    result = run(["manage.py", "check"], env=production_env(**{missing: None}))
    assert result.returncode != 0
    assert missing in result.stderr


def _registered_tasks():
    from config.celery import app

    app.loader.import_default_modules()
    return app, {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_every_task_can_be_sent_with_its_time_limits():
    """A soft limit above the hard one makes apply_async raise, so beat could never send it."""
    app, tasks = _registered_tasks()
    assert "platform.clear_expired_sessions" in tasks
    for name, task in tasks.items():
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft is None or hard is None or soft <= hard, f"{name}: soft {soft} s > hard {hard} s"
        assert hard is not None, f"{name} has no time limit"


def test_beat_schedules_only_tasks_that_exist():
    from django.conf import settings

    _, tasks = _registered_tasks()
    missing = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} - set(tasks)
    assert not missing, f"Beat schedules tasks no worker knows: {missing}"


def test_api_schema_generates_without_warnings_and_validates(tmp_path):
    result = run(
        ["manage.py", "spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml")],
        env={"DATABASE_URL": DATABASE_URL},
    )
    assert result.returncode == 0, result.stderr
    assert "/api/v1/me/" in (tmp_path / "schema.yaml").read_text()

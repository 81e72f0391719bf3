"""Celery queues: every task lands on a declared queue, the heavy kinds of work on their own,
and every worker that must do everything (the local Procfile, the integration tests' worker)
consumes all of them."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from config.celery import QUEUES, app

REPO = Path(__file__).resolve().parents[2]

INTENDED = {
    "grades": {
        "credit.recompute_subject",
        "credit.flush_recompute_queue",
        "credit.start_full_recompute",
        "credit.recompute_chunk",
    },
    "webhooks": {"payments.deliver_webhook", "payments.sweep_webhook_deliveries"},
    "compliance": {"payments.run_compliance_check", "payments.run_daily_compliance_checks"},
}


def registered_tasks() -> set[str]:
    app.loader.import_default_modules()
    return {name for name in app.tasks if not name.startswith("celery.")}


def queue_of(name: str) -> str:
    """The queue a message for task `name` is published to (the router beat and apply_async use)."""
    options = app.amqp.router.route({}, name)
    return options["queue"].name


def test_the_queues_are_declared_once_with_default_first():
    assert QUEUES[0] == "default"
    assert len(set(QUEUES)) == len(QUEUES)
    assert set(QUEUES) == {"default", "grades", "webhooks", "compliance"}
    assert settings.CELERY_TASK_DEFAULT_QUEUE == "default"
    # Declared, so a worker started without -Q consumes every queue and a purge empties all.
    assert set(app.amqp.queues) == set(QUEUES)


def test_every_registered_task_routes_to_a_declared_queue():
    tasks = registered_tasks()
    assert len(tasks) >= 19
    for name in tasks:
        assert queue_of(name) in QUEUES, name


def test_routes_name_only_tasks_that_exist_and_declared_queues():
    """A typo in CELERY_TASK_ROUTES would silently send that task to "default"."""
    tasks = registered_tasks()
    for name, route in settings.CELERY_TASK_ROUTES.items():
        assert name in tasks, f"route for unknown task {name}"
        assert route["queue"] in QUEUES


@pytest.mark.parametrize("queue", sorted(INTENDED))
def test_heavy_work_goes_to_its_own_queue(queue):
    on_queue = {name for name in registered_tasks() if queue_of(name) == queue}
    assert on_queue == INTENDED[queue]


def test_everything_else_goes_to_default():
    special = set().union(*INTENDED.values())
    rest = registered_tasks() - special
    assert "warehouses.expire_holds" in rest
    assert "payments.process_domain_events" in rest
    assert all(queue_of(name) == "default" for name in rest)


def test_beat_entries_route_like_direct_calls():
    """Beat sends by name; the router is the same, so the nightly full run goes to grades."""
    by_task = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert queue_of("credit.start_full_recompute") == "grades"
    assert queue_of("payments.run_daily_compliance_checks") == "compliance"
    assert queue_of("payments.sweep_webhook_deliveries") == "webhooks"
    assert {"credit.start_full_recompute", "payments.sweep_webhook_deliveries"} <= by_task


def _worker_queues(command: str) -> list[str]:
    match = re.search(r"(?:-Q|--queues)[ =](\S+)", command)
    assert match, f"no -Q in {command!r}"
    return match.group(1).split(",")


def test_the_local_procfile_worker_consumes_every_queue():
    lines = (REPO / "platform" / "Procfile").read_text().splitlines()
    workers = [line.split(":", 1)[1] for line in lines if re.match(r"^\w+:.*celery .* worker", line)]
    assert len(workers) == 1, "the local stack runs one worker that does everything"
    assert _worker_queues(workers[0]) == list(QUEUES)

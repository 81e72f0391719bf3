"""Event-to-grade latency: how long after a credit event commits its effect is visible in
the public API.

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/event_to_grade.py [N]

1. Creates (if needed) and migrates `entrepot_bench_latency` (override with
   BENCH_LATENCY_DATABASE) and starts ONE real Celery worker (`celery -A config worker
   --pool solo`) on it, with the broker at REDIS_URL (default redis://127.0.0.1:6379/12).
2. Records N events (default 50) through `record_credit_event` for a few subjects with
   some history, one at a time, and after each polls GET /api/v1/registry/subjects/{id}/
   (the Django test client, in process) every 10 ms until the profile shows the new score.
   The path it measures: commit -> on_commit enqueue (1 s debounce countdown) -> worker
   recompute -> snapshot -> API.
3. Prints p50 / p95 / max. Target p95 <= 2 s. A benchmark measures; it is not a test.
"""

import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-insecure-key")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
BENCH_DB = os.environ.get("BENCH_LATENCY_DATABASE", "entrepot_bench_latency")
_base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/entrepot")
SERVER_URL = _base_url.rsplit("/", 1)[0]
os.environ["DATABASE_URL"] = f"{SERVER_URL}/{BENCH_DB}"

import django  # noqa: E402

KINDS = ["paid_on_time", "paid_late", "lease_completed", "refund_issued", "positive_rating", "chargeback"]


def ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def start_worker() -> subprocess.Popen:
    from config.celery import QUEUES

    log = open("/tmp/entrepot-bench-latency-worker.log", "w")  # noqa: SIM115
    worker = subprocess.Popen(  # noqa: S603
        [
            str(ROOT / ".venv" / "bin" / "celery"),
            "-A",
            "config",
            "worker",
            "-Q",
            ",".join(QUEUES),
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--hostname",
            f"bench-latency-{os.getpid()}@localhost",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env={**os.environ, "CELERY_BROKER_URL": os.environ["REDIS_URL"]},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    from config.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if app.control.ping(timeout=0.5):
                return worker
        except Exception:  # noqa: BLE001 - broker not ready yet
            pass
        time.sleep(0.3)
    worker.terminate()
    raise SystemExit("the worker did not answer a ping within 60 s")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    ensure_database()
    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from config.celery import app
    from credit.models import Subject
    from credit.services.events import record_credit_event
    from credit.services.ratings import ensure_scoring_catalogue, recompute_subject

    call_command("migrate", verbosity=0, skip_checks=True)
    ensure_scoring_catalogue()
    with app.connection_for_write() as connection:
        app.control.purge(connection=connection)

    now = datetime.now(UTC)
    stamp = int(time.time())
    subjects = []
    for index in range(5):
        subject = Subject.objects.create(
            country="CN", registration_number=f"LAT{stamp}{index:02d}", legal_name=f"Latency Bench {stamp}-{index}"
        )
        for days in (400, 300, 200):
            record_credit_event(
                actor=None,
                subject_id=subject.pk,
                kind="lease_completed",
                source="platform",
                occurred_at=now - timedelta(days=days),
            )
        recompute_subject(subject_id=subject.pk)
        subjects.append(subject)

    worker = start_worker()
    client = Client()
    latencies = []
    try:
        time.sleep(3)  # let the seeding tasks drain
        for index in range(count):
            subject = subjects[index % len(subjects)]
            url = f"/api/v1/registry/subjects/{subject.pk}/"
            before = client.get(url).json()["score"]
            started = time.monotonic()
            record_credit_event(
                actor=None,
                subject_id=subject.pk,
                kind=KINDS[index % len(KINDS)],
                source="payment_institution",
                occurred_at=datetime.now(UTC) - timedelta(minutes=5),
                magnitude=3,
            )
            while True:
                body = client.get(url).json()
                if body["score"] != before:
                    break
                if time.monotonic() - started > 30:
                    raise SystemExit(f"event {index}: the score did not change within 30 s")
                time.sleep(0.01)
            latencies.append(time.monotonic() - started)
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(timeout=15)

    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)]
    print(f"events {len(latencies)}, one worker (solo pool), debounce 1 s")
    print(f"event -> grade visible in the API: p50 {p50:.2f} s, p95 {p95:.2f} s, max {latencies[-1]:.2f} s")
    print(f"target p95 <= 2 s: {'met' if p95 <= 2 else 'MISSED'}")


if __name__ == "__main__":
    main()

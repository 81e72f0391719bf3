"""Worker-kill recovery: how long a full grade recompute stalls when a worker dies in a chunk.

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/worker_kill_recovery.py [SCALE] [--chunk-size N]

1. A database of its own (`entrepot_bench_workerkill`, or BENCH_DATABASE) on the PostgreSQL
   server of DATABASE_URL, with SCALE x 1,000,000 subjects and SCALE x 10,000,000 credit
   events (default SCALE 0.1), loaded with COPY once and reused; and a Redis database of
   its own (BENCH_REDIS_URL, default redis://127.0.0.1:6379/14), purged.
2. Production's layout for grades: two real workers (`celery -A config worker -Q grades
   --pool solo`) and real `celery beat`, whose schedule sends the recompute sweep
   (`credit.flush_recompute_queue`) every 30 s.
3. Baseline: a full recompute (every subject rated afresh) on both workers, timed.
4. The kill: the same recompute again. The moment a worker starts the last chunk nobody
   had started, it is killed with SIGKILL (its whole process group), as the kernel's OOM
   killer or a node failure would; the other worker finishes its chunk and then is idle.
   The chunk's transaction dies with the connection; its task message stays
   unacknowledged in Redis until the visibility timeout (an hour).
5. Prints: kill -> the run's chunks re-dispatched (the audit's `recompute_run.resumed`),
   kill -> the run completed, and the baseline. Target: completed within 60 s of the kill.

A benchmark measures and reports; it is not a test (tests/integration/test_worker_kill.py
is the test).
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-insecure-key")
BENCH_DB = os.environ.get("BENCH_DATABASE", "entrepot_bench_workerkill")
SERVER_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/entrepot").rsplit("/", 1)[0]
DATABASE_URL = f"{SERVER_URL}/{BENCH_DB}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.update({"DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL, "CELERY_BROKER_URL": REDIS_URL})
CELERY = ROOT / ".venv" / "bin" / "celery"

import django  # noqa: E402

SEED = 20261205
KINDS = [  # kind, relative frequency
    ("lease_completed", 22),
    ("paid_on_time", 30),
    ("positive_rating", 12),
    ("paid_late", 8),
    ("negative_rating", 5),
    ("refund_issued", 6),
    ("chargeback", 2),
    ("dispute_lost", 2),
    ("qualification_verified", 3),
    ("regulatory_penalty", 0.4),
]


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
            log(f"created database {BENCH_DB}")


def load(subjects: int, events: int) -> None:
    """COPY the subjects and their events (kinds from the catalogue, spread over three years)."""
    from django.db import connection

    from credit.models import CreditEvent, Subject

    rng = random.Random(SEED)
    now = datetime.now(UTC)
    subject_table, event_table = Subject._meta.db_table, CreditEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {subject_table} RESTART IDENTITY CASCADE")
    raw = connection.connection
    raw.execute("SET session_replication_role = replica")  # rows valid by construction: no FK triggers
    stamp = now.isoformat()
    columns = (
        "id, country, registration_number, legal_name, is_merchant, is_warehouse_operator, "
        "is_payment_institution, is_logistics_provider, mode_b2b, mode_b2c, mode_b2b2c, mode_import, "
        "mode_export, trading_name, city, address, website, description, grade, is_blacklisted, "
        "created_at, updated_at"
    )
    with raw.cursor() as cur, cur.copy(f"COPY {subject_table} ({columns}) FROM STDIN") as copy:
        for sid in range(1, subjects + 1):
            copy.write(
                f"{sid}\tCN\tKILL{sid:09d}\tKill Bench Trading {sid}\tt\tf\tf\tf\tt\tf\tf\tf\tt\t\t\t\t\t\t"
                f"M\tf\t{stamp}\t{stamp}\n"
            )
    codes, weights = zip(*KINDS, strict=True)
    origin, span = now - timedelta(days=3 * 365), 3 * 365 * 86400
    columns = "subject_id, kind_id, source, occurred_at, recorded_at, magnitude, evidence_reference, "
    columns += "source_reference, reason"
    with raw.cursor() as cur, cur.copy(f"COPY {event_table} ({columns}) FROM STDIN") as copy:
        kinds = rng.choices(codes, weights=weights, k=events)
        for index, kind in enumerate(kinds):
            when = (origin + timedelta(seconds=span * index / events)).isoformat()
            copy.write(f"{rng.randint(1, subjects)}\t{kind}\tplatform\t{when}\t{when}\t1\t\t\t\n")
    raw.execute("SET session_replication_role = DEFAULT")
    raw.commit()
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {subject_table}")
        cursor.execute(f"ANALYZE {event_table}")
    log(f"loaded {subjects:,} subjects and {events:,} events")


def reset_ratings() -> None:
    """Every subject unrated again, no run on record: each recompute is a first run."""
    from django.apps import apps
    from django.db import connection

    from credit.models import Subject

    names = {"Rating", "RecomputeChunk", "RecomputeRun", "RecomputeRequest", "DomainEvent", "AuditEntry"}
    tables = [m._meta.db_table for m in apps.get_models() if m.__name__ in names]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        cursor.execute(f"UPDATE {Subject._meta.db_table} SET score = NULL, grade = 'M', rated_at = NULL")


class Process:
    def __init__(self, name: str, args: list[str]):
        self.name = name
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        env = {**os.environ, "PGAPPNAME": f"bench-{name}", "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(  # noqa: S603
            [str(CELERY), "-A", "config", *args],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def start_worker(name: str) -> Process:
    from config.celery import QUEUES, app

    queues = "grades" if "grades" in QUEUES else ",".join(QUEUES)
    hostname = f"bench-{name}@localhost"
    worker = Process(
        name,
        ["worker", "-Q", queues, "--pool", "solo", "--hostname", hostname, "--without-gossip", "--without-mingle"],
    )
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[hostname], timeout=0.5):
        if time.monotonic() > deadline or worker.process.poll() is not None:
            raise RuntimeError(f"worker {name} did not start; see {worker.log.name}")
    return worker


def holders() -> dict[str, set[int]]:
    """application_name -> the lock buckets it holds exclusively now (the chunks it is in)."""
    from django.db import connection

    from credit.services.ratings.locks import RATING_LOCK

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.application_name, l.objid::bigint FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.mode = 'ExclusiveLock' AND l.objsubid = 2 "
            "AND l.classid::bigint = %s",
            [RATING_LOCK],
        )
        found: dict[str, set[int]] = {}
        for name, bucket in cursor.fetchall():
            found.setdefault(name, set()).add(bucket)
        return found


def run_recompute(*, chunk_size: int, workers: dict[str, Process] | None, timeout: float) -> dict:
    """Start a run on the workers and follow it; with `workers`, kill the worker that
    starts the last chunk nobody had started. Returns the timings."""
    from django.db import close_old_connections

    from core.models import AuditEntry
    from credit.models import RecomputeChunk, RecomputeRun
    from credit.services.ratings import LOCK_BUCKET, start_full_recompute

    reset_ratings()
    started = time.monotonic()
    run = start_full_recompute(chunk_size=chunk_size)  # dispatched on commit
    result = {"chunks": run.total_chunks, "subjects": run.total_subjects}
    killed_at, seen = None, {}
    while time.monotonic() - started < timeout:
        close_old_connections()
        run.refresh_from_db()
        if run.status != RecomputeRun.Status.RUNNING:
            break
        if workers is not None and killed_at is None:
            # The moment a worker starts the last chunk nobody has started yet, kill it: the
            # other worker finishes what it is doing and then has nothing left to do.
            firsts = RecomputeChunk.objects.filter(run=run, done_at__isnull=True).values_list("first_subject_id")
            undone = {first // LOCK_BUCKET for (first,) in firsts}
            held = holders()
            started_now = {
                name: (buckets & undone) - seen.get(name, set())
                for name, buckets in held.items()
                if name.startswith("bench-") and name[6:] in workers
            }
            victim = next((name[6:] for name, new in started_now.items() if new), None)
            if undone and victim and not undone - set().union(*held.values()):
                workers[victim].kill()
                killed_at = time.monotonic()
                result["killed"] = victim
                log(f"killed worker {victim} as it started the last chunk, {killed_at - started:.1f} s into the run")
            seen = held
        time.sleep(0.01)
    finished = time.monotonic()
    result["status"] = run.status
    result["elapsed"] = finished - started
    if workers is not None:
        if killed_at is None:
            result["killed"] = None
            return result
        result["kill_to_completed"] = finished - killed_at
        resumed = AuditEntry.objects.filter(action="recompute_run.resumed", target_id=str(run.pk)).order_by("at")
        first = resumed.values_list("at", flat=True).first()
        if first is not None:
            # Wall-clock stamps from the database and this process: same machine, same clock.
            kill_wall = datetime.now(UTC) - timedelta(seconds=time.monotonic() - killed_at)
            result["kill_to_resumed"] = (first - kill_wall).total_seconds()
        result["resumes"] = resumed.count()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scale", nargs="?", type=float, default=0.1)
    parser.add_argument("--chunk-size", type=int, default=None, help="default: a tenth of the subjects")
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    subjects, events = max(100, int(1_000_000 * args.scale)), max(1000, int(10_000_000 * args.scale))
    chunk_size = args.chunk_size or max(10, subjects // 10)

    ensure_database()
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from config.celery import app
    from credit.models import Subject
    from credit.services.ratings import STALLED_CHUNK_AFTER

    call_command("migrate", verbosity=0, skip_checks=True)
    if args.reload or Subject.objects.count() != subjects:
        load(subjects, events)
    else:
        log(f"reusing {subjects:,} subjects in {BENCH_DB}")
    app.control.purge()
    connection.close()

    schedule = tempfile.mkdtemp(prefix="bench-beat-")
    processes = {name: start_worker(name) for name in ("a", "b")}
    beat = Process("beat", ["beat", "-s", f"{schedule}/schedule", "--pidfile", f"{schedule}/beat.pid"])
    try:
        log(f"baseline: {subjects:,} subjects in chunks of {chunk_size:,} on 2 workers")
        baseline = run_recompute(chunk_size=chunk_size, workers=None, timeout=args.timeout)
        log(f"baseline: {baseline['status']} in {baseline['elapsed']:.1f} s ({baseline['chunks']} chunks)")
        log("again, killing the worker inside the last chunk")
        killed = run_recompute(chunk_size=chunk_size, workers=processes, timeout=args.timeout)
    finally:
        beat.kill(signal.SIGTERM)
        for process in processes.values():
            process.kill(signal.SIGTERM)
        app.control.purge()
    print()
    print(f"subjects {subjects:,}, events {events:,}, chunks of {chunk_size:,}, 2 workers (solo pool), beat every 30 s")
    print(f"stall window (STALLED_CHUNK_AFTER)        {STALLED_CHUNK_AFTER.total_seconds():6.1f} s")
    print(f"baseline run, no kill                     {baseline['elapsed']:6.1f} s ({baseline['status']})")
    if not killed.get("killed"):
        print("the kill did not happen: the last chunk finished before it was seen; use a larger --chunk-size")
        return
    print(f"run with a worker killed in its last chunk {killed['elapsed']:6.1f} s ({killed['status']})")
    if "kill_to_resumed" in killed:
        resumed, times = killed["kill_to_resumed"], killed["resumes"]
        print(f"kill -> lost chunk re-dispatched          {resumed:6.1f} s ({times} re-dispatch(es))")
    print(f"kill -> run completed (recovery)          {killed['kill_to_completed']:6.1f} s")
    met = killed["status"] == "completed" and killed["kill_to_completed"] <= 60
    print(f"target (completed within 60 s of the kill): {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()

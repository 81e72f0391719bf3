"""Full grade recompute benchmark.

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/credit_recompute.py [SCALE] [--workers 2]

1. Creates (if needed) and migrates a dedicated database, `entrepot_bench` (override with
   BENCH_DATABASE), on the PostgreSQL server of DATABASE_URL.
2. Loads SCALE x 1,000,000 subjects and SCALE x 10,000,000 credit events with COPY. Events
   are appended in time order over three years (so one subject's events are spread over
   the whole table, as in production), with kinds drawn from the catalogue (mostly
   positive), magnitudes for paid_late, 0.1% of them reversed and 0.5% of subjects
   blacklisted. The data is reused when the counts match (pass --reload to regenerate).
3. Times (a) a bare SQL aggregate over the same events table:
       SELECT subject_id, kind_id, count(*), sum(magnitude * 0.5^(age_days/365)) ... GROUP BY 1, 2
   and (b) the full recompute through the real code path: `start_full_recompute` makes the
   chunks, then --workers processes (like Celery workers) each call
   `process_recompute_chunk` until no chunk is left (SKIP LOCKED hands each chunk to one).
   (b) runs twice: the first run over unrated subjects (every subject gets its first
   Rating and snapshot), then a "next night" run one day later (only material changes
   are written), which is the nightly steady state.
4. Prints both times and the ratios. Target: full recompute <= 60 s and <= 3x the bare
   aggregate. A benchmark measures and reports; it is not a test.
"""

import argparse
import multiprocessing
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-insecure-key")
BENCH_DB = os.environ.get("BENCH_DATABASE", "entrepot_bench")
_base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/entrepot")
SERVER_URL = _base_url.rsplit("/", 1)[0]
os.environ["DATABASE_URL"] = f"{SERVER_URL}/{BENCH_DB}"

import django  # noqa: E402

SEED = 20261122
# kind, relative frequency, magnitude choices
KIND_MIX = [
    ("lease_completed", 22, ["1"]),
    ("paid_on_time", 30, ["1"]),
    ("positive_rating", 12, ["1"]),
    ("paid_late", 8, ["1", "2", "3", "5", "10", "45"]),
    ("negative_rating", 5, ["1"]),
    ("late_cancellation", 4, ["1"]),
    ("refund_issued", 6, ["1", "2"]),
    ("chargeback", 2, ["1"]),
    ("dispute_lost", 2, ["1"]),
    ("complaint_upheld", 2, ["1"]),
    ("lease_defaulted", 1, ["1"]),
    ("qualification_verified", 3, ["1"]),
    ("license_verified", 2, ["1"]),
    ("regulatory_penalty", 0.4, ["1"]),
    ("customs_violation", 0.4, ["1"]),
    ("confirmed_fraud", 0.2, ["1"]),
]


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
            log(f"created database {BENCH_DB}")


def load(subjects: int, events: int) -> None:
    from django.db import connection

    rng = random.Random(SEED)
    now = datetime.now(UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE core_domainevent, credit_rating, credit_recomputechunk, credit_recomputerun, "
            "credit_recomputerequest, credit_creditevent, core_auditentry, credit_subject RESTART IDENTITY CASCADE"
        )
    raw = connection.connection  # psycopg connection
    # Bulk load: secondary indexes are dropped and rebuilt afterwards, and the rows (valid by
    # construction) skip the per-row foreign-key triggers.
    dropped = drop_secondary_indexes(raw, ["credit_subject", "credit_creditevent"])
    raw.execute("SET session_replication_role = replica")
    started = time.monotonic()
    columns = (
        "id, country, registration_number, legal_name, is_merchant, is_warehouse_operator, "
        "is_payment_institution, is_logistics_provider, mode_b2b, mode_b2c, mode_b2b2c, mode_import, "
        "mode_export, trading_name, city, address, website, description, grade, is_blacklisted, "
        "created_at, updated_at"
    )
    stamp = now.isoformat()
    with raw.cursor() as cur, cur.copy(f"COPY credit_subject ({columns}) FROM STDIN") as copy:
        batch = []
        for sid in range(1, subjects + 1):
            blacklisted = "t" if rng.random() < 0.005 else "f"
            batch.append(
                f"{sid}\tCN\tBENCH{sid:09d}\tBench Trading Company {sid}\tt\tf\tf\tf\tt\tf\tf\tf\tt\t\t\t\t\t\t"
                f"M\t{blacklisted}\t{stamp}\t{stamp}\n"
            )
            if len(batch) >= 50_000:
                copy.write("".join(batch))
                batch.clear()
        copy.write("".join(batch))
    raw.commit()
    log(f"loaded {subjects:,} subjects in {time.monotonic() - started:.1f} s")

    started = time.monotonic()
    codes, weights, magnitudes = zip(*KIND_MIX, strict=True)
    span = timedelta(days=3 * 365).total_seconds()
    origin = now - timedelta(days=3 * 365)
    ecols = (
        "subject_id, kind_id, source, occurred_at, recorded_at, magnitude, evidence_reference, source_reference, reason"
    )
    days = [(origin + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(3 * 365 + 2)]
    step = span / events
    with raw.cursor() as cur, cur.copy(f"COPY credit_creditevent ({ecols}) FROM STDIN") as copy:
        batch = []
        kinds_drawn = rng.choices(range(len(codes)), weights=weights, k=min(events, 1_000_000))
        origin_sod = origin.hour * 3600 + origin.minute * 60 + origin.second
        for index in range(events):
            k = kinds_drawn[index % len(kinds_drawn)]
            day, sod = divmod(origin_sod + int(step * index), 86400)
            hour, rest = divmod(sod, 3600)
            when = f"{days[day]} {hour:02d}:{rest // 60:02d}:{rest % 60:02d}+00"
            subject = rng.randint(1, subjects)
            magnitude = magnitudes[k][0] if len(magnitudes[k]) == 1 else rng.choice(magnitudes[k])
            batch.append(f"{subject}\t{codes[k]}\tplatform\t{when}\t{when}\t{magnitude}\t\t\t\n")
            if len(batch) >= 100_000:
                copy.write("".join(batch))
                batch.clear()
                if index % 1_000_000 < 100_000:
                    log(f"  {index + 1:,} events")
        copy.write("".join(batch))
    raw.commit()
    log(f"loaded {events:,} events in {time.monotonic() - started:.1f} s")
    raw.execute("SET session_replication_role = DEFAULT")
    started = time.monotonic()
    raw.execute("SET maintenance_work_mem = '1GB'")
    for statement in dropped:
        raw.execute(statement)
    raw.commit()
    log(f"rebuilt {len(dropped)} indexes in {time.monotonic() - started:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO credit_creditevent (subject_id, kind_id, source, occurred_at, recorded_at, magnitude,
                                            evidence_reference, source_reference, reason, reverses_id)
            SELECT subject_id, kind_id, source, %s, %s, magnitude, '', '', 'Bench: recorded by mistake', id
            FROM credit_creditevent WHERE id %% 1000 = 0
            """,
            [now, now],
        )
    raw.commit()
    vacuum()


def drop_secondary_indexes(raw, tables: list[str]) -> list[str]:
    """Drop the indexes that back no constraint; return the statements that rebuild them."""
    rows = raw.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        """,
        [tables],
    ).fetchall()
    for name, _ in rows:
        raw.execute(f"DROP INDEX {name}")
    raw.commit()
    return [definition for _, definition in rows]


def vacuum() -> None:
    import psycopg

    started = time.monotonic()
    with psycopg.connect(f"{SERVER_URL}/{BENCH_DB}", autocommit=True) as conn:
        for table in ("credit_subject", "credit_creditevent", "credit_rating"):
            conn.execute(f"VACUUM (ANALYZE) {table}")
    log(f"vacuum analyze in {time.monotonic() - started:.1f} s")


def counts() -> tuple[int, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM credit_subject")
        subjects = cursor.fetchone()[0]
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'credit_creditevent'")
        events = cursor.fetchone()[0]
    return subjects, events


def bare_aggregate() -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        started = time.monotonic()
        cursor.execute(
            """
            SELECT count(*), sum(n) FROM (
                SELECT subject_id, kind_id, count(*) AS n,
                       sum(magnitude::float8 * power(0.5::float8,
                           date_part('epoch', now() - occurred_at) / 86400.0 / 365.0)) AS decayed
                FROM credit_creditevent GROUP BY subject_id, kind_id
            ) t
            """
        )
        groups, rows = cursor.fetchone()
        elapsed = time.monotonic() - started
    log(f"bare aggregate: {groups:,} (subject, kind) groups over {rows:,} events")
    return elapsed


def _worker(run_id: int, at_iso: str | None) -> tuple[int, float]:
    django.setup()
    from credit.models import RecomputeChunk
    from credit.services.ratings import process_recompute_chunk

    at = datetime.fromisoformat(at_iso) if at_iso else None
    done, busy = 0, 0.0  # busy: seconds inside process_recompute_chunk (reported, not a target)
    while True:
        pending = list(
            RecomputeChunk.objects.filter(run_id=run_id, done_at__isnull=True)
            .order_by("id")
            .values_list("id", flat=True)
        )
        if not pending:
            return done, busy
        progressed = False
        for chunk_id in pending:
            began = time.monotonic()
            if process_recompute_chunk(chunk_id=chunk_id, at=at):
                busy += time.monotonic() - began
                done += 1
                progressed = True
        if not progressed:
            time.sleep(0.05)


def full_recompute(*, workers: int, chunk_size: int, at: datetime | None) -> tuple[float, dict]:
    from django.db import connection

    from credit.models import Rating
    from credit.selectors.ratings import recompute_run_progress
    from credit.services.ratings import start_full_recompute

    ratings_before = Rating.objects.count()
    started = time.monotonic()
    run = start_full_recompute(chunk_size=chunk_size, dispatch=False)
    connection.close()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        done = pool.starmap(_worker, [(run.pk, at.isoformat() if at else None)] * workers)
    elapsed = time.monotonic() - started
    progress = recompute_run_progress(run_id=run.pk)
    progress["ratings_written"] = Rating.objects.count() - ratings_before
    progress["chunks_per_worker"] = [chunks for chunks, _ in done]
    progress["busy_per_worker"] = [round(busy, 2) for _, busy in done]
    return elapsed, progress


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scale", nargs="?", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--reload", action="store_true")
    parser.add_argument(
        "--nightly-only",
        action="store_true",
        help="Reuse the ratings of an earlier run and time only the next-night run",
    )
    args = parser.parse_args()
    subjects = max(10, int(1_000_000 * args.scale))
    events = max(100, int(10_000_000 * args.scale))

    ensure_database()
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from credit.services.ratings import DEFAULT_CHUNK_SIZE

    call_command("migrate", verbosity=0, skip_checks=True)
    have_subjects, have_events = counts()
    if args.reload or have_subjects != subjects or abs(have_events - events) > events * 0.05:
        log(f"generating {subjects:,} subjects and {events:,} events (scale {args.scale})")
        load(subjects, events)
    elif args.nightly_only:
        log(f"reusing {have_subjects:,} subjects, ~{have_events:,} events and their ratings in {BENCH_DB}")
        with connection.cursor() as cursor:
            cursor.execute("UPDATE credit_recomputerun SET status = 'failed' WHERE status = 'running'")
    else:
        log(f"reusing {have_subjects:,} subjects and ~{have_events:,} events in {BENCH_DB}")
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE credit_rating, core_domainevent, credit_recomputechunk, credit_recomputerun")
            cursor.execute("UPDATE credit_subject SET score = NULL, grade = 'M', rated_at = NULL")
        vacuum()
    chunk_size = args.chunk_size or min(DEFAULT_CHUNK_SIZE, max(1000, subjects // (4 * args.workers)))

    bare_aggregate()  # warm the cache: both measurements read a warm table
    bare = bare_aggregate()
    log(f"(a) bare aggregate: {bare:.2f} s")

    first = None
    if not args.nightly_only:
        first, first_progress = full_recompute(workers=args.workers, chunk_size=chunk_size, at=None)
        log(
            f"(b1) full recompute, first run: {first:.2f} s, {first_progress['done_subjects']:,} subjects in "
            f"{first_progress['total_chunks']} chunks of {chunk_size:,} on {args.workers} workers, "
            f"{first_progress['ratings_written']:,} ratings written, status {first_progress['status']}"
        )
        vacuum()
    from credit.models import Rating

    last = Rating.objects.order_by("-computed_at").values_list("computed_at", flat=True).first()
    next_night = max(datetime.now(UTC), last or datetime.now(UTC)) + timedelta(days=1)
    nightly, nightly_progress = full_recompute(workers=args.workers, chunk_size=chunk_size, at=next_night)
    log(
        f"(b2) full recompute, next night: {nightly:.2f} s, {nightly_progress['ratings_written']:,} ratings "
        f"written (material changes only), status {nightly_progress['status']}; chunks per worker "
        f"{nightly_progress['chunks_per_worker']}, seconds in chunks per worker {nightly_progress['busy_per_worker']}"
    )
    print()
    print(f"subjects {subjects:,}, events ~{events:,}, workers {args.workers}, chunk size {chunk_size:,}")
    print(f"bare aggregate                 {bare:8.2f} s")
    if first is not None:
        print(f"full recompute (first run)     {first:8.2f} s   ratio {first / bare:5.2f}x")
    print(f"full recompute (next night)    {nightly:8.2f} s   ratio {nightly / bare:5.2f}x")
    target = "met" if nightly <= 60 and nightly <= 3 * bare else "MISSED"
    print(f"target (<= 60 s and <= 3x the aggregate, nightly run): {target}")


if __name__ == "__main__":
    main()

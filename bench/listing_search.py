"""Warehouse listing search benchmark: availability-aware search over 100,000 listings
with 365-day capacity calendars (36.5 million ledger rows).

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/listing_search.py [LISTINGS]
        [--days 365] [--queries 200] [--reload]

1. Creates (if needed) and migrates a dedicated database, `entrepot_bench_listings`
   (override with BENCH_LISTINGS_DATABASE), on the PostgreSQL server of DATABASE_URL.
2. Loads, with set-based SQL: 2,000 operators (grades A/B/M/C/D), 20,000 warehouses in 30
   countries, LISTINGS published listings (default 100,000) each offered on every day of
   [today, today + DAYS), and their per-day ledger (LISTINGS x DAYS rows). About 35% of
   the listings carry 1 to 3 reservations of 7 to 90 days (some fully booked): computed
   first into a temporary table, so each ledger row is written once with its `reserved`
   (no second pass over millions of rows). The ledger indexes are dropped for the load and
   rebuilt after it, then VACUUM ANALYZE (autovacuum may be off). The data is reused on
   the next run when the counts match (--reload regenerates it).
3. Reads the search's working set once (pg_prewarm, about 130 MB), then times two query
   shapes, each through the API (`GET /api/v1/warehouses/listings/`,
   Django test client: parsing, page, serialisation with the quote, the operator grade
   and the warehouse), then the same query through the real selector alone (the first
   page of 25 plus one row to know whether there is a next page; no total count). Prints
   the load average before each shape:
   a. country + a 30-day window starting at a random day + units (5..200), by price;
   b. only the 30-day window and units, by price.
4. Prints p50 / p95 / p99 / max per shape.

Targets (issue 5): (a) p95 <= 50 ms, (b) p95 <= 150 ms. A benchmark measures and
reports; it is not a test.
"""

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-insecure-key")
BENCH_DB = os.environ.get("BENCH_LISTINGS_DATABASE", "entrepot_bench_listings")
_base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/entrepot")
os.environ["DATABASE_URL"] = _base_url.rsplit("/", 1)[0] + "/" + BENCH_DB

import django  # noqa: E402

SEED = 20261122
COUNTRIES = [
    "US",
    "DE",
    "NL",
    "GB",
    "FR",
    "PL",
    "ES",
    "IT",
    "AE",
    "SA",
    "JP",
    "KR",
    "SG",
    "MY",
    "TH",
    "VN",
    "AU",
    "NZ",
    "BR",
    "MX",
    "CA",
    "CL",
    "TR",
    "IN",
    "ID",
    "PH",
    "ZA",
    "NG",
    "KE",
    "EG",
]


def ensure_database() -> None:
    import psycopg

    admin_url = _base_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def other_defaults(model, given: str) -> tuple[str, str, list]:
    """Columns of `model` not in `given` that are NOT NULL without a database default
    (fields added by later migrations), with their model default: (", col...", ", %s...",
    params), so the set-based INSERTs keep working as the schema grows."""
    from django.db import connection
    from django.db.models import NOT_PROVIDED

    named = {c.strip() for c in given.split(",")}
    with connection.cursor() as c:
        c.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND is_nullable = 'NO' "
            "AND column_default IS NULL",
            [model._meta.db_table],
        )
        required = {row[0] for row in c.fetchall()} - named
    cols, params = [], []
    for f in model._meta.concrete_fields:
        if f.column in required and f.default is not NOT_PROVIDED:
            cols.append(f.column)
            params.append(f.get_db_prep_save(f.get_default(), connection))
    return "".join(f", {c}" for c in cols), "".join(", %s" for _ in cols), params


def load(listings: int, days: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from credit.models import Subject
    from warehouses.models import CapacityDay, Listing, Warehouse

    today = timezone.localdate()
    day_table = CapacityDay._meta.db_table
    t0 = time.perf_counter()
    with connection.cursor() as c:
        c.execute("SET synchronous_commit = off")
        c.execute(
            "TRUNCATE warehouses_capacityday, warehouses_lease, warehouses_listing, warehouses_warehouse, "
            "warehouses_idempotencyrecord RESTART IDENTITY CASCADE"
        )
        c.execute("DELETE FROM credit_subject WHERE registration_number LIKE 'BENCHOP%%'")
        cols = (
            "country, registration_number, legal_name, is_merchant, is_warehouse_operator, is_payment_institution, "
            "is_logistics_provider, mode_b2b, mode_b2c, mode_b2b2c, mode_import, mode_export, trading_name, city, "
            "address, website, description, grade, is_blacklisted, created_at, updated_at"
        )
        more_cols, more_values, more_params = other_defaults(Subject, cols)
        c.execute(
            f"""
            INSERT INTO credit_subject ({cols}{more_cols})
            SELECT (%s::text[])[1 + (g %% 30)], 'BENCHOP' || g, 'Bench Operator ' || g, false, true, false, false,
              true, false, false, true, false, '', '', '', '', '',
              (ARRAY['A','B','B','M','M','C','D'])[1 + (g %% 7)], false, now(), now(){more_values}
            FROM generate_series(1, 2000) g
            """,
            [COUNTRIES, *more_params],
        )
        cols = (
            "owner_id, name, country, city, address, latitude, longitude, capacity_unit, customs_status, "
            "hazmat_classes, services, certifications, feature_tags, created_at, updated_at"
        )
        more_cols, more_values, more_params = other_defaults(Warehouse, cols)
        c.execute(
            f"""
            INSERT INTO warehouses_warehouse ({cols}{more_cols})
            SELECT s.id, 'Bench DC ' || g, s.country, 'City ' || (g %% 7), 'Street ' || g,
              round((random() * 120 - 60)::numeric, 6), round((random() * 340 - 170)::numeric, 6),
              'pallet', CASE WHEN g %% 4 = 0 THEN 'bonded' ELSE 'none' END, '[]', '[]', '[]',
              CASE WHEN g %% 4 = 0 THEN ' bonded pick_and_pack ' WHEN g %% 3 = 0 THEN ' pick_and_pack ' ELSE '' END,
              now(), now(){more_values}
            FROM generate_series(1, 20000) g
            JOIN credit_subject s ON s.registration_number = 'BENCHOP' || (1 + (g %% 2000))
            """,
            more_params,
        )
        cols = (
            "warehouse_id, country, title, units, available_from, available_until, price_per_unit_day, currency, "
            "min_units, min_days, booking_mode, min_tenant_grade, free_cancellation_days, cancellation_fee_percent, "
            "status, created_at, updated_at"
        )
        more_cols, more_values, more_params = other_defaults(Listing, cols)
        c.execute(
            f"""
            INSERT INTO warehouses_listing ({cols}{more_cols})
            SELECT w.id, w.country, 'Listing ' || g, 50 + (g * 37 %% 451), %s::date, %s::date,
              round((0.3 + random() * 4)::numeric, 4), 'EUR', 1, CASE WHEN g %% 10 = 0 THEN 7 ELSE 1 END,
              CASE WHEN g %% 3 = 0 THEN 'instant' ELSE 'request' END, '', 7, 0, 'published', now(), now(){more_values}
            FROM generate_series(1, %s) g JOIN warehouses_warehouse w ON w.id = 1 + (g %% 20000)
            """,
            [today, today + timedelta(days=days), *more_params, listings],
        )
        print(f"  subjects, warehouses, listings: {time.perf_counter() - t0:.0f} s", flush=True)
        # The ledger: drop its indexes for the load, rebuild them after.
        c.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype IN ('u', 'f')",
            [day_table],
        )
        constraints = c.fetchall()
        for name, _ in constraints:
            c.execute(f'ALTER TABLE {day_table} DROP CONSTRAINT "{name}"')
        c.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE '%%_pkey'",
            [day_table],
        )
        indexes = c.fetchall()
        for name, _ in indexes:
            c.execute(f'DROP INDEX IF EXISTS "{name}"')
        # Reservations first, into a temporary table: ~35% of listings get 1 to 3 bookings
        # of 7 to 90 days; ~3% are full. The ledger rows are then written once with their
        # `reserved` already set (no second pass updating millions of rows).
        c.execute("SELECT setseed(0.20261122)")
        c.execute(
            f"""
            CREATE TEMPORARY TABLE bench_reserved ON COMMIT PRESERVE ROWS AS
            WITH b AS (
              SELECT l.id AS listing_id, l.units,
                (random() * ({days} - 90))::int AS off, 7 + (random() * 83)::int AS len,
                CASE WHEN random() < 0.1 THEN l.units ELSE 1 + (random() * l.units * 0.3)::int END AS units_taken
              FROM warehouses_listing l, generate_series(1, 3) k
              WHERE (l.id * 7919 + k * 104729) %% 100 < CASE k WHEN 1 THEN 35 WHEN 2 THEN 15 ELSE 5 END
            )
            SELECT b.listing_id, (%s::date + b.off + s) AS day, LEAST(SUM(b.units_taken), MAX(b.units))::int AS r
            FROM b, generate_series(0, 200) s WHERE s < b.len
            GROUP BY b.listing_id, (%s::date + b.off + s)
            """,
            [today, today],
        )
        c.execute("CREATE INDEX ON bench_reserved (listing_id, day)")
        c.execute("ANALYZE bench_reserved")
        c.execute("SELECT count(*) FROM bench_reserved")
        print(f"  reservations ({c.fetchone()[0]} ledger days): {time.perf_counter() - t0:.0f} s", flush=True)
        step = 20_000
        for first in range(1, listings + 1, step):
            c.execute(
                f"""
                INSERT INTO {day_table} (listing_id, day, capacity, reserved)
                SELECT l.id, d::date, l.units, COALESCE(r.r, 0)
                FROM warehouses_listing l
                CROSS JOIN generate_series(%s::date, %s::date, interval '1 day') d
                LEFT JOIN bench_reserved r ON r.listing_id = l.id AND r.day = d::date
                WHERE l.id >= %s AND l.id < %s
                ORDER BY l.id, d
                """,
                [today, today + timedelta(days=days - 1), first, first + step],
            )
            print(f"  ledger rows for listings < {first + step}: {time.perf_counter() - t0:.0f} s", flush=True)
        c.execute("DROP TABLE bench_reserved")
        c.execute("SET maintenance_work_mem = '512MB'")
        for name, definition in constraints:
            c.execute(f'ALTER TABLE {day_table} ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            c.execute(definition)
        # Whatever the model declares must exist (also repairs an interrupted earlier load).
        c.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [day_table])
        present = {row[0] for row in c.fetchall()}
        with connection.schema_editor() as editor:
            for index in CapacityDay._meta.indexes:
                if index.name not in present:
                    editor.add_index(CapacityDay, index)
        print(f"  indexes rebuilt: {time.perf_counter() - t0:.0f} s", flush=True)
    connection.connection.autocommit = True
    with connection.cursor() as c:
        c.execute(f"VACUUM ANALYZE {day_table}")
        c.execute("VACUUM ANALYZE warehouses_listing")
        c.execute("VACUUM ANALYZE warehouses_warehouse")
        c.execute("ANALYZE credit_subject")
    print(f"  loaded in {time.perf_counter() - t0:.0f} s", flush=True)


def prewarm() -> None:
    """Read the search's working set (about 130 MB: listings and their indexes, the partial
    index of reserved days, warehouses, operators) once before timing, as a running server
    has it in memory. PostgreSQL's shared buffers (128 MB by default) are shared by every
    database of the server, so other work can still evict it during the run."""
    from django.db import connection

    relations = [
        "warehouses_listing",
        "listing_search_country",
        "warehouses_listing_pkey",
        "warehouses_warehouse",
        "warehouses_warehouse_pkey",
        "credit_subject",
        "credit_subject_pkey",
        "capacityday_reserved_days",
    ]
    t = time.perf_counter()
    with connection.cursor() as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        for rel in relations:
            c.execute("SELECT pg_prewarm(%s::regclass)", [rel])
    print(f"prewarmed {len(relations)} relations in {time.perf_counter() - t:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("listings", nargs="?", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--reload", action="store_true")
    args = parser.parse_args()

    ensure_database()
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from rest_framework.test import APIClient

    from warehouses import selectors
    from warehouses.models import CapacityDay, Listing

    call_command("migrate", verbosity=0)
    have = Listing.objects.count()
    first_day = CapacityDay.objects.order_by("day").values_list("day", flat=True).first()
    if args.reload or have != args.listings or first_day != timezone.localdate():
        print(f"loading {args.listings} listings x {args.days} days ...", flush=True)
        load(args.listings, args.days)
    with connection.cursor() as c:
        c.execute(f"SELECT pg_size_pretty(pg_total_relation_size('{CapacityDay._meta.db_table}'))")
        size = c.fetchone()[0]
        c.execute(f"SELECT count(*) FROM {CapacityDay._meta.db_table} WHERE reserved > 0")
        reserved_days = c.fetchone()[0]
    print(f"data: {Listing.objects.count()} listings, ledger {size} ({reserved_days} days with reservations)")

    prewarm()
    rnd = random.Random(SEED)
    today = timezone.localdate()
    api = APIClient()

    def shape(with_country: bool):
        start = today + timedelta(days=rnd.randint(0, args.days - 31))
        params = {"start": start, "end": start + timedelta(days=30), "units": rnd.choice([5, 10, 20, 50, 100, 200])}
        if with_country:
            params["country"] = rnd.choice(COUNTRIES)
        return params

    def run(with_country: bool, label: str, target: float):
        for _ in range(5):  # warm-up
            api.get("/api/v1/warehouses/listings/", shape(with_country))
        print("{}: load average {:.2f} {:.2f} {:.2f} before measuring".format(label, *os.getloadavg()), flush=True)
        selector_ms, api_ms, found = [], [], []
        for _ in range(args.queries):
            params = shape(with_country)
            search = selectors.ListingSearch(**params)
            # The API first: it meets the query's pages cold (the selector, timed after it,
            # finds them in the cache).
            t = time.perf_counter()
            response = api.get("/api/v1/warehouses/listings/", params)
            api_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            page = list(selectors.search_listings(search=search)[:26])  # a page and "is there a next one"
            selector_ms.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, response.content[:300]
            assert [r["id"] for r in response.json()["results"]] == [listing.pk for listing in page[:25]]
            found.append(len(page[:25]))
        for name, ms in (("selector", selector_ms), ("API", api_ms)):
            print(
                f"{label} [{name}]: p50 {pct(ms, 50):.1f} ms, p95 {pct(ms, 95):.1f} ms, p99 {pct(ms, 99):.1f} ms, "
                f"max {max(ms):.1f} ms (target p95 <= {target:.0f} ms; {len(ms)} queries)"
            )
        print(f"  results on the first page: min {min(found)}, max {max(found)}")
        # How many listings match, for context (not part of the timed request).
        params = shape(with_country)
        total = selectors.search_listings(search=selectors.ListingSearch(**params)).count()
        print(f"  e.g. {params}: {total} listings available")

    run(True, "search country + 30 days + units", 50)
    run(False, "search 30 days + units only", 150)


if __name__ == "__main__":
    main()

"""Screening benchmark, over real HTTP against gunicorn and PostgreSQL.

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/screening.py [SUBJECTS]
        [--clients 32] [--seconds 10] [--rounds 5] [--workers 2] [--threads 8] [--names 200]
        [--batches 20] [--phases throughput,latency,batch,names]

1. Creates (if needed) and migrates `entrepot_bench_screening` (override with
   BENCH_SCREENING_DATABASE) and loads SUBJECTS subjects (default 1,000,000) with the
   registry benchmark's loader (bench/registry_search.py: multi-script names, COPY, search
   indexes rebuilt after the load; reused when the count matches). Adds a compliant
   payment institution and an API key.
2. Starts gunicorn (gthread, --workers x --threads, CONN_MAX_AGE=60 and the API key cache
   of 2 s as in production) on bench/screening_wsgi.py: the project plus a minimal Django
   JSON view at /bench/minimal/, both served by the same server, settings and middleware.
3. Throughput, closed loop: CLIENTS concurrent clients (asyncio + httpx, keep-alive) for
   SECONDS each against (a) POST /api/v1/screenings/ by registration number (random
   subjects) and (b) the minimal view, in ROUNDS alternating rounds so that both see the
   same background load. Prints req/s of both, the ratio (target >= 60%) and the ratio of
   each round. The load average is printed with every phase.
4. Latency at 32 concurrent clients, open loop: the same CLIENTS clients each send at a
   fixed pace, together at half the measured screening throughput, so the server is busy
   but not saturated (a closed loop at saturation measures queueing, not the endpoint:
   its latency is clients / throughput). Prints p50 / p95 / p99 (target p99 <= 20 ms) and,
   for transparency, the closed-loop percentiles too.
5. A batch of 1,000 registration-number screenings in one request, BATCHES times in a row:
   p50 / p95 / max (target <= 300 ms).
6. Name screening (one typo per name, from the registry benchmark's query maker): NAMES
   requests in a row, p50 / p95 / p99 (target p95 <= 100 ms) and how often the intended
   subject is the decision's subject or among its candidates.

A benchmark measures and reports; it is not a test.
"""

import argparse
import asyncio
import gc
import logging
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-insecure-key")
BENCH_DB = os.environ.get("BENCH_SCREENING_DATABASE", "entrepot_bench_screening")
os.environ["BENCH_SEARCH_DATABASE"] = BENCH_DB  # the registry loader writes to our database

import django  # noqa: E402
import httpx  # noqa: E402

from bench import registry_search as loader  # noqa: E402  (sets DATABASE_URL to BENCH_DB)

INSTITUTION_REG = "BENCHPAY0001"


logging.getLogger("httpx").setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_average() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def percentile(values, p):
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def fmt(values):
    ms = [v * 1000 for v in values]
    return (
        f"n={len(ms)} p50={percentile(ms, 50):.1f} ms p95={percentile(ms, 95):.1f} ms "
        f"p99={percentile(ms, 99):.1f} ms max={max(ms):.1f} ms"
    )


def prepare(n_subjects: int, reload: bool):
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.utils import timezone

    from core.roles import REGULATORS_GROUP
    from credit.models import Membership, Subject
    from payments import services
    from payments.models import InstitutionProfile, ProviderAPIKey

    call_command("migrate", verbosity=0)
    ours = Subject.objects.filter(registration_number__startswith="BENCHPAY").count()
    if reload or Subject.objects.count() - ours != n_subjects:
        loader.load(n_subjects, True)
    else:
        print(f"reusing {n_subjects:,} subjects in {BENCH_DB}")
    refresh_search_functions()
    subject, _ = Subject.objects.get_or_create(
        country="CN",
        registration_number=INSTITUTION_REG,
        defaults={"legal_name": "Bench Pay Ltd", "is_payment_institution": True, "grade": "A"},
    )
    User = get_user_model()
    owner, _ = User.objects.get_or_create(username="bench-pay-owner")
    regulator, _ = User.objects.get_or_create(username="bench-regulator")
    regulator.groups.add(Group.objects.get_or_create(name=REGULATORS_GROUP)[0])
    Membership.objects.get_or_create(user=owner, subject=subject, defaults={"role": Membership.Role.OWNER})
    today = timezone.localdate()
    if not InstitutionProfile.objects.filter(pk=subject.pk).exists():
        services.register_institution(
            actor=owner, subject_id=subject.pk, paid_in_capital=Decimal("100000000"), capital_currency="CNY"
        )
        services.save_licence(
            actor=owner,
            institution_id=subject.pk,
            number="BENCH-LIC",
            issuing_authority="PBoC",
            currencies=["CNY"],
            countries=["CN"],
            valid_from=today.replace(year=today.year - 1),
            valid_to=today.replace(year=today.year + 4),
        )
        services.add_reserve_account(
            actor=owner, institution_id=subject.pk, bank="PBoC", account_reference="B-1", currency="CNY"
        )
        services.set_kyb_status(actor=regulator, institution_id=subject.pk, kyb_status="verified")
    account = InstitutionProfile.objects.get(pk=subject.pk).reserve_accounts.get()
    services.submit_reserve_report(
        actor=owner,
        institution_id=subject.pk,
        report_date=today,
        currency="CNY",
        customer_funds_owed=Decimal("100"),
        balances={account.pk: Decimal("100")},
    )
    run = services.run_compliance_check(institution_id=subject.pk, trigger="regulator")
    print(f"institution status: {run.derived_status} ({run.summary})")
    _, secret = ProviderAPIKey.objects.create_key(
        name="bench", institution_id=subject.pk, scopes=list(ProviderAPIKey.Scope.values)
    )
    return secret


def refresh_search_functions() -> None:
    """Re-run the registry search migration's idempotent SQL (functions, tables, indexes;
    not the backfill), so a reused database follows the current search code."""
    import importlib

    from django.db import connection

    migration = importlib.import_module("credit.migrations.0003_registry_search")
    with connection.cursor() as cursor:
        for statement in migration.FORWARD:
            if statement.lstrip().upper().startswith("UPDATE "):
                continue
            cursor.execute(statement)


def sample_registrations(k: int) -> list[tuple[str, str]]:
    from credit.models import Subject

    top = Subject.objects.order_by("-id").values_list("id", flat=True).first()
    ids = random.Random(7).sample(range(1, top + 1), min(k * 2, top))
    rows = list(Subject.objects.filter(pk__in=ids).values_list("registration_number", "country")[:k])
    return rows


async def closed_loop(url, headers, bodies, clients, seconds):
    latencies, errors = [], 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker(i):
            nonlocal errors
            n = i
            while time.perf_counter() < deadline:
                body = bodies[n % len(bodies)] if bodies else None
                n += clients
                t0 = time.perf_counter()
                try:
                    r = await (
                        client.post(url, json=body, headers=headers) if body else client.get(url, headers=headers)
                    )
                except httpx.TransportError:  # counted, not fatal (e.g. a keep-alive connection closed)
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(clients)))
        elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies, errors


async def open_loop(url, headers, bodies, clients, seconds, rate):
    """Each of `clients` sends at rate/clients per second on its own schedule."""
    latencies, errors = [], 0
    interval = clients / rate
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker(i):
            nonlocal errors
            start = time.perf_counter() + random.random() * interval
            k = 0
            while True:
                at = start + k * interval
                if at - start > seconds:
                    return
                delay = at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                body = bodies[(i + k * clients) % len(bodies)]
                t0 = time.perf_counter()
                k += 1
                try:
                    r = await client.post(url, json=body, headers=headers)
                except httpx.TransportError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1

        await asyncio.gather(*(worker(i) for i in range(clients)))
    return latencies, errors


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("subjects", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10, help="per phase (and per endpoint)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating throughput rounds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--names", type=int, default=200)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--rate", type=float, default=100, help="open-loop rate when throughput is not measured")
    parser.add_argument(
        "--phases", default="throughput,latency,batch,names", help="comma-separated subset of the four phases"
    )
    args = parser.parse_args()

    loader.ensure_database()
    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*", "testserver"]
    secret = prepare(args.subjects, args.reload)
    registrations = sample_registrations(5000)
    bodies = [{"registration_number": reg, "country": country} for reg, country in registrations]
    # The load generator's own full garbage collections (Django and the data are loaded in
    # this process) would pause every in-flight request and show as server latency.
    gc.collect()
    gc.freeze()

    port = free_port()
    env = {
        **os.environ,
        "DJANGO_CONN_MAX_AGE": "60",
        # The production default (config/settings/base.py); the test settings turn it off.
        "API_KEY_CACHE_SECONDS": os.environ.get("API_KEY_CACHE_SECONDS", "2"),
        "DJANGO_LOG_LEVEL": "ERROR",
        "GUNICORN_ACCESSLOG": "",
    }
    server = subprocess.Popen(  # noqa: S603
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "bench.screening_wsgi",
            "-c",
            str(ROOT / "platform/gunicorn.conf.py"),
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--backlog",
            "2048",
            "--access-logfile",
            "/dev/null",
            "--log-level",
            "error",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Api-Key {secret}"}
    try:
        for _ in range(150):
            try:
                httpx.get(f"{base}/bench/minimal/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        check = httpx.post(f"{base}/api/v1/screenings/", json=bodies[0], headers=headers, timeout=10)
        assert check.status_code == 200, check.text
        print(
            f"\ngunicorn {args.workers}x{args.threads} threads; {args.clients} clients; {os.cpu_count()} CPUs; "
            f"API key cache {env['API_KEY_CACHE_SECONDS']} s"
        )
        print("load average before measuring: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
        # Warm-up (every worker thread opens its DB connection).
        asyncio.run(closed_loop(f"{base}/api/v1/screenings/", headers, bodies, args.clients, 2))
        asyncio.run(closed_loop(f"{base}/bench/minimal/", {}, None, args.clients, 1))
        phases = set(args.phases.split(","))
        rate = args.rate
        if "throughput" in phases:
            # Alternating rounds, so that both endpoints see the same background load on a
            # shared machine; the totals are over all rounds.
            totals = {"screening": [0, 0.0, [], 0], "minimal": [0, 0.0, [], 0]}
            ratios = []
            for _ in range(args.rounds):
                round_rps = {}
                for name, url, hdrs, body in (
                    ("screening", f"{base}/api/v1/screenings/", headers, bodies),
                    ("minimal", f"{base}/bench/minimal/", {}, None),
                ):
                    rps, lat, errs = asyncio.run(closed_loop(url, hdrs, body, args.clients, args.seconds / args.rounds))
                    total = totals[name]
                    total[0] += len(lat)
                    total[1] += len(lat) / rps if rps else 0.0
                    total[2] += lat
                    total[3] += errs
                    round_rps[name] = rps
                ratios.append(round_rps["screening"] / round_rps["minimal"])
            screening_rps = totals["screening"][0] / totals["screening"][1]
            minimal_rps = totals["minimal"][0] / totals["minimal"][1]
            closed_lat, errors = totals["screening"][2], totals["screening"][3]
            minimal_lat, minimal_errors = totals["minimal"][2], totals["minimal"][3]
            print(f"\n== Throughput, closed loop, {args.rounds} alternating rounds ({load_average()} after) ==")
            print(f"screening by registration number: {screening_rps:,.0f} req/s  ({fmt(closed_lat)}; {errors} err)")
            minimal = f"{minimal_rps:,.0f} req/s  ({fmt(minimal_lat)}; {minimal_errors} err)"
            print(f"minimal Django JSON view:         {minimal}")
            print(f"ratio screening / minimal:        {screening_rps / minimal_rps:.0%}   (target >= 60%)")
            print(f"ratio in each round:              {' '.join(f'{r:.0%}' for r in ratios)}")
            rate = max(1.0, screening_rps / 2)
        if "latency" in phases:
            open_lat, open_errors = asyncio.run(
                open_loop(f"{base}/api/v1/screenings/", headers, bodies, args.clients, args.seconds, rate)
            )
            print(f"\n== Latency, {args.clients} clients, open loop at {rate:,.0f} req/s ({load_average()} after) ==")
            print(f"screening by registration number: {fmt(open_lat)}; errors {open_errors}   (target p99 <= 20 ms)")
        if "batch" in phases:
            run_batches(base, headers, bodies, args.batches)
        if "names" in phases:
            run_names(base, headers, registrations, args)
    finally:
        server.terminate()
        server.wait(10)


def run_batches(base, headers, bodies, batches):
    print("\n== Batch of 1,000 registration-number screenings ==")
    batch = {"items": [bodies[i % len(bodies)] for i in range(1000)]}
    with httpx.Client(timeout=60) as client:
        client.post(f"{base}/api/v1/screenings/", json=batch, headers=headers)  # warm-up
        times = []
        for _ in range(batches):
            t0 = time.perf_counter()
            r = client.post(f"{base}/api/v1/screenings/", json=batch, headers=headers)
            times.append(time.perf_counter() - t0)
            assert r.status_code == 200 and r.json()["count"] == 1000, r.text[:300]
    print(f"batch of 1,000: {fmt(times)}   (target <= 300 ms; {load_average()} after)")


def run_names(base, headers, registrations, args):
    print(f"\n== Name screening over {args.subjects:,} subjects (one typo per name) ==")
    rnd = random.Random(11)
    from credit.models import Subject

    targets = list(
        Subject.objects.filter(registration_number__in=[r for r, _ in registrations[: args.names * 3]])
        .exclude(country="CN")
        .values("id", "country", "registration_number", "legal_name")[: args.names]
    )
    times, found = [], 0
    with httpx.Client(timeout=30) as client:
        for subject in targets:
            q, _ = loader.make_query(subject, rnd)
            body = {"name": q, "country": subject["country"]}
            t0 = time.perf_counter()
            r = client.post(f"{base}/api/v1/screenings/", json=body, headers=headers)
            times.append(time.perf_counter() - t0)
            [result] = r.json()["results"]
            ids = {c["subject_id"] for c in result["candidates"]} | {result["subject"].get("subject_id")}
            found += subject["id"] in ids
    print(f"name screening: {fmt(times)}   (target p95 <= 100 ms; {load_average()} after)")
    print(f"intended subject decided or among candidates: {found}/{len(targets)}")
    print(f"mean {statistics.mean(times) * 1000:.1f} ms")


if __name__ == "__main__":
    main()

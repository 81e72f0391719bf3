"""Lease race and throughput benchmark, over real HTTP against gunicorn and PostgreSQL.

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/lease_race.py [--clients 200]
        [--throughput-leases 2000] [--throughput-clients 32] [--workers 2] [--threads 4]
        [--skip-race] [--skip-service] [--client wrk|python] [--seconds 15]

1. Creates (if needed) and migrates a dedicated database, `entrepot_bench_leases`
   (override with BENCH_LEASES_DATABASE), on the PostgreSQL server of DATABASE_URL.
2. Starts gunicorn with platform/gunicorn.conf.py (gthread, 2 workers x 4 threads by
   default, as in production; at most that many database connections, kept open between
   requests as in production; CONN_MAX_AGE=900 so that none is replaced during a run),
   the per-process token cache as in production (2 s) and no access log.
3. Race: one listing of 100 units whose first 50 are already leased; CLIENTS concurrent
   clients (one thread and one connection each, released together by a barrier) each POST
   a 1-unit lease for the same days with their own Idempotency-Key. A 409 `busy` (lock
   timeout) or a dropped connection is retried with the same key, as a real client would.
   Prints how many were created and refused, the units leased, whether any day is
   oversold, deadlocks reported by PostgreSQL, and the latencies.
4. Throughput across distinct listings: THROUGHPUT_LEASES listings; THROUGHPUT_CLIENTS
   concurrent clients POST 1-unit leases, each request on the next listing in turn (so no
   two concurrent requests share a listing), with its own Idempotency-Key and one of 200
   tenants' tokens. The client is wrk (C, a Lua script generated here; `apt-get install
   wrk`) for SECONDS after a 3 s warm-up, or with `--client python` (or without wrk) this
   process's threads posting THROUGHPUT_LEASES leases. Prints leases per second end to end
   (HTTP, auth, throttle, idempotency, credit gate, lock, ledger, audit), counted from the
   201 answers and checked against the leases in the database, and the CPU each lease
   cost in the gunicorn processes, the PostgreSQL backends and the client (from /proc),
   hence the most the 2 cores could do if nothing else ran. Then THROUGHPUT_LEASES
   through the service alone (request_lease in threads, no HTTP) for comparison. The
   load average is printed before each part.

Targets (issue 5): exactly 50 units leased, none oversold, no deadlock; >= 200 leases/s
across distinct listings. A benchmark measures and reports; it is not a test.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-insecure-key")
BENCH_DB = os.environ.get("BENCH_LEASES_DATABASE", "entrepot_bench_leases")
_base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/entrepot")
os.environ["DATABASE_URL"] = _base_url.rsplit("/", 1)[0] + "/" + BENCH_DB

import django  # noqa: E402
import httpx  # noqa: E402


def ensure_database() -> None:
    import psycopg

    admin_url = _base_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def make_member(username: str, **subject):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from credit.models import Membership, Subject

    user = get_user_model().objects.create(username=username)
    subj = Subject.objects.create(
        country=subject.pop("country", "CN"), registration_number=username.upper()[:40], legal_name=username, **subject
    )
    Membership.objects.create(user=user, subject=subj, role="owner", status="active")
    user.subject = subj
    user.token = Token.objects.create(user=user).key
    return user


def post_until_answered(http, url, body, token, latencies, lock):
    key = str(uuid.uuid4())
    headers = {"Authorization": f"Token {token}", "Idempotency-Key": key}
    busy = 0
    started = time.perf_counter()
    for _attempt in range(100):
        try:
            response = http.post(url, json=body, headers=headers)
        except httpx.TransportError:
            time.sleep(0.05)
            continue
        code = response.json().get("code", "") if response.status_code >= 400 else ""
        if code in ("busy", "idempotency_in_flight"):
            busy += 1
            time.sleep(0.05)
            continue
        with lock:
            latencies.append((time.perf_counter() - started) * 1000)
        return response.status_code, code, busy
    return 0, "gave_up", busy


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def child_pids(ppid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == ppid:
                        pids.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return pids


def cpu_snapshot(server_pid: int) -> dict:
    """CPU used so far by gunicorn (master and workers), by the PostgreSQL backends of the
    bench database, and by this client process."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        backends = [row[0] for row in cursor.fetchall()]
    return {
        "gunicorn": sum(proc_cpu(p) for p in [server_pid, *child_pids(server_pid)]),
        "postgres": {p: proc_cpu(p) for p in backends},
        "client": sum(os.times()[:2]),
    }


def cpu_per_item(before: dict, after: dict, items: int) -> str:
    pg = sum(cpu - before["postgres"].get(pid, 0.0) for pid, cpu in after["postgres"].items())
    parts = {"gunicorn": after["gunicorn"] - before["gunicorn"], "PostgreSQL backends": pg}
    parts["bench client"] = after["client"] - before["client"]
    total = sum(parts.values())
    text = ", ".join(f"{name} {cpu / items * 1000:.1f}" for name, cpu in parts.items())
    return f"CPU ms per lease: {text}; total {total / items * 1000:.1f} (2 cores: at most {2 * items / total:.0f}/s)"


def load_average() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def deadlocks() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


WRK_SCRIPT = """
listings = {%(listings)s}
tokens = {%(tokens)s}
threads = {}
counter = 0
created = 0
other = 0
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local i = tid + counter * %(threads)d
  local body = string.format('{"listing": %%d, "units": 1, "start": "%(start)s", "end": "%(end)s"}',
                             listings[(i %% #listings) + 1])
  return wrk.format("POST", "/api/v1/warehouses/leases/", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Token " .. tokens[(i %% #tokens) + 1],
    ["Idempotency-Key"] = "%(run)s-" .. tid .. "-" .. counter,
  }, body)
end

function response(status, headers, body)
  if status == 201 then created = created + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local c, o = 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    o = o + t:get("other")
  end
  io.write(string.format("WRK created=%%d other=%%d seconds=%%.3f p50=%%.1f p95=%%.1f p99=%%.1f\\n", c, o,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000))
end
"""


def wrk_throughput(args, base: str, listing_ids: list[int], tenants, day, server_pid: int) -> None:
    """The throughput run with wrk as the client: its CPU is a fraction of a Python client's."""
    import tempfile

    from warehouses.models import Lease

    wrk_threads = min(2, args.throughput_clients)

    def run_wrk(seconds: int, tag: str) -> tuple[dict, float]:
        script = WRK_SCRIPT % {
            "listings": ", ".join(map(str, listing_ids)),
            "tokens": ", ".join(f'"{t.token}"' for t in tenants),
            "threads": wrk_threads,
            "start": str(day),
            "end": str(day + timedelta(days=7)),
            "run": f"{tag}-{uuid.uuid4().hex[:8]}",
        }
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(script)
        before = os.times()
        try:
            out = subprocess.run(  # noqa: S603
                [
                    "wrk",
                    f"-t{wrk_threads}",
                    f"-c{args.throughput_clients}",
                    f"-d{seconds}s",
                    "--timeout",
                    "30s",
                    "-s",
                    f.name,
                    base,
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        finally:
            os.unlink(f.name)
        after = os.times()
        line = next(x for x in out.splitlines() if x.startswith("WRK "))
        figures = {k: float(v) for k, v in (part.split("=") for part in line.split()[1:])}
        return figures, (after[2] + after[3]) - (before[2] + before[3])

    run_wrk(3, "warm-up")  # every worker thread's database connection opened, code paths warm
    leases_before = Lease.objects.count()
    print(f"throughput run starts ({load_average()})", flush=True)
    cpu_before = cpu_snapshot(server_pid)
    figures, wrk_cpu = run_wrk(args.seconds, "run")
    cpu_after = cpu_snapshot(server_pid)
    created = int(figures["created"])
    in_database = Lease.objects.count() - leases_before
    rate = created / figures["seconds"]
    print(
        f"lease throughput (HTTP, gunicorn {args.workers}x{args.threads}, wrk {args.throughput_clients} connections, "
        f"{len(listing_ids)} listings in turn): {created} created ({in_database} new leases in the database), "
        f"{int(figures['other'])} other answers, in {figures['seconds']:.2f} s = {rate:.0f} leases/s; latency ms "
        f"p50 {figures['p50']:.1f} p95 {figures['p95']:.1f} p99 {figures['p99']:.1f} ({load_average()} at the end)"
    )
    cpu_after["client"] = cpu_before["client"] + wrk_cpu
    print(f"  {cpu_per_item(cpu_before, cpu_after, max(created, 1))}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--throughput-leases", type=int, default=2000)
    parser.add_argument("--throughput-clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)  # platform/gunicorn.conf.py defaults: 2 x 4
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class (gthread or sync)")
    parser.add_argument("--skip-race", action="store_true")
    parser.add_argument("--skip-service", action="store_true", help="no service-only throughput run")
    parser.add_argument("--client", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python")
    parser.add_argument("--seconds", type=int, default=15, help="length of the wrk throughput run")
    args = parser.parse_args()

    ensure_database()
    django.setup()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)  # no log line per request in the client
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from warehouses.models import CapacityDay, Lease, Listing
    from warehouses.services import leases, ledger
    from warehouses.services import listings as listing_services

    call_command("migrate", verbosity=0)
    run = uuid.uuid4().hex[:6]
    today = timezone.localdate()
    operator = make_member(f"bench-op-{run}", is_warehouse_operator=True, grade="A", country="NL")
    warehouse = listing_services.create_warehouse(
        actor=operator,
        owner_id=operator.subject.pk,
        name=f"Bench DC {run}",
        country="NL",
        city="Rotterdam",
        address="Bench 1",
        latitude=Decimal("51.9"),
        longitude=Decimal("4.4"),
    )

    def new_listing(units, days=30):
        return listing_services.create_listing(
            actor=operator,
            warehouse_id=warehouse.pk,
            units=units,
            available_from=today + timedelta(days=1),
            available_until=today + timedelta(days=1 + days),
            publish=True,
            title="bench",
            price_per_unit_day=Decimal("1.00"),
            currency="EUR",
            booking_mode="request",
        )

    listing = new_listing(100)
    d = listing.available_from
    first = make_member(f"bench-first-{run}", grade="A")
    leases.request_lease(
        actor=first, tenant_id=first.subject.pk, listing_id=listing.pk, units=50, start=d, end=d + timedelta(days=10)
    )
    tenants = [make_member(f"bench-m{n}-{run}", grade="B") for n in range(min(args.clients, 200))]

    port = free_port()
    # Persistent database connections, as in production (config/settings/production.py: 60 s).
    # Longer here so that no backend is replaced during a run: the CPU accounting reads the
    # backends' /proc entries before and after, and a closed backend's CPU would be lost.
    # The token cache as in production (2 s; the test settings turn it off); no access log.
    env = {
        **os.environ,
        "GUNICORN_ACCESSLOG": "",
        "DJANGO_LOG_LEVEL": "ERROR",
        "DJANGO_CONN_MAX_AGE": "900",
        "TOKEN_CACHE_SECONDS": os.environ.get("TOKEN_CACHE_SECONDS", "2"),
    }
    server = subprocess.Popen(  # noqa: S603
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi",
            "-c",
            str(ROOT / "platform/gunicorn.conf.py"),
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(args.workers),
            "--threads",
            str(args.threads),
            "-k",
            args.worker_class,
            "--backlog",
            "2048",
            "--log-level",
            "error",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/api/v1/warehouses/listings/?page_size=1", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        url = f"{base}/api/v1/warehouses/leases/"
        # Warm up each worker's connections (not counted).
        for _ in range(args.workers * 2):
            httpx.get(f"{base}/api/v1/warehouses/listings/{listing.pk}/")

        lock = threading.Lock()
        # --- Race -----------------------------------------------------------------------
        if not args.skip_race:
            body = {
                "listing": listing.pk,
                "units": 1,
                "start": str(d + timedelta(days=2)),
                "end": str(d + timedelta(days=5)),
            }
            barrier = threading.Barrier(args.clients)
            latencies: list[float] = []
            dl_before = deadlocks()

            def racer(n):
                with httpx.Client(timeout=120) as http:
                    barrier.wait()
                    return post_until_answered(http, url, body, tenants[n % len(tenants)].token, latencies, lock)

            print(f"race starts ({load_average()})", flush=True)
            started = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                results = list(pool.map(racer, range(args.clients)))
            elapsed = time.perf_counter() - started
            created = sum(1 for s, _, _ in results if s == 201)
            refused = sum(1 for s, c, _ in results if s == 409 and c == "not_enough_capacity")
            other = [(s, c) for s, c, _ in results if s not in (201,) and c != "not_enough_capacity"]
            retries = sum(b for _, _, b in results)
            units = sum(
                Lease.objects.filter(listing=listing, status__in=Lease.RESERVING)
                .exclude(tenant=first.subject)
                .values_list("units", flat=True)
            )
            worst = max(CapacityDay.objects.filter(listing=listing).values_list("reserved", flat=True))
            oversold = CapacityDay.objects.filter(listing=listing, reserved__gt=100).exists()
            drift = ledger.reconcile(listing_ids=[listing.pk])
            print(
                f"lease race: {args.clients} concurrent clients for the last 50 units of one listing "
                f"(gunicorn {args.workers}x{args.threads} threads, PostgreSQL)"
            )
            print(
                f"  created {created}, refused not_enough_capacity {refused}, other {other or 'none'}, "
                f"busy retries {retries}"
            )
            print(
                f"  units leased {units} (target exactly 50); max reserved on a day {worst}/100; "
                f"oversold: {'YES' if oversold else 'no'}; ledger drift rows: {len(drift)}; "
                f"deadlocks: {deadlocks() - dl_before}"
            )
            print(
                f"  wall {elapsed:.2f} s; latency ms p50 {pct(latencies, 50):.0f} p95 {pct(latencies, 95):.0f} "
                f"max {max(latencies):.0f}"
            )

        # --- Throughput across distinct listings (HTTP) ----------------------------------
        n = args.throughput_leases
        print(f"creating {n} listings for the throughput run ...", flush=True)
        listing_ids = [new_listing(10, days=14).pk for _ in range(n)]
        counter_lock = threading.Lock()
        if args.client == "wrk":
            wrk_throughput(args, base, listing_ids, tenants, d, server.pid)
        else:
            latencies = []
            counter = iter(range(n))
            counter_lock = threading.Lock()

            def worker(w):
                done = []
                with httpx.Client(timeout=120) as http:
                    while True:
                        with counter_lock:
                            i = next(counter, None)
                        if i is None:
                            return done
                        b = {"listing": listing_ids[i], "units": 2, "start": str(d), "end": str(d + timedelta(days=7))}
                        done.append(post_until_answered(http, url, b, tenants[i % len(tenants)].token, latencies, lock))

            print(f"throughput run starts ({load_average()})", flush=True)
            cpu_before = cpu_snapshot(server.pid)
            started = time.perf_counter()
            with ThreadPoolExecutor(args.throughput_clients) as pool:
                outcomes = [o for batch in pool.map(worker, range(args.throughput_clients)) for o in batch]
            elapsed = time.perf_counter() - started
            cpu_after = cpu_snapshot(server.pid)
            ok = sum(1 for s, _, _ in outcomes if s == 201)
            print(
                f"lease throughput (HTTP, gunicorn {args.workers}x{args.threads}, {args.throughput_clients} clients, "
                f"distinct listings): {ok}/{n} created in {elapsed:.2f} s = {ok / elapsed:.0f} leases/s; "
                f"latency ms p50 {pct(latencies, 50):.0f} p95 {pct(latencies, 95):.0f} ({load_average()} at the end)"
            )
            print(f"  {cpu_per_item(cpu_before, cpu_after, max(ok, 1))}")
    finally:
        server.terminate()
        server.wait(timeout=20)

    # --- Throughput through the service alone (threads, one DB connection each) ----------
    if args.skip_service:
        return
    listing_ids = [new_listing(10, days=14).pk for _ in range(n)]
    connection.close()
    counter = iter(range(n))

    def service_worker(w):
        from django.db import connection as conn

        done = 0
        try:
            while True:
                with counter_lock:
                    i = next(counter, None)
                if i is None:
                    return done
                t = tenants[i % len(tenants)]
                leases.request_lease(
                    actor=t,
                    tenant_id=t.subject.pk,
                    listing_id=listing_ids[i],
                    units=2,
                    start=d,
                    end=d + timedelta(days=7),
                )
                done += 1
        finally:
            conn.close()

    threads = 8
    print(f"service-only run starts ({load_average()})", flush=True)
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        ok = sum(pool.map(service_worker, range(threads)))
    elapsed = time.perf_counter() - started
    print(
        f"lease throughput (service only, {threads} threads, distinct listings): {ok}/{n} in {elapsed:.2f} s = "
        f"{ok / elapsed:.0f} leases/s"
    )
    Listing.objects.filter(pk__in=listing_ids).count()


if __name__ == "__main__":
    main()

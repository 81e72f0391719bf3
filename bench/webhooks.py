"""Webhook delivery benchmark: at-least-once delivery through real Celery workers to a
local receiver that fails a third of the time.

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/webhooks.py [EVENTS]
        [--concurrency 16] [--timeout 900]

1. Creates (if needed) and migrates `entrepot_bench_webhooks` (override with
   BENCH_WEBHOOKS_DATABASE); a payment institution with one webhook endpoint pointing at
   a local receiver (http.server on 127.0.0.1, in this process).
2. The receiver answers 500 to every third request it gets (a third of all requests fail),
   verifies every signature with the `standardwebhooks` package, and dedupes by
   `webhook-id`.
3. Starts one real Celery worker (`--pool threads --concurrency N`) on Redis (REDIS_URL,
   default db 14) with backoff 1 s doubling up to 5 s (WEBHOOK_BACKOFF_*), writes EVENTS (default 10,000)
   events through `payments.webhook_deliveries.enqueue_event` (the outbox, 500 per transaction;
   each wakes the worker after commit) and, like beat, calls the sweep every 5 s.
4. Waits until every delivery is marked delivered, then prints: events, unique ids
   received, lost (events never received: target 0), duplicates received (at-least-once),
   requests answered 500, bad signatures, attempts per delivery, elapsed time, events/s.

A benchmark measures and reports; it is not a test.
"""

import argparse
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-insecure-key")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ["CELERY_BROKER_URL"] = os.environ["REDIS_URL"]
os.environ.setdefault("WEBHOOK_BACKOFF_BASE_SECONDS", "1")
os.environ.setdefault("WEBHOOK_BACKOFF_MAX_SECONDS", "5")
os.environ.setdefault("WEBHOOK_MAX_ATTEMPTS", "30")
BENCH_DB = os.environ.get("BENCH_WEBHOOKS_DATABASE", "entrepot_bench_webhooks")
_base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/entrepot")
SERVER_URL = _base_url.rsplit("/", 1)[0]
os.environ["DATABASE_URL"] = f"{SERVER_URL}/{BENCH_DB}"

import django  # noqa: E402


def ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


class Receiver:
    """Fails every third request; verifies signatures; dedupes by webhook-id."""

    def __init__(self, secret: str):
        from standardwebhooks import Webhook

        self.verifier = Webhook(secret)
        self.lock = threading.Lock()
        self.requests = 0
        self.failed = 0
        self.bad_signatures = 0
        self.seen: set[str] = set()
        self.duplicates = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    receiver.requests += 1
                    fail = receiver.requests % 3 == 0
                if fail:
                    with receiver.lock:
                        receiver.failed += 1
                    status = 500
                else:
                    try:
                        receiver.verifier.verify(body, headers)
                    except Exception:  # noqa: BLE001
                        with receiver.lock:
                            receiver.bad_signatures += 1
                        status = 400
                    else:
                        with receiver.lock:
                            msg_id = headers["webhook-id"]
                            if msg_id in receiver.seen:
                                receiver.duplicates += 1
                            receiver.seen.add(msg_id)
                        status = 204
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("events", nargs="?", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()

    ensure_database()
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction

    from config.celery import QUEUES, app
    from credit.models import Membership, Subject
    from payments import services
    from payments.models import InstitutionProfile, WebhookDelivery
    from payments.services import webhook_deliveries
    from payments.tasks import sweep_webhook_deliveries_task

    call_command("migrate", verbosity=0)
    subject, _ = Subject.objects.get_or_create(
        country="CN",
        registration_number="BENCHHOOK01",
        defaults={"legal_name": "Bench Hooks Pay", "is_payment_institution": True},
    )
    owner, _ = get_user_model().objects.get_or_create(username="bench-hooks-owner")
    Membership.objects.get_or_create(user=owner, subject=subject, defaults={"role": Membership.Role.OWNER})
    if not InstitutionProfile.objects.filter(pk=subject.pk).exists():
        services.register_institution(actor=owner, subject_id=subject.pk, paid_in_capital="1", capital_currency="CNY")
    # A fresh endpoint per run (earlier runs' endpoints are switched off).
    for old in InstitutionProfile.objects.get(pk=subject.pk).webhook_endpoints.filter(enabled=True):
        services.delete_webhook_endpoint(actor=owner, institution_id=subject.pk, endpoint_id=old.pk)
    # The endpoint needs the receiver's URL and the receiver the endpoint's secret.
    endpoint = services.create_webhook_endpoint(
        actor=owner,
        institution_id=subject.pk,
        url="http://127.0.0.1:9/placeholder",
        event_types=["subject.blacklisted"],
    )
    receiver = Receiver(endpoint.secret)
    endpoint.url = receiver.url
    endpoint.save(update_fields=["url"])

    with app.connection_for_write() as connection:
        app.control.purge(connection=connection)
    log = open("/tmp/entrepot-bench-webhooks-worker.log", "w")  # noqa: SIM115
    worker = subprocess.Popen(  # noqa: S603
        [
            str(ROOT / ".venv/bin/celery"),
            "-A",
            "config",
            "worker",
            "-Q",
            ",".join(QUEUES),
            "--pool",
            "threads",
            "--concurrency",
            str(args.concurrency),
            "--loglevel",
            "WARNING",
            "--hostname",
            f"bench-hooks-{os.getpid()}@localhost",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_CONN_MAX_AGE": "60"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=1):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit("the Celery worker did not start; see /tmp/entrepot-bench-webhooks-worker.log")
        print("load average before measuring: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
        started = time.perf_counter()
        run = f"{int(time.time())}"
        for chunk in range(0, args.events, 500):
            with transaction.atomic():
                for i in range(chunk, min(args.events, chunk + 500)):
                    webhook_deliveries.enqueue_event(
                        event_type="subject.blacklisted",
                        institution_ids=[subject.pk],
                        data={"subject_id": i, "n": i},
                        event_id=f"evt_bench_{run}_{i}",
                    )
        enqueued = time.perf_counter()
        print(f"enqueued {args.events:,} events in {enqueued - started:.1f} s")
        pending = WebhookDelivery.objects.filter(endpoint=endpoint).exclude(status="succeeded")
        last_sweep = time.monotonic()
        while pending.exists():
            if time.perf_counter() - started > args.timeout:
                print("TIMEOUT: stopping with deliveries still pending")
                break
            if time.monotonic() - last_sweep > 5:
                sweep_webhook_deliveries_task.delay()
                last_sweep = time.monotonic()
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
        statuses = Counter(deliveries.values_list("status", flat=True))
        attempts = Counter(deliveries.values_list("attempts", flat=True))
        expected = {f"evt_bench_{run}_{i}" for i in range(args.events)}
        lost = len(expected - receiver.seen)
        print("\n== Webhooks: at-least-once delivery to a receiver failing 1 request in 3 ==")
        print(f"events: {args.events:,}; deliveries by status: {dict(statuses)}")
        print(f"unique webhook-ids received: {len(receiver.seen & expected):,}; lost: {lost}   (target 0)")
        print(f"duplicates received (deduped by webhook-id): {receiver.duplicates}")
        print(f"requests: {receiver.requests:,}, answered 500: {receiver.failed:,}, bad sig: {receiver.bad_signatures}")
        print(f"attempts per delivery: {dict(sorted(attempts.items()))}")
        print(f"elapsed {elapsed:.1f} s, {args.events / elapsed:,.0f} events/s delivered end to end")
        print(f"(worker: threads x{args.concurrency}; backoff 1 s doubling to 5 s max; {os.cpu_count()} CPUs)")
    finally:
        worker.terminate()
        worker.wait(20)


if __name__ == "__main__":
    main()

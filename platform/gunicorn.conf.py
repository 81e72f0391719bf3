"""gunicorn for the local stack and production; the environment tunes it."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None  # empty: no access log
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Python's GIL switch interval for the worker threads (default 5 ms): a thread woken by
# PostgreSQL's answer waits up to this long for a thread that is busy computing.
switch_interval_ms = float(os.environ.get("GUNICORN_SWITCH_INTERVAL_MS", "1"))


def post_worker_init(worker):
    """Freeze the objects loaded at start-up (Django, settings, models, the URLconf) out of
    the garbage collector's reach: a full collection over them pauses every thread of the
    worker (80+ ms on the 2-core development machine). And shorten the GIL switch interval.
    Both showed as API tail latency (bench/screening.py)."""
    import gc
    import sys

    gc.freeze()
    sys.setswitchinterval(switch_interval_ms / 1000)

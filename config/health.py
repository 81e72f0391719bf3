"""GET /healthz: the database, Redis and a Celery worker, each checked independently.
GET /livez and GET /readyz: the Kubernetes probes (at the end)."""

import logging
import time

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe

from config.celery import app as celery_app

logger = logging.getLogger(__name__)


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down", reported by name
        return f"{type(exc).__name__}: {exc}"
    return None


def _check_redis() -> str | None:
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5)
        client.ping()
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    return None


def _check_celery() -> str | None:
    try:
        # limit=1: return as soon as one worker answers instead of waiting out the timeout.
        replies = celery_app.control.ping(timeout=1.0, limit=1)
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    if not replies:
        return "no worker answered a ping within 1 s"
    return None


def healthz(request):
    """Up or down per component, for anyone. Why a component is down (exception text that
    names hosts, ports, database users) and the timing are for signed-in staff only; the
    log always has them."""
    started = time.monotonic()
    checks = {"database": _check_database(), "redis": _check_redis()}
    # Without Redis the broker is unreachable, so the worker cannot be asked.
    checks["celery"] = _check_celery() if checks["redis"] is None else "unreachable: Redis is down"
    down = [name for name, error in checks.items() if error]
    for name in down:
        logger.warning("Health check: %s is down: %s", name, checks[name])
    staff = getattr(getattr(request, "user", None), "is_staff", False)
    body = {
        "status": "ok" if not down else "unavailable",
        "down": down,
        "checks": {
            name: {"ok": error is None, **({"error": error} if error and staff else {})}
            for name, error in checks.items()
        },
    }
    if staff:
        body["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
    response = JsonResponse(body, status=200 if not down else 503)
    response["Cache-Control"] = "no-store"
    patch_vary_headers(response, ["Cookie"])  # staff see more than the public
    return response


# --- Kubernetes probes -----------------------------------------------------------------
# /healthz is for people and monitoring: it answers 503 while Redis or the workers are down,
# although the pages keep working then, so it suits neither probe. A probe that failed on
# Redis would restart (liveness) or unroute (readiness) every web pod during a Redis outage.


@require_safe
def livez(request):
    """GET /livez (liveness): the process answers requests. No I/O at all."""
    return JsonResponse({"status": "up"})


@require_safe
def readyz(request):
    """GET /readyz (readiness): the database answers `SELECT 1`; nothing else is checked,
    and nothing about the failure is disclosed (the log has it)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        logger.warning("Readiness: the database does not answer", exc_info=True)
        return JsonResponse({"status": "down"}, status=503)
    return JsonResponse({"status": "up"})

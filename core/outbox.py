"""Sending Celery tasks from services without depending on Redis being up.

Every caller keeps its work in the database first (an outbox row or a durable mark) and
a beat task sweeps what was not sent, so a failed publish only costs latency. A failed
attempt costs the broker's short connect timeout once; for the next BACKOFF_SECONDS this
process skips publishing at once instead of paying that timeout on every call."""

import logging
import time

logger = logging.getLogger(__name__)

BACKOFF_SECONDS = 10.0
_broker_down_until = 0.0  # monotonic time before which this process does not try again


def publish(task, *, args, countdown=None) -> bool:
    """Send `task` with JSON `args`; never raise. Returns whether it was sent."""
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        logger.info("Broker recently unreachable; %s%s left to the sweep", task.name, args)
        return False
    try:
        task.apply_async(args=args, countdown=countdown, retry=False)
    except Exception as exc:  # noqa: BLE001 - any broker failure: keep serving
        _broker_down_until = time.monotonic() + BACKOFF_SECONDS
        logger.warning("Could not enqueue %s%s (%s); the database keeps the work", task.name, args, exc)
        return False
    return True


def reset() -> None:
    """Forget a recent failure (tests that restart Redis)."""
    global _broker_down_until
    _broker_down_until = 0.0

"""Transactions that fail whole, and services that need no savepoint inside them.

A service owns one transaction (`with transaction.atomic()`). Called inside another one,
that block becomes a savepoint (two more statements), so that its caller can catch the
error and go on. A caller that never does (the lease request: its idempotency key and its
work commit or roll back together) runs the work in `all_or_nothing()`, and services that
open their transaction with `service_atomic()` then join it without a savepoint."""

import threading
from contextlib import contextmanager

from django.db import transaction

_state = threading.local()


@contextmanager
def all_or_nothing():
    """One transaction that any error inside rolls back whole."""
    depth = getattr(_state, "depth", 0)
    _state.depth = depth + 1
    try:
        with transaction.atomic():
            yield
    finally:
        _state.depth = depth


def service_atomic():
    """`transaction.atomic()` for a service's own transaction: a savepoint when nested,
    except inside all_or_nothing()."""
    return transaction.atomic(savepoint=not getattr(_state, "depth", 0))

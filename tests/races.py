"""Race tests on PostgreSQL with real concurrent connections: run work on threads of their
own (one connection each) and report what each gave, a deadlock included."""

import threading

from django.db import connection

from core.errors import DomainError


def outcome(work):
    """What `work` gave on this thread's own connection: its result, a domain error's
    code, or any other error's type and message (a deadlock shows up here)."""
    try:
        return work()
    except DomainError as exc:
        return exc.code
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
        return f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()


def start(results: dict, name, work) -> threading.Thread:
    """Run `work` on a thread of its own; its outcome lands in `results[name]`."""
    thread = threading.Thread(target=lambda: results.__setitem__(name, outcome(work)))
    thread.start()
    return thread


def start_together(*works) -> tuple[list[threading.Thread], dict]:
    """Start the works so that they begin at the same moment (a barrier); results by index."""
    barrier = threading.Barrier(len(works))
    results: dict = {}

    def go(work):
        def run():
            barrier.wait()
            return work()

        return run

    return [start(results, index, go(work)) for index, work in enumerate(works)], results


def together(*works) -> list:
    """Run the works at the same moment and wait for them: their outcomes, in order."""
    threads, results = start_together(*works)
    for thread in threads:
        thread.join(timeout=60)
    return [results.get(index, "still running") for index in range(len(works))]

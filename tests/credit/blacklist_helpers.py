"""Shared helpers for the blacklist, appeal and repair tests (H3)."""

import datetime as dt

from credit.services import blacklist as services

# A Wednesday. Deadlines in the tests are computed from here.
WEDNESDAY = dt.datetime(2026, 11, 18, 10, 0, tzinfo=dt.UTC)


def set_now(time_machine, when: dt.datetime) -> None:
    """Stop the clock at `when` (time-machine's fixture: every clock in the process reads it,
    timezone.now and localdate included, until the next move or the end of the test)."""
    time_machine.move_to(when, tick=False)


def at_date(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, 0, tzinfo=dt.UTC)


def make_entry(regulator, subject, **overrides):
    values = {
        "category": "contract_default",
        "legal_basis": "Art. 12 E-Commerce Credit Measures",
        "decision_reference": f"REG-{subject.pk}-{overrides.get('severity', 'general')}",
        "description": "Failed to deliver paid orders.",
        "severity": "general",
    }
    values.update(overrides)
    return services.blacklist_subject(actor=regulator, subject_id=subject.pk, **values)

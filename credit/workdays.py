"""Working-day arithmetic for the appeal and repair deadlines.

A working day is Monday to Friday. Public holidays are NOT modelled: they differ by
country and by year, and the deadlines here are the platform's own service levels, so a
holiday simply counts as a working day. A deadline falls on a date (calendar day, UTC).
"""

from datetime import date, timedelta

SATURDAY = 5


def is_working_day(day: date) -> bool:
    return day.weekday() < SATURDAY


def add_working_days(start: date, days: int) -> date:
    """The date `days` working days after `start`; `start` itself never counts.

    Filing on a Friday with 1 working day to reply gives the following Monday; filing on a
    Saturday also gives Monday (the first working day after it)."""
    if days < 0:
        raise ValueError("days must not be negative")
    current = start
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """Working days in (start, end]: how many working days `end` lies after `start`
    (negative when end is before start)."""
    if end < start:
        return -working_days_between(end, start)
    count = 0
    current = start
    while current < end:
        current += timedelta(days=1)
        if is_working_day(current):
            count += 1
    return count

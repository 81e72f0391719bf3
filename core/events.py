"""Reading the domain events (core.models.DomainEvent) by increasing id: the apps above
the one that publishes them keep a cursor (core.models.EventCursor) and read with
`events_since_cursor`, in the transaction that handles what they read."""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.models import DomainEvent, EventCursor


def domain_events_after(*, after_id: int, limit: int = 100, types: list[str] | None = None) -> QuerySet[DomainEvent]:
    """Domain events with id > after_id, by increasing id (a consumer keeps its cursor)."""
    qs = DomainEvent.objects.filter(pk__gt=after_id)
    if types:
        qs = qs.filter(type__in=types)
    return qs.order_by("id")[: max(1, min(limit, 1000))]


def domain_events_with_ids(*, ids: list[int]) -> QuerySet[DomainEvent]:
    """The domain events among `ids` that exist (are committed), by increasing id: a
    consumer re-checks ids it skipped because their transaction had not committed yet."""
    return DomainEvent.objects.filter(pk__in=list(ids)).order_by("id")


MAX_TRACKED_GAPS = 10_000


def events_since_cursor(
    *, last_id: int, gaps: dict[str, str] | None, gap_timeout: timedelta, limit: int = 500
) -> tuple[list[DomainEvent], int, dict[str, str]]:
    """One read for a consumer that keeps a cursor (its last id, and the ids it passed
    without seeing them, each with when): the events to handle, by id, and the cursor's new
    last id and gaps, which the consumer saves in the transaction that handles the events.

    Ids come from a sequence and are taken when a row is inserted, not when its transaction
    commits: a transaction still open can commit a smaller id after a larger one was read.
    So every id the cursor passes without seeing it is kept as a gap and looked for again on
    each read, until it appears (handled then) or `gap_timeout` passes (taken as rolled
    back: sequences also skip ids on rollback)."""
    now = timezone.now()
    gaps = dict(gaps or {})
    late = list(domain_events_with_ids(ids=[int(i) for i in gaps])) if gaps else []
    fresh = list(domain_events_after(after_id=last_id, limit=limit))
    for event in late:
        gaps.pop(str(event.pk), None)
    # A cursor that has read nothing yet starts at the first committed event.
    expected = fresh[0].pk if last_id == 0 and fresh else last_id + 1
    for event in fresh:
        for missing in range(max(expected, event.pk - MAX_TRACKED_GAPS), event.pk):
            gaps[str(missing)] = now.isoformat()
        expected = event.pk + 1
    cutoff = now - gap_timeout
    gaps = {i: seen for i, seen in gaps.items() if datetime.fromisoformat(seen) >= cutoff}
    if len(gaps) > MAX_TRACKED_GAPS:
        gaps = dict(sorted(gaps.items(), key=lambda item: int(item[0]))[-MAX_TRACKED_GAPS:])
    return sorted(late + fresh, key=lambda e: e.pk), (fresh[-1].pk if fresh else last_id), gaps


def consume(*, cursor_name: str, handle, gap_timeout: timedelta, limit: int = 500) -> int:
    """One read for a consumer (`cursor_name`, '<app>.<stream>'): in one transaction, lock
    its cursor, read the events since it (`events_since_cursor`), `handle(events)`, and
    move the cursor. The handling and the cursor commit together, so each event is handled
    once. Returns how many events were handled."""
    with transaction.atomic():
        EventCursor.objects.get_or_create(name=cursor_name)
        cursor = EventCursor.objects.select_for_update(of=("self",)).get(name=cursor_name)
        events, last_id, gaps = events_since_cursor(
            last_id=cursor.last_id, gaps=cursor.gaps, gap_timeout=gap_timeout, limit=limit
        )
        handle(events)
        if (last_id, gaps) != (cursor.last_id, cursor.gaps or {}):
            cursor.last_id, cursor.gaps = last_id, gaps
            cursor.save(update_fields=["last_id", "gaps", "updated_at"])
    return len(events)

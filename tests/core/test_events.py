"""core.events.consume: each consumer keeps its own cursor over the domain events, handles
each event once, and a handler that fails leaves its cursor where it was."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.events import consume
from core.models import DomainEvent, EventCursor
from tests.factories import SubjectFactory

pytestmark = pytest.mark.django_db
TIMEOUT = timedelta(minutes=10)


def test_each_consumer_handles_every_event_once_with_its_own_cursor():
    subject = SubjectFactory()
    made = [
        DomainEvent.objects.create(type="subject.grade_changed", subject=subject, occurred_at=timezone.now())
        for _ in range(3)
    ]
    seen = {"a": [], "b": []}
    for name in ("a", "b"):
        handled = consume(cursor_name=name, handle=lambda batch, n=name: seen[n].extend(batch), gap_timeout=TIMEOUT)
        assert handled == 3
        assert consume(cursor_name=name, handle=lambda batch, n=name: seen[n].extend(batch), gap_timeout=TIMEOUT) == 0
    assert seen["a"] == seen["b"] == made
    assert dict(EventCursor.objects.values_list("name", "last_id")) == {"a": made[-1].pk, "b": made[-1].pk}


def test_a_failing_handler_leaves_the_cursor_where_it_was():
    event = DomainEvent.objects.create(type="subject.blacklisted", subject=SubjectFactory(), occurred_at=timezone.now())

    def fail(batch):
        raise RuntimeError("down")

    with pytest.raises(RuntimeError):
        consume(cursor_name="c", handle=fail, gap_timeout=TIMEOUT)
    assert not EventCursor.objects.filter(name="c", last_id__gt=0).exists()
    got = []
    assert consume(cursor_name="c", handle=got.extend, gap_timeout=TIMEOUT) == 1 and got == [event]

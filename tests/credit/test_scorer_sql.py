"""credit/services/ratings/scorer_sql.py is the scorer (credit/scoring.py) written as one
set-based PostgreSQL statement. For generated credit histories it must give every subject
the score, grade, components, reasons, event count and blacklist override the Python
scorer gives."""

import importlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credit.models import CreditEvent, Rating
from credit.selectors import ratings as rating_selectors
from credit.services.events import reverse_credit_event
from credit.services.ratings.scorer_sql import recompute_range_sql
from tests.factories import SubjectFactory

pytestmark = pytest.mark.django_db

KINDS = sorted(code for code, *_ in importlib.import_module("credit.migrations.0002_scoring_catalogue").CATALOGUE)
AT = datetime.now(UTC).replace(microsecond=0)

event = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(KINDS),
        "minutes_ago": st.integers(min_value=0, max_value=2000 * 24 * 60),
        "magnitude": st.sampled_from([Decimal("0"), Decimal("1"), Decimal("2.5"), Decimal("45")])
        | st.decimals(min_value=0, max_value=100, places=2),
    }
)
history = st.fixed_dictionaries(
    {
        "events": st.lists(event, max_size=12),
        "reversed": st.sets(st.integers(min_value=0, max_value=11), max_size=3),
        "blacklisted": st.booleans(),
    }
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories=st.lists(history, min_size=1, max_size=4))
def test_the_sql_scorer_returns_what_the_python_scorer_does(histories, regulator):
    savepoint = transaction.savepoint()
    try:
        subjects = []
        for spec in histories:
            subject = SubjectFactory(is_blacklisted=spec["blacklisted"])
            events = [
                CreditEvent.objects.create(
                    subject=subject,
                    kind_id=item["kind"],
                    source="platform",
                    occurred_at=AT - timedelta(minutes=item["minutes_ago"]),
                    magnitude=item["magnitude"],
                )
                for item in spec["events"]
            ]
            for index in sorted(spec["reversed"]):
                if index < len(events):
                    reverse_credit_event(actor=regulator, event_id=events[index].pk, reason="Recorded by mistake")
            subjects.append(subject)

        model = rating_selectors.active_scoring_model()
        ids = [subject.pk for subject in subjects]
        counts = recompute_range_sql(model=model, first_id=min(ids), last_id=max(ids), at=AT)

        assert counts["subjects"] == len(subjects)
        for subject in subjects:
            expected = rating_selectors.current_score(subject_id=subject.pk, at=AT)
            rating = Rating.objects.get(subject=subject)
            assert (rating.score, rating.grade) == (expected.score, expected.grade)
            assert rating.components == expected.components
            assert rating.reasons == expected.reasons
            assert rating.event_count == expected.event_count
            assert rating.blacklist_override == expected.blacklist_override
    finally:
        transaction.savepoint_rollback(savepoint)

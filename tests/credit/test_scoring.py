"""The scoring model: hand-computed scores, monotonicity properties, the methodology, and
the set-based SQL full recompute agreeing with the pure Python scorer."""

import importlib
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import grades
from core.errors import InvalidInput
from credit import scoring
from credit.models import CreditEvent, Rating, ScoringModel
from credit.selectors import ratings as rating_selectors
from credit.services import ratings as rating_services
from tests.factories import SubjectFactory

V1 = importlib.import_module("credit.migrations.0002_scoring_catalogue")
PARAMS = V1.V1_PARAMETERS
AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class _Kind:
    def __init__(self, code, name, component, impact, description):
        self.code, self.name, self.component, self.default_impact = code, name, component, Decimal(impact)


KINDS = scoring.kind_table(PARAMS, [_Kind(*row) for row in V1.CATALOGUE])
NEGATIVE = sorted(code for code, spec in KINDS.items() if spec.impact < 0)
POSITIVE = sorted(code for code, spec in KINDS.items() if spec.impact > 0)


def ev(kind, days_ago, magnitude=1.0):
    return scoring.EventFact(kind=kind, occurred_at=AT - timedelta(days=days_ago), magnitude=magnitude)


def score(events, blacklisted=False):
    return scoring.compute_score(parameters=PARAMS, kinds=KINDS, events=events, at=AT, blacklisted=blacklisted)


# --- Hand-computed ----------------------------------------------------------------------


def test_hand_computed_score_grade_components_and_reasons():
    result = score(
        [
            ev("lease_completed", 0),  # fulfilment: weight 1.0 x +2 x 0.5^(0/365)     = +2.0
            ev("paid_late", 365, 40),  # payment: 1.2 x -0.5 x min(40, cap 30) x 0.5^1 = -9.0
            ev("license_verified", 1095),  # verification: 0.8 x +5 x 0.5^(1095/1095)  = +2.0
            ev("dispute_lost", 0),  # disputes: 1.0 x -6 x 1                           = -6.0
        ]
    )
    # 70 + 2 - 9 + 2 - 6 = 59.00; 4 events, the first 1095 days old -> on the ladder: C (40-70)
    assert result.score == Decimal("59.00")
    assert result.grade == "C"
    assert result.components == {
        "fulfilment": {"points": 2.0, "events": 1},
        "payment": {"points": -9.0, "events": 1},
        "disputes": {"points": -6.0, "events": 1},
        "regulatory": {"points": 0.0, "events": 0},
        "verification": {"points": 2.0, "events": 1},
    }
    # Most negative first, then most positive; ties broken by code.
    assert [(r["code"], r["points"]) for r in result.reasons] == [
        ("paid_late", -9.0),
        ("dispute_lost", -6.0),
        ("lease_completed", 2.0),
        ("license_verified", 2.0),
    ]


def test_hand_computed_grade_a_at_exactly_ninety():
    events = [ev("qualification_verified", 1095)]  # 0.8 x 5 x 0.5 = 2.0
    events += [ev("license_verified", 0)]  # 0.8 x 5 x 1 = 4.0
    events += [ev("lease_completed", 0) for _ in range(7)]  # 7 x 2.0 = 14.0
    result = score(events)
    assert result.score == Decimal("90.00")  # 70 + 2 + 4 + 14
    assert result.grade == "A"
    # One lease fewer: 88.00 -> B
    assert score(events[:-1]).grade == "B"


def test_regulatory_penalty_decays_with_its_half_life():
    # regulatory: weight 1.5, -25, half-life 730 days: 1.5 x -25 x 0.5^(730/730) = -18.75
    events = [ev("regulatory_penalty", 730), ev("paid_on_time", 400), ev("paid_on_time", 400)]
    # paid_on_time: 1.2 x 1.5 x 0.5^(400/365) = 1.8 x 0.46760... = 0.84168 each
    expected = 70 - 18.75 + 2 * 1.8 * 0.5 ** (400 / 365)
    assert score(events).score == Decimal(f"{expected:.2f}")
    assert score(events).grade == "C"


def test_too_little_history_is_grade_m_with_a_reason():
    two_old = score([ev("lease_completed", 200), ev("lease_completed", 200)])
    assert two_old.grade == "M" and two_old.reasons[0]["code"] == "insufficient_history"
    three_recent = score([ev("lease_completed", 10)] * 3)  # 3 events but the first only 10 days old
    assert three_recent.grade == "M"
    assert score([ev("lease_completed", 100)] * 3).grade == "B"  # 76.xx, history long enough
    assert score([]).grade == "M" and score([]).score == Decimal("70.00")


def test_blacklist_forces_d_and_caps_the_score():
    excellent = [ev("license_verified", 400)] + [ev("lease_completed", 1) for _ in range(15)]
    assert score(excellent).grade == "A"
    listed = score(excellent, blacklisted=True)
    assert listed.grade == "D"
    assert listed.score == Decimal("39.00")
    assert listed.reasons[0]["code"] == "blacklisted"
    assert score([], blacklisted=True).grade == "D"  # even a new subject


def test_future_events_and_unknown_kinds_do_not_count():
    future = scoring.EventFact(kind="lease_defaulted", occurred_at=AT + timedelta(days=1))
    assert score([future, ev("no_such_kind", 1)]).event_count == 0


# --- Properties -------------------------------------------------------------------------

event_strategy = st.builds(
    ev,
    kind=st.sampled_from(sorted(KINDS)),
    days_ago=st.floats(min_value=0, max_value=3000),
    magnitude=st.floats(min_value=0, max_value=100),
)


@settings(max_examples=300, deadline=None)
@given(
    background=st.lists(event_strategy, max_size=25),
    kind=st.sampled_from(NEGATIVE),
    days_ago=st.floats(min_value=0, max_value=3000),
    magnitude=st.floats(min_value=0, max_value=100),
    blacklisted=st.booleans(),
)
def test_adding_a_negative_event_never_raises_the_score(background, kind, days_ago, magnitude, blacklisted):
    before = score(background, blacklisted)
    after = score([*background, ev(kind, days_ago, magnitude)], blacklisted)
    assert after.score <= before.score
    if not before.insufficient_history and not after.insufficient_history:
        assert grades.rank(after.grade) <= grades.rank(before.grade)


@settings(max_examples=300, deadline=None)
@given(
    background=st.lists(event_strategy, max_size=25),
    kind=st.sampled_from(sorted(KINDS)),
    newer=st.floats(min_value=0, max_value=3000),
    extra_age=st.floats(min_value=0, max_value=3000),
    magnitude=st.floats(min_value=0, max_value=100),
)
def test_an_older_event_never_weighs_more_than_a_newer_one(background, kind, newer, extra_age, magnitude):
    with_newer = score([*background, ev(kind, newer, magnitude)])
    with_older = score([*background, ev(kind, newer + extra_age, magnitude)])
    base = score(background)
    # The older event's effect on the score is never larger than the newer one's.
    assert abs(with_older.score - base.score) <= abs(with_newer.score - base.score)
    contribution = dict((code, points) for code, _, points, _ in with_newer.factors)
    older_contribution = dict((code, points) for code, _, points, _ in with_older.factors)
    assert abs(older_contribution.get(kind, 0)) <= abs(contribution.get(kind, 0)) + 1e-9


@settings(max_examples=200, deadline=None)
@given(background=st.lists(event_strategy, max_size=30))
def test_an_active_blacklist_entry_always_gives_the_lowest_grade(background):
    result = score(background, blacklisted=True)
    assert result.grade == "D"
    assert result.score <= Decimal(PARAMS["blacklist_override"]["max_score"])
    assert result.score <= score(background).score


# --- Parameters and methodology ---------------------------------------------------------


def test_validate_parameters_names_each_problem():
    bad = {
        **PARAMS,
        "components": {**PARAMS["components"], "payment": {"weight": -1, "half_life_days": 0}},
        "grades": [{"grade": "A", "min_score": 50}, {"grade": "B", "min_score": 70}],
        "kinds": {"made_up": {"impact": 1}},
    }
    with pytest.raises(InvalidInput) as caught:
        scoring.validate_parameters(bad, known_kinds=KINDS)
    assert {"components.payment.weight", "components.payment.half_life_days", "grades", "kinds.made_up"} <= set(
        caught.value.field_errors
    )
    assert scoring.validate_parameters(PARAMS, known_kinds=KINDS) is PARAMS


def test_describe_is_generated_from_the_parameters():
    text = scoring.describe(PARAMS, kinds=KINDS)
    assert [g["grade"] for g in text["grades"]] == ["A", "B", "C", "D"]
    assert text["grades"][1]["text"] == "70 <= score < 90"
    assert {c["code"]: c["half_life_days"] for c in text["components"]}["regulatory"] == 730
    assert "fewer than 3" in text["new_subject"]["text"]
    assert text["blacklist_override"]["grade"] == "D"
    paid_late = next(k for k in text["kinds"] if k["code"] == "paid_late")
    assert paid_late["max_magnitude"] == 30 and paid_late["weighted_impact"] == -0.6
    changed = {**PARAMS, "base": 60}
    assert scoring.describe(changed, kinds=KINDS)["base"] == 60


@pytest.mark.django_db
def test_methodology_follows_the_active_model(staff_user):
    assert rating_selectors.methodology()["version"] == 1
    new = rating_services.publish_scoring_model(
        actor=staff_user,
        parameters={**PARAMS, "new_subject": {"grade": "M", "min_events": 5, "min_history_days": 180}},
        notes="Longer probation",
    )
    described = rating_selectors.methodology()
    assert described["version"] == new.version == 2
    assert described["new_subject"]["min_events"] == 5
    assert ScoringModel.objects.get(version=1).status == ScoringModel.Status.RETIRED


# --- SQL full recompute == Python scorer ------------------------------------------------


@pytest.mark.django_db
def test_sql_full_recompute_equals_the_python_scorer(regulator):
    from credit.services.events import reverse_credit_event

    rng = random.Random(20261122)
    now = datetime.now(UTC)
    subjects = [SubjectFactory() for _ in range(40)]
    kinds = sorted(KINDS)
    for index, subject in enumerate(subjects):
        for _ in range(rng.choice([0, 1, 2, 3, 5, 8, 15])):
            CreditEvent.objects.create(
                subject=subject,
                kind_id=rng.choice(kinds),
                source="platform",
                occurred_at=now - timedelta(days=rng.uniform(0, 1500)),
                magnitude=Decimal(rng.choice(["1", "1", "2.5", "7", "45"])),
            )
        if index % 7 == 0:
            subject.is_blacklisted = True
            subject.save(update_fields=["is_blacklisted"])
    # Reversed events count in neither implementation.
    for event in CreditEvent.objects.order_by("id")[::9]:
        reverse_credit_event(actor=regulator, event_id=event.pk, reason="Recorded by mistake")

    model = rating_selectors.active_scoring_model()
    ids = [s.pk for s in subjects]
    counts = rating_services.recompute_range_sql(model=model, first_id=min(ids), last_id=max(ids), at=now)
    assert counts["subjects"] == 40 and counts["ratings"] == 40

    grades = set()
    for subject in subjects:
        expected = rating_selectors.current_score(subject_id=subject.pk, at=now)
        rating = Rating.objects.get(subject=subject)
        assert rating.score == expected.score, subject.pk
        assert rating.grade == expected.grade
        assert rating.components == expected.components
        assert rating.reasons == expected.reasons
        assert rating.event_count == expected.event_count
        assert rating.blacklist_override == expected.blacklist_override
        subject.refresh_from_db()
        assert (subject.score, subject.grade) == (expected.score, expected.grade)
        grades.add(expected.grade)
    assert {"D", "M"} <= grades and len(grades) >= 3  # the data exercises several rules

    # Running the same range again at the same instant changes nothing: no new ratings.
    again = rating_services.recompute_range_sql(model=model, first_id=min(ids), last_id=max(ids), at=now)
    assert again["ratings"] == 0 and again["grade_changes"] == 0

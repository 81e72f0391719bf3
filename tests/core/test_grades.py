"""The grade ladder, defined once in core.grades and used by credit (the scored letters),
payments (screening thresholds, compliance) and warehouses (listing minimums)."""

import pytest

from core import grades
from credit import scoring
from credit.models import Subject


def test_the_ladder_is_a_b_m_c_d_and_the_subject_grades_are_its_letters():
    assert grades.LADDER == ("A", "B", "M", "C", "D")
    assert [grades.rank(g) for g in grades.LADDER] == [5, 4, 3, 2, 1]
    assert set(Subject.Grade.values) == set(grades.LADDER)
    assert grades.SCORED == tuple(g for g in grades.LADDER if g != "M")


@pytest.mark.parametrize(
    "grade, minimum, meets",
    [
        ("A", "B", True),
        ("B", "B", True),
        ("M", "B", False),
        ("M", "C", True),  # new subjects pass a C minimum
        ("C", "M", False),
        ("D", "D", True),
        ("", "D", False),  # no grade meets no minimum
        (None, "D", False),
        ("D", "", True),  # no minimum: anyone
        ("D", None, True),
    ],
)
def test_at_least_compares_on_the_ladder(grade, minimum, meets):
    assert grades.at_least(grade, minimum) is meets


def test_grades_meeting_a_minimum_best_first():
    assert grades.at_least_grades("M") == ["A", "B", "M"]
    assert grades.at_least_grades("D") == list(grades.LADDER)


def test_the_next_better_scored_letter_skips_m():
    assert [scoring.next_grade(g) for g in ("D", "C", "B", "A", "M")] == ["C", "B", "A", None, None]

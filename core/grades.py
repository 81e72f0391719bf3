"""The grade ladder, defined once. Best first: A, B, M (new, too little history), C, D.

A score maps to one of the scored letters A-D; M is given to a subject with too little
history, and ranks between B and C wherever grades are compared (screening thresholds,
listing minimums, compliance)."""

LADDER = ("A", "B", "M", "C", "D")  # best first
RANK = {grade: len(LADDER) - index for index, grade in enumerate(LADDER)}  # A=5 ... D=1
SCORED = ("A", "B", "C", "D")  # the letters a score maps to, best first (M is not scored)


def rank(grade: str | None) -> int:
    """5 for A down to 1 for D; 0 for anything else (no grade)."""
    return RANK.get(grade or "", 0)


def at_least(grade: str | None, minimum: str | None) -> bool:
    """True when `grade` is as good as `minimum` or better (no minimum: anyone)."""
    if not minimum:
        return True
    return rank(grade) >= RANK[minimum]


def at_least_grades(minimum: str) -> list[str]:
    """The grades that meet `minimum`, best first."""
    return [grade for grade in LADDER if at_least(grade, minimum)]


def next_better_scored(grade: str) -> str | None:
    """The scored letter one step better than `grade` (None for A, or for M)."""
    if grade not in SCORED:
        return None
    index = SCORED.index(grade)
    return SCORED[index - 1] if index else None

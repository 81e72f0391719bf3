"""The scoring model, as pure functions over plain data.

A scoring model version (`ScoringModel.parameters`) is JSON of this shape::

    {
      "base": 70,                      # the neutral score of a subject with no events
      "score_min": 0, "score_max": 100,
      "components": {                  # every component: weight >= 0, half-life in days
        "fulfilment": {"weight": 1.0, "half_life_days": 365}, ...
      },
      "kinds": {                       # per event kind: component, points per unit, cap
        "paid_late": {"component": "payment", "impact": -0.5, "max_magnitude": 30}, ...
      },
      "grades": [{"grade": "A", "min_score": 90}, {"grade": "B", "min_score": 70},
                 {"grade": "C", "min_score": 40}, {"grade": "D", "min_score": 0}],
      "new_subject": {"grade": "M", "min_events": 3, "min_history_days": 90},
      "blacklist_override": {"grade": "D", "max_score": 39},
      "history": {"min_score_change": 0.5}
    }

The score of a subject at time `at` is::

    score = clamp(base + sum over components c of weight_c * sum over kinds k in c of
                  impact_k * sum over events e of kind k of
                  min(magnitude_e, max_magnitude_k) * 0.5 ** (age_days(e) / half_life_c),
                  score_min, score_max)

rounded to 2 decimals (half up). Reversed events and their reversals do not count; events
after `at` do not count. The grade is the first rung of `grades` whose `min_score` the
score reaches, unless the subject has too little history (grade M) or an active
blacklist entry (grade D, score capped at `max_score`), which wins over everything.

`credit.selectors.ratings` and `credit.services.ratings` feed these functions from the
database; `full_recompute_sql` is the same arithmetic as one set-based PostgreSQL
statement for the nightly run. tests/credit/test_scoring.py shows both agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from core import grades as ladder
from core.errors import InvalidInput

COMPONENTS = ("fulfilment", "payment", "disputes", "regulatory", "verification")
COMPONENT_LABELS = {
    "fulfilment": "Fulfilment",
    "payment": "Payment behaviour",
    "disputes": "Disputes and complaints",
    "regulatory": "Regulatory record",
    "verification": "Verification and tenure",
}
REASONS_PER_SIGN = 3
SECONDS_PER_DAY = 86400.0
CENT = Decimal("0.01")


# --- Plain data -------------------------------------------------------------------------


@dataclass(frozen=True)
class KindParams:
    code: str
    component: str
    impact: float
    max_magnitude: float | None
    name: str = ""


@dataclass(frozen=True)
class EventFact:
    """One counted event: its kind, when it happened and its magnitude."""

    kind: str
    occurred_at: datetime
    magnitude: float = 1.0


@dataclass
class ScoreResult:
    score: Decimal
    grade: str
    components: dict
    reasons: list
    event_count: int
    blacklist_override: bool
    insufficient_history: bool
    raw_points: float = 0.0
    factors: list = field(default_factory=list)


def to_cents(value: float) -> Decimal:
    """Round like PostgreSQL's `round(x::numeric, 2)`: 15 significant digits, half up."""
    return Decimal(f"{value:.15g}").quantize(CENT, rounding=ROUND_HALF_UP)


def cents_float(value: float) -> float:
    return float(to_cents(value))


# --- Parameters -------------------------------------------------------------------------


def kind_table(parameters: dict, catalogue: Iterable) -> dict[str, KindParams]:
    """The effective table of kinds: the model version's overrides over the catalogue's
    defaults. `catalogue` holds EventKind rows (or anything with code, component,
    default_impact, name)."""
    overrides = parameters.get("kinds", {})
    table = {}
    for kind in catalogue:
        override = overrides.get(kind.code, {})
        cap = override.get("max_magnitude")
        table[kind.code] = KindParams(
            code=kind.code,
            component=override.get("component", kind.component),
            impact=float(override.get("impact", kind.default_impact)),
            max_magnitude=None if cap is None else float(cap),
            name=kind.name,
        )
    return table


def validate_parameters(parameters, *, known_kinds: Iterable[str]) -> dict:
    """Check a model version's parameters; raise InvalidInput with field errors."""
    problems: dict[str, list[str]] = {}

    def add(key, message):
        problems.setdefault(key, []).append(message)

    if not isinstance(parameters, dict):
        raise InvalidInput(
            "Parameters must be a JSON object.",
            code="invalid_parameters",
            field_errors={"parameters": ["Not an object."]},
        )
    number = (int, float)
    lo, hi = parameters.get("score_min", 0), parameters.get("score_max", 100)
    if not isinstance(lo, number) or not isinstance(hi, number) or lo >= hi:
        add("score_min", "score_min and score_max must be numbers with score_min < score_max.")
        lo, hi = 0, 100
    base = parameters.get("base")
    if not isinstance(base, number) or not lo <= base <= hi:
        add("base", "base must be a number within the score range.")
    components = parameters.get("components")
    if not isinstance(components, dict) or set(components) != set(COMPONENTS):
        add("components", f"components must name exactly: {', '.join(COMPONENTS)}.")
        components = {}
    for name, spec in components.items():
        weight = spec.get("weight") if isinstance(spec, dict) else None
        half_life = spec.get("half_life_days") if isinstance(spec, dict) else None
        if not isinstance(weight, number) or weight < 0:
            add(f"components.{name}.weight", "A weight must be a number >= 0 (a negative weight would invert events).")
        if not isinstance(half_life, number) or half_life <= 0:
            add(f"components.{name}.half_life_days", "A half-life must be a positive number of days.")
    known = set(known_kinds)
    kinds = parameters.get("kinds", {})
    if not isinstance(kinds, dict):
        add("kinds", "kinds must be an object keyed by event kind code.")
        kinds = {}
    for code, spec in kinds.items():
        if code not in known:
            add(f"kinds.{code}", f"Unknown event kind '{code}'.")
            continue
        if not isinstance(spec, dict):
            add(f"kinds.{code}", "Each kind must be an object.")
            continue
        if "component" in spec and spec["component"] not in COMPONENTS:
            add(f"kinds.{code}.component", f"Unknown component '{spec['component']}'.")
        if "impact" in spec and not isinstance(spec["impact"], number):
            add(f"kinds.{code}.impact", "impact must be a number of points.")
        cap = spec.get("max_magnitude")
        if cap is not None and (not isinstance(cap, number) or cap <= 0):
            add(f"kinds.{code}.max_magnitude", "max_magnitude must be a positive number or null.")
    grades = parameters.get("grades")
    if (
        not isinstance(grades, list)
        or [g.get("grade") for g in grades if isinstance(g, dict)] != list(ladder.SCORED)
        or not all(isinstance(g.get("min_score"), number) for g in grades)
    ):
        add("grades", "grades must list A, B, C, D (best first), each with a numeric min_score.")
    else:
        mins = [g["min_score"] for g in grades]
        if any(a <= b for a, b in zip(mins, mins[1:], strict=False)) or mins[-1] > lo:
            add("grades", "min_score must strictly decrease from A to D, and D must start at score_min.")
    new_subject = parameters.get("new_subject", {})
    if not isinstance(new_subject, dict) or not all(
        isinstance(new_subject.get(key), int) and new_subject.get(key) >= 0
        for key in ("min_events", "min_history_days")
    ):
        add("new_subject", "new_subject needs whole numbers min_events and min_history_days (>= 0).")
    override = parameters.get("blacklist_override", {})
    if (
        not isinstance(override, dict)
        or override.get("grade") != "D"
        or not isinstance(override.get("max_score"), number)
    ):
        add("blacklist_override", "blacklist_override must force grade D and give a numeric max_score.")
    elif isinstance(grades, list) and len(grades) == 4 and isinstance(grades[2].get("min_score"), number):
        if override["max_score"] >= grades[2]["min_score"]:
            add("blacklist_override.max_score", "max_score must lie below grade C's min_score.")
    history = parameters.get("history", {"min_score_change": 0.5})
    if not isinstance(history, dict) or not isinstance(history.get("min_score_change", 0), number):
        add("history", "history.min_score_change must be a number of points.")
    if problems:
        raise InvalidInput("The scoring parameters are not valid.", code="invalid_parameters", field_errors=problems)
    return parameters


def grade_for(score: Decimal | float, parameters: dict) -> str:
    for rung in parameters["grades"]:
        if float(score) >= rung["min_score"]:
            return rung["grade"]
    return parameters["grades"][-1]["grade"]


def threshold_for(grade: str, parameters: dict) -> float | None:
    for rung in parameters["grades"]:
        if rung["grade"] == grade:
            return float(rung["min_score"])
    return None


def next_grade(grade: str) -> str | None:
    """The scored letter one step better (None for A, or for M)."""
    return ladder.next_better_scored(grade)


def min_score_change(parameters: dict) -> float:
    return float(parameters.get("history", {}).get("min_score_change", 0.5))


# --- The scorer -------------------------------------------------------------------------


def decay(age_days: float, half_life_days: float) -> float:
    return 0.5 ** (max(age_days, 0.0) / half_life_days)


def compute_score(
    *,
    parameters: dict,
    kinds: dict[str, KindParams],
    events: Iterable[EventFact],
    at: datetime,
    blacklisted: bool = False,
) -> ScoreResult:
    """The score, grade, component breakdown and reason codes of one subject at `at`."""
    components = parameters["components"]
    per_kind: dict[str, list] = {}  # code -> [count, decayed magnitude sum]
    first_at = None
    for event in events:
        spec = kinds.get(event.kind)
        if spec is None or event.occurred_at > at:
            continue
        magnitude = float(event.magnitude)
        if spec.max_magnitude is not None:
            magnitude = min(magnitude, spec.max_magnitude)
        age_days = (at - event.occurred_at).total_seconds() / SECONDS_PER_DAY
        slot = per_kind.setdefault(event.kind, [0, 0.0])
        slot[0] += 1
        slot[1] += magnitude * decay(age_days, components[spec.component]["half_life_days"])
        first_at = event.occurred_at if first_at is None else min(first_at, event.occurred_at)

    factors = []  # (code, component, points, count)
    by_component = {name: [0.0, 0] for name in COMPONENTS}
    for code, (count, decayed) in per_kind.items():
        spec = kinds[code]
        points = components[spec.component]["weight"] * spec.impact * decayed
        factors.append((code, spec.component, points, count))
        by_component[spec.component][0] += points
        by_component[spec.component][1] += count
    raw = sum(points for _, _, points, _ in factors)
    event_count = sum(count for *_, count in factors)

    lo, hi = parameters.get("score_min", 0), parameters.get("score_max", 100)
    value = min(max(parameters["base"] + raw, lo), hi)
    override = parameters["blacklist_override"]
    if blacklisted:
        value = min(value, override["max_score"])
    score = to_cents(value)

    new_rule = parameters["new_subject"]
    thin = event_count < new_rule["min_events"] or (
        first_at is None or first_at > at - timedelta(days=new_rule["min_history_days"])
    )
    if blacklisted:
        grade = override["grade"]
    elif thin:
        grade = new_rule.get("grade", "M")
    else:
        grade = grade_for(score, parameters)

    reasons = []
    if blacklisted:
        reasons.append({"code": "blacklisted", "component": None, "points": None, "events": 0})
    if thin and not blacklisted:
        reasons.append({"code": "insufficient_history", "component": None, "points": None, "events": event_count})
    reasons.extend(top_factors(factors))
    return ScoreResult(
        score=score,
        grade=grade,
        components={
            name: {"points": cents_float(points), "events": count} for name, (points, count) in by_component.items()
        },
        reasons=reasons,
        event_count=event_count,
        blacklist_override=blacklisted,
        insufficient_history=thin,
        raw_points=raw,
        factors=factors,
    )


def top_factors(factors) -> list[dict]:
    """The kinds that moved the score most down, then most up (REASONS_PER_SIGN each)."""
    rounded = [(code, component, cents_float(points), count) for code, component, points, count in factors]
    negative = sorted((f for f in rounded if f[2] < 0), key=lambda f: (f[2], f[0]))[:REASONS_PER_SIGN]
    positive = sorted((f for f in rounded if f[2] > 0), key=lambda f: (-f[2], f[0]))[:REASONS_PER_SIGN]
    return [
        {"code": code, "component": component, "points": points, "events": count}
        for code, component, points, count in negative + positive
    ]


# --- Methodology ------------------------------------------------------------------------


def describe(parameters: dict, *, kinds: dict[str, KindParams] | None = None) -> dict:
    """A self-contained, public description of a model version: what the methodology
    page and GET /api/v1/registry/methodology/ show."""
    components = parameters["components"]
    grades = parameters["grades"]
    new_rule = parameters["new_subject"]
    override = parameters["blacklist_override"]
    ladder = []
    for index, rung in enumerate(grades):
        upper = grades[index - 1]["min_score"] if index else None
        ladder.append(
            {
                "grade": rung["grade"],
                "min_score": rung["min_score"],
                "below_score": upper,
                "text": (
                    f"score >= {rung['min_score']}"
                    if upper is None
                    else f"{rung['min_score']} <= score < {upper}"
                    if rung["min_score"] > parameters.get("score_min", 0)
                    else f"score < {upper}"
                ),
            }
        )
    kind_rows = []
    for code, spec in sorted((kinds or {}).items(), key=lambda item: (item[1].component, item[0])):
        kind_rows.append(
            {
                "code": code,
                "name": spec.name,
                "component": spec.component,
                "impact": spec.impact,
                "max_magnitude": spec.max_magnitude,
                "weighted_impact": round(spec.impact * components[spec.component]["weight"], 4),
            }
        )
    return {
        "score_range": [parameters.get("score_min", 0), parameters.get("score_max", 100)],
        "base": parameters["base"],
        "formula": (
            "score = clamp(base + sum over components of weight x sum over events of "
            "impact x min(magnitude, cap) x 0.5^(age in days / component half-life), "
            f"{parameters.get('score_min', 0)}, {parameters.get('score_max', 100)}), rounded to 2 decimals"
        ),
        "components": [
            {
                "code": name,
                "name": COMPONENT_LABELS[name],
                "weight": components[name]["weight"],
                "half_life_days": components[name]["half_life_days"],
            }
            for name in COMPONENTS
        ],
        "kinds": kind_rows,
        "grades": ladder,
        "new_subject": {
            "grade": new_rule.get("grade", "M"),
            "min_events": new_rule["min_events"],
            "min_history_days": new_rule["min_history_days"],
            "text": (
                f"A subject with fewer than {new_rule['min_events']} counted events, or whose first "
                f"counted event is less than {new_rule['min_history_days']} days old, is graded "
                f"{new_rule.get('grade', 'M')} (new). Like the tax authority's M grade for new "
                "taxpayers: such a score is mostly the neutral base, so a letter on the A-D ladder "
                "would claim a track record the subject does not have yet, for better or worse."
            ),
        },
        "blacklist_override": {
            "grade": override["grade"],
            "max_score": override["max_score"],
            "text": (
                f"An active blacklist entry forces grade {override['grade']} and caps the score at "
                f"{override['max_score']}, whatever the events say. When the entry ends (expiry, "
                "lifting or repair), the grade is recomputed from the events alone."
            ),
        },
        "reversals": (
            "Events are never edited or deleted. A mistaken event is corrected by a reversal "
            "event with a reason; neither the original nor the reversal counts afterwards."
        ),
        "reason_codes": (
            f"Each rating lists the up to {REASONS_PER_SIGN} event kinds that lowered the score most "
            f"and the up to {REASONS_PER_SIGN} that raised it most, with their points; plus "
            "'blacklisted' or 'insufficient_history' when those rules applied."
        ),
        "recomputation": (
            "A subject is recomputed within seconds of a new event; every subject is recomputed "
            "nightly so time decay is applied. A new rating is kept in the history when the grade, "
            "the model version or the number of counted events changes, or the score moves by at "
            f"least {min_score_change(parameters)} points."
        ),
    }


# --- Guidance ---------------------------------------------------------------------------


def guidance(
    *,
    parameters: dict,
    kinds: dict[str, KindParams],
    events: list[EventFact],
    at: datetime,
    blacklisted: bool,
    horizon_days: int = 3 * 365,
) -> dict:
    """What would lift a subject to the next grade: the points needed, when decay alone
    gets there, when each negative factor fades below one point, and how many events of
    each positive kind would close the gap today."""
    current = compute_score(parameters=parameters, kinds=kinds, events=events, at=at, blacklisted=blacklisted)
    result = {
        "grade": current.grade,
        "score": float(current.score),
        "next_grade": None,
        "points_needed": None,
        "blocked_by": None,
        "decay_reaches_next_grade_on": None,
        "fading_negatives": [],
        "positive_options": [],
    }
    if blacklisted:
        result["blocked_by"] = {
            "code": "blacklisted",
            "text": (
                "An active blacklist entry forces grade D; it must end (expiry, lifting or an approved repair) first."
            ),
        }
        return result
    if current.insufficient_history:
        rule = parameters["new_subject"]
        missing = max(rule["min_events"] - current.event_count, 0)
        first = min((e.occurred_at for e in events if e.kind in kinds and e.occurred_at <= at), default=None)
        leaves_on = (first + timedelta(days=rule["min_history_days"])).date().isoformat() if first else None
        result["blocked_by"] = {
            "code": "insufficient_history",
            "events_missing": missing,
            "history_complete_on": leaves_on,
            "text": (
                f"Grade M (new) until at least {rule['min_events']} events are on record and the first is "
                f"{rule['min_history_days']} days old; then the score decides the grade."
            ),
        }
        result["next_grade"] = grade_for(current.score, parameters)
        return result

    target = next_grade(current.grade)
    if target is None:
        return result
    threshold = threshold_for(target, parameters)
    gap = threshold - float(current.score)
    result["next_grade"] = target
    result["points_needed"] = float(to_cents(gap))

    # Decay alone: step forward week by week.
    for day in range(7, horizon_days + 1, 7):
        later = compute_score(
            parameters=parameters, kinds=kinds, events=events, at=at + timedelta(days=day), blacklisted=False
        )
        if float(later.score) >= threshold:
            result["decay_reaches_next_grade_on"] = (at + timedelta(days=day)).date().isoformat()
            break

    for code, component, points, count in sorted(current.factors, key=lambda f: f[2]):
        if points >= -0.005:
            continue
        half_life = parameters["components"][component]["half_life_days"]
        days = max(0.0, half_life * math.log2(abs(points) / 1.0)) if abs(points) > 1 else 0.0
        result["fading_negatives"].append(
            {
                "code": code,
                "component": component,
                "points": float(to_cents(points)),
                "events": count,
                "below_one_point_on": (at + timedelta(days=math.ceil(days))).date().isoformat(),
            }
        )

    for code, spec in sorted(kinds.items()):
        per_event = parameters["components"][spec.component]["weight"] * spec.impact
        if per_event <= 0:
            continue
        result["positive_options"].append(
            {
                "code": code,
                "name": spec.name,
                "component": spec.component,
                "points_per_event": round(per_event, 2),
                "events_to_next_grade": math.ceil(round(gap / per_event, 6)) if gap > 0 else 0,
            }
        )
    result["positive_options"].sort(key=lambda option: (option["events_to_next_grade"], option["code"]))
    return result

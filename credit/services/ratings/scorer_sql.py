"""The scorer (credit.scoring.compute_score) as one set-based PostgreSQL statement, for the
full recompute's chunks. tests/credit/test_scorer_sql.py shows it returns what the
Python scorer does.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import connection

from core.errors import Conflict
from credit import scoring
from credit.models import EventKind, ScoringModel


def _zero_components_json() -> str:
    import json

    return json.dumps({name: {"points": 0.0, "events": 0} for name in scoring.COMPONENTS})


def recompute_range_sql(*, model: ScoringModel, first_id: int, last_id: int, at: datetime) -> dict:
    """The same arithmetic as credit.scoring.compute_score, as one set-based PostgreSQL
    statement over the subjects with ids in [first_id, last_id]: it aggregates their
    counted events per kind, scores and grades them, writes a Rating where something
    material changed, refreshes the Subject snapshots and records grade changes."""
    params = model.parameters
    kinds = scoring.kind_table(params, EventKind.objects.all())
    if not kinds:
        raise Conflict("The event kind catalogue is empty.", code="no_event_kinds")
    values_sql = _named_values(len(kinds))
    values_args = []
    for spec in kinds.values():
        component = params["components"][spec.component]
        values_args += [
            spec.code,
            spec.component,
            spec.impact,
            spec.max_magnitude,
            float(component["half_life_days"]),
            float(component["weight"]),
        ]
    component_json = ", ".join(
        f"'{name}', jsonb_build_object("
        f"'points', round(coalesce(sum(c.points) FILTER (WHERE c.component = '{name}'), 0)::numeric, 2), "
        f"'events', coalesce(sum(c.n) FILTER (WHERE c.component = '{name}'), 0))"
        for name in scoring.COMPONENTS
    )
    decayed_sql = (
        "(CASE WHEN e.magnitude = 1 THEN LEAST(1.0::float8, p.cap) ELSE LEAST(e.magnitude::float8, p.cap) END"
        " * power(0.5::float8, GREATEST(date_part('epoch', %(at)s::timestamptz - e.occurred_at), 0)"
        " / 86400.0 / p.half_life))"
    )
    grades = {rung["grade"]: float(rung["min_score"]) for rung in params["grades"]}
    new_rule = params["new_subject"]
    override = params["blacklist_override"]
    sql = f"""
    WITH params(kind, component, impact, cap, half_life, weight) AS (VALUES {values_sql}),
    reversed AS MATERIALIZED (
        -- A reversal is recorded for the same subject as the event it reverses. Few.
        SELECT r.reverses_id AS id, r.subject_id FROM credit_creditevent r
        WHERE r.reverses_id IS NOT NULL AND r.subject_id BETWEEN %(lo)s AND %(hi)s
    ),
    per_subject AS (
        -- One streaming pass over the chunk's events in index order: the score inputs only.
        -- No per-event anti-join with `reversed` here: the few subjects with a reversal are
        -- aggregated again, without their reversed events, in per_reversed_subject.
        SELECT e.subject_id, count(*) AS n, min(e.occurred_at) AS first_at,
               sum(p.weight * p.impact * {decayed_sql}) AS raw
        FROM credit_creditevent e
        JOIN params p ON p.kind = e.kind_id
        WHERE e.subject_id BETWEEN %(lo)s AND %(hi)s
          AND e.reverses_id IS NULL
          AND e.occurred_at <= %(at)s::timestamptz
        GROUP BY e.subject_id
    ),
    per_reversed_subject AS (
        SELECT rs.subject_id, count(e.id) AS n, min(e.occurred_at) AS first_at,
               sum(p.weight * p.impact * {decayed_sql}) AS raw
        FROM (SELECT DISTINCT x.subject_id FROM reversed x) rs
        LEFT JOIN (
            credit_creditevent e JOIN params p ON p.kind = e.kind_id
        ) ON e.subject_id = rs.subject_id
             AND e.reverses_id IS NULL
             AND e.occurred_at <= %(at)s::timestamptz
             AND NOT EXISTS (SELECT 1 FROM reversed x WHERE x.id = e.id)
        GROUP BY rs.subject_id
    ),
    subjects AS (
        SELECT s.id, s.score AS old_score, s.grade AS old_grade,
               (s.is_blacklisted OR bl.subject_id IS NOT NULL) AS blacklisted,
               (CASE WHEN pr.subject_id IS NULL THEN coalesce(ps.raw, 0) ELSE coalesce(pr.raw, 0) END) AS raw,
               (CASE WHEN pr.subject_id IS NULL THEN coalesce(ps.n, 0) ELSE pr.n END)::int AS n,
               (CASE WHEN pr.subject_id IS NULL THEN ps.first_at ELSE pr.first_at END) AS first_at
        FROM credit_subject s
        LEFT JOIN per_subject ps ON ps.subject_id = s.id
        LEFT JOIN per_reversed_subject pr ON pr.subject_id = s.id
        LEFT JOIN (
            SELECT DISTINCT b.subject_id FROM credit_blacklistentry b
            WHERE b.status = 'active' AND b.subject_id BETWEEN %(lo)s AND %(hi)s
        ) bl ON bl.subject_id = s.id
        WHERE s.id BETWEEN %(lo)s AND %(hi)s
    ),
    scored AS MATERIALIZED (
        -- Materialised: the rounded score is referenced by several grade tests below.
        SELECT x.*,
               round((CASE WHEN x.blacklisted THEN LEAST(x.clamped, %(bl_max)s::float8) ELSE x.clamped END)::numeric, 2)
                   AS score,
               (x.n < %(min_events)s OR x.first_at IS NULL
                OR x.first_at > %(at)s::timestamptz - make_interval(days => %(min_days)s)) AS thin
        FROM (
            SELECT s.*, LEAST(GREATEST(%(base)s::float8 + s.raw, %(smin)s::float8), %(smax)s::float8) AS clamped
            FROM subjects s
        ) x
    ),
    graded AS MATERIALIZED (
        -- Materialised so each score and grade expression is evaluated once per subject.
        SELECT s.*,
               CASE WHEN s.blacklisted THEN %(bl_grade)s
                    WHEN s.thin THEN %(m_grade)s
                    WHEN s.score >= %(ga)s THEN 'A' WHEN s.score >= %(gb)s THEN 'B'
                    WHEN s.score >= %(gc)s THEN 'C' ELSE 'D' END AS grade
        FROM scored s
    ),
    last_rating AS (
        SELECT DISTINCT ON (r.subject_id) r.subject_id, r.score, r.grade, r.model_id, r.event_count,
               r.blacklist_override
        FROM credit_rating r
        WHERE r.subject_id BETWEEN %(lo)s AND %(hi)s
        ORDER BY r.subject_id, r.computed_at DESC, r.id DESC
    ),
    final AS MATERIALIZED (
        SELECT g.*
        FROM graded g LEFT JOIN last_rating lr ON lr.subject_id = g.id
        WHERE lr.score IS NULL OR lr.grade <> g.grade OR g.old_grade <> g.grade OR lr.model_id <> %(model_id)s
              OR lr.event_count <> g.n OR lr.blacklist_override <> g.blacklisted
              OR abs(lr.score - g.score) >= %(min_change)s
    ),
    details AS (
        SELECT c.subject_id,
               jsonb_build_object({component_json}) AS components,
               coalesce(jsonb_agg(
                   jsonb_build_object('code', c.kind, 'component', c.component, 'points', c.rounded, 'events', c.n)
                   ORDER BY sign(c.rounded), abs(c.rounded) DESC, c.kind
               ) FILTER (WHERE c.rank <= {scoring.REASONS_PER_SIGN} AND c.rounded <> 0), '[]'::jsonb) AS factors
        FROM (
            SELECT r.*, row_number() OVER (
                PARTITION BY r.subject_id, sign(r.rounded) ORDER BY abs(r.rounded) DESC, r.kind
            ) AS rank
            FROM (
                -- Per-kind detail only for the subjects that get a new rating.
                SELECT f.id AS subject_id, k.kind, k.component, k.n, k.points,
                       round(k.points::numeric, 2) AS rounded
                FROM final f
                CROSS JOIN LATERAL (
                    SELECT e.kind_id AS kind, p.component, count(*) AS n,
                           p.weight * p.impact * sum({decayed_sql}) AS points
                    FROM credit_creditevent e
                    JOIN params p ON p.kind = e.kind_id
                    WHERE e.subject_id = f.id
                      AND e.reverses_id IS NULL
                      AND e.occurred_at <= %(at)s::timestamptz
                      AND NOT EXISTS (SELECT 1 FROM reversed x WHERE x.id = e.id)
                    GROUP BY e.kind_id, p.component, p.weight, p.impact
                ) k
            ) r
        ) c
        GROUP BY c.subject_id
    ),
    ins AS (
        INSERT INTO credit_rating (subject_id, model_id, score, grade, components, reasons, event_count,
                                   blacklist_override, computed_at, trigger)
        SELECT f.id, %(model_id)s, f.score, f.grade, coalesce(d.components, %(zero)s::jsonb),
               (CASE WHEN f.blacklisted
                     THEN jsonb_build_array(jsonb_build_object(
                         'code', 'blacklisted', 'component', NULL, 'points', NULL, 'events', 0))
                     ELSE '[]'::jsonb END)
               || (CASE WHEN f.thin AND NOT f.blacklisted
                     THEN jsonb_build_array(jsonb_build_object(
                         'code', 'insufficient_history', 'component', NULL, 'points', NULL, 'events', f.n))
                     ELSE '[]'::jsonb END)
               || coalesce(d.factors, '[]'::jsonb),
               f.n, f.blacklisted, %(at)s::timestamptz, 'full_run'
        FROM final f LEFT JOIN details d ON d.subject_id = f.id
        RETURNING id, subject_id, reasons
    ),
    upd AS (
        UPDATE credit_subject s
        SET score = f.score, grade = f.grade, rated_at = %(at)s::timestamptz, updated_at = %(at)s::timestamptz
        FROM final f
        -- ANY(ARRAY(...)): look the few changed subjects up by primary key instead of
        -- hashing the whole chunk's subject rows.
        WHERE s.id = f.id AND s.id = ANY(ARRAY(SELECT f2.id FROM final f2)) AND s.id BETWEEN %(lo)s AND %(hi)s
        RETURNING s.id
    ),
    changed AS (
        INSERT INTO core_domainevent (type, subject_id, payload, occurred_at)
        SELECT 'subject.grade_changed', f.id,
               jsonb_build_object('old_grade', f.old_grade, 'new_grade', f.grade,
                                  'old_score', f.old_score::float8, 'new_score', f.score::float8,
                                  'rating_id', i.id, 'model_version', %(version)s),
               %(at)s::timestamptz
        FROM final f JOIN ins i ON i.subject_id = f.id
        WHERE f.old_grade <> f.grade
        RETURNING 1
    ),
    audited AS (
        -- The audit row recompute_subject writes for a grade change, set-based (same transaction).
        INSERT INTO core_auditentry (at, actor_id, actor_label, action, subject_id, target_type, target_id,
                                     old, new, reason)
        SELECT now(), NULL, 'system', 'rating.grade_changed', f.id, 'credit.rating', i.id::text,
               jsonb_build_object('grade', f.old_grade, 'score', f.old_score::float8),
               jsonb_build_object('grade', f.grade, 'score', f.score::float8, 'model_version', %(version)s),
               left('Recomputed (full_run); reasons: '
                    || coalesce((SELECT string_agg(r->>'code', ', ') FROM jsonb_array_elements(i.reasons) r), ''),
                    532)
        FROM final f JOIN ins i ON i.subject_id = f.id
        WHERE f.old_grade <> f.grade
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM subjects), (SELECT count(*) FROM ins), (SELECT count(*) FROM upd),
           (SELECT count(*) FROM changed)
    """
    named = {
        "at": at,
        "lo": first_id,
        "hi": last_id,
        "zero": _zero_components_json(),
        "bl_max": float(override["max_score"]),
        "bl_grade": override["grade"],
        "m_grade": new_rule.get("grade", "M"),
        "min_events": int(new_rule["min_events"]),
        "min_days": int(new_rule["min_history_days"]),
        "base": float(params["base"]),
        "smin": float(params.get("score_min", 0)),
        "smax": float(params.get("score_max", 100)),
        # Numeric, like the scores they are compared with (no per-row float conversion).
        "ga": Decimal(str(grades["A"])),
        "gb": Decimal(str(grades["B"])),
        "gc": Decimal(str(grades["C"])),
        "model_id": model.pk,
        "version": model.version,
        "min_change": scoring.to_cents(scoring.min_score_change(params)),
    }
    named.update({f"v{index}": value for index, value in enumerate(values_args)})
    with connection.cursor() as cursor:
        cursor.execute(sql, named)
        subjects, ratings, updated, grade_changes = cursor.fetchone()
    return {"subjects": subjects, "ratings": ratings, "updated": updated, "grade_changes": grade_changes}


def _named_values(rows: int) -> str:
    """VALUES rows of (kind, component, impact, cap, half_life, weight) placeholders."""
    types = ("text", "text", "float8", "float8", "float8", "float8")
    return ", ".join(
        "(" + ", ".join(f"%(v{row * len(types) + col})s::{kind}" for col, kind in enumerate(types)) + ")"
        for row in range(rows)
    )

"""Server-rendered SVG charts (no JavaScript, no chart library): a subject's grade history.

The score is drawn as a step line (a rating holds until the next one), each rating as a
dot coloured by its grade with a tooltip, over horizontal bands for the grade thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

GRADE_COLOURS = {"A": "#067647", "B": "#2e90fa", "M": "#667085", "C": "#dc6803", "D": "#b42318"}
DEFAULT_THRESHOLDS = (("A", 90.0), ("B", 70.0), ("C", 40.0), ("D", 0.0))


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def grade_history_svg(
    points: Sequence,
    *,
    thresholds: Sequence[tuple[str, float]] = DEFAULT_THRESHOLDS,
    now: datetime | None = None,
    width: int = 640,
    height: int = 220,
    title: str = "Grade history",
) -> SafeString:
    """`points`: objects with `at` (datetime), `grade` and `score` (0-100), oldest first.
    `thresholds`: (grade, min_score) rungs, best first. `now` extends the last step to today."""
    if not points:
        return mark_safe(
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="60" '
            f'viewBox="0 0 {width} 60" aria-label="{escape(title)}: no ratings yet">'
            f'<text x="10" y="35" fill="#5b6675" font-size="14">No ratings yet.</text></svg>'
        )
    left, right, top, bottom = 44, 16, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    start = points[0].at
    end = max(now or points[-1].at, points[-1].at)
    span = max((end - start).total_seconds(), 1.0)

    def x(at: datetime) -> float:
        if len(points) == 1 and now is None:
            return left + plot_w / 2
        return left + plot_w * (at - start).total_seconds() / span

    def y(score: float) -> float:
        return top + plot_h * (1 - max(0.0, min(100.0, float(score))) / 100)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="gh-title gh-desc">',
        f'<title id="gh-title">{escape(title)}</title>',
        '<desc id="gh-desc">'
        + escape("; ".join(f"{p.at:%Y-%m-%d}: grade {p.grade}, score {_fmt(float(p.score))}" for p in points[-20:]))
        + "</desc>",
    ]
    # Grade bands: from each rung's minimum up to the next better rung's minimum.
    upper = 100.0
    for grade, minimum in thresholds:
        colour = GRADE_COLOURS.get(grade, "#667085")
        y_top, y_bottom = y(upper), y(minimum)
        parts.append(
            f'<rect x="{left}" y="{y_top:.1f}" width="{plot_w}" height="{max(y_bottom - y_top, 0):.1f}" '
            f'fill="{colour}" fill-opacity="0.07"/>'
        )
        parts.append(
            f'<text x="{width - right - 4}" y="{y_top + 12:.1f}" text-anchor="end" font-size="11" '
            f'fill="{colour}">{escape(grade)}</text>'
        )
        upper = float(minimum)
    for tick in (0, 25, 50, 75, 100):
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#d9dee5" '
            'stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="11" fill="#5b6675">{tick}</text>'
        )
    # Step line of the score.
    path = []
    for index, p in enumerate(points):
        px, py = x(p.at), y(p.score)
        if index == 0:
            path.append(f"M{px:.1f},{py:.1f}")
        else:
            path.append(f"H{px:.1f}V{py:.1f}")
    if now is not None and now > points[-1].at:
        path.append(f"H{x(now):.1f}")
    parts.append(f'<path d="{"".join(path)}" fill="none" stroke="#1c2430" stroke-width="2"/>')
    for p in points:
        colour = GRADE_COLOURS.get(p.grade, "#667085")
        label = f"{p.at:%Y-%m-%d %H:%M} UTC: grade {p.grade}, score {_fmt(float(p.score))}"
        parts.append(
            f'<circle cx="{x(p.at):.1f}" cy="{y(p.score):.1f}" r="4.5" fill="{colour}" stroke="#fff" '
            f'stroke-width="1.5" data-grade="{escape(p.grade)}"><title>{escape(label)}</title></circle>'
        )
    # Date labels: first and last (and the middle one when there is room).
    labels = [(start, "start"), (end, "end")]
    if (end - start).days > 60:
        labels.insert(1, (start + (end - start) / 2, "middle"))
    for at, anchor in labels:
        parts.append(
            f'<text x="{x(at):.1f}" y="{height - 10}" text-anchor="{anchor}" font-size="11" fill="#5b6675">'
            f"{at:%Y-%m-%d}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above

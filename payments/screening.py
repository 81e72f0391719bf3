"""Counterparty screening: allow / review / deny with reasons, stored with its inputs and
the data and model versions it used.

Decision rules, in order:
- the counterparty cannot be identified: review, `unknown_subject`;
- a name matches several subjects about equally well: review, `ambiguous_name` (the
  candidates and their scores are returned and stored);
- the subject is blacklisted: deny, `blacklisted`;
- its grade is below the institution's screening threshold (ladder A > B > M > C > D):
  deny, `grade_below_threshold`;
- otherwise allow, `good_standing`.

Registration-number lookups for a whole batch take one query; name lookups use the
registry's typo-tolerant search (pg_trgm on PostgreSQL).
"""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from credit.models import ScoringModel, Subject
from credit.selectors.accounts import normalize_registration_number
from payments.compliance import grade_at_least
from payments.models import InstitutionProfile, ScreeningDecision

ALLOW, REVIEW, DENY = "allow", "review", "deny"
NAME_CANDIDATES = 5


def _config(name: str):
    return settings.ENTREPOT["PAYMENTS"][name]


@dataclass
class Item:
    position: int
    registration_number: str = ""
    country: str = ""
    name: str = ""
    reference: str = ""

    def inputs(self) -> dict:
        data = {
            k: v
            for k, v in (
                ("registration_number", self.registration_number),
                ("country", self.country),
                ("name", self.name),
                ("reference", self.reference),
            )
            if v
        }
        return data


def _snapshot(subject: Subject) -> dict:
    return {
        "subject_id": subject.pk,
        "legal_name": subject.legal_name,
        "country": subject.country,
        "registration_number": subject.registration_number,
        "grade": subject.grade,
        "score": str(subject.score) if subject.score is not None else None,
        "rated_at": subject.rated_at.isoformat() if subject.rated_at else None,
        "is_blacklisted": subject.is_blacklisted,
    }


def _judge(subject: Subject, threshold: str) -> tuple[str, list[dict]]:
    if subject.is_blacklisted:
        return DENY, [{"code": "blacklisted", "message": f"{subject.legal_name} is on the blacklist."}]
    if not grade_at_least(subject.grade, threshold):
        return DENY, [
            {
                "code": "grade_below_threshold",
                "message": f"Grade {subject.grade} is below your threshold {threshold}.",
                "grade": subject.grade,
                "threshold": threshold,
            }
        ]
    return ALLOW, [
        {
            "code": "good_standing",
            "message": f"Grade {subject.grade} meets your threshold {threshold}; not blacklisted.",
            "grade": subject.grade,
            "threshold": threshold,
        }
    ]


def _name_candidates(name: str, country: str) -> list[tuple[Subject, float]]:
    from credit.selectors.registry import search_subjects

    rows = list(search_subjects(q=name, country=country or None)[:NAME_CANDIDATES])
    return [(row, round(min(1.0, float(getattr(row, "rank", 0.0) or 0.0) / 1.5), 3)) for row in rows]


def _candidate(subject: Subject, score: float) -> dict:
    return {
        "subject_id": subject.pk,
        "legal_name": subject.legal_name,
        "country": subject.country,
        "registration_number": subject.registration_number,
        "grade": subject.grade,
        "is_blacklisted": subject.is_blacklisted,
        "score": score,
    }


def _active_model_version() -> str:
    version = ScoringModel.objects.filter(status=ScoringModel.Status.ACTIVE).values_list("version", flat=True).first()
    return f"v{version}" if version is not None else "none"


def screen(*, api_key, institution: InstitutionProfile, items: list[dict]) -> tuple[uuid.UUID, list[ScreeningDecision]]:
    """Decide every item (dicts with registration_number + country, or name [+ country],
    and an optional reference) and store the decisions in one insert."""
    parsed = [
        Item(
            position=i,
            registration_number=normalize_registration_number(item.get("registration_number") or ""),
            country=(item.get("country") or "").strip().upper(),
            name=(item.get("name") or "").strip(),
            reference=(item.get("reference") or "").strip(),
        )
        for i, item in enumerate(items)
    ]
    threshold = institution.screening_minimum_grade
    model_version = _active_model_version()
    min_score = float(_config("SCREENING_NAME_MIN_SIMILARITY"))
    gap = float(_config("SCREENING_NAME_AMBIGUITY_GAP"))

    by_registration: dict[tuple[str, str], Subject] = {}
    wanted: dict[str, set[str]] = {}
    for item in parsed:
        if item.registration_number:
            wanted.setdefault(item.country, set()).add(item.registration_number)
    for country, numbers in wanted.items():
        for subject in Subject.objects.filter(country=country, registration_number__in=numbers):
            by_registration[(subject.country, subject.registration_number)] = subject

    batch_id = uuid.uuid4()
    now = timezone.now()
    decisions = []
    for item in parsed:
        subject, candidates = None, []
        if item.registration_number:
            subject = by_registration.get((item.country, item.registration_number))
            if subject is None:
                outcome, reasons = (
                    REVIEW,
                    [
                        {
                            "code": "unknown_subject",
                            "message": f"No subject registered as {item.registration_number} in {item.country}.",
                        }
                    ],
                )
        else:
            found = [(s, score) for s, score in _name_candidates(item.name, item.country) if score >= min_score]
            candidates = [_candidate(s, score) for s, score in found]
            if not found:
                outcome, reasons = (
                    REVIEW,
                    [{"code": "unknown_subject", "message": f"No subject's name resembles '{item.name}'."}],
                )
            elif len(found) > 1 and found[0][1] - found[1][1] < gap:
                outcome, reasons = (
                    REVIEW,
                    [
                        {
                            "code": "ambiguous_name",
                            "message": f"'{item.name}' matches {len(found)} subjects about equally well; "
                            "screen by registration number.",
                        }
                    ],
                )
            else:
                subject = found[0][0]
        if subject is not None:
            outcome, reasons = _judge(subject, threshold)
        decisions.append(
            ScreeningDecision(
                institution_id=institution.pk,
                api_key_prefix=getattr(api_key, "prefix", ""),
                batch_id=batch_id,
                position=item.position,
                decided_at=now,
                inputs=item.inputs(),
                decision=outcome,
                reasons=reasons,
                subject=subject,
                candidates=candidates,
                subject_snapshot=_snapshot(subject) if subject is not None else {},
                data_version=(
                    subject.rated_at.isoformat()
                    if subject is not None and subject.rated_at
                    else ("unrated" if subject is not None else "registry")
                ),
                model_version=model_version,
                threshold_grade=threshold,
            )
        )
    _store(decisions)
    return batch_id, decisions


COPY_COLUMNS = [
    "institution_id",
    "api_key_prefix",
    "batch_id",
    "position",
    "decided_at",
    "inputs",
    "decision",
    "reasons",
    "subject_id",
    "candidates",
    "subject_snapshot",
    "data_version",
    "model_version",
    "threshold_grade",
]


def _store(decisions: list[ScreeningDecision]) -> None:
    """One INSERT for a few rows; COPY (several times faster) for a batch on PostgreSQL.
    COPY gives no ids back, so a batch's ids are read afterwards by (batch_id, position)."""
    if len(decisions) < 20 or connection.vendor != "postgresql":
        with transaction.atomic():
            ScreeningDecision.objects.bulk_create(decisions, batch_size=1000)
        return
    table = ScreeningDecision._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        with (
            cursor.connection.cursor() as raw,
            raw.copy(f"COPY {table} ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy,
        ):
            for d in decisions:
                copy.write_row(
                    (
                        d.institution_id,
                        d.api_key_prefix,
                        d.batch_id,
                        d.position,
                        d.decided_at,
                        Jsonb(d.inputs),
                        d.decision,
                        Jsonb(d.reasons),
                        d.subject_id,
                        Jsonb(d.candidates),
                        Jsonb(d.subject_snapshot),
                        d.data_version,
                        d.model_version,
                        d.threshold_grade,
                    )
                )
    ids = dict(ScreeningDecision.objects.filter(batch_id=decisions[0].batch_id).values_list("position", "id"))
    for d in decisions:
        d.pk = d.id = ids[d.position]

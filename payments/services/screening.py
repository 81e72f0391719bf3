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
registry's typo-tolerant search (pg_trgm). The lookup and the inserts are prepared SQL
(payments.hotpath): the screening benchmark's path.
"""

import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import bidi, grades
from credit.models import ScoringModel, Subject
from credit.selectors.accounts import normalize_registration_number
from payments import hotpath
from payments.models import APICallRecord, InstitutionProfile, ScreeningDecision

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
        "name_has_bidi_controls": bidi.has_bidi_controls(subject.legal_name),
        "country": subject.country,
        "registration_number": subject.registration_number,
        "grade": subject.grade,
        "score": str(subject.score) if subject.score is not None else None,
        "rated_at": subject.rated_at.isoformat() if subject.rated_at else None,
        "is_blacklisted": subject.is_blacklisted,
    }


def _judge(subject: Subject, threshold: str) -> tuple[str, list[dict]]:
    if subject.is_blacklisted:
        # The name isolated: its direction controls cannot reorder the sentence around it.
        return DENY, [{"code": "blacklisted", "message": f"{bidi.isolate(subject.legal_name)} is on the blacklist."}]
    if not grades.at_least(subject.grade, threshold):
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
        "name_has_bidi_controls": bidi.has_bidi_controls(subject.legal_name),
        "country": subject.country,
        "registration_number": subject.registration_number,
        "grade": subject.grade,
        "is_blacklisted": subject.is_blacklisted,
        "score": score,
    }


_model_cache: dict = {"at": 0.0, "version": None}
MODEL_CACHE_SECONDS = 5.0


def _active_model_version() -> str:
    """The active scoring model's version, re-read at most every 5 s per process (it
    changes when a regulator publishes a model). The exact rating behind a decision is
    identified by `data_version` (the subject's rating time)."""
    now = time.monotonic()
    if _model_cache["version"] is None or now - _model_cache["at"] > MODEL_CACHE_SECONDS:
        version = (
            ScoringModel.objects.filter(status=ScoringModel.Status.ACTIVE).values_list("version", flat=True).first()
        )
        _model_cache.update(at=now, version=f"v{version}" if version is not None else "none")
    return _model_cache["version"]


def screen(
    *, api_key, institution: InstitutionProfile, items: list[dict], call_record: dict | None = None
) -> tuple[uuid.UUID, list["Decision"]]:
    """Decide every item (dicts with registration_number + country, or name [+ country],
    and an optional reference) and store the decisions in one insert. `call_record`
    (APICallRecord fields) is stored in the same statement / transaction: the API call
    and its decisions are committed together."""
    batch_id, decisions = decide(api_key=api_key, institution=institution, items=items)
    store(decisions, call_record=call_record)
    return batch_id, decisions


def summarize(decisions: list["Decision"]) -> dict:
    summary = {ALLOW: 0, REVIEW: 0, DENY: 0}
    for decision in decisions:
        summary[decision.decision] += 1
    return summary


def decide(*, api_key, institution: InstitutionProfile, items: list[dict]) -> tuple[uuid.UUID, list["Decision"]]:
    """The decisions for `items`, not stored yet (see `store`)."""
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

    # One query for the whole batch (registration_number is indexed); the country is
    # matched here, since the same number may exist in several countries.
    numbers = {item.registration_number for item in parsed if item.registration_number}
    by_registration = hotpath.subjects_by_registration(numbers) if numbers else {}

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
            Decision(
                institution_id=institution.pk,
                api_key_prefix=getattr(api_key, "prefix", ""),
                batch_id=batch_id,
                position=item.position,
                decided_at=now,
                inputs=item.inputs(),
                decision=outcome,
                reasons=reasons,
                subject_id=subject.pk if subject is not None else None,
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
    return batch_id, decisions


@dataclass
class Decision:
    """A decision before and after it is stored (`id` set by `store`). Plain attributes: a
    batch of 1,000 model instances costs more than the screening itself."""

    institution_id: int
    api_key_prefix: str
    batch_id: uuid.UUID
    position: int
    decided_at: object
    inputs: dict
    decision: str
    reasons: list
    subject_id: int | None
    candidates: list
    subject_snapshot: dict
    data_version: str
    model_version: str
    threshold_grade: str
    id: int | None = None

    @property
    def pk(self):
        return self.id


def store(decisions: list[Decision], *, call_record: dict | None = None) -> int | None:
    """Store the decisions (and the API call that asked for them, if given: APICallRecord
    fields) in one transaction; returns the call record's id. Up to 19 decisions: one
    INSERT statement (the call record in the same statement), one commit. A batch: COPY
    (several times faster); COPY gives no ids back, so a batch's ids are read afterwards by
    (batch_id, position)."""
    if len(decisions) < 20:
        ids, record_id = hotpath.insert_decisions(decisions, call_record)
        for d, pk in zip(decisions, ids, strict=True):
            d.id = pk
        return record_id
    with transaction.atomic():
        hotpath.copy_decisions(decisions)
        record_id = APICallRecord.objects.create(**call_record).pk if call_record is not None else None
    ids = dict(ScreeningDecision.objects.filter(batch_id=decisions[0].batch_id).values_list("position", "id"))
    for d in decisions:
        d.id = ids[d.position]
    return record_id

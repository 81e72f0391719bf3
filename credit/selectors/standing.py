"""Enforcement: "may this subject do X?", with the reasons for the answer.

Every app above credit asks here before it lets a subject act (lease warehouse space,
list capacity, serve the platform as a payment institution). An active blacklist entry
means no for every action; the reasons name each entry's category, decision reference
and publication end. Acting as a payment institution also needs the subject to be
registered as one.
"""

from dataclasses import dataclass, field

from core.errors import InvalidInput
from credit.models import BlacklistEntry, Subject
from credit.selectors.accounts import get_subject
from credit.selectors.blacklist import active_entries_for, active_entries_for_subjects

ACTIONS = {
    "lease": "lease warehouse space",
    "list_capacity": "list warehouse capacity",
    "act_as_payment_institution": "act as a payment institution",
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: list[dict] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.allowed


def _check_action(action: str) -> None:
    if action not in ACTIONS:
        raise InvalidInput(
            f"Unknown action '{action}'.",
            code="unknown_action",
            field_errors={"action": [f"Choose one of: {', '.join(ACTIONS)}."]},
        )


def _decide(*, subject: Subject, action: str, entries) -> Decision:
    reasons: list[dict] = []
    for entry in entries:
        reasons.append(
            {
                "code": "blacklisted",
                "message": (
                    f"Blacklisted ({BlacklistEntry.Category(entry.category).label}, {entry.severity}) under "
                    f"decision {entry.decision_reference}, published until "
                    f"{entry.publication_ends_on.isoformat()} (exclusive)."
                ),
                "entry_id": entry.pk,
                "category": entry.category,
                "decision_reference": entry.decision_reference,
                "publication_ends_on": entry.publication_ends_on.isoformat(),
            }
        )
    if action == "act_as_payment_institution" and not subject.is_payment_institution:
        reasons.append(
            {
                "code": "not_a_payment_institution",
                "message": f"{subject.legal_name} is not registered as a payment institution.",
            }
        )
    if reasons:
        return Decision(allowed=False, reasons=reasons)
    return Decision(
        allowed=True,
        reasons=[
            {
                "code": "good_standing",
                "message": f"{subject.legal_name} has no active blacklist entry and may {ACTIONS[action]}.",
            }
        ],
    )


def may_subject(*, subject_id: int, action: str) -> Decision:
    """Raises SubjectNotFound for an unknown subject and InvalidInput for an unknown action."""
    _check_action(action)
    subject = get_subject(subject_id=subject_id)
    return _decide(subject=subject, action=action, entries=active_entries_for(subject_id=subject.pk))


def may_subjects(*, checks: list[tuple[Subject, str]]) -> list[Decision]:
    """`may_subject` for subjects already loaded, in one query for all of them (the lease
    gate asks for the tenant and the operator at once), or none when each was read with
    `active_entry_exists_sql`. One Decision per (subject, action)."""
    for _, action in checks:
        _check_action(action)
    entries: dict[int, list[BlacklistEntry]] = {}
    # A subject read with `active_entry_exists_sql` (the lease gate's tenant and operator)
    # says whether it has an entry: only those that do, or that don't say, are looked up.
    unknown = {subject.pk for subject, _ in checks if getattr(subject, "has_active_blacklist_entry", True)}
    for entry in active_entries_for_subjects(subject_ids=unknown):
        entries.setdefault(entry.subject_id, []).append(entry)
    return [_decide(subject=subject, action=action, entries=entries.get(subject.pk, [])) for subject, action in checks]

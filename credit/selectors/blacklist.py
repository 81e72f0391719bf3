"""Reads of the blacklist, appeals and repair applications, with visibility applied.

- The public sees only `public_blacklist()`: active entries inside their publication
  period (publication_ends_on is exclusive), with no private fields needed.
- Regulators see every entry, appeal and application (`entries_for_regulator`, the queues).
- A subject's members see their own subject's full record (`subject_record`).
"""

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Q, QuerySet
from django.utils import timezone

from core.errors import NotFound
from core.models import AuditEntry
from core.roles import is_regulator
from credit import errors, hotpath
from credit.hotpath import active_entry_exists_sql as active_entry_exists_sql  # for warehouses.hotpath
from credit.models import Appeal, BlacklistEntry, CreditEvent, RepairApplication, ReviewRequest, Subject
from credit.selectors.accounts import get_subject, is_member

OPEN_APPEAL = [Appeal.Status.FILED, Appeal.Status.ACKNOWLEDGED]
OPEN_REPAIR = [RepairApplication.Status.FILED, RepairApplication.Status.ACKNOWLEDGED]


def _today() -> date:
    return timezone.localdate()


def public_blacklist(*, on: date | None = None) -> QuerySet[BlacklistEntry]:
    """The published blacklist: active entries whose period covers `on` (default today).
    Filtering on the date as well as the status hides an entry on its end date even before
    the hourly expiry task has run."""
    on = on or _today()
    return (
        BlacklistEntry.objects.filter(
            status=BlacklistEntry.Status.ACTIVE, starts_on__lte=on, publication_ends_on__gt=on
        )
        .select_related("subject")
        .order_by("-starts_on", "-id")
    )


def active_entries_for(*, subject_id: int) -> QuerySet[BlacklistEntry]:
    """A subject's active entries (what enforcement looks at). Like `public_blacklist`, the
    period is half-open: on its end date an entry no longer counts, even before the hourly
    expiry task has moved it to expired."""
    return BlacklistEntry.objects.filter(
        subject_id=subject_id, status=BlacklistEntry.Status.ACTIVE, publication_ends_on__gt=_today()
    ).order_by("publication_ends_on", "id")


def active_entries_for_subjects(*, subject_ids) -> list[BlacklistEntry]:
    """`active_entries_for` over several subjects in one query. A prepared statement
    (credit.hotpath): the lease gate asks this on every lease request."""
    return hotpath.active_entries_for_subjects(subject_ids=subject_ids)


def _filter_given(qs: QuerySet, **lookups) -> QuerySet:
    """`qs` filtered by each lookup that has a value (None and empty ones are left out)."""
    given = {lookup: value for lookup, value in lookups.items() if value}
    return qs.filter(**given) if given else qs


def entries_for_regulator(
    *,
    status: str | None = None,
    severity: str | None = None,
    category: str | None = None,
    country: str | None = None,
    q: str | None = None,
    subject_id: int | None = None,
) -> QuerySet[BlacklistEntry]:
    qs = _filter_given(
        BlacklistEntry.objects.select_related("subject", "decided_by").order_by("-starts_on", "-id"),
        status=status,
        severity=severity,
        category=category,
        subject__country=country.upper() if country else None,
        subject_id=subject_id,
    )
    if q:
        q = q.strip()
        qs = qs.filter(
            Q(subject__legal_name__icontains=q)
            | Q(subject__registration_number__icontains=q)
            | Q(decision_reference__icontains=q)
        )
    return qs


def entries_visible_to(*, user) -> QuerySet[BlacklistEntry]:
    """Every entry for a regulator; the entries of subjects the user acts for otherwise."""
    qs = BlacklistEntry.objects.select_related("subject", "decided_by").order_by("-starts_on", "-id")
    if is_regulator(user):
        return qs
    from credit.selectors.accounts import subject_ids_acted_for

    return qs.filter(subject_id__in=subject_ids_acted_for(user=user))


def get_entry_for(*, user, entry_id) -> BlacklistEntry:
    try:
        return entries_visible_to(user=user).get(pk=entry_id)
    except (BlacklistEntry.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"No blacklist entry with id {entry_id}.", code="entry_not_found") from None


def reviews_visible_to(*, model: type[ReviewRequest], user) -> QuerySet:
    """Every appeal (or repair application, by `model`) for a regulator; those of the
    subjects the user acts for otherwise."""
    qs = model.objects.select_related("entry__subject", "filed_by", "decided_by")
    if is_regulator(user):
        return qs
    from credit.selectors.accounts import subject_ids_acted_for

    return qs.filter(entry__subject_id__in=subject_ids_acted_for(user=user))


def appeals_visible_to(*, user) -> QuerySet[Appeal]:
    return reviews_visible_to(model=Appeal, user=user)


def repairs_visible_to(*, user) -> QuerySet[RepairApplication]:
    return reviews_visible_to(model=RepairApplication, user=user)


# --- Deadlines -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """The next step owed on an open appeal or repair application. A step is due by the
    end of `due_on`; it is overdue from the day after."""

    step: str  # "reply" or "decision"
    due_on: date
    overdue: bool


def next_deadline(item: Appeal | RepairApplication, *, on: date | None = None) -> Deadline | None:
    on = on or _today()
    if item.status == "filed":
        return Deadline("reply", item.reply_due_on, on > item.reply_due_on)
    if item.status == "acknowledged" and item.decision_due_on:
        return Deadline("decision", item.decision_due_on, on > item.decision_due_on)
    return None


def _with_deadlines(items, on: date | None = None) -> list:
    on = on or _today()
    result = []
    for item in items:
        item.deadline = next_deadline(item, on=on)
        result.append(item)
    return result


def review_queue(
    *, model: type[ReviewRequest], include_decided: bool = False, overdue_only: bool = False, on: date | None = None
) -> list:
    """Open appeals (or repair applications, by `model`), oldest due first, each with
    `.deadline` (step, due_on, overdue)."""
    qs = model.objects.select_related("entry__subject", "filed_by", "decided_by")
    if not include_decided:
        qs = qs.filter(status__in=model.OPEN)
    items = _with_deadlines(qs.order_by("reply_due_on", "id"), on=on)
    if overdue_only:
        items = [i for i in items if i.deadline and i.deadline.overdue]
    return sorted(items, key=lambda i: (i.deadline is None, i.deadline.due_on if i.deadline else date.max, i.pk))


def appeal_queue(*, include_decided: bool = False, overdue_only: bool = False, on: date | None = None) -> list[Appeal]:
    """Open appeals, oldest due first, each with `.deadline` (step, due_on, overdue)."""
    return review_queue(model=Appeal, include_decided=include_decided, overdue_only=overdue_only, on=on)


def repair_queue(
    *, include_decided: bool = False, overdue_only: bool = False, on: date | None = None
) -> list[RepairApplication]:
    return review_queue(model=RepairApplication, include_decided=include_decided, overdue_only=overdue_only, on=on)


def get_review(*, model: type[ReviewRequest], pk) -> ReviewRequest:
    """One appeal or repair application (by `model`), with `.deadline`."""
    try:
        item = model.objects.select_related("entry__subject", "filed_by", "decided_by").get(pk=pk)
    except (model.DoesNotExist, ValueError, TypeError):
        noun, code = ("appeal", "appeal") if model is Appeal else ("repair application", "repair")
        raise NotFound(f"No {noun} with id {pk}.", code=f"{code}_not_found") from None
    item.deadline = next_deadline(item)
    return item


def get_appeal(*, appeal_id) -> Appeal:
    return get_review(model=Appeal, pk=appeal_id)


def get_repair(*, repair_id) -> RepairApplication:
    return get_review(model=RepairApplication, pk=repair_id)


def dashboard_counts(*, on: date | None = None) -> dict:
    on = on or _today()
    appeals = appeal_queue(on=on)
    repairs = repair_queue(on=on)
    return {
        "active_entries": BlacklistEntry.objects.filter(status=BlacklistEntry.Status.ACTIVE).count(),
        "blacklisted_subjects": Subject.objects.filter(is_blacklisted=True).count(),
        "open_appeals": len(appeals),
        "overdue_appeals": sum(1 for a in appeals if a.deadline and a.deadline.overdue),
        "open_repairs": len(repairs),
        "overdue_repairs": sum(1 for r in repairs if r.deadline and r.deadline.overdue),
        "expiring_soon": BlacklistEntry.objects.filter(
            status=BlacklistEntry.Status.ACTIVE, publication_ends_on__lte=on + timezone.timedelta(days=14)
        ).count(),
    }


# --- A subject's own record --------------------------------------------------------------------


@dataclass
class RepairEligibility:
    allowed: bool
    earliest_on: date
    reason: str = ""


@dataclass
class SubjectRecord:
    subject: Subject
    events: list = field(default_factory=list)
    entries: list = field(default_factory=list)
    appeals: list = field(default_factory=list)
    repairs: list = field(default_factory=list)


def repair_eligibility(*, entry: BlacklistEntry, on: date | None = None) -> RepairEligibility:
    from credit.services.blacklist import earliest_repair_date

    on = on or _today()
    earliest = earliest_repair_date(entry=entry)
    if entry.status != BlacklistEntry.Status.ACTIVE:
        return RepairEligibility(False, earliest, f"The entry is {entry.get_status_display().lower()}.")
    if any(r.status in OPEN_REPAIR for r in entry.repairs.all()):
        return RepairEligibility(False, earliest, "A repair application is already open.")
    if on < earliest:
        return RepairEligibility(False, earliest, f"Repair may be applied for from {earliest.isoformat()}.")
    return RepairEligibility(True, earliest)


def subject_record(*, user, subject_id: int) -> SubjectRecord:
    """The full record of a subject the user acts for (or any, for a regulator): every
    credit event including private evidence references, every blacklist entry with its
    appeals and repairs. Others get SubjectNotFound."""
    subject = get_subject(subject_id=subject_id)
    if not (is_member(user=user, subject_id=subject.pk) or is_regulator(user)):
        raise errors.SubjectNotFound(f"No subject with id {subject_id}.")
    entries = list(
        BlacklistEntry.objects.filter(subject=subject)
        .select_related("decided_by")
        .prefetch_related("appeals", "repairs")
        .order_by("-starts_on", "-id")
    )
    on = _today()
    for entry in entries:
        entry.repair_eligibility = repair_eligibility(entry=entry, on=on)
        entry.open_challenges = {a.challenge for a in entry.appeals.all() if a.status in OPEN_APPEAL}
        decided = [r for r in entry.repairs.all() if r.status in ("approved", "rejected")]
        latest = max(decided, key=lambda r: (r.decided_at, r.pk)) if decided else None
        entry.can_appeal_repair = latest is not None and latest.status == "rejected"
    appeals = _with_deadlines(
        Appeal.objects.filter(entry__subject=subject).select_related("entry").order_by("-filed_at", "-id"), on=on
    )
    repairs = _with_deadlines(
        RepairApplication.objects.filter(entry__subject=subject).select_related("entry").order_by("-filed_at", "-id"),
        on=on,
    )
    events = list(
        CreditEvent.objects.filter(subject=subject).select_related("kind", "reverses").order_by("-occurred_at", "-id")
    )
    return SubjectRecord(subject=subject, events=events, entries=entries, appeals=appeals, repairs=repairs)


# --- Audit -------------------------------------------------------------------------------------


def audit_log(
    *,
    action: str | None = None,
    actor: str | None = None,
    subject_id: int | None = None,
    target_type: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AuditEntry]:
    """The audit trail for regulators, newest first. `until` is inclusive (whole day)."""
    return _filter_given(
        AuditEntry.objects.select_related("subject").order_by("-at", "-id"),
        action__startswith=action,
        actor_label__icontains=actor,
        subject_id=subject_id,
        target_type=target_type,
        at__date__gte=since,
        at__date__lte=until,
    )

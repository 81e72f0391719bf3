"""Appeals and repair applications: one workflow for both (credit.models.ReviewRequest).

A subject's member files one about a blacklist entry; the regulator replies within the
reply deadline, then decides within the decision deadline (both in working days, set per
kind in settings). Lock order: subject → entry → the appeal or application.

    transition  from          to            audit action
    reply       filed         acknowledged  appeal.replied / repair.replied
    uphold      acknowledged  upheld        appeal.upheld      (appeals)
    dismiss     acknowledged  dismissed     appeal.dismissed   (appeals)
    approve     acknowledged  approved      repair.approved    (repair applications)
    reject      acknowledged  rejected      repair.rejected    (repair applications)

Replying or deciding the same way twice changes nothing. Granting (upholding, approving)
then acts on the entry, if still active, in the same transaction: see `_uphold_appeal`
and `_approve_repair`.
"""

from collections.abc import Callable
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import record_audit
from core.errors import Conflict, InvalidInput, NotFound
from core.transitions import Lifecycle, Transition
from credit.models import Appeal, BlacklistEntry, RepairApplication, ReviewRequest
from credit.services.blacklist.entries import end_entry, lock_entry, shorten_publication
from credit.services.blacklist.policy import (
    checked_text,
    decision_working_days,
    earliest_repair_date,
    reply_working_days,
    require_member_of_entry,
    require_regulator,
    required_text,
)
from credit.workdays import add_working_days


class ReviewWorkflow:
    """filed → acknowledged → granted or denied, for one kind of review request."""

    def __init__(
        self,
        *,
        kind: str,
        model: type[ReviewRequest],
        noun: str,
        grant: tuple[str, str],
        deny: tuple[str, str],
        reply_first: str,
        open_message: str,
        on_granted: Callable[..., None],
        snapshot_fields: tuple[str, ...] = (),
        grant_guards: tuple = (),
    ):
        self.kind, self.model, self.noun = kind, model, noun
        self.grant, self.deny = grant[0], deny[0]
        self.reply_first, self.open_message = reply_first, open_message
        self.on_granted = on_granted
        self.snapshot_fields = snapshot_fields
        self.lifecycle = Lifecycle(
            model=model,
            lock=self.lock,
            snapshot=self.snapshot,
            refuse=self._refusal,
            subject_id=lambda item: item.entry.subject_id,
            transitions={
                "reply": Transition(
                    sources=(ReviewRequest.FILED,), target=ReviewRequest.ACKNOWLEDGED, action=f"{kind}.replied"
                ),
                grant[0]: Transition(
                    sources=(ReviewRequest.ACKNOWLEDGED,),
                    target=grant[1],
                    action=f"{kind}.{grant[1]}",
                    guards=grant_guards,
                ),
                deny[0]: Transition(sources=(ReviewRequest.ACKNOWLEDGED,), target=deny[1], action=f"{kind}.{deny[1]}"),
            },
        )

    def lock(self, pk) -> ReviewRequest:
        try:
            entry_id = self.model.objects.filter(pk=pk).values_list("entry_id", flat=True).first()
        except (ValueError, TypeError):
            entry_id = None
        if entry_id is None:
            raise NotFound(f"No {self.noun} with id {pk}.", code=f"{self.kind}_not_found")
        lock_entry(entry_id)
        return self.model.objects.select_for_update(of=("self",)).select_related("entry__subject").get(pk=pk)

    def snapshot(self, item: ReviewRequest) -> dict:
        return {
            "status": item.status,
            **{name: getattr(item, name) for name in self.snapshot_fields},
            "reply_due_on": item.reply_due_on.isoformat(),
            "decision_due_on": item.decision_due_on.isoformat() if item.decision_due_on else None,
        }

    def _refusal(self, item: ReviewRequest, name: str) -> Exception:
        if item.status == ReviewRequest.FILED:
            return Conflict(self.reply_first, code="reply_first")
        return Conflict(f"This {self.noun} has already been decided.", code=f"{self.kind}_decided")

    def already_open(self, **field_errors) -> Conflict:
        return Conflict(self.open_message, code=f"{self.kind}_open", field_errors=field_errors or None)

    def file(self, *, actor, entry: BlacklistEntry, reason: str, **values) -> ReviewRequest:
        """Create the request on a locked entry, the reply due within the working days."""
        now = timezone.now()
        try:
            with transaction.atomic():
                item = self.model.objects.create(
                    entry=entry,
                    filed_by=actor,
                    filed_at=now,
                    reply_due_on=add_working_days(timezone.localdate(now), reply_working_days(self.kind)),
                    **values,
                )
        except IntegrityError:
            raise self.already_open() from None
        record_audit(
            actor=actor,
            action=f"{self.kind}.filed",
            target=item,
            subject_id=entry.subject_id,
            new={**self.snapshot(item), "entry_id": entry.pk},
            reason=reason,
        )
        return item

    def reply(self, *, actor, pk, reply: str) -> ReviewRequest:
        """The regulator's reply; the decision is then due within the working days."""
        require_regulator(actor)
        reply = checked_text(reply, "reply", message="Write the reply.", code="reply_required")
        now = timezone.now()
        due = add_working_days(timezone.localdate(now), decision_working_days(self.kind))
        fields = {"replied_at": now, "reply": reply, "decision_due_on": due}
        return self.lifecycle.run("reply", actor=actor, pk=pk, reason=reply, fields=fields)

    def decide(self, *, actor, pk, grant: bool, reasons: str, **context) -> ReviewRequest:
        """Grant or deny, with reasons; granting then acts on the entry if still active."""
        require_regulator(actor)
        reasons = checked_text(
            reasons, "reasons", message="Give the reasons for the decision.", code="reasons_required"
        )
        with transaction.atomic():
            item = self.lock(pk)
            before = item.status
            fields = {"decided_at": timezone.now(), "decided_by": actor, "decision_reasons": reasons}
            name = self.grant if grant else self.deny
            self.lifecycle.apply(name, item, actor=actor, reason=reasons, fields=fields, **context)
            if grant and item.status != before and item.entry.status == BlacklistEntry.Status.ACTIVE:
                self.on_granted(item, actor=actor, **context)
        return item


# --- Appeals ---------------------------------------------------------------------------------


def _period_is_valid(appeal: Appeal, *, actor, new_publication_ends_on: date | None = None, **context) -> None:
    """Upholding a period challenge needs a new end after the start, before the current end."""
    if appeal.challenge != Appeal.Challenge.PERIOD:
        return
    entry, new_end = appeal.entry, new_publication_ends_on
    problem = None
    if new_end is None:
        problem = "Give the new publication end."
    elif new_end <= entry.starts_on:
        problem = "The new end must be after the entry's start date."
    elif new_end >= entry.publication_ends_on:
        problem = f"The new end must be before the current end ({entry.publication_ends_on.isoformat()})."
    if problem:
        raise InvalidInput(
            "The new publication end is not valid.",
            code="invalid_period",
            field_errors={"new_publication_ends_on": [problem]},
        )


def _uphold_appeal(appeal: Appeal, *, actor, new_publication_ends_on: date | None = None, **context) -> None:
    """A content challenge lifts the entry; a period challenge shortens its publication (it
    expires at once if the new end is today or earlier); a repair-result challenge
    overturns the rejection: the entry becomes repaired (the rejected application stays
    rejected in history; the appeal records why)."""
    reason = f"Appeal #{appeal.pk} upheld: {appeal.decision_reasons}"
    if appeal.challenge == Appeal.Challenge.CONTENT:
        end_entry("lift", actor=actor, entry=appeal.entry, reason=reason)
    elif appeal.challenge == Appeal.Challenge.REPAIR_RESULT:
        end_entry("repair", actor=actor, entry=appeal.entry, reason=reason)
    else:
        shorten_publication(actor=actor, entry=appeal.entry, ends_on=new_publication_ends_on, reason=reason)


APPEALS = ReviewWorkflow(
    kind="appeal",
    model=Appeal,
    noun="appeal",
    grant=("uphold", Appeal.Status.UPHELD),
    deny=("dismiss", Appeal.Status.DISMISSED),
    reply_first="Reply to the appeal before deciding it.",
    open_message="An appeal on this ground is already open.",
    snapshot_fields=("challenge",),
    grant_guards=(_period_is_valid,),
    on_granted=_uphold_appeal,
)


def _latest_decided_repair(entry: BlacklistEntry) -> RepairApplication | None:
    return (
        entry.repairs.filter(status__in=[RepairApplication.Status.APPROVED, RepairApplication.Status.REJECTED])
        .order_by("-decided_at", "-id")
        .first()
    )


def file_appeal(*, actor, entry_id: int, challenge: str, grounds: str) -> Appeal:
    """A member of the entry's subject objects to it. Content and period challenges need an
    active entry; a repair-result challenge needs a rejected repair application. One open
    appeal per entry and challenge. The reply is due within the configured working days."""
    field_errors: dict[str, list[str]] = {}
    if challenge not in Appeal.Challenge.values:
        field_errors["challenge"] = ["Choose content, period or repair_result."]
    grounds = required_text(grounds, "grounds", field_errors, max_length=8000)
    with transaction.atomic():
        entry = lock_entry(entry_id)
        require_member_of_entry(actor, entry)
        if field_errors:
            raise InvalidInput("The appeal is not valid.", code="invalid_appeal", field_errors=field_errors)
        if challenge == Appeal.Challenge.REPAIR_RESULT:
            latest = _latest_decided_repair(entry)
            if latest is None or latest.status != RepairApplication.Status.REJECTED:
                raise Conflict(
                    "Only a rejected repair application can be appealed.",
                    code="no_rejected_repair",
                    field_errors={"challenge": ["There is no rejected repair application to challenge."]},
                )
        if entry.status != BlacklistEntry.Status.ACTIVE:
            raise Conflict(
                f"This entry is {entry.get_status_display().lower()}; only active entries can be appealed.",
                code="entry_ended",
            )
        if entry.appeals.filter(challenge=challenge, status__in=Appeal.OPEN).exists():
            raise APPEALS.already_open(challenge=[APPEALS.open_message])
        return APPEALS.file(actor=actor, entry=entry, reason=grounds, challenge=challenge, grounds=grounds)


def reply_to_appeal(*, actor, appeal_id: int, reply: str) -> Appeal:
    """The regulator's reply. The decision is then due within the configured working days
    of the reply. Replying to an appeal already replied to changes nothing."""
    return APPEALS.reply(actor=actor, pk=appeal_id, reply=reply)


def decide_appeal(
    *,
    actor,
    appeal_id: int,
    uphold: bool,
    reasons: str,
    new_publication_ends_on: date | None = None,
) -> Appeal:
    """Uphold or dismiss an appeal that has been replied to, with reasons. Upholding a
    period challenge needs `new_publication_ends_on` (after the start, before the current
    end); see `_uphold_appeal` for what upholding does to the entry."""
    return APPEALS.decide(
        actor=actor, pk=appeal_id, grant=uphold, reasons=reasons, new_publication_ends_on=new_publication_ends_on
    )


# --- Repair applications -------------------------------------------------------------------------


def _approve_repair(repair: RepairApplication, *, actor, **context) -> None:
    """Approval takes the entry off the public blacklist at once (status repaired)."""
    reason = f"Repair application #{repair.pk} approved: {repair.decision_reasons}"
    end_entry("repair", actor=actor, entry=repair.entry, reason=reason)


REPAIRS = ReviewWorkflow(
    kind="repair",
    model=RepairApplication,
    noun="repair application",
    grant=("approve", RepairApplication.Status.APPROVED),
    deny=("reject", RepairApplication.Status.REJECTED),
    reply_first="Reply to the application before deciding it.",
    open_message="A repair application for this entry is already open.",
    on_granted=_approve_repair,
)


def apply_for_repair(*, actor, entry_id: int, correction_evidence: str, commitment: str) -> RepairApplication:
    """A member of the subject applies to end an active entry early: the misconduct has been
    corrected (evidence) and the subject files a credit commitment. Allowed from the
    severity's minimum period on (minor entries: at once); one open application per entry."""
    field_errors: dict[str, list[str]] = {}
    correction_evidence = required_text(correction_evidence, "correction_evidence", field_errors, max_length=8000)
    commitment = required_text(commitment, "commitment", field_errors, max_length=8000)
    with transaction.atomic():
        entry = lock_entry(entry_id)
        require_member_of_entry(actor, entry)
        if field_errors:
            raise InvalidInput("The repair application is not valid.", code="invalid_repair", field_errors=field_errors)
        if entry.status != BlacklistEntry.Status.ACTIVE:
            raise Conflict(
                f"This entry is {entry.get_status_display().lower()}; only active entries can be repaired.",
                code="entry_ended",
            )
        earliest = earliest_repair_date(entry=entry)
        if timezone.localdate() < earliest:
            raise Conflict(
                f"A {entry.severity} entry can be repaired from {earliest.isoformat()} on.",
                code="repair_not_yet_allowed",
            )
        if entry.repairs.filter(status__in=RepairApplication.OPEN).exists():
            raise REPAIRS.already_open()
        return REPAIRS.file(
            actor=actor,
            entry=entry,
            reason=commitment,
            correction_evidence=correction_evidence,
            commitment=commitment,
        )


def reply_to_repair(*, actor, repair_id: int, reply: str) -> RepairApplication:
    return REPAIRS.reply(actor=actor, pk=repair_id, reply=reply)


def decide_repair(*, actor, repair_id: int, approve: bool, reasons: str) -> RepairApplication:
    """Approve or reject a repair application that has been replied to. Approval takes the
    entry off the public blacklist at once (status repaired); history keeps it."""
    return REPAIRS.decide(actor=actor, pk=repair_id, grant=approve, reasons=reasons)

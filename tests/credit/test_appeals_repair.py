"""Appeals and credit repair: working-day deadlines at their boundaries, the order of
reply and decision, what upholding does, when repair becomes possible, and the audit."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from core.models import AuditEntry, DomainEvent
from credit.models import BlacklistEntry
from credit.selectors.blacklist import appeal_queue, public_blacklist, repair_eligibility, repair_queue
from credit.services import blacklist as services
from credit.workdays import add_working_days, is_working_day, working_days_between
from tests.credit.blacklist_helpers import WEDNESDAY, at_date, make_entry, set_now
from tests.factories import SubjectFactory

pytestmark = pytest.mark.django_db

FRIDAY = dt.date(2026, 11, 20)
SATURDAY = dt.date(2026, 11, 21)


# --- Working days ------------------------------------------------------------------------------


def test_working_days_skip_weekends():
    assert add_working_days(FRIDAY, 1) == dt.date(2026, 11, 23)  # Monday
    assert add_working_days(SATURDAY, 1) == dt.date(2026, 11, 23)
    assert add_working_days(FRIDAY, 0) == FRIDAY
    assert add_working_days(WEDNESDAY.date(), 10) == dt.date(2026, 12, 2)
    assert add_working_days(WEDNESDAY.date(), 3) == dt.date(2026, 11, 23)
    assert working_days_between(FRIDAY, dt.date(2026, 11, 23)) == 1
    assert working_days_between(dt.date(2026, 11, 23), FRIDAY) == -1
    with pytest.raises(ValueError):
        add_working_days(FRIDAY, -1)


@given(start=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)), days=st.integers(1, 60))
def test_adding_working_days_lands_on_a_working_day_that_many_working_days_later(start, days):
    due = add_working_days(start, days)
    assert is_working_day(due)
    assert working_days_between(start, due) == days
    # Never more than days * 7/5 + 2 calendar days away.
    assert (due - start).days <= days * 7 // 5 + 3


# --- Appeals -----------------------------------------------------------------------------------


@pytest.fixture
def entry(regulator, member):
    return make_entry(regulator, member.subject, severity="general")


def test_appeal_deadlines_and_overdue_flag_at_the_boundary(entry, member, regulator, time_machine):
    set_now(time_machine, WEDNESDAY)
    appeal = services.file_appeal(actor=member, entry_id=entry.pk, challenge="content", grounds="Goods were delivered.")
    assert appeal.status == "filed"
    assert appeal.reply_due_on == dt.date(2026, 12, 2)  # 10 working days after Wednesday 18 Nov

    on_due = appeal_queue(on=appeal.reply_due_on)
    assert on_due[0].deadline.step == "reply" and not on_due[0].deadline.overdue
    after = appeal_queue(on=appeal.reply_due_on + dt.timedelta(days=1))
    assert after[0].deadline.overdue
    assert appeal_queue(overdue_only=True, on=appeal.reply_due_on) == []

    # Replied on Thursday 3 Dec: the decision is due 3 working days later, Tuesday 8 Dec.
    set_now(time_machine, at_date(dt.date(2026, 12, 3)))
    appeal = services.reply_to_appeal(actor=regulator, appeal_id=appeal.pk, reply="We are reviewing the evidence.")
    assert appeal.status == "acknowledged"
    assert appeal.decision_due_on == dt.date(2026, 12, 8)
    assert not appeal_queue(on=dt.date(2026, 12, 8))[0].deadline.overdue
    assert appeal_queue(on=dt.date(2026, 12, 9))[0].deadline.overdue
    assert appeal_queue(on=dt.date(2026, 12, 9))[0].deadline.step == "decision"


def test_reply_days_are_configurable(entry, member, time_machine, settings):
    settings.ENTREPOT = {**settings.ENTREPOT, "APPEAL_REPLY_WORKING_DAYS": 2}
    set_now(time_machine, at_date(FRIDAY))
    appeal = services.file_appeal(actor=member, entry_id=entry.pk, challenge="content", grounds="g")
    assert appeal.reply_due_on == dt.date(2026, 11, 24)  # Friday + 2 working days = Tuesday


def test_decision_needs_a_reply_first_and_reasons(entry, member, regulator):
    appeal = services.file_appeal(actor=member, entry_id=entry.pk, challenge="content", grounds="g")
    with pytest.raises(Conflict) as caught:
        services.decide_appeal(actor=regulator, appeal_id=appeal.pk, uphold=True, reasons="r")
    assert caught.value.code == "reply_first"
    services.reply_to_appeal(actor=regulator, appeal_id=appeal.pk, reply="noted")
    with pytest.raises(InvalidInput) as caught:
        services.decide_appeal(actor=regulator, appeal_id=appeal.pk, uphold=True, reasons="")
    assert "reasons" in caught.value.field_errors
    with pytest.raises(NotAllowed):
        services.reply_to_appeal(actor=member, appeal_id=appeal.pk, reply="self-service")


def test_upholding_a_content_challenge_lifts_the_entry(entry, member, regulator):
    appeal = services.file_appeal(actor=member, entry_id=entry.pk, challenge="content", grounds="Wrong company.")
    services.reply_to_appeal(actor=regulator, appeal_id=appeal.pk, reply="Checking registration records.")
    appeal = services.decide_appeal(actor=regulator, appeal_id=appeal.pk, uphold=True, reasons="Mistaken identity.")

    assert appeal.status == "upheld" and appeal.decided_by == regulator
    entry.refresh_from_db()
    member.subject.refresh_from_db()
    assert entry.status == "lifted"
    assert f"Appeal #{appeal.pk} upheld" in entry.status_reason
    assert not member.subject.is_blacklisted
    assert DomainEvent.objects.filter(type="subject.blacklist_lifted", payload__entry_id=entry.pk).exists()
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == [
        "blacklist.entry_created",
        "appeal.filed",
        "appeal.replied",
        "appeal.upheld",
        "blacklist.entry_lifted",
    ]
    upheld = AuditEntry.objects.get(action="appeal.upheld")
    assert upheld.old["status"] == "acknowledged" and upheld.new["status"] == "upheld"
    assert upheld.reason == "Mistaken identity."


def test_dismissing_keeps_the_entry_and_a_decision_is_final(entry, member, regulator):
    appeal = services.file_appeal(actor=member, entry_id=entry.pk, challenge="content", grounds="g")
    services.reply_to_appeal(actor=regulator, appeal_id=appeal.pk, reply="noted")
    services.decide_appeal(actor=regulator, appeal_id=appeal.pk, uphold=False, reasons="Evidence confirms default.")
    services.decide_appeal(actor=regulator, appeal_id=appeal.pk, uphold=False, reasons="same again")  # no-op
    with pytest.raises(Conflict):
        services.decide_appeal(actor=regulator, appeal_id=appeal.pk, uphold=True, reasons="changed my mind")
    entry.refresh_from_db()
    assert entry.status == "active"
    assert AuditEntry.objects.filter(action="appeal.dismissed").count() == 1
    # A new appeal on the same ground may be filed once the first is decided.
    services.file_appeal(actor=member, entry_id=entry.pk, challenge="content", grounds="New evidence.")


def test_one_open_appeal_per_challenge(entry, member):
    services.file_appeal(actor=member, entry_id=entry.pk, challenge="content", grounds="g")
    with pytest.raises(Conflict) as caught:
        services.file_appeal(actor=member, entry_id=entry.pk, challenge="content", grounds="g2")
    assert caught.value.code == "appeal_open"
    services.file_appeal(actor=member, entry_id=entry.pk, challenge="period", grounds="Too long.")


def test_upholding_a_period_challenge_shortens_publication(entry, member, regulator, monkeypatch):
    appeal = services.file_appeal(actor=member, entry_id=entry.pk, challenge="period", grounds="Too long.")
    services.reply_to_appeal(actor=regulator, appeal_id=appeal.pk, reply="noted")
    with pytest.raises(InvalidInput) as caught:
        services.decide_appeal(actor=regulator, appeal_id=appeal.pk, uphold=True, reasons="r")
    assert "new_publication_ends_on" in caught.value.field_errors
    with pytest.raises(InvalidInput):
        services.decide_appeal(
            actor=regulator,
            appeal_id=appeal.pk,
            uphold=True,
            reasons="r",
            new_publication_ends_on=entry.publication_ends_on + dt.timedelta(days=1),
        )
    new_end = entry.starts_on + dt.timedelta(days=120)
    services.decide_appeal(
        actor=regulator, appeal_id=appeal.pk, uphold=True, reasons="Proportionate.", new_publication_ends_on=new_end
    )
    entry.refresh_from_db()
    assert entry.status == "active" and entry.publication_ends_on == new_end
    shortened = AuditEntry.objects.get(action="blacklist.period_shortened")
    assert shortened.new["publication_ends_on"] == new_end.isoformat()
    assert shortened.old["publication_ends_on"] == (entry.starts_on + dt.timedelta(days=365)).isoformat()


def test_a_period_shortened_into_the_past_expires_the_entry(regulator, member, time_machine):
    set_now(time_machine, WEDNESDAY)
    entry = make_entry(regulator, member.subject, severity="general")
    set_now(time_machine, WEDNESDAY + dt.timedelta(days=40))
    appeal = services.file_appeal(actor=member, entry_id=entry.pk, challenge="period", grounds="g")
    services.reply_to_appeal(actor=regulator, appeal_id=appeal.pk, reply="noted")
    services.decide_appeal(
        actor=regulator,
        appeal_id=appeal.pk,
        uphold=True,
        reasons="30 days suffice.",
        new_publication_ends_on=entry.starts_on + dt.timedelta(days=30),
    )
    entry.refresh_from_db()
    member.subject.refresh_from_db()
    assert entry.status == "expired"
    assert not member.subject.is_blacklisted


def test_appeals_are_for_the_subjects_members_and_active_entries(entry, member, other_member, regulator):
    with pytest.raises(NotFound):
        services.file_appeal(actor=other_member, entry_id=entry.pk, challenge="content", grounds="g")
    with pytest.raises(NotFound):
        services.file_appeal(actor=regulator, entry_id=entry.pk, challenge="content", grounds="g")
    with pytest.raises(InvalidInput) as caught:
        services.file_appeal(actor=member, entry_id=entry.pk, challenge="vibes", grounds="")
    assert {"challenge", "grounds"} <= set(caught.value.field_errors)
    services.lift_blacklist_entry(actor=regulator, entry_id=entry.pk, reason="r")
    with pytest.raises(Conflict):
        services.file_appeal(actor=member, entry_id=entry.pk, challenge="content", grounds="g")


# --- Repair ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("severity", "after_days"), [("minor", 0), ("general", 90), ("serious", 365)])
def test_repair_opens_exactly_after_the_minimum_period(regulator, member, time_machine, severity, after_days):
    set_now(time_machine, WEDNESDAY)
    entry = make_entry(regulator, member.subject, severity=severity)
    earliest = WEDNESDAY.date() + dt.timedelta(days=after_days)
    assert services.earliest_repair_date(entry=entry) == earliest
    if after_days:
        set_now(time_machine, at_date(earliest - dt.timedelta(days=1), hour=23))
        assert not repair_eligibility(entry=entry).allowed
        with pytest.raises(Conflict) as caught:
            services.apply_for_repair(actor=member, entry_id=entry.pk, correction_evidence="e", commitment="c")
        assert caught.value.code == "repair_not_yet_allowed"
        assert earliest.isoformat() in caught.value.message
    set_now(time_machine, at_date(earliest, hour=0))
    assert repair_eligibility(entry=entry).allowed
    repair = services.apply_for_repair(
        actor=member, entry_id=entry.pk, correction_evidence="Refunded all buyers.", commitment="We will comply."
    )
    assert repair.status == "filed"
    assert repair.reply_due_on == add_working_days(earliest, 10)


def test_repair_approval_takes_the_entry_off_the_public_blacklist_at_once(regulator, member, time_machine):
    set_now(time_machine, WEDNESDAY)
    entry = make_entry(regulator, member.subject, severity="minor")
    assert list(public_blacklist()) == [entry]
    repair = services.apply_for_repair(actor=member, entry_id=entry.pk, correction_evidence="e", commitment="c")
    with pytest.raises(Conflict):
        services.apply_for_repair(actor=member, entry_id=entry.pk, correction_evidence="e", commitment="c")
    with pytest.raises(Conflict):
        services.decide_repair(actor=regulator, repair_id=repair.pk, approve=True, reasons="r")
    set_now(time_machine, at_date(dt.date(2026, 11, 20)))  # Friday
    repair = services.reply_to_repair(actor=regulator, repair_id=repair.pk, reply="Evidence received.")
    assert repair.decision_due_on == dt.date(2026, 11, 25)  # Friday + 3 working days = Wednesday
    assert repair_queue(on=dt.date(2026, 11, 26))[0].deadline.overdue

    services.decide_repair(actor=regulator, repair_id=repair.pk, approve=True, reasons="Corrected; commitment filed.")
    entry.refresh_from_db()
    member.subject.refresh_from_db()
    assert entry.status == "repaired"
    assert list(public_blacklist()) == []
    assert not member.subject.is_blacklisted
    assert BlacklistEntry.objects.filter(pk=entry.pk).exists(), "history keeps the entry"
    assert {"repair.filed", "repair.replied", "repair.approved", "blacklist.entry_repaired"} <= set(
        AuditEntry.objects.values_list("action", flat=True)
    )
    assert repair_queue() == []


def test_a_rejected_repair_can_be_appealed_and_upholding_repairs_the_entry(regulator, member):
    entry = make_entry(regulator, member.subject, severity="minor")
    with pytest.raises(Conflict) as caught:
        services.file_appeal(actor=member, entry_id=entry.pk, challenge="repair_result", grounds="g")
    assert caught.value.code == "no_rejected_repair"
    repair = services.apply_for_repair(actor=member, entry_id=entry.pk, correction_evidence="e", commitment="c")
    services.reply_to_repair(actor=regulator, repair_id=repair.pk, reply="noted")
    services.decide_repair(actor=regulator, repair_id=repair.pk, approve=False, reasons="Evidence incomplete.")
    entry.refresh_from_db()
    assert entry.status == "active"

    appeal = services.file_appeal(
        actor=member, entry_id=entry.pk, challenge="repair_result", grounds="The missing receipts are attached."
    )
    services.reply_to_appeal(actor=regulator, appeal_id=appeal.pk, reply="noted")
    services.decide_appeal(actor=regulator, appeal_id=appeal.pk, uphold=True, reasons="Receipts are sufficient.")
    entry.refresh_from_db()
    repair.refresh_from_db()
    assert entry.status == "repaired"
    assert repair.status == "rejected", "the original decision stays on record"


def test_repair_is_only_for_members_of_the_subject(regulator, member, other_member):
    entry = make_entry(regulator, member.subject, severity="minor")
    with pytest.raises(NotFound):
        services.apply_for_repair(actor=other_member, entry_id=entry.pk, correction_evidence="e", commitment="c")
    with pytest.raises(InvalidInput) as caught:
        services.apply_for_repair(actor=member, entry_id=entry.pk, correction_evidence="", commitment=" ")
    assert {"correction_evidence", "commitment"} <= set(caught.value.field_errors)


def test_other_subjects_entries_do_not_block_repair(regulator, member):
    make_entry(regulator, SubjectFactory(), severity="minor")
    entry = make_entry(regulator, member.subject, severity="minor")
    assert repair_eligibility(entry=entry).allowed

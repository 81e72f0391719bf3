"""Enforcement: may_subject answers with a decision and its reasons."""

from datetime import timedelta

import pytest

from core.errors import InvalidInput
from credit import errors
from credit.selectors.standing import ACTIONS, may_subject
from credit.services import blacklist as services
from tests.credit.blacklist_helpers import make_entry
from tests.factories import SubjectFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("action", ["lease", "list_capacity"])
def test_a_subject_in_good_standing_may_act(action):
    subject = SubjectFactory(legal_name="Clean Trading Co")
    decision = may_subject(subject_id=subject.pk, action=action)
    assert decision.allowed and bool(decision)
    assert [r["code"] for r in decision.reasons] == ["good_standing"]


@pytest.mark.parametrize("action", list(ACTIONS))
def test_an_active_entry_forbids_every_action_and_names_the_decision(regulator, action):
    subject = SubjectFactory(is_payment_institution=True)
    entry = make_entry(regulator, subject, category="counterfeit", decision_reference="SH-CUSTOMS-77")
    decision = may_subject(subject_id=subject.pk, action=action)
    assert not decision.allowed and not bool(decision)
    (reason,) = decision.reasons
    assert reason["code"] == "blacklisted"
    assert reason["decision_reference"] == "SH-CUSTOMS-77"
    assert reason["category"] == "counterfeit"
    assert reason["publication_ends_on"] == entry.publication_ends_on.isoformat()
    assert "Counterfeit goods" in reason["message"] and "SH-CUSTOMS-77" in reason["message"]
    assert entry.publication_ends_on.isoformat() in reason["message"]


def test_an_entry_no_longer_forbids_on_its_end_date_before_the_expiry_task_runs(regulator):
    """The period is half-open [starts_on, publication_ends_on): enforcement agrees with the
    public blacklist on the end date, without waiting for the hourly expiry task."""
    subject = SubjectFactory()
    entry = make_entry(regulator, subject, severity="minor")
    entry.__class__.objects.filter(pk=entry.pk).update(
        starts_on=entry.starts_on - timedelta(days=90), publication_ends_on=entry.starts_on
    )  # its period ends today; the expiry task has not run yet, so it is still `active`
    entry.refresh_from_db()
    assert entry.status == "active"
    decision = may_subject(subject_id=subject.pk, action="lease")
    assert decision.allowed and [r["code"] for r in decision.reasons] == ["good_standing"]


def test_every_active_entry_is_a_reason_and_lifting_restores_standing(regulator):
    subject = SubjectFactory()
    first = make_entry(regulator, subject, decision_reference="D-1")
    second = make_entry(regulator, subject, decision_reference="D-2", severity="minor")
    assert [r["decision_reference"] for r in may_subject(subject_id=subject.pk, action="lease").reasons] == [
        "D-2",
        "D-1",
    ]
    services.lift_blacklist_entry(actor=regulator, entry_id=first.pk, reason="r")
    assert [r["decision_reference"] for r in may_subject(subject_id=subject.pk, action="lease").reasons] == ["D-2"]
    services.lift_blacklist_entry(actor=regulator, entry_id=second.pk, reason="r")
    assert may_subject(subject_id=subject.pk, action="lease").allowed


def test_acting_as_payment_institution_needs_that_kind():
    merchant = SubjectFactory(is_payment_institution=False, legal_name="Only A Merchant")
    decision = may_subject(subject_id=merchant.pk, action="act_as_payment_institution")
    assert not decision.allowed
    assert decision.reasons[0]["code"] == "not_a_payment_institution"
    institution = SubjectFactory(is_payment_institution=True)
    assert may_subject(subject_id=institution.pk, action="act_as_payment_institution").allowed


def test_unknown_subject_and_unknown_action():
    with pytest.raises(errors.SubjectNotFound):
        may_subject(subject_id=987654, action="lease")
    with pytest.raises(InvalidInput) as caught:
        may_subject(subject_id=SubjectFactory().pk, action="fly")
    assert "action" in caught.value.field_errors


def test_may_subject_costs_two_queries(django_assert_num_queries, regulator):
    subject = SubjectFactory()
    make_entry(regulator, subject)
    with django_assert_num_queries(2):
        may_subject(subject_id=subject.pk, action="lease")

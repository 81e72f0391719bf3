"""core.transitions: a note given with a transition lands on the new side of its audit row,
beside the snapshot; the state and fields are written, and a repeat changes nothing."""

import pytest

from core.models import AuditEntry
from core.transitions import Lifecycle, Transition
from credit.models import Subject
from tests.factories import SubjectFactory

pytestmark = pytest.mark.django_db

# A toy lifecycle over a real model: the subject's blacklisted flag stands in for a state,
# so the mechanism is exercised without a model of its own.
FLAG = Lifecycle(
    model=Subject,
    lock=lambda pk: Subject.objects.select_for_update().get(pk=pk),
    snapshot=lambda subject: {"is_blacklisted": subject.is_blacklisted},
    subject_id=lambda subject: subject.pk,
    state_field="is_blacklisted",
    transitions={"flag": Transition(sources=(False,), target=True, action="test.flagged")},
)


def test_a_note_joins_the_snapshot_on_the_audit_rows_new_side():
    subject = SubjectFactory(is_blacklisted=False)
    FLAG.run("flag", actor=None, pk=subject.pk, reason="why", note={"decision": "D-1"})
    row = AuditEntry.objects.get(action="test.flagged")
    assert row.old == {"is_blacklisted": False}
    assert row.new == {"is_blacklisted": True, "decision": "D-1"}
    assert row.reason == "why" and row.subject_id == subject.pk
    FLAG.run("flag", actor=None, pk=subject.pk)  # already there: nothing more
    assert AuditEntry.objects.filter(action="test.flagged").count() == 1

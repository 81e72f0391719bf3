"""Credit events: recording, reversal, append-only storage, and the regulator API with its
permissions and problem+json errors."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from core.events import domain_events_after
from core.models import AuditEntry
from credit import errors
from credit.models import CreditEvent, Rating, RecomputeRequest
from credit.selectors import ratings as rating_selectors
from credit.selectors.events import events_for_subject
from credit.services.events import record_credit_event, reverse_credit_event
from credit.services.ratings import recompute_subject
from tests.factories import SubjectFactory

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


def record(actor, subject, kind="lease_completed", days_ago=10, **extra):
    return record_credit_event(
        actor=actor,
        subject_id=subject.pk,
        kind=kind,
        source=extra.pop("source", "platform"),
        occurred_at=timezone.now() - timedelta(days=days_ago),
        **extra,
    )


# --- Services ---------------------------------------------------------------------------


def test_recording_an_event_audits_it_and_queues_the_recompute(regulator, django_capture_on_commit_callbacks):
    subject = SubjectFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        event = record(regulator, subject, "paid_late", magnitude=4, evidence_reference="case-file-17")
    assert event.kind_id == "paid_late" and event.magnitude == 4 and event.recorded_by == regulator
    audit = AuditEntry.objects.get(action="credit_event.recorded", target_id=str(event.pk))
    assert audit.actor == regulator and audit.subject_id == subject.pk and audit.new["kind"] == "paid_late"
    assert RecomputeRequest.objects.filter(subject=subject).exists()
    assert len(callbacks) == 1


def test_invalid_events_name_each_bad_field(regulator):
    subject = SubjectFactory()
    with pytest.raises(InvalidInput) as caught:
        record_credit_event(
            actor=regulator,
            subject_id=subject.pk,
            kind="made_up",
            source="rumour",
            occurred_at=timezone.now() + timedelta(days=3),
            magnitude=-1,
        )
    assert set(caught.value.field_errors) == {"kind", "source", "occurred_at", "magnitude"}
    with pytest.raises(errors.SubjectNotFound):
        record_credit_event(
            actor=regulator, subject_id=999999, kind="lease_completed", source="platform", occurred_at=timezone.now()
        )
    assert not CreditEvent.objects.exists()


def test_reversal_cancels_the_event_and_keeps_both_rows(regulator):
    subject = SubjectFactory()
    for days in (300, 200, 100):
        record(regulator, subject, "lease_completed", days_ago=days)
    fraud = record(regulator, subject, "confirmed_fraud", days_ago=5)
    recompute_subject(subject_id=subject.pk)
    subject.refresh_from_db()
    assert subject.grade == "D"  # 70 + 3 x 2 x decay - 1.2 x 40 x ~0.99 ~= 26

    reversal = reverse_credit_event(actor=regulator, event_id=fraud.pk, reason="Wrong subject: the case was closed")
    assert reversal.reverses == fraud and reversal.kind_id == "confirmed_fraud" and reversal.reason
    recompute_subject(subject_id=subject.pk)
    subject.refresh_from_db()
    assert subject.grade == "B"  # only the three leases count again
    assert CreditEvent.objects.filter(subject=subject).count() == 5  # nothing deleted
    history = list(events_for_subject(subject_id=subject.pk, viewer=regulator))
    assert history[0] == reversal
    assert AuditEntry.objects.filter(action="credit_event.reversed", reason__startswith="Wrong subject").exists()


def test_an_event_is_reversed_once_and_a_reversal_never(regulator):
    event = record(regulator, SubjectFactory(), "chargeback")
    reversal = reverse_credit_event(actor=regulator, event_id=event.pk, reason="Duplicate report")
    with pytest.raises(Conflict) as again:
        reverse_credit_event(actor=regulator, event_id=event.pk, reason="Again")
    assert again.value.code == "already_reversed"
    with pytest.raises(Conflict) as nested:
        reverse_credit_event(actor=regulator, event_id=reversal.pk, reason="Undo the undo")
    assert nested.value.code == "cannot_reverse_reversal"
    with pytest.raises(InvalidInput):
        reverse_credit_event(actor=regulator, event_id=event.pk, reason="   ")
    with pytest.raises(NotFound):
        reverse_credit_event(actor=regulator, event_id=987654, reason="No such event")


def test_events_and_ratings_are_append_only_in_the_database(regulator):
    event = record(regulator, SubjectFactory())
    rating = recompute_subject(subject_id=event.subject_id)
    for statement, args in (
        ("UPDATE credit_creditevent SET magnitude = 9 WHERE id = %s", [event.pk]),
        ("DELETE FROM credit_creditevent WHERE id = %s", [event.pk]),
        ("UPDATE credit_rating SET score = 99 WHERE id = %s", [rating.pk]),
        ("DELETE FROM credit_rating WHERE id = %s", [rating.pk]),
    ):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, args)
    assert CreditEvent.objects.get(pk=event.pk).magnitude == 1
    assert Rating.objects.get(pk=rating.pk).score == rating.score


def test_events_are_private_to_regulators_and_members(member, other_member, regulator):
    record(regulator, member.subject)
    assert events_for_subject(subject_id=member.subject.pk, viewer=member).count() == 1
    with pytest.raises(NotAllowed):
        events_for_subject(subject_id=member.subject.pk, viewer=other_member)


def test_domain_events_after_a_cursor(regulator):
    subjects = [SubjectFactory() for _ in range(3)]
    for subject in subjects:
        for days in (400, 300, 200, 100):
            record(regulator, subject, "lease_completed", days_ago=days)
        recompute_subject(subject_id=subject.pk)  # M -> B: one grade change each
    changes = list(domain_events_after(after_id=0, limit=10))
    assert [e.subject_id for e in changes] == [s.pk for s in subjects]
    assert changes[0].payload["old_grade"] == "M" and changes[0].payload["new_grade"] == "B"
    assert [e.subject_id for e in domain_events_after(after_id=changes[0].pk, limit=1)] == [subjects[1].pk]


# --- API --------------------------------------------------------------------------------

EVENTS_URL = "/api/v1/credit/events/"


def event_body(subject, **overrides):
    body = {
        "subject_id": subject.pk,
        "kind": "customs_violation",
        "source": "regulator",
        "occurred_at": (timezone.now() - timedelta(days=2)).isoformat(),
        "evidence_reference": "GACC decision 2026-114",
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 401), ("member", 403), ("api_key", 403), ("staff", 403), ("regulator", 201)],
)
def test_record_event_permissions(who, status, client_for, member, regulator, staff_user, api_key):
    subject = SubjectFactory()
    actor = {"anonymous": None, "member": member, "regulator": regulator, "staff": staff_user, "api_key": api_key[1]}
    response = client_for(actor[who]).post(EVENTS_URL, event_body(subject), format="json")
    assert response.status_code == status, response.content
    if status != 201:
        assert response["Content-Type"].startswith(PROBLEM)
        assert not CreditEvent.objects.exists()
    else:
        body = response.json()
        assert body["kind"] == "customs_violation" and body["component"] == "regulatory"
        assert body["subject_id"] == subject.pk and body["recorded_by"] == regulator.username


@pytest.mark.parametrize(
    ("url", "method"),
    [
        ("/api/v1/credit/events/1/reverse/", "post"),
        ("/api/v1/credit/recompute-runs/", "get"),
        ("/api/v1/credit/recompute-runs/", "post"),
        ("/api/v1/credit/recompute-runs/1/", "get"),
    ],
)
@pytest.mark.parametrize(("who", "status"), [("anonymous", 401), ("member", 403), ("api_key", 403)])
def test_regulator_endpoints_refuse_everyone_else(url, method, who, status, client_for, member, api_key):
    actor = {"anonymous": None, "member": member, "api_key": api_key[1]}[who]
    response = getattr(client_for(actor), method)(url, {"reason": "x"} if method == "post" else None, format="json")
    assert response.status_code == status
    assert response["Content-Type"].startswith(PROBLEM)


def test_unknown_subject_is_problem_404(client_for, regulator):
    response = client_for(regulator).post(EVENTS_URL, event_body(SubjectFactory(), subject_id=999999), format="json")
    assert response.status_code == 404 and response["Content-Type"].startswith(PROBLEM)
    assert response.json()["code"] == "subject_not_found"


def test_bad_kind_is_problem_400_with_field_errors(client_for, regulator):
    subject = SubjectFactory()
    response = client_for(regulator).post(EVENTS_URL, event_body(subject, kind="gossip"), format="json")
    assert response.status_code == 400 and response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == "invalid_credit_event" and "gossip" in body["errors"]["kind"][0]
    shape = client_for(regulator).post(EVENTS_URL, {"subject_id": subject.pk, "kind": "not a slug!"}, format="json")
    assert shape.status_code == 400 and {"kind", "occurred_at"} <= set(shape.json()["errors"])


def test_reverse_via_api(client_for, regulator):
    event = record(regulator, SubjectFactory(), "dispute_lost")
    client = client_for(regulator)
    url = f"/api/v1/credit/events/{event.pk}/reverse/"
    assert client.post(url, {}, format="json").json()["errors"]["reason"]
    response = client.post(url, {"reason": "Decision annulled on appeal"}, format="json")
    assert response.status_code == 201 and response.json()["reverses"] == event.pk
    again = client.post(url, {"reason": "again"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_reversed"
    assert client.post("/api/v1/credit/events/424242/reverse/", {"reason": "x"}, format="json").status_code == 404


def test_methodology_is_public_and_generated_from_the_active_model(client):
    response = client.get("/api/v1/registry/methodology/")
    assert response.status_code == 200
    body = response.json()
    model = rating_selectors.active_scoring_model()
    assert body["version"] == model.version
    assert [g["grade"] for g in body["grades"]] == ["A", "B", "C", "D"]
    assert body["new_subject"]["min_events"] == model.parameters["new_subject"]["min_events"]
    assert {k["code"] for k in body["kinds"]} >= {"lease_completed", "confirmed_fraud", "license_verified"}

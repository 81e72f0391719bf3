"""Endpoint x role matrix for the public registry: every endpoint answers every caller
(anonymous, a member of the subject, a member of another subject, a regulator, staff, a
payment provider's API key) with the same public data, and private data never leaks."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from credit.models import Appeal, BlacklistEntry, CreditEvent, EventKind, Rating, RepairApplication, ScoringModel
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

EVIDENCE = "s3://evidence/private-invoice-4471.pdf"
APPEAL_GROUNDS = "Our warehouse burned down; confidential insurance claim 88-XQ"
REPAIR_EVIDENCE = "Refunded all 212 customers, bank statement attached"
REPAIR_COMMITMENT = "Signed credit commitment with confidential clause 7"
ROLES = ["anonymous", "member", "other_member", "regulator", "staff", "api_key"]
WEB_ROLES = ROLES[:-1]


@pytest.fixture
def world(member, other_member, regulator, staff_user, api_key):
    subject = member.subject
    subject.legal_name = "Haimao Cross-border Trading Co"
    subject.save()
    MembershipFactory(subject=subject, user__email="second.owner@haimao.example")
    kind = EventKind.objects.order_by("code").first()
    CreditEvent.objects.create(
        subject=subject,
        kind=kind,
        source="platform",
        occurred_at=timezone.now() - timedelta(days=20),
        evidence_reference=EVIDENCE,
        recorded_by=regulator,
    )
    Rating.objects.create(
        subject=subject,
        model=ScoringModel.objects.get(status="active"),
        score=Decimal("55.00"),
        grade="C",
        reasons=[{"code": kind.code, "component": kind.component, "points": -15.0, "events": 1}],
        computed_at=datetime(2026, 5, 1, tzinfo=UTC),
    )
    today = timezone.localdate()
    entry = BlacklistEntry.objects.create(
        subject=subject,
        category="fraud",
        legal_basis="Art. 7 Anti-Fraud Rules",
        decision_reference="DEC-2026-001",
        description="Sold counterfeit goods.",
        severity="general",
        starts_on=today - timedelta(days=5),
        publication_ends_on=today + timedelta(days=360),
        decided_by=regulator,
    )
    subject.is_blacklisted = True
    subject.grade = "D"
    subject.save()
    now = timezone.now()
    Appeal.objects.create(
        entry=entry,
        filed_by=member,
        challenge="content",
        grounds=APPEAL_GROUNDS,
        filed_at=now,
        reply_due_on=today + timedelta(days=14),
    )
    RepairApplication.objects.create(
        entry=entry,
        filed_by=member,
        correction_evidence=REPAIR_EVIDENCE,
        commitment=REPAIR_COMMITMENT,
        filed_at=now,
        reply_due_on=today + timedelta(days=14),
    )
    return {
        "subject": subject,
        "users": {
            "member": member,
            "other_member": other_member,
            "regulator": regulator,
            "staff": staff_user,
        },
        "api_key": api_key[1],
        "private": [
            EVIDENCE,
            APPEAL_GROUNDS,
            REPAIR_EVIDENCE,
            REPAIR_COMMITMENT,
            member.email,
            "second.owner@haimao.example",
            regulator.username,
        ],
    }


def client_as(role, world):
    client = Client()
    if role == "api_key":
        client.defaults["HTTP_AUTHORIZATION"] = f"Api-Key {world['api_key']}"
    elif role != "anonymous":
        client.force_login(world["users"][role])
    return client


def api_endpoints(subject_id):
    return [
        ("/api/v1/registry/subjects/", {"q": "Haimao Crosborder Tradng"}),
        ("/api/v1/registry/subjects/", {"q": "", "blacklisted": "true"}),
        (f"/api/v1/registry/subjects/{subject_id}/", {}),
        (f"/api/v1/registry/subjects/{subject_id}/", {"as_of": "2026-06-01"}),
        ("/api/v1/registry/blacklist/", {}),
        ("/api/v1/registry/blacklist/", {"format": "csv"}),
    ]


def web_endpoints(subject_id):
    return [
        "/registry/?q=Haimao+Crosborder+Tradng",
        f"/registry/subjects/{subject_id}/",
        f"/registry/subjects/{subject_id}/report/",
        "/registry/blacklist/",
        "/registry/methodology/",
    ]


def content_of(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def comparable(response):
    if response["Content-Type"].startswith("application/json"):
        body = response.json()
        if isinstance(body, dict):
            body.pop("generated_at", None)
        return body
    return content_of(response)


@pytest.mark.parametrize("index", range(6))
def test_every_api_endpoint_answers_everyone_the_same_public_data(world, index):
    path, params = api_endpoints(world["subject"].pk)[index]
    answers = {}
    for role in ROLES:
        response = client_as(role, world).get(path, params)
        assert response.status_code == 200, (role, path, response.content[:300])
        text = content_of(response) if response.streaming else response.content.decode()
        for secret in world["private"]:
            assert secret not in text, (role, path, secret)
        answers[role] = comparable(response) if not response.streaming else text
    assert all(answer == answers["anonymous"] for answer in answers.values()), path
    assert "Haimao Cross-border Trading Co" in str(answers["anonymous"])


@pytest.mark.parametrize("index", range(5))
def test_every_page_answers_everyone_without_private_data(world, index):
    path = web_endpoints(world["subject"].pk)[index]
    for role in WEB_ROLES:
        response = client_as(role, world).get(path)
        assert response.status_code == 200, (role, path)
        html = response.content.decode()
        own_name = world["users"][role].username if role in world["users"] else None
        for secret in world["private"]:
            if secret != own_name:  # the header shows who is signed in
                assert secret not in html, (role, path, secret)
        if "methodology" not in path:
            assert "Haimao Cross-border Trading Co" in html


def test_profile_shows_entry_but_never_appeal_or_repair(world):
    body = Client().get(f"/api/v1/registry/subjects/{world['subject'].pk}/").json()
    assert body["blacklist_entries"][0]["decision_reference"] == "DEC-2026-001"
    assert set(body["blacklist_entries"][0]) == {
        "id",
        "category",
        "category_label",
        "legal_basis",
        "decision_reference",
        "severity",
        "starts_on",
        "publication_ends_on",
        "fine_amount",
        "fine_currency",
    }
    assert not {"memberships", "members", "events", "appeals", "repairs", "evidence_reference"} & body.keys()


def test_write_methods_are_not_allowed_for_anyone(world):
    subject_id = world["subject"].pk
    for role in ROLES:
        client = client_as(role, world)
        for path in ("/api/v1/registry/subjects/", f"/api/v1/registry/subjects/{subject_id}/"):
            response = client.post(path, {}, content_type="application/json")
            assert response.status_code == 405, (role, path, response.status_code)
            assert response["Content-Type"].startswith("application/problem+json")

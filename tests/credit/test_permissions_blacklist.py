"""Endpoint x role matrix for the blacklist API: status codes and what each role sees.

Roles: anonymous, a member of the entry's subject, a member of another subject, a
regulator, platform staff (not a regulator) and a payment-provider API key."""

import pytest
from rest_framework.test import APIClient

from credit.models import BlacklistEntry
from credit.services import blacklist as services
from tests.credit.blacklist_helpers import make_entry
from tests.factories import MembershipFactory, RegulatorFactory, StaffFactory, SubjectFactory

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "member", "other_member", "regulator", "staff", "api_key"]
PROBLEM = "application/problem+json"


@pytest.fixture
def world(api_key):
    regulator = RegulatorFactory()
    mine = MembershipFactory(subject=SubjectFactory(legal_name="Mine Ltd"))
    theirs = MembershipFactory(subject=SubjectFactory(legal_name="Theirs Ltd"))
    subject = mine.subject
    # entry: an acknowledged content appeal and an acknowledged repair (for the decide endpoints),
    # and a filed period appeal (for the reply endpoint).
    entry = make_entry(regulator, subject, severity="minor", decision_reference="E-1")
    ack_appeal = services.file_appeal(actor=mine.user, entry_id=entry.pk, challenge="content", grounds="g")
    services.reply_to_appeal(actor=regulator, appeal_id=ack_appeal.pk, reply="noted")
    filed_appeal = services.file_appeal(actor=mine.user, entry_id=entry.pk, challenge="period", grounds="g")
    ack_repair = services.apply_for_repair(actor=mine.user, entry_id=entry.pk, correction_evidence="e", commitment="c")
    services.reply_to_repair(actor=regulator, repair_id=ack_repair.pk, reply="noted")
    # entry2: a filed repair (reply endpoint). entry3: nothing open (file appeal/repair, lift).
    entry2 = make_entry(regulator, subject, severity="minor", decision_reference="E-2")
    filed_repair = services.apply_for_repair(
        actor=mine.user, entry_id=entry2.pk, correction_evidence="e", commitment="c"
    )
    entry3 = make_entry(regulator, subject, severity="minor", decision_reference="E-3")
    # Another subject's entry: nobody but regulators and its members see it.
    foreign = make_entry(regulator, theirs.subject, severity="minor", decision_reference="F-1")
    return {
        "users": {
            "member": mine.user,
            "other_member": theirs.user,
            "regulator": regulator,
            "staff": StaffFactory(),
        },
        "api_key": api_key[1],
        "subject": subject,
        "entry": entry,
        "entry2": entry2,
        "entry3": entry3,
        "foreign": foreign,
        "ack_appeal": ack_appeal,
        "filed_appeal": filed_appeal,
        "ack_repair": ack_repair,
        "filed_repair": filed_repair,
    }


def client_as(world, role):
    client = APIClient()
    if role == "api_key":
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {world['api_key']}")
    elif role != "anonymous":
        client.force_login(world["users"][role])
    return client


ENTRY_BODY = {
    "category": "fraud",
    "legal_basis": "Art. 5",
    "decision_reference": "NEW-1",
    "description": "Fake invoices.",
    "severity": "serious",
}

# name: (method, url builder, body builder, {role: status})
ENDPOINTS = {
    "list_entries": (
        "get",
        lambda w: "/api/v1/credit/blacklist/entries/",
        None,
        {"anonymous": 401, "member": 200, "other_member": 200, "regulator": 200, "staff": 200, "api_key": 403},
    ),
    "create_entry": (
        "post",
        lambda w: "/api/v1/credit/blacklist/entries/",
        lambda w: {**ENTRY_BODY, "subject_id": w["subject"].pk},
        {"anonymous": 401, "member": 403, "other_member": 403, "regulator": 201, "staff": 403, "api_key": 403},
    ),
    "entry_detail": (
        "get",
        lambda w: f"/api/v1/credit/blacklist/entries/{w['entry'].pk}/",
        None,
        {"anonymous": 401, "member": 200, "other_member": 404, "regulator": 200, "staff": 404, "api_key": 403},
    ),
    "lift_entry": (
        "post",
        lambda w: f"/api/v1/credit/blacklist/entries/{w['entry3'].pk}/lift/",
        lambda w: {"reason": "Annulled."},
        {"anonymous": 401, "member": 403, "other_member": 403, "regulator": 200, "staff": 403, "api_key": 403},
    ),
    "file_appeal": (
        "post",
        lambda w: f"/api/v1/credit/blacklist/entries/{w['entry3'].pk}/appeals/",
        lambda w: {"challenge": "content", "grounds": "Not us."},
        {"anonymous": 401, "member": 201, "other_member": 404, "regulator": 404, "staff": 404, "api_key": 403},
    ),
    "apply_for_repair": (
        "post",
        lambda w: f"/api/v1/credit/blacklist/entries/{w['entry3'].pk}/repairs/",
        lambda w: {"correction_evidence": "Refunded.", "commitment": "Never again."},
        {"anonymous": 401, "member": 201, "other_member": 404, "regulator": 404, "staff": 404, "api_key": 403},
    ),
    "list_appeals": (
        "get",
        lambda w: "/api/v1/credit/appeals/",
        None,
        {"anonymous": 401, "member": 200, "other_member": 200, "regulator": 200, "staff": 200, "api_key": 403},
    ),
    "appeal_detail": (
        "get",
        lambda w: f"/api/v1/credit/appeals/{w['ack_appeal'].pk}/",
        None,
        {"anonymous": 401, "member": 200, "other_member": 404, "regulator": 200, "staff": 404, "api_key": 403},
    ),
    "reply_appeal": (
        "post",
        lambda w: f"/api/v1/credit/appeals/{w['filed_appeal'].pk}/reply/",
        lambda w: {"reply": "We will look."},
        {"anonymous": 401, "member": 403, "other_member": 403, "regulator": 200, "staff": 403, "api_key": 403},
    ),
    "decide_appeal": (
        "post",
        lambda w: f"/api/v1/credit/appeals/{w['ack_appeal'].pk}/decide/",
        lambda w: {"outcome": "dismiss", "reasons": "Evidence holds."},
        {"anonymous": 401, "member": 403, "other_member": 403, "regulator": 200, "staff": 403, "api_key": 403},
    ),
    "list_repairs": (
        "get",
        lambda w: "/api/v1/credit/repairs/",
        None,
        {"anonymous": 401, "member": 200, "other_member": 200, "regulator": 200, "staff": 200, "api_key": 403},
    ),
    "repair_detail": (
        "get",
        lambda w: f"/api/v1/credit/repairs/{w['ack_repair'].pk}/",
        None,
        {"anonymous": 401, "member": 200, "other_member": 404, "regulator": 200, "staff": 404, "api_key": 403},
    ),
    "reply_repair": (
        "post",
        lambda w: f"/api/v1/credit/repairs/{w['filed_repair'].pk}/reply/",
        lambda w: {"reply": "Received."},
        {"anonymous": 401, "member": 403, "other_member": 403, "regulator": 200, "staff": 403, "api_key": 403},
    ),
    "decide_repair": (
        "post",
        lambda w: f"/api/v1/credit/repairs/{w['ack_repair'].pk}/decide/",
        lambda w: {"outcome": "approve", "reasons": "Corrected."},
        {"anonymous": 401, "member": 403, "other_member": 403, "regulator": 200, "staff": 403, "api_key": 403},
    ),
    "standing": (
        "get",
        lambda w: f"/api/v1/credit/subjects/{w['subject'].pk}/standing/?action=lease",
        None,
        {"anonymous": 401, "member": 200, "other_member": 404, "regulator": 200, "staff": 404, "api_key": 403},
    ),
    "record": (
        "get",
        lambda w: f"/api/v1/credit/subjects/{w['subject'].pk}/record/",
        None,
        {"anonymous": 401, "member": 200, "other_member": 404, "regulator": 200, "staff": 404, "api_key": 403},
    ),
}

MATRIX = [(name, role) for name in ENDPOINTS for role in ROLES]


@pytest.mark.parametrize(("endpoint", "role"), MATRIX, ids=[f"{n}-{r}" for n, r in MATRIX])
def test_permission_matrix(world, endpoint, role):
    method, url, body, expected = ENDPOINTS[endpoint]
    client = client_as(world, role)
    kwargs = {"format": "json"}
    if body is not None:
        kwargs["data"] = body(world)
    response = getattr(client, method)(url(world), **kwargs)
    assert response.status_code == expected[role], response.content
    if response.status_code >= 400:
        assert response["Content-Type"].startswith(PROBLEM)
    if role not in ("regulator",) and response.status_code >= 400 and method == "post":
        # A refused write leaves nothing behind.
        assert not BlacklistEntry.objects.filter(decision_reference="NEW-1").exists()


def _ids(response):
    return sorted(item["id"] for item in response.json()["results"])


def test_entry_list_shows_each_role_only_what_it_may_see(world):
    mine = sorted([world["entry"].pk, world["entry2"].pk, world["entry3"].pk])
    url = "/api/v1/credit/blacklist/entries/"
    assert _ids(client_as(world, "member").get(url)) == mine
    assert _ids(client_as(world, "other_member").get(url)) == [world["foreign"].pk]
    assert _ids(client_as(world, "regulator").get(url)) == sorted(mine + [world["foreign"].pk])
    assert _ids(client_as(world, "staff").get(url)) == []
    # Regulators filter.
    filtered = client_as(world, "regulator").get(url, {"q": "Theirs", "status": "active"})
    assert _ids(filtered) == [world["foreign"].pk]


def test_appeal_and_repair_lists_are_scoped(world):
    assert len(client_as(world, "member").get("/api/v1/credit/appeals/").json()["results"]) == 2
    assert client_as(world, "other_member").get("/api/v1/credit/appeals/").json()["results"] == []
    assert len(client_as(world, "regulator").get("/api/v1/credit/repairs/").json()["results"]) == 2
    assert client_as(world, "staff").get("/api/v1/credit/repairs/").json()["results"] == []


def test_record_shows_private_evidence_only_to_members_and_regulators(world):
    from django.utils import timezone

    from credit.services.events import record_credit_event

    record_credit_event(
        actor=world["users"]["regulator"],
        subject_id=world["subject"].pk,
        kind="chargeback",
        source="regulator",
        occurred_at=timezone.now(),
        evidence_reference="CASE-FILE-SECRET-9",
    )
    url = f"/api/v1/credit/subjects/{world['subject'].pk}/record/"
    body = client_as(world, "member").get(url).json()
    assert body["events"][0]["evidence_reference"] == "CASE-FILE-SECRET-9"
    assert {e["decision_reference"] for e in body["entries"]} == {"E-1", "E-2", "E-3"}
    assert len(body["appeals"]) == 2 and len(body["repairs"]) == 2
    assert b"CASE-FILE-SECRET-9" not in client_as(world, "other_member").get(url).content


def test_standing_api_gives_the_decision_and_reasons(world):
    body = (
        client_as(world, "member").get(f"/api/v1/credit/subjects/{world['subject'].pk}/standing/?action=lease").json()
    )
    assert body["allowed"] is False
    assert {r["decision_reference"] for r in body["reasons"]} == {"E-1", "E-2", "E-3"}
    bad = client_as(world, "regulator").get(f"/api/v1/credit/subjects/{world['subject'].pk}/standing/?action=fly")
    assert bad.status_code == 400 and "action" in bad.json()["errors"]
    missing = client_as(world, "regulator").get("/api/v1/credit/subjects/99999999/standing/?action=lease")
    assert missing.status_code == 404 and missing.json()["code"] == "subject_not_found"


def test_bad_input_answers_problem_json(world):
    client = client_as(world, "regulator")
    url = "/api/v1/credit/blacklist/entries/"
    unknown = client.post(url, {**ENTRY_BODY, "subject_id": 99999999}, format="json")
    assert unknown.status_code == 404 and unknown.json()["code"] == "subject_not_found"
    duplicate = client.post(url, {**ENTRY_BODY, "decision_reference": "E-1", "subject_id": world["subject"].pk})
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "duplicate_decision"
    assert "decision_reference" in duplicate.json()["errors"]
    invalid = client.post(
        url,
        {
            **ENTRY_BODY,
            "subject_id": world["subject"].pk,
            "severity": "huge",
            "fine_amount": "10",
            "fine_currency": "ZZZ",
        },
        format="json",
    )
    assert invalid.status_code == 400 and "severity" in invalid.json()["errors"]
    bad_currency = client.post(
        url, {**ENTRY_BODY, "subject_id": world["subject"].pk, "fine_amount": "10", "fine_currency": "ZZZ"}
    )
    assert bad_currency.status_code == 400 and "fine_currency" in bad_currency.json()["errors"]
    period = client.post(f"/api/v1/credit/appeals/{world['filed_appeal'].pk}/decide/", {"outcome": "uphold"})
    assert period.status_code == 400 and "reasons" in period.json()["errors"]
    early = client.post(
        f"/api/v1/credit/appeals/{world['filed_appeal'].pk}/decide/", {"outcome": "uphold", "reasons": "x"}
    )
    assert early.status_code == 409 and early.json()["code"] == "reply_first"


def _count_queries(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "url",
    ["/api/v1/credit/blacklist/entries/", "/api/v1/credit/appeals/", "/regulator/blacklist/", "/regulator/appeals/"],
)
def test_lists_do_not_query_per_row(client, url):
    regulator = RegulatorFactory()
    client.force_login(regulator)

    def add(n):
        for _ in range(n):
            membership = MembershipFactory()
            entry = make_entry(regulator, membership.subject, severity="minor")
            services.file_appeal(actor=membership.user, entry_id=entry.pk, challenge="content", grounds="g")

    add(2)
    few = _count_queries(client, url)
    add(8)
    assert _count_queries(client, url) == few

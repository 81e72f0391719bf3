"""The payment-provider API: screening decisions and reasons, compliance gate, API keys,
payment reports with idempotency, reserves, watchlist, webhooks, call records."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from core.models import IdempotencyKey
from credit.models import CreditEvent, Subject
from payments import services
from payments.models import APICallRecord, PaymentReport, ProviderAPIKey, ScreeningDecision
from tests.factories import RegulatorFactory, SubjectFactory

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


@pytest.fixture
def api(client_for, institution_key):
    return client_for(institution_key[1])


@pytest.fixture
def subjects():
    return {
        "good": SubjectFactory(country="DE", registration_number="HRB-1", legal_name="Good Gmbh", grade="A"),
        "weak": SubjectFactory(country="DE", registration_number="HRB-2", legal_name="Weak Gmbh", grade="D"),
        "banned": SubjectFactory(
            country="DE", registration_number="HRB-3", legal_name="Banned Gmbh", grade="B", is_blacklisted=True
        ),
        "new": SubjectFactory(country="FR", registration_number="RCS-9", legal_name="Nouvelle SARL", grade="M"),
    }


def post(api, path, data, **headers):
    return api.post(path, data, format="json", **headers)


# --- Screening ----------------------------------------------------------------------------


def test_screening_by_registration_number_allows_and_stores_the_decision(api, subjects, institution_key):
    response = post(api, "/api/v1/screenings/", {"registration_number": "hrb-1", "country": "de", "reference": "o-1"})
    assert response.status_code == 200, response.content
    [result] = response.json()["results"]
    assert result["decision"] == "allow"
    assert result["reasons"][0]["code"] == "good_standing"
    assert result["reference"] == "o-1"
    assert result["subject"]["subject_id"] == subjects["good"].pk
    stored = ScreeningDecision.objects.get(pk=result["id"])
    assert stored.inputs == {"registration_number": "HRB-1", "country": "DE", "reference": "o-1"}
    assert stored.api_key_prefix == institution_key[0].prefix
    assert stored.subject_snapshot["grade"] == "A"
    assert stored.model_version and stored.data_version


@pytest.mark.parametrize(
    ("key", "decision", "code"),
    [("weak", "deny", "grade_below_threshold"), ("banned", "deny", "blacklisted"), ("new", "allow", "good_standing")],
)
def test_screening_reasons(api, subjects, key, decision, code):
    s = subjects[key]
    result = post(api, "/api/v1/screenings/", {"registration_number": s.registration_number, "country": s.country})
    [row] = result.json()["results"]
    assert (row["decision"], row["reasons"][0]["code"]) == (decision, code)


def test_unknown_subject_is_review(api):
    [row] = post(api, "/api/v1/screenings/", {"registration_number": "NOPE-1", "country": "DE"}).json()["results"]
    assert row["decision"] == "review"
    assert row["reasons"][0]["code"] == "unknown_subject"
    assert row["subject"] == {}


def test_threshold_is_the_institutions_own(api, subjects, compliant_institution):
    services.set_screening_threshold(
        actor=compliant_institution.manager, institution_id=compliant_institution.pk, grade="A"
    )
    s = subjects["new"]
    [row] = post(api, "/api/v1/screenings/", {"registration_number": s.registration_number, "country": "FR"}).json()[
        "results"
    ]
    assert row["decision"] == "deny"
    assert row["threshold_grade"] == "A"


def test_batch_screening_keeps_order_and_summarises(api, subjects):
    items = [
        {"registration_number": "HRB-1", "country": "DE", "reference": "a"},
        {"registration_number": "HRB-3", "country": "DE", "reference": "b"},
        {"registration_number": "ZZZ", "country": "DE", "reference": "c"},
    ]
    body = post(api, "/api/v1/screenings/", {"items": items}).json()
    assert [r["reference"] for r in body["results"]] == ["a", "b", "c"]
    assert [r["decision"] for r in body["results"]] == ["allow", "deny", "review"]
    assert body["summary"] == {"allow": 1, "review": 1, "deny": 1}
    assert ScreeningDecision.objects.filter(batch_id=body["batch_id"]).count() == 3


def test_batch_of_1000_is_accepted_and_1001_refused(api, subjects, django_assert_max_num_queries):
    items = [{"registration_number": "HRB-1", "country": "DE"}] * 1000
    with django_assert_max_num_queries(15):
        response = post(api, "/api/v1/screenings/", {"items": items})
    assert response.status_code == 200
    assert response.json()["count"] == 1000
    too_many = post(api, "/api/v1/screenings/", {"items": items + items[:1]})
    assert too_many.status_code == 400
    assert too_many["Content-Type"].startswith(PROBLEM)


def test_screening_input_errors_are_problem_400(api):
    response = post(api, "/api/v1/screenings/", {"registration_number": "X1"})
    assert response.status_code == 400
    assert "country" in response.json()["errors"]


def test_name_screening_is_typo_tolerant_and_returns_candidates(api):
    target = SubjectFactory(country="US", legal_name="Pacific Gateway Warehousing LLC", grade="B")
    SubjectFactory(country="US", legal_name="Totally Unrelated Foods Inc")
    [row] = post(api, "/api/v1/screenings/", {"name": "Pacifc Gatway Warehousing", "country": "US"}).json()["results"]
    assert row["decision"] == "allow"
    assert row["subject"]["subject_id"] == target.pk
    assert row["candidates"][0]["subject_id"] == target.pk
    assert 0 < row["candidates"][0]["score"] <= 1


def test_ambiguous_name_is_review_with_candidates(api):
    a = SubjectFactory(country="CN", legal_name="Harbour Trading Co")
    b = SubjectFactory(country="SG", legal_name="Harbour Trading Co")
    [row] = post(api, "/api/v1/screenings/", {"name": "Harbour Trading Co"}).json()["results"]
    assert row["decision"] == "review"
    assert row["reasons"][0]["code"] == "ambiguous_name"
    assert {c["subject_id"] for c in row["candidates"]} >= {a.pk, b.pk}


def test_unknown_name_is_review(api):
    [row] = post(api, "/api/v1/screenings/", {"name": "Qwxzy Nonexistent"}).json()["results"]
    assert row["reasons"][0]["code"] == "unknown_subject"


def test_past_decision_can_be_explained(api, subjects, client_for):
    [row] = post(api, "/api/v1/screenings/", {"registration_number": "HRB-1", "country": "DE"}).json()["results"]
    Subject.objects.filter(pk=subjects["good"].pk).update(grade="D")  # the world moves on
    explained = api.get(f"/api/v1/screenings/{row['id']}/").json()
    assert explained["decision"] == "allow"
    assert explained["subject"]["grade"] == "A"  # as it stood at the decision
    # Another institution's key: refused before any lookup while that institution has not
    # registered; once it is registered and compliant, the decision does not exist for it.
    from tests.payments.conftest import make_compliant_institution

    other = SubjectFactory(is_payment_institution=True)
    _, secret = ProviderAPIKey.objects.create_key(name="x", institution=other, scopes=["screen"])
    refused = client_for(secret).get(f"/api/v1/screenings/{row['id']}/")
    assert refused.status_code == 403 and refused.json()["code"] == "institution_not_registered"
    registered = make_compliant_institution()
    _, secret = ProviderAPIKey.objects.create_key(name="y", institution_id=registered.pk, scopes=["screen"])
    assert client_for(secret).get(f"/api/v1/screenings/{row['id']}/").status_code == 404


# --- The compliance gate and keys --------------------------------------------------------------


def test_suspended_institution_gets_403_naming_the_reason(api, compliant_institution):
    services.suspend_institution(
        actor=RegulatorFactory(), institution_id=compliant_institution.pk, reason="Reserve shortfall"
    )
    response = post(api, "/api/v1/screenings/", {"registration_number": "HRB-1", "country": "DE"})
    assert response.status_code == 403
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == "institution_suspended"
    assert "Reserve shortfall" in body["detail"]
    # Its own status and reserves stay reachable.
    assert api.get("/api/v1/institution/").json()["status"] == "suspended"
    assert api.get("/api/v1/reserve-reports/").status_code == 200


def test_institution_under_review_gets_403(api, compliant_institution):
    services.set_kyb_status(actor=RegulatorFactory(), institution_id=compliant_institution.pk, kyb_status="pending")
    services.run_compliance_check(institution_id=compliant_institution.pk, trigger="profile_changed")
    body = post(api, "/api/v1/screenings/", {"registration_number": "HRB-1", "country": "DE"}).json()
    assert body["code"] == "institution_under_review"
    assert "KYB verification is pending" in body["detail"]


def test_unregistered_institution_is_refused(client_for, api_key):
    response = client_for(api_key[1]).post("/api/v1/screenings/", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "institution_not_registered"


def test_key_without_scope_is_403(client_for, compliant_institution):
    _, secret = ProviderAPIKey.objects.create_key(name="r", institution_id=compliant_institution.pk, scopes=["report"])
    response = client_for(secret).post("/api/v1/screenings/", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "missing_scope"


def test_revoked_and_expired_keys_answer_401(client_for, compliant_institution, institution_key):
    key, secret = institution_key
    services.revoke_api_key(actor=compliant_institution.manager, prefix=key.prefix)
    assert client_for(secret).get("/api/v1/institution/").status_code == 401
    expired, expired_secret = ProviderAPIKey.objects.create_key(
        name="e",
        institution_id=compliant_institution.pk,
        scopes=["screen"],
        expiry_date=timezone.now() - timedelta(seconds=1),
    )
    response = client_for(expired_secret).post("/api/v1/screenings/", {"name": "x"}, format="json")
    assert response.status_code == 401
    assert response["Content-Type"].startswith(PROBLEM)
    assert client_for(secret + "x").get("/api/v1/institution/").status_code == 401


def test_no_plaintext_secret_is_stored(institution_key):
    key, secret = institution_key
    row = ProviderAPIKey.objects.filter(pk=key.pk).values().get()
    assert all(secret.split(".", 1)[1] not in str(value) for value in row.values())


def test_session_users_cannot_use_the_provider_api(client, member):
    client.force_login(member)
    response = client.post("/api/v1/screenings/", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "api_key_required"
    assert client.logout() is None
    assert client.post("/api/v1/screenings/", {}, content_type="application/json").status_code == 401


def test_every_call_is_recorded_with_its_decision(api, subjects, institution_key):
    post(api, "/api/v1/screenings/", {"items": [{"registration_number": "HRB-1", "country": "DE"}, {"name": "zz"}]})
    api.get("/api/v1/screenings/999999/")
    records = list(APICallRecord.objects.filter(api_key_prefix=institution_key[0].prefix).order_by("id"))
    assert [(r.method, r.path, r.status_code) for r in records] == [
        ("POST", "/api/v1/screenings/", 200),
        ("GET", "/api/v1/screenings/999999/", 404),
    ]
    assert records[0].decision == "allow=1 review=1 deny=0"
    assert records[1].decision == "screening_not_found"


# --- Payment reports and idempotency --------------------------------------------------------


def report_body(subject, **kw):
    body = {
        "subject_id": subject.pk,
        "outcome": "paid_late",
        "days_late": 12,
        "amount": "250.00",
        "currency": "USD",
        "payment_reference": "pay-1",
        "occurred_at": (timezone.now() - timedelta(days=1)).isoformat(),
    }
    body.update(kw)
    return body


def test_payment_report_becomes_a_credit_event(api, subjects):
    body = report_body(subjects["good"])
    response = post(api, "/api/v1/payment-reports/", body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 201, response.content
    event = CreditEvent.objects.get(pk=response.json()["credit_event_id"])
    assert (event.kind_id, event.magnitude, event.source) == ("paid_late", 12, "payment_institution")
    assert event.subject_id == subjects["good"].pk


@pytest.mark.parametrize("outcome", ["paid_on_time", "chargeback", "confirmed_fraud", "refund_issued"])
def test_each_outcome_maps_to_its_event_kind(api, subjects, outcome):
    body = report_body(subjects["good"], outcome=outcome, days_late=0, payment_reference=f"p-{outcome}")
    response = post(api, "/api/v1/payment-reports/", body, HTTP_IDEMPOTENCY_KEY=f"k-{outcome}")
    assert response.status_code == 201, response.content
    assert CreditEvent.objects.get(pk=response.json()["credit_event_id"]).kind_id == outcome


def test_report_by_registration_number(api, subjects):
    body = report_body(subjects["good"], subject_id=None, country="DE", registration_number="HRB-1")
    del body["subject_id"]
    assert post(api, "/api/v1/payment-reports/", body, HTTP_IDEMPOTENCY_KEY="k-reg").status_code == 201


def test_idempotency_key_is_required(api, subjects):
    response = post(api, "/api/v1/payment-reports/", report_body(subjects["good"]))
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"


def test_same_key_same_payload_replays_the_first_response(api, subjects):
    body = report_body(subjects["good"])
    first = post(api, "/api/v1/payment-reports/", body, HTTP_IDEMPOTENCY_KEY="same")
    second = post(api, "/api/v1/payment-reports/", body, HTTP_IDEMPOTENCY_KEY="same")
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert PaymentReport.objects.count() == 1
    assert CreditEvent.objects.filter(source="payment_institution").count() == 1


def test_same_key_different_payload_is_422(api, subjects):
    post(api, "/api/v1/payment-reports/", report_body(subjects["good"]), HTTP_IDEMPOTENCY_KEY="k")
    response = post(
        api, "/api/v1/payment-reports/", report_body(subjects["good"], days_late=13), HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"


def test_errors_are_replayed_too(api):
    body = {
        "subject_id": 10**9,
        "outcome": "chargeback",
        "payment_reference": "x",
        "occurred_at": timezone.now().isoformat(),
    }
    first = post(api, "/api/v1/payment-reports/", body, HTTP_IDEMPOTENCY_KEY="err")
    again = post(api, "/api/v1/payment-reports/", body, HTTP_IDEMPOTENCY_KEY="err")
    assert first.status_code == again.status_code == 404
    assert again["Content-Type"].startswith(PROBLEM)
    assert again.json() == first.json()


def test_keys_are_per_api_key(api, subjects, client_for, compliant_institution):
    post(api, "/api/v1/payment-reports/", report_body(subjects["good"]), HTTP_IDEMPOTENCY_KEY="shared")
    _, other = ProviderAPIKey.objects.create_key(name="o", institution_id=compliant_institution.pk, scopes=["report"])
    response = client_for(other).post(
        "/api/v1/payment-reports/",
        report_body(subjects["good"], payment_reference="pay-2"),
        format="json",
        HTTP_IDEMPOTENCY_KEY="shared",
    )
    assert response.status_code == 201


def test_duplicate_payment_reference_under_a_new_key_is_409(api, subjects):
    post(api, "/api/v1/payment-reports/", report_body(subjects["good"]), HTTP_IDEMPOTENCY_KEY="a")
    response = post(api, "/api/v1/payment-reports/", report_body(subjects["good"]), HTTP_IDEMPOTENCY_KEY="b")
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_payment_report"


def test_late_payment_needs_days_late(api, subjects):
    response = post(
        api, "/api/v1/payment-reports/", report_body(subjects["good"], days_late=0), HTTP_IDEMPOTENCY_KEY="z"
    )
    assert response.status_code == 400
    assert "days_late" in response.json()["errors"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_answers_409(client_for, monkeypatch):
    from tests.payments.conftest import make_compliant_institution

    profile = make_compliant_institution()
    _, secret = ProviderAPIKey.objects.create_key(name="c", institution_id=profile.pk, scopes=["report"])
    subject = SubjectFactory()
    started, release = threading.Event(), threading.Event()
    import payments.services as payment_services

    real = payment_services.report_payment_outcome

    def slow(**kwargs):
        started.set()
        release.wait(10)
        return real(**kwargs)

    monkeypatch.setattr(payment_services, "report_payment_outcome", slow)
    body = report_body(subject)
    results = {}

    def first():
        try:
            results["first"] = client_for(secret).post(
                "/api/v1/payment-reports/", body, format="json", HTTP_IDEMPOTENCY_KEY="race"
            )
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(10)
    duplicate = client_for(secret).post("/api/v1/payment-reports/", body, format="json", HTTP_IDEMPOTENCY_KEY="race")
    release.set()
    thread.join(15)
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "idempotency_in_flight"
    assert results["first"].status_code == 201
    assert IdempotencyKey.objects.get(key="race").status == "done"
    replay = client_for(secret).post("/api/v1/payment-reports/", body, format="json", HTTP_IDEMPOTENCY_KEY="race")
    assert replay.status_code == 201 and replay.json() == results["first"].json()


# --- Reserves, watchlist, webhooks -------------------------------------------------------------


def test_reserve_reports_by_api(api, compliant_institution):
    accounts = api.get("/api/v1/reserve-accounts/").json()
    assert accounts[0]["account_reference"] == "RES-1"
    response = post(
        api,
        "/api/v1/reserve-reports/",
        {
            "report_date": timezone.localdate().isoformat(),
            "currency": "CNY",
            "customer_funds_owed": "100.00",
            "balances": [{"account_id": accounts[0]["id"], "balance": "100.00"}],
            "outflows": [{"destination_type": "partner_institution", "amount": "3.50"}],
        },
    )
    assert response.status_code == 201, response.content
    assert response.json()["source"] == "api"
    assert api.get("/api/v1/reserve-reports/").json()["results"][0]["id"] == response.json()["id"]
    bad = post(
        api,
        "/api/v1/reserve-reports/",
        {
            "report_date": "2026-01-01",
            "currency": "CNY",
            "customer_funds_owed": "1",
            "balances": [{"account_id": 10**9, "balance": "1"}],
        },
    )
    assert bad.status_code == 400 and "balances" in bad.json()["errors"]


def test_watchlist_and_webhook_endpoints_by_api(api, subjects):
    assert post(api, "/api/v1/watchlist/", {"subject_id": subjects["good"].pk}).status_code == 201
    assert [w["subject_id"] for w in api.get("/api/v1/watchlist/").json()] == [subjects["good"].pk]
    assert api.delete(f"/api/v1/watchlist/{subjects['good'].pk}/").status_code == 204
    assert api.delete(f"/api/v1/watchlist/{subjects['good'].pk}/").status_code == 404
    created = post(
        api, "/api/v1/webhook-endpoints/", {"url": "https://example.test/h", "event_types": ["subject.blacklisted"]}
    )
    assert created.status_code == 201
    assert created.json()["secret"].startswith("whsec_")
    bad = post(api, "/api/v1/webhook-endpoints/", {"url": "https://example.test/h", "event_types": ["nope"]})
    assert bad.status_code == 400
    assert api.delete(f"/api/v1/webhook-endpoints/{created.json()['id']}/").status_code == 204
    assert api.get("/api/v1/webhook-endpoints/").json()[0]["enabled"] is False
    assert api.get("/api/v1/webhook-deliveries/").status_code == 200

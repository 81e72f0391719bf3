"""The API call log: an institution's members (web) and its keys (API) see its own calls,
filtered by day, endpoint, status and decision, with a CSV export; regulators see all."""

from datetime import timedelta

import pytest
from django.utils import timezone

from credit.models import Membership
from payments.models import APICallRecord, ProviderAPIKey
from tests.factories import MembershipFactory, RegulatorFactory, SubjectFactory
from tests.payments.conftest import make_compliant_institution

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls(compliant_institution, institution_key, client_for):
    """Real calls: two screenings (one allow, one review for an unknown subject) and a 403 for a
    key without the scope; plus another institution's call and an old one."""
    p = compliant_institution
    SubjectFactory(country="DE", registration_number="HRB-1")
    api = client_for(institution_key[1])
    assert (
        api.post("/api/v1/screenings/", {"registration_number": "HRB-1", "country": "DE"}, format="json").status_code
        == 200
    )
    assert (
        api.post("/api/v1/screenings/", {"registration_number": "NONE", "country": "DE"}, format="json").status_code
        == 200
    )
    _, narrow = ProviderAPIKey.objects.create_key(name="n", institution_id=p.pk, scopes=["reserves"])
    assert client_for(narrow).post("/api/v1/screenings/", {"name": "x"}, format="json").status_code == 403
    other = make_compliant_institution()
    APICallRecord.objects.create(
        at=timezone.now(),
        api_key_prefix="other",
        institution_id=other.pk,
        method="GET",
        path="/api/v1/x/",
        status_code=200,
        decision="=HYPERLINK(1)",
    )
    APICallRecord.objects.create(
        at=timezone.now() - timedelta(days=3),
        api_key_prefix="old",
        institution_id=p.pk,
        method="GET",
        path="/api/v1/institution/",
        status_code=200,
    )
    return {"profile": p, "other": other, "key": institution_key[1]}


def test_the_institutions_key_lists_its_own_calls_with_filters(calls, client_for):
    api = client_for(calls["key"])
    body = api.get("/api/v1/api-calls/").json()
    prefixes = {row["api_key_prefix"] for row in body["results"]}
    assert "other" not in prefixes and "old" in prefixes
    assert {row["api_key_name"] for row in body["results"] if row["api_key_prefix"] != "old"} >= {"t", "n"}
    decisions = [row["decision"] for row in body["results"] if row["path"] == "/api/v1/screenings/"]
    assert sorted(decisions) == ["allow=0 review=1 deny=0", "allow=1 review=0 deny=0", "missing_scope"]
    reviewed = api.get("/api/v1/api-calls/", {"decision": "review=1"}).json()["results"]
    assert len(reviewed) == 1 and reviewed[0]["status_code"] == 200
    refused = api.get("/api/v1/api-calls/", {"status": "4xx"}).json()["results"]
    assert [row["decision"] for row in refused] == ["missing_scope"]
    today = timezone.localdate().isoformat()
    recent = api.get("/api/v1/api-calls/", {"date_from": today, "endpoint": "institution"}).json()["results"]
    assert all(row["api_key_prefix"] != "old" for row in recent)
    bad = api.get("/api/v1/api-calls/", {"status": "teapot"})
    assert bad.status_code == 400 and "status" in bad.json()["errors"]
    backwards = api.get("/api/v1/api-calls/", {"date_from": today, "date_to": "2020-01-01"})
    assert backwards.status_code == 400 and "date_to" in backwards.json()["errors"]


def test_members_see_their_own_calls_on_the_web_and_export_csv(calls, client):
    p = calls["profile"]
    plain = MembershipFactory(subject=p.subject, role=Membership.Role.MEMBER).user
    client.force_login(plain)  # any member, not only managers
    page = client.get(f"/institution/{p.pk}/api-calls/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "missing_scope" in html and "HYPERLINK" not in html
    filtered = client.get(f"/institution/{p.pk}/api-calls/", {"status": "403"}).content.decode()
    assert "missing_scope" in filtered and "allow=1" not in filtered
    csv = client.get(f"/institution/{p.pk}/api-calls/", {"decision": "allow", "format": "csv"})
    assert csv["Content-Type"].startswith("text/csv")
    lines = b"".join(csv.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("at,institution_id,api_key_prefix")
    assert len(lines) == 3 and all("allow=" in line for line in lines[1:])
    bad = client.get(f"/institution/{p.pk}/api-calls/", {"date_from": "yesterday"})
    assert bad.status_code == 400 and 'id="id_date_from-error"' in bad.content.decode()
    backwards = client.get(f"/institution/{p.pk}/api-calls/", {"date_from": "2026-02-02", "date_to": "2026-02-01"})
    assert backwards.status_code == 400 and 'id="id_date_to-error"' in backwards.content.decode()
    # Another institution's log is not theirs.
    assert client.get(f"/institution/{calls['other'].pk}/api-calls/").status_code == 404


def test_regulators_see_every_institutions_calls_and_csv_is_formula_safe(calls, client):
    client.force_login(RegulatorFactory())
    html = client.get("/regulator/api-calls/").content.decode()
    assert "missing_scope" in html and "HYPERLINK" in html
    only_other = client.get("/regulator/api-calls/", {"institution": calls["other"].pk}).content.decode()
    assert "HYPERLINK" in only_other and "missing_scope" not in only_other
    csv = b"".join(client.get("/regulator/api-calls/", {"format": "csv"}).streaming_content).decode()
    assert "'=HYPERLINK(1)" in csv


def test_the_log_is_paginated(compliant_institution, client):
    p = compliant_institution
    now = timezone.now()
    APICallRecord.objects.bulk_create(
        APICallRecord(
            at=now - timedelta(seconds=i),
            api_key_prefix="k",
            institution_id=p.pk,
            method="GET",
            path=f"/api/v1/n{i}/",
            status_code=200,
        )
        for i in range(60)
    )
    client.force_login(p.manager)
    first = client.get(f"/institution/{p.pk}/api-calls/").content.decode()
    assert "/api/v1/n0/" in first and "/api/v1/n59/" not in first and "page=2" in first
    assert "/api/v1/n59/" in client.get(f"/institution/{p.pk}/api-calls/", {"page": 2}).content.decode()


def test_date_filters_cover_whole_utc_days_up_to_the_last_one(calls, institution_key, client_for):
    api = client_for(institution_key[1])
    assert api.get("/api/v1/api-calls/", {"date_to": "9999-12-31"}).status_code == 200
    assert api.get("/api/v1/api-calls/", {"date_from": "0001-01-01", "date_to": "9999-12-31"}).json()["results"]

"""Odd and hostile query strings never cause a 500: NUL bytes (PostgreSQL refuses them in
string literals), page numbers past any database OFFSET, invalid dates and non-numbers."""

import pytest

from tests.factories import SubjectFactory

pytestmark = pytest.mark.django_db

WEB_PAGES = [
    "/registry/",
    "/registry/blacklist/",
    "/regulator/blacklist/",
    "/regulator/appeals/",
    "/regulator/repairs/",
    "/regulator/audit/",
    "/regulator/recompute/",
    "/regulator/institutions/",
    "/warehouses/",
    "/warehouses/leases/",
]
API_PAGES = [
    "/api/v1/registry/subjects/",
    "/api/v1/registry/blacklist/",
    "/api/v1/credit/blacklist/entries/",
    "/api/v1/credit/appeals/",
    "/api/v1/credit/repairs/",
    "/api/v1/credit/recompute-runs/",
    "/api/v1/warehouses/listings/",
    "/api/v1/warehouses/leases/",
]
PARAMS = ["q", "country", "status", "category", "severity", "role", "page", "page_size", "from", "city", "sort"]
VALUES = ["a\x00b", "2026-02-30", "-1", "99999999999999999999999", "\u0639\U0001f4a9"]


@pytest.mark.parametrize("path", WEB_PAGES)
def test_web_lists_answer_odd_query_strings_without_a_server_error(client, regulator, path):
    SubjectFactory(legal_name="Acme Trading")
    client.force_login(regulator)
    for param in PARAMS:
        for value in VALUES:
            response = client.get(path, {param: value, "q": value} if param == "country" else {param: value})
            assert response.status_code < 500, (path, param, value)


@pytest.mark.parametrize("path", API_PAGES)
def test_api_lists_answer_odd_query_strings_with_problems_not_server_errors(client_for, regulator, path):
    SubjectFactory(legal_name="Acme Trading")
    client = client_for(regulator)
    for param in PARAMS:
        for value in VALUES:
            response = client.get(path, {param: value})
            assert response.status_code < 500, (path, param, value)
            if response.status_code >= 400:
                assert response["Content-Type"].startswith("application/problem+json"), (path, param, value)


def test_a_page_number_past_any_offset_is_not_a_server_error(client, client_for, regulator):
    SubjectFactory(legal_name="Acme Trading")
    huge = "99999999999999999999999"
    assert client.get("/registry/", {"q": "Acme", "page": huge}).status_code == 200
    api = client_for(regulator)
    response = api.get("/api/v1/registry/subjects/", {"q": "Acme", "page": huge})
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")
    response = api.get("/api/v1/warehouses/listings/", {"page": huge})
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_nul_byte_anywhere_in_the_query_or_path_is_a_bad_request(client, client_for, member):
    client.force_login(member)
    assert client.get("/registry/?q=ok&q=a%00b").status_code == 400
    assert client.get("/institution/keys/ab%00c/revoke/").status_code == 400
    response = client_for(member).get("/api/v1/registry/subjects/?q=a%00b")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert client.get("/registry/?q=ok").status_code == 200


def test_csv_exports_neutralise_cells_a_spreadsheet_would_run_as_formulas(client, regulator):
    from tests.credit.blacklist_helpers import make_entry

    subject = SubjectFactory(legal_name='=HYPERLINK("http://evil.example","Click")')
    make_entry(regulator, subject, decision_reference="@SUM(A1)", legal_basis="+cmd|' /C calc'!A0")
    public = b"".join(client.get("/api/v1/registry/blacklist/?format=csv").streaming_content).decode()
    assert "\"'=HYPERLINK(" in public
    assert ",'@SUM(A1)," in public
    assert "'+cmd|" in public
    client.force_login(regulator)
    console = client.get("/regulator/blacklist/?format=csv").content.decode()
    assert "\"'=HYPERLINK(" in console
    assert ",=HYPERLINK" not in console and ",@SUM" not in console


@pytest.mark.parametrize("path", ["/api/v1/auth/token/", "/api/v1/credit/blacklist/entries/"])
def test_json_nested_past_the_recursion_limit_is_a_bad_request(client_for, regulator, path):
    body = '{"a":' * 5000 + "1" + "}" * 5000
    response = client_for(regulator).post(path, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")


def test_a_web_form_posted_with_a_nul_byte_is_a_bad_request(client, member):
    client.force_login(member)
    assert client.post("/warehouses/leases/1/cancel/", {"reason": "late\x00"}).status_code == 400
    form = "application/x-www-form-urlencoded"
    assert client.post("/institution/keys/abc/revoke/", "reason=x%00y", content_type=form).status_code == 400
    assert client.post("/warehouses/leases/999999/cancel/", {"reason": "late"}).status_code == 404


@pytest.mark.parametrize("path", ["/regulator/blacklist/new/", "/regulator/events/new/"])
@pytest.mark.parametrize("value", ["99999999999999999999999", "-1", "2026-02-30", "1e400", "\u0639" * 3000])
def test_regulator_forms_reject_odd_values_beside_the_field(client, regulator, path, value):
    client.force_login(regulator)
    names = [
        "subject_id", "country", "registration_number", "category", "severity", "legal_basis",
        "decision_reference", "description", "fine_amount", "fine_currency", "starts_on",
        "publication_ends_on", "kind", "magnitude", "occurred_at", "evidence_reference", "source_reference",
    ]  # fmt: skip
    response = client.post(path, dict.fromkeys(names, value))
    assert response.status_code in (200, 400)


@pytest.mark.parametrize("value", ["99999999999999999999999", "-1", "2026-02-30", "1e400", "NaN", "\u0639\U0001f4a9"])
def test_warehouse_search_answers_odd_values_without_a_server_error(client, client_for, member, value):
    fields = ["country", "city", "start", "end", "units", "features", "max_price", "min_operator_grade", "sort"]
    fields += ["lat", "lon", "page", "page_size"]
    params = dict.fromkeys(fields, value)
    assert client.get("/warehouses/", params).status_code < 500
    response = client_for(member).get("/api/v1/warehouses/listings/", params)
    assert response.status_code < 500
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/problem+json")


@pytest.mark.parametrize("value", ["99999999999999999999999", "-1", "abc"])
def test_blacklist_entries_api_rejects_a_subject_id_no_subject_can_have(client_for, regulator, value):
    response = client_for(regulator).get("/api/v1/credit/blacklist/entries/", {"subject_id": value})
    assert response.status_code == 400
    assert response.json()["errors"]["subject_id"]

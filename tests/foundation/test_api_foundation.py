"""The API contract every endpoint shares: problem+json errors, auth schemes, docs."""

import pytest
from django.utils import timezone

from payments.models import ProviderAPIKey

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def assert_problem(response, status, code=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "code"} <= body.keys()
    if code:
        assert body["code"] == code
    return body


def test_unknown_api_path_is_problem_404(client):
    assert_problem(client.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_malformed_json_is_problem_400(member, client):
    client.force_login(member)
    response = client.post("/api/v1/auth/token/", data="{bad", content_type="application/json")
    assert_problem(response, 400, "parse_error")


def test_wrong_method_is_problem_405(client):
    assert_problem(client.delete("/api/v1/auth/token/"), 405, "method_not_allowed")


def test_anonymous_me_is_401_with_scheme(client):
    response = client.get("/api/v1/me/")
    assert_problem(response, 401)
    assert response["WWW-Authenticate"] == "Api-Key"


def test_token_login_then_token_auth(client, member):
    from tests.factories import PASSWORD

    response = client.post(
        "/api/v1/auth/token/", {"username": member.username, "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    me = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}").json()
    assert me["username"] == member.username
    assert me["memberships"][0]["subject_id"] == member.subject.pk


def test_token_login_with_wrong_password_lists_the_problem(client, member):
    response = client.post(
        "/api/v1/auth/token/", {"username": member.username, "password": "nope"}, content_type="application/json"
    )
    body = assert_problem(response, 400, "invalid")
    assert "non_field_errors" in body["errors"]


def test_api_key_authenticates_and_records_last_use(client, api_key):
    key, secret = api_key
    assert key.last_used_at is None
    me = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Api-Key {secret}").json()
    assert me == {
        "kind": "api_key",
        "key_prefix": key.prefix,
        "institution_id": key.institution_id,
        "scopes": key.scopes,
    }
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_api_key_secret_is_not_stored(api_key):
    key, secret = api_key
    stored = ProviderAPIKey.objects.filter(pk=key.pk).values().get()
    assert all(secret.split(".", 1)[1] not in str(value) for value in stored.values())
    assert secret.startswith(key.prefix + ".")


@pytest.mark.parametrize("spoil", ["revoke", "expire", "garble"])
def test_unusable_api_key_is_401(client, api_key, spoil):
    key, secret = api_key
    if spoil == "revoke":
        ProviderAPIKey.objects.filter(pk=key.pk).update(revoked=True)
    elif spoil == "expire":
        ProviderAPIKey.objects.filter(pk=key.pk).update(expiry_date=timezone.now() - timezone.timedelta(minutes=1))
    else:
        secret = secret[:-3] + "xyz"
    assert_problem(client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Api-Key {secret}"), 401, "authentication_failed")


def test_schema_and_docs_render(client):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    assert "/api/v1/me/" in schema.json()["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
    # Nothing is fetched from a CDN.
    assert b"cdn.jsdelivr" not in docs.content and b"unpkg.com" not in docs.content


def test_lists_paginate_with_count_and_links(client):
    from tests.factories import SubjectFactory

    SubjectFactory.create_batch(3)
    first = client.get("/api/v1/registry/subjects/?page_size=2").json()
    assert first["count"] == 3
    assert len(first["results"]) == 2
    assert first["previous"] is None and "page=2" in first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None
    ids = {row["id"] for row in first["results"] + second["results"]}
    assert len(ids) == 3
    assert_problem(client.get("/api/v1/registry/subjects/?page=9"), 404)

"""A body over Django's upload limit (DATA_UPLOAD_MAX_MEMORY_SIZE) is a 413, never a 500:
problem+json `request_too_large` under /api/, a page elsewhere, whoever sends it."""

import json

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db

WRITES = [
    "/api/v1/auth/token/",
    "/api/v1/screenings/",
    "/api/v1/payment-reports/",
    "/api/v1/warehouses/leases/",
    "/api/v1/credit/blacklist/entries/",
    "/api/v1/webhook-endpoints/",
]


def _body(size: int) -> bytes:
    padding = size - len(json.dumps({"name": ""}))
    body = json.dumps({"name": "x" * padding}).encode()
    assert len(body) == size
    return body


@pytest.fixture
def callers(member, api_key):
    return {
        "anonymous": {},
        "token": {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=member).key}"},
        "api_key": {"HTTP_AUTHORIZATION": f"Api-Key {api_key[1]}"},
        "bad_credentials": {"HTTP_AUTHORIZATION": "Api-Key nope.nope"},
    }


@pytest.mark.parametrize("who", ["anonymous", "token", "api_key", "bad_credentials"])
def test_an_oversized_json_body_is_413_problem_for_every_caller(callers, who):
    client = Client(raise_request_exception=False)
    body = _body(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    for path in WRITES:
        response = client.generic(
            "POST", path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k", **callers[who]
        )
        assert response.status_code == 413, (who, path, response.status_code, response.content[:200])
        assert response["Content-Type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["status"] == 413 and problem["code"] == "request_too_large"
        assert f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,}" in problem["detail"]


def test_a_body_at_the_limit_is_read_as_usual(callers):
    client = Client(raise_request_exception=False)
    body = _body(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    response = client.generic("POST", "/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 400  # read and refused as bad credentials' shape, not as too large


def test_an_oversized_multipart_form_is_413_too(member):
    """Multipart bodies pass the Content-Length guard (files do not count against the
    limit); Django finds the fields too large while parsing them: 413 all the same."""
    big = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)
    client = Client(raise_request_exception=False)
    response = client.post("/api/v1/auth/token/", {"username": big, "password": "p"})  # multipart
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    client.force_login(member)
    response = client.post("/warehouses/leases/1/cancel/", {"reason": big})
    assert response.status_code == 413
    assert "text/html" in response["Content-Type"]


def test_an_oversized_web_form_is_a_413_page(client):
    big = "reason=" + "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = client.generic("POST", "/accounts/login/", big, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert "text/html" in response["Content-Type"]
    assert b"Request too large" in response.content

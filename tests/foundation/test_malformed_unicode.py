"""Malformed Unicode and odd bytes, wherever they enter, are a 4xx (problem+json under
/api/), never a 500.

- JSON: `"\\ud800"` is valid JSON but decodes to a lone surrogate, a string that cannot be
  encoded: DRF's choice errors echo it (the renderer crashed) and PostgreSQL refuses it.
- Query strings, form bodies and the path: invalid UTF-8 and CESU-8 surrogates.
- Headers: control characters, NUL and Latin-1 bytes in Authorization and Idempotency-Key.
"""

import io
import json
import re

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from rest_framework.exceptions import ParseError
from rest_framework.test import APIClient

from config.api import JSONParser
from payments.models import ProviderAPIKey
from tests.payments.conftest import make_compliant_institution

pytestmark = pytest.mark.django_db

LONE = "\ud800"
PROBLEM = "application/problem+json"


def _write_operations():
    """(method, path with ids filled in, documented body properties) of every operation
    in the API schema that takes a JSON body."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if not body:
                continue
            ref = body["schema"].get("$ref", "")
            properties = components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {}) if ref else {}
            yield method.upper(), re.sub(r"\{[^}]+\}", "1", path), sorted(properties) or ["name"]


@pytest.fixture
def callers(regulator, member):
    institution = make_compliant_institution()
    _, secret = ProviderAPIKey.objects.create_key(
        name="t", institution_id=institution.pk, scopes=list(ProviderAPIKey.Scope.values)
    )
    clients = {}
    for name, user in (("regulator", regulator), ("member", member)):
        clients[name] = APIClient(raise_request_exception=False)
        clients[name].force_login(user)
    clients["api_key"] = APIClient(raise_request_exception=False)
    clients["api_key"].credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return clients


def _problem(response, *context):
    assert response.status_code < 500, (response.status_code, context, response.content[:300])
    if response.status_code >= 400 and response.wsgi_request.path.startswith("/api/"):
        assert response["Content-Type"].startswith(PROBLEM), context
    return response


def test_a_lone_surrogate_in_any_json_body_is_a_problem_not_a_server_error(callers):
    """Every write operation, as every kind of caller, with a lone surrogate in every
    documented field (including choice fields, whose errors echo the value)."""
    refused = 0
    for method, path, fields in _write_operations():
        body = json.dumps(dict.fromkeys(fields, LONE))  # ensure_ascii: the escape "\ud800"
        assert "\\ud800" in body
        for name, client in callers.items():
            response = _problem(
                client.generic(method, path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"),
                name,
                method,
                path,
            )
            if response.status_code == 400 and response.json()["code"] == "invalid_unicode":
                refused += 1
    assert refused >= 20  # it reached the parser on many operations, and the parser refused it


def test_the_problem_names_the_field_never_echoes_the_value(callers):
    body = '{"subject_id": 1, "category": "fraud\\udfff", "severity": "serious"}'
    response = callers["regulator"].generic(
        "POST", "/api/v1/credit/blacklist/entries/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["code"] == "invalid_unicode"
    assert "category" in problem["detail"]
    # In a key, in a batch item: the path is named, the key itself is not echoed.
    batch = '{"items": [{"name": "ok"}, {"na\\ud800me": "x"}]}'
    response = callers["api_key"].generic("POST", "/api/v1/screenings/", batch, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_unicode"
    assert "items.1" in response.json()["detail"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"name": "\\ud83d\\ude00"}', {"name": "\U0001f600"}),  # a proper pair is one character
        ('{"name": "\\\\ud800"}', {"name": "\\ud800"}),  # an escaped backslash, not an escape
        ('{"name": "\\u00e9\\u4e2d"}', {"name": "é中"}),
    ],
)
def test_proper_unicode_escapes_are_accepted(text, expected):
    assert JSONParser().parse(io.BytesIO(text.encode())) == expected


@pytest.mark.parametrize(
    "text", ['"\\ud800"', '{"a": "\\ud83d"}', '{"a": "\\ude00\\ud83d"}', '{"a": ["x", {"b": "\\uDBFF!"}]}']
)
def test_lone_surrogates_are_refused_by_the_parser(text):
    with pytest.raises(ParseError) as refused:
        JSONParser().parse(io.BytesIO(text.encode()))
    assert refused.value.get_codes() == "invalid_unicode"


QUERY_VALUES = ["%ED%A0%80", "%FF%FE", "%C0%AF", "a%F0%9F", "%ED%B2%80x"]  # CESU-8 surrogates, invalid UTF-8


@pytest.mark.parametrize("path", ["/api/v1/registry/subjects/", "/api/v1/warehouses/listings/", "/registry/"])
@pytest.mark.parametrize("value", QUERY_VALUES)
def test_invalid_utf8_in_query_strings_is_not_a_server_error(callers, path, value):
    for param in ("q", "country", "grade", "sort", "page"):
        _problem(callers["regulator"].get(f"{path}?{param}={value}"), path, param, value)


@pytest.mark.parametrize(
    "path", ["/api/v1/registry/subjects/%ED%A0%80/", "/registry/subjects/%FF/", "/api/v1/%ED%A0%80"]
)
def test_invalid_utf8_in_the_path_is_not_found(client, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/x-www-form-urlencoded", b"reason=%ED%A0%80%FF&csrfmiddlewaretoken=%FF"),
        (
            "multipart/form-data; boundary=XX",
            b'--XX\r\nContent-Disposition: form-data; name="reason"\r\n\r\n\xed\xa0\x80\xff\r\n--XX--\r\n',
        ),
        ("application/json", b'{"reason": "\\ud800"}'),
    ],
)
def test_invalid_unicode_in_web_forms_is_not_a_server_error(member, content_type, body):
    client = Client(raise_request_exception=False)
    client.force_login(member)
    for path in ("/warehouses/leases/1/cancel/", "/accounts/login/", "/account/"):
        response = client.generic("POST", path, body, content_type=content_type)
        assert response.status_code < 500, (path, response.status_code)


@pytest.mark.parametrize(
    "header",
    [
        "Api-Key a\x00b.c",
        "Api-Key \x01\x02.x",
        "Api-Key \xff\xfe.x",
        "Api-Key \xed\xa0\x80",
        "Token ab\x00",
        "Token \xff",
    ],
)
def test_odd_bytes_in_the_authorization_header_are_401_not_500(header):
    client = Client(raise_request_exception=False)
    for path in ("/api/v1/me/", "/api/v1/registry/subjects/", "/api/v1/screenings/"):
        response = client.get(path, HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, (path, header, response.status_code)
        assert response["Content-Type"].startswith(PROBLEM)


@pytest.mark.parametrize("key", ["\x00", "a\x00b", "\xed\xa0\x80", "\x85", "x" * 256])
def test_odd_idempotency_keys_are_400(callers, key):
    body = {"subject_id": 1, "outcome": "paid_on_time", "payment_reference": "p", "occurred_at": "2026-01-01T00:00:00Z"}
    response = callers["api_key"].post("/api/v1/payment-reports/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert response.json()["code"].startswith("idempotency_key")

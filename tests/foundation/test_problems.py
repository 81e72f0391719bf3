"""Every error path of the API answers RFC 9457 problem+json, never a bare page."""

import pytest
from django.core.cache import cache
from django.test import Client

from config.api import AnonThrottle, UserThrottle

from .test_api_foundation import assert_problem

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.foundation.problem_urls")]


@pytest.fixture
def quiet_client():
    """A client that returns 500 responses instead of re-raising the view's exception."""
    return Client(raise_request_exception=False)


def test_unknown_path_under_api_is_problem_404(client):
    body = assert_problem(client.get("/api/v1/no-such-thing/"), 404, "not_found")
    assert "/api/v1/no-such-thing/" in body["detail"]
    assert_problem(client.post("/api/nothing-here", data="{}", content_type="application/json"), 404)


def test_unknown_web_path_is_an_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"Page not found" in response.content


def test_malformed_json_is_problem_400(client):
    body = assert_problem(
        client.post("/api/v1/auth/token/", data='{"username": ', content_type="application/json"), 400, "parse_error"
    )
    assert "JSON" in body["detail"]


def test_unsupported_media_type_is_problem_415(client):
    assert_problem(client.post("/api/v1/auth/token/", data="a=b", content_type="text/plain"), 415)


def test_validation_400_lists_errors_per_field(client):
    body = assert_problem(
        client.post("/api/v1/test/validate/", {"units": 0, "currency": "usd"}, content_type="application/json"),
        400,
        "invalid",
    )
    assert set(body["errors"]) == {"units", "currency"}
    assert all(isinstance(message, str) for messages in body["errors"].values() for message in messages)
    body = assert_problem(client.post("/api/v1/auth/token/", {}, content_type="application/json"), 400, "invalid")
    assert set(body["errors"]) == {"username", "password"}


def test_nested_validation_errors_keep_their_path(client):
    payload = {"items": [{"units": 1, "currency": "USD"}, {"units": -2, "currency": "USD"}], "origin": {}}
    body = assert_problem(client.post("/api/v1/test/validate/", payload, content_type="application/json"), 400)
    assert body["detail"].startswith("items.1.units: ")
    assert body["errors"]["items"]["1"]["units"] == ["Ensure this value is greater than or equal to 1."]
    assert set(body["errors"]["origin"]) == {"units", "currency"}


def test_forbidden_is_problem_403(client, member):
    client.force_login(member)
    assert_problem(client.get("/api/v1/test/forbidden/"), 403, "permission_denied")


def test_unauthenticated_is_problem_401_offering_api_key(client):
    response = client.get("/api/v1/test/forbidden/")
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


def test_wrong_method_is_problem_405(client, member):
    client.force_login(member)
    response = client.put("/api/v1/me/", {}, content_type="application/json")
    assert_problem(response, 405, "method_not_allowed")


@pytest.mark.parametrize(
    ("kind", "status"),
    [("not_found", 404), ("invalid", 400), ("conflict", 409), ("not_allowed", 403), ("busy", 409)],
)
def test_domain_errors_map_to_problems(client, kind, status):
    response = client.get(f"/api/v1/test/domain/{kind}/")
    body = assert_problem(response, status, kind)
    if kind == "invalid":
        assert body["errors"] == {"units": ["Must be positive."]}
    if kind == "busy":
        assert response["Retry-After"] == "1"


def test_throttled_is_problem_429_with_retry_after(client, member, monkeypatch):
    cache.clear()
    monkeypatch.setattr(AnonThrottle, "THROTTLE_RATES", {"anon": "2/min"})
    monkeypatch.setattr(UserThrottle, "THROTTLE_RATES", {"user": "3/min"})
    assert [client.get("/api/v1/test/open/").status_code for _ in range(2)] == [200, 200]
    response = client.get("/api/v1/test/open/")
    assert_problem(response, 429, "throttled")
    # A sliding-window counter: a window filled early keeps weighing on the next one, so
    # the wait can reach 1.5 windows (here 90 s), never more.
    assert 0 < int(response["Retry-After"]) <= 90

    # Signed-in users have their own, larger bucket.
    client.force_login(member)
    statuses = [client.get("/api/v1/test/open/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    cache.clear()


def test_password_guessing_for_tokens_is_throttled(client, monkeypatch):
    cache.clear()
    monkeypatch.setattr(AnonThrottle, "THROTTLE_RATES", {"anon": "3/min"})
    guesses = [
        client.post("/api/v1/auth/token/", {"username": "x", "password": str(n)}, content_type="application/json")
        for n in range(4)
    ]
    assert [r.status_code for r in guesses] == [400, 400, 400, 429]
    assert_problem(guesses[-1], 429, "throttled")
    cache.clear()


def test_unexpected_exception_in_api_view_is_problem_500(quiet_client, caplog):
    body = assert_problem(quiet_client.get("/api/v1/test/boom/"), 500, "server_error")
    assert "an unexpected bug" not in body["detail"]
    assert any("an unexpected bug" in str(record.exc_info[1]) for record in caplog.records if record.exc_info)


def test_unexpected_exception_outside_drf_under_api_is_problem_500(quiet_client):
    body = assert_problem(quiet_client.get("/api/v1/test/plain-boom/"), 500, "server_error")
    assert "bug" not in body["detail"]


def test_unexpected_exception_on_a_web_page_is_an_html_500(quiet_client):
    response = quiet_client.get("/test/plain-boom/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert b"Something went wrong" in response.content


def test_500_handler_needs_neither_database_nor_redis(rf, django_assert_num_queries, settings):
    from config.views import handler_500

    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}}
    with django_assert_num_queries(0):
        assert handler_500(rf.get("/registry/")).status_code == 500
        response = handler_500(rf.get("/api/v1/anything/"))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"


def test_request_django_rejects_is_problem_400_under_api(quiet_client, settings):
    client = quiet_client
    settings.ALLOWED_HOSTS = ["entrepot.example"]
    response = client.get("/api/v1/me/", HTTP_HOST="evil.example")
    assert_problem(response, 400, "bad_request")
    page = client.get("/", HTTP_HOST="evil.example")
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")


def test_permission_denied_outside_drf_is_problem_403_under_api(rf):
    from config.views import handler_403

    response = handler_403(rf.get("/api/v1/anything/"))
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert handler_403(rf.get("/regulator/")).status_code == 403

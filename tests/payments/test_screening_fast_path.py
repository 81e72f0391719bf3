"""The screening endpoint's fast path keeps its guarantees: the per-key throttle (a
sliding-window counter in Redis), the per-process key cache and how soon a suspension or
revocation takes effect, and the API call stored in the same commit as its decisions."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from config import api as api_throttle
from config.api import APIKeyThrottle
from payments import services
from payments.api import authentication
from payments.api.views import screening as screening_views
from payments.models import APICallRecord, InstitutionProfile, ProviderAPIKey, ScreeningDecision
from tests.factories import RegulatorFactory, SubjectFactory

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
SCREEN = "/api/v1/screenings/"


@pytest.fixture
def api(client_for, institution_key):
    return client_for(institution_key[1])


@pytest.fixture
def subject():
    return SubjectFactory(country="DE", registration_number="HRB-1", legal_name="Good Gmbh", grade="A")


def screen(client, number="HRB-1"):
    return client.post(SCREEN, {"registration_number": number, "country": "DE"}, format="json")


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


# --- Per-key throttle ----------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    """Throttle time, starting in the middle of a one-minute window; 3 requests a minute."""
    cache.clear()
    api_throttle._leases.clear()
    clock = Clock(1_000_000 * 60 + 30.0)
    monkeypatch.setattr(APIKeyThrottle, "timer", lambda self: clock())
    monkeypatch.setattr(APIKeyThrottle, "THROTTLE_RATES", {"api_key": "3/min"})
    yield clock
    cache.clear()
    api_throttle._leases.clear()


def test_each_key_has_its_own_bucket_and_a_refusal_says_when_to_retry(
    api, subject, clock, client_for, compliant_institution
):
    assert [screen(api).status_code for _ in range(3)] == [200, 200, 200]
    refused = screen(api)
    assert refused.status_code == 429
    assert refused["Content-Type"].startswith(PROBLEM)
    assert refused.json()["code"] == "throttled"
    # This window is full: one more fits once the next window is 1/3 gone (30 s + 20 s).
    assert refused["Retry-After"] == "50"
    _, other = ProviderAPIKey.objects.create_key(name="o", institution_id=compliant_institution.pk, scopes=["screen"])
    assert screen(client_for(other)).status_code == 200
    # A refused call is recorded like any other.
    assert APICallRecord.objects.filter(status_code=429, decision="throttled").count() == 1


def test_the_previous_window_counts_pro_rata(api, subject, clock):
    assert [screen(api).status_code for _ in range(4)] == [200, 200, 200, 429]
    clock.now += 60  # half-way through the next window: 3 x 0.5 = 1.5 still count
    assert [screen(api).status_code for _ in range(2)] == [200, 429]
    clock.now += 60  # the refused request was not counted: 1 x 0.5 + new ones
    assert [screen(api).status_code for _ in range(3)] == [200, 200, 429]


def test_a_process_takes_permits_from_redis_in_leases_of_one_percent(api, subject, clock, monkeypatch, institution_key):
    monkeypatch.setattr(APIKeyThrottle, "THROTTLE_RATES", {"api_key": "1000/min"})
    counter = f"throttle_api_key_{institution_key[0].prefix}:1000000"
    assert screen(api).status_code == 200
    assert cache.get(counter) == 10  # one lease of 10 permits
    assert [screen(api).status_code for _ in range(9)] == [200] * 9
    assert cache.get(counter) == 10  # spent locally, no round trip
    assert screen(api).status_code == 200
    assert cache.get(counter) == 20


def test_a_lease_never_exceeds_what_is_left(api, subject, clock, monkeypatch, institution_key):
    monkeypatch.setattr(APIKeyThrottle, "THROTTLE_RATES", {"api_key": "1000/min"})
    cache.set(f"throttle_api_key_{institution_key[0].prefix}:1000000", 995)
    assert [screen(api).status_code for _ in range(6)] == [200] * 5 + [429]


# --- Per-process key and institution cache -------------------------------------------------


@pytest.fixture
def key_cache(monkeypatch):
    """The production setting (a few seconds), with a clock the test moves."""
    monkeypatch.setitem(settings.ENTREPOT["PAYMENTS"], "API_KEY_CACHE_SECONDS", 2)
    clock = Clock(1000.0)
    monkeypatch.setattr(authentication, "monotonic", clock)
    authentication._recent.clear()
    yield clock
    authentication._recent.clear()


def test_a_suspension_saved_in_this_process_applies_to_the_next_request(api, subject, key_cache, compliant_institution):
    assert screen(api).status_code == 200
    services.suspend_institution(actor=RegulatorFactory(), institution_id=compliant_institution.pk, reason="Shortfall")
    response = screen(api)
    assert response.status_code == 403
    assert response.json()["code"] == "institution_suspended"


def test_a_revocation_saved_in_this_process_applies_to_the_next_request(
    api, subject, key_cache, compliant_institution, institution_key
):
    assert screen(api).status_code == 200
    services.revoke_api_key(actor=compliant_institution.manager, prefix=institution_key[0].prefix)
    assert screen(api).status_code == 401


def test_a_change_made_elsewhere_applies_within_the_cache_time(api, subject, key_cache, compliant_institution):
    """Another process's change (no signal here: a queryset update) is seen after at most
    API_KEY_CACHE_SECONDS."""
    assert screen(api).status_code == 200
    InstitutionProfile.objects.filter(pk=compliant_institution.pk).update(
        status=InstitutionProfile.Status.SUSPENDED, status_reason="Elsewhere"
    )
    key_cache.now += 1.9
    assert screen(api).status_code == 200
    key_cache.now += 0.2
    response = screen(api)
    assert response.status_code == 403
    assert "Elsewhere" in response.json()["detail"]


def test_the_secret_and_the_expiry_are_checked_on_every_request(
    api, subject, key_cache, institution_key, client_for, compliant_institution, time_machine
):
    assert screen(api).status_code == 200
    assert screen(client_for(institution_key[1] + "x")).status_code == 401
    # A key expiring in an hour, cached by its first call; the hour passes inside the cache window.
    now = timezone.now()
    _, expiring = ProviderAPIKey.objects.create_key(
        name="e", institution_id=compliant_institution.pk, scopes=["screen"], expiry_date=now + timedelta(hours=1)
    )
    assert screen(client_for(expiring)).status_code == 200
    time_machine.move_to(now + timedelta(hours=2), tick=False)
    expired = screen(client_for(expiring))
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


# --- The call record goes with the decisions -----------------------------------------------


@pytest.mark.parametrize("size", [1, 3, 25])
def test_the_call_and_its_decisions_are_stored_together(api, subject, institution_key, size):
    body = {"items": [{"registration_number": "HRB-1", "country": "DE"}] * (size - 1) + [{"name": "zz"}]}
    if size == 1:
        body = {"registration_number": "HRB-1", "country": "DE"}
    response = api.post(SCREEN, body, format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    stored = ScreeningDecision.objects.filter(batch_id=results[0]["batch_id"]).order_by("position")
    assert [d.pk for d in stored] == [r["id"] for r in results]
    assert [d.decision for d in stored] == [r["decision"] for r in results]
    [record] = APICallRecord.objects.filter(api_key_prefix=institution_key[0].prefix)
    assert (record.method, record.path, record.status_code) == ("POST", SCREEN, 200)
    allowed = size - 1 if size > 1 else 1
    assert record.decision == f"allow={allowed} review={size - allowed} deny=0"


def test_a_failure_after_the_decisions_were_stored_is_recorded_as_such(
    client_for, institution_key, subject, monkeypatch
):
    monkeypatch.setattr(screening_views, "decision_json", lambda d: 1 / 0)
    client = client_for(institution_key[1])
    client.raise_request_exception = False
    response = screen(client)
    assert response.status_code == 500
    assert ScreeningDecision.objects.filter(api_key_prefix=institution_key[0].prefix).count() == 1
    [record] = APICallRecord.objects.filter(api_key_prefix=institution_key[0].prefix)
    assert (record.status_code, record.decision) == (500, "server_error")

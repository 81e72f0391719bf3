"""The permission matrix: every payments endpoint (API and web) for every role, by status
code, plus what each caller can see."""

import pytest
from django.utils import timezone

from credit.models import Membership
from payments import services
from payments.models import ProviderAPIKey, ScreeningDecision
from tests.factories import MembershipFactory, RegulatorFactory, StaffFactory, SubjectFactory
from tests.payments.conftest import make_compliant_institution

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(compliant_institution, institution_key, member):
    profile = compliant_institution
    subject = SubjectFactory(country="DE", registration_number="HRB-9")
    plain = MembershipFactory(subject=profile.subject, role=Membership.Role.MEMBER).user
    _, narrow = ProviderAPIKey.objects.create_key(name="n", institution_id=profile.pk, scopes=["reserves"])
    suspended = make_compliant_institution()
    services.suspend_institution(actor=RegulatorFactory(), institution_id=suspended.pk, reason="Test")
    _, suspended_key = ProviderAPIKey.objects.create_key(
        name="s", institution_id=suspended.pk, scopes=list(ProviderAPIKey.Scope.values)
    )
    endpoint = services.create_webhook_endpoint(
        actor=profile.manager,
        institution_id=profile.pk,
        url="https://example.test/h",
        event_types=["subject.blacklisted"],
    )
    return {
        "profile": profile,
        "subject": subject,
        "run": profile.latest_run,
        "endpoint": endpoint,
        "users": {
            "anonymous": None,
            "outsider": member,
            "plain_member": plain,
            "manager": profile.manager,
            "regulator": RegulatorFactory(),
            "staff": StaffFactory(),
        },
        "keys": {"key": institution_key[1], "narrow_key": narrow, "suspended_key": suspended_key},
    }


def api_requests(w):
    today = timezone.localdate().isoformat()
    account = w["profile"].reserve_account.pk
    return {
        "institution": ("get", "/api/v1/institution/", None, None),
        "screen": ("post", "/api/v1/screenings/", {"registration_number": "HRB-9", "country": "DE"}, "screen"),
        "screening_detail": ("get", "/api/v1/screenings/{decision}/", None, "screen"),
        "payment_report": (
            "post",
            "/api/v1/payment-reports/",
            {
                "subject_id": w["subject"].pk,
                "outcome": "paid_on_time",
                "payment_reference": "p",
                "occurred_at": timezone.now().isoformat(),
            },
            "report",
        ),
        "reserve_accounts": ("get", "/api/v1/reserve-accounts/", None, "reserves"),
        "reserve_reports": ("get", "/api/v1/reserve-reports/", None, "reserves"),
        "reserve_report_post": (
            "post",
            "/api/v1/reserve-reports/",
            {
                "report_date": today,
                "currency": "CNY",
                "customer_funds_owed": "1",
                "balances": [{"account_id": account, "balance": "1"}],
            },
            "reserves",
        ),
        "watchlist": ("get", "/api/v1/watchlist/", None, "webhooks"),
        "watch": ("post", "/api/v1/watchlist/", {"subject_id": w["subject"].pk}, "webhooks"),
        "endpoints": ("get", "/api/v1/webhook-endpoints/", None, "webhooks"),
        "deliveries": ("get", "/api/v1/webhook-deliveries/", None, "webhooks"),
        "api_calls": ("get", "/api/v1/api-calls/", None, None),
        "licences": ("get", "/api/v1/licences/", None, "filings"),
        "endpoint_patch": ("patch", "/api/v1/webhook-endpoints/{endpoint}/", {"description": "x"}, "webhooks"),
        "endpoint_rotate": ("post", "/api/v1/webhook-endpoints/{endpoint}/rotate-secret/", None, "webhooks"),
        "licence_withdraw": ("post", "/api/v1/licences/{licence}/withdraw/", {}, "filings"),
        "corridor_withdraw": ("post", "/api/v1/corridors/{corridor}/withdraw/", {}, "filings"),
        "account_close": ("post", "/api/v1/reserve-accounts/{account}/close/", {}, "reserves"),
    }


COMPLIANCE_GATED = {"screen", "payment_report"}
WRITES_OWN_DATA = {"reserve_report_post"}  # the suspended key's own accounts differ
OWN_OBJECTS = {"endpoint_patch", "endpoint_rotate", "licence_withdraw", "corridor_withdraw", "account_close"}


# What a caller allowed to use an endpoint gets: 200 for reads and for actions on an
# existing object, 201 when the POST creates something (README, API (Api-Key authentication)).
CREATED = {"payment_report", "reserve_report_post", "watch"}


def expected_api(role: str, name: str, scope: str | None) -> int:
    ok = 201 if name in CREATED else 200
    if role == "anonymous":
        return 401  # with `WWW-Authenticate: Api-Key`
    if role in {"outsider", "plain_member", "manager", "regulator", "staff"}:
        return 403  # session users: the provider API takes an API key
    if role == "narrow_key":
        return ok if scope in (None, "reserves") else 403
    if role == "suspended_key":
        if name in COMPLIANCE_GATED:
            return 403
        if name == "screening_detail":
            return 404  # another institution's decision
        if name in WRITES_OWN_DATA:
            return 400  # the account belongs to another institution
        if name in OWN_OBJECTS:
            return 404  # another institution's endpoint, licence, corridor or account
        return ok
    return ok


def test_api_permission_matrix(world, client_for):
    decision = ScreeningDecision.objects.create(
        institution=world["profile"],
        api_key_prefix="x",
        batch_id="00000000-0000-0000-0000-000000000001",
        decided_at=timezone.now(),
        inputs={},
        decision="allow",
        model_version="v1",
        data_version="x",
        threshold_grade="C",
    )
    failures = []
    roles = {**world["users"], **world["keys"]}
    for role, who in roles.items():
        for name, (method, path, body, scope) in api_requests(world).items():
            client = client_for(who)
            path = path.format(
                decision=decision.pk,
                endpoint=world["endpoint"].pk,
                licence=world["profile"].licences.get().pk,
                corridor=world["profile"].corridors.order_by("pk").first().pk,
                account=world["profile"].reserve_account.pk,
            )
            extra = {"HTTP_IDEMPOTENCY_KEY": f"{role}-{name}"} if name == "payment_report" else {}
            response = getattr(client, method)(path, body, format="json", **extra)
            want = expected_api(role, name, scope)
            if response.status_code != want:
                failures.append((role, name, want, response.status_code, response.content[:400]))
            if response.status_code >= 400:
                assert response["Content-Type"].startswith("application/problem+json"), (role, name)
            if response.status_code == 401:
                assert response["WWW-Authenticate"] == "Api-Key", (role, name)
    assert not failures, failures


def test_keys_only_see_their_own_institution(world, client_for):
    other = client_for(world["keys"]["suspended_key"])
    assert other.get("/api/v1/webhook-endpoints/").json() == []
    assert other.delete(f"/api/v1/webhook-endpoints/{world['endpoint'].pk}/").status_code == 404
    own = client_for(world["keys"]["key"]).get("/api/v1/webhook-endpoints/").json()
    assert [e["id"] for e in own] == [world["endpoint"].pk]


def web_requests(w):
    p, run = w["profile"], w["run"]
    return {
        "institution_home": ("get", "/institution/", {}),
        "institution_detail": ("get", f"/institution/{p.pk}/", {}),
        "institution_run": ("get", f"/institution/{p.pk}/runs/{run.pk}/", {}),
        "institution_deliveries": ("get", f"/institution/{p.pk}/deliveries/", {}),
        "institution_screenings": ("get", f"/institution/{p.pk}/screenings/", {}),
        "institution_corridor": (
            "post",
            f"/institution/{p.pk}/corridors/",
            {"corridor-currency": "USD", "corridor-country": "US"},
        ),
        "institution_api_calls": ("get", f"/institution/{p.pk}/api-calls/", {}),
        "institution_webhook_edit": ("get", f"/institution/{p.pk}/webhooks/{w['endpoint'].pk}/edit/", {}),
        "institution_licence_withdraw": (
            "get",
            f"/institution/{p.pk}/licences/{p.licences.get().pk}/withdraw/",
            {},
        ),
        "institution_corridor_withdraw": (
            "get",
            f"/institution/{p.pk}/corridors/{p.corridors.order_by('pk').first().pk}/withdraw/",
            {},
        ),
        "institution_account_close": (
            "get",
            f"/institution/{p.pk}/reserve-accounts/{p.reserve_account.pk}/close/",
            {},
        ),
        "regulator_list": ("get", "/regulator/institutions/", {}),
        "regulator_api_calls": ("get", "/regulator/api-calls/", {}),
        "regulator_detail": ("get", f"/regulator/institutions/{p.pk}/", {}),
        "regulator_run": ("get", f"/regulator/compliance-runs/{run.pk}/", {}),
        "regulator_kyb": ("post", f"/regulator/institutions/{p.pk}/kyb/", {"kyb-kyb_status": "verified"}),
    }


MANAGER_PAGES = {
    "institution_webhook_edit",
    "institution_licence_withdraw",
    "institution_corridor_withdraw",
    "institution_account_close",
}


def expected_web(role: str, name: str) -> int:
    if role == "anonymous":
        return 302  # to sign in
    if name.startswith("regulator_"):
        if role == "regulator":
            return 302 if name == "regulator_kyb" else 200
        return 404
    if name == "institution_home":
        return 302 if role in {"plain_member", "manager"} else 200  # a member goes to their institution
    if role == "plain_member" and name in MANAGER_PAGES:
        return 302  # back to the institution page, told only owners and admins may
    if role in {"plain_member", "manager"}:
        return 302 if name == "institution_corridor" else 200
    return 404  # outsiders, regulators and staff are not the institution's members


def test_web_permission_matrix(world, client):
    failures = []
    for role, user in world["users"].items():
        client.logout()
        if user is not None:
            client.force_login(user)
        for name, (method, path, data) in web_requests(world).items():
            response = getattr(client, method)(path, data)
            want = expected_web(role, name)
            if response.status_code != want:
                failures.append((role, name, want, response.status_code))
    assert not failures, failures
    # Only the manager's corridor request was accepted.
    assert list(world["profile"].corridors.filter(currency="USD").values_list("country", flat=True)) == ["US"]

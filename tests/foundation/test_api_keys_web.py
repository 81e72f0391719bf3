"""Payment institutions manage their API keys on the web: the secret is shown once, only
a hash is stored, keys can be revoked or expire, and nobody else sees or touches them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditEntry
from credit.models import Membership
from payments.models import ProviderAPIKey
from tests.factories import MembershipFactory, SubjectFactory

pytestmark = pytest.mark.django_db
KEYS = "/institution/keys/"


@pytest.fixture
def institution_owner(institution):
    return MembershipFactory(subject=institution).user


def issue(client, institution, **overrides):
    data = {"institution": institution.pk, "name": "checkout", "scopes": ["screen", "report"], **overrides}
    return client.post(KEYS, data)


def me(client, secret):
    return client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Api-Key {secret}")


def test_issuing_shows_the_secret_once(client, institution, institution_owner):
    client.force_login(institution_owner)
    response = issue(client, institution)
    assert response.status_code == 200
    secret = response.context["issued"]["secret"]
    key = ProviderAPIKey.objects.get(name="checkout")
    assert secret.startswith(f"{key.prefix}.")
    assert secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]  # the page with the secret is never cached
    assert key.scopes == ["report", "screen"]
    assert key.created_by == institution_owner
    assert AuditEntry.objects.filter(action="api_key.issued", target_id=key.prefix, subject=institution).exists()

    later = client.get(KEYS).content.decode()
    assert secret not in later
    assert secret.split(".", 1)[1] not in later
    assert key.prefix in later

    # The secret works on the API, and the page then shows when it was last used.
    assert me(client, secret).json()["key_prefix"] == key.prefix
    key.refresh_from_db()
    assert key.last_used_at is not None
    row = client.get(KEYS).content.decode().split(key.prefix, 1)[1].split("</tr>", 1)[0]
    assert key.last_used_at.strftime("%Y-%m-%d") in row


def test_revoking_stops_the_key_at_once(client, institution, institution_owner):
    client.force_login(institution_owner)
    secret = issue(client, institution).context["issued"]["secret"]
    key = ProviderAPIKey.objects.get(name="checkout")
    assert me(client, secret).status_code == 200

    response = client.post(f"{KEYS}{key.prefix}/revoke/", {"reason": "leaked"}, follow=True)
    assert f"Key {key.prefix} revoked" in response.content.decode()
    assert "revoked" in response.content.decode()
    assert me(client, secret).status_code == 401
    entry = AuditEntry.objects.get(action="api_key.revoked", target_id=key.prefix)
    assert entry.reason == "leaked"
    # Revoking twice is harmless.
    assert client.post(f"{KEYS}{key.prefix}/revoke/").status_code == 302
    assert AuditEntry.objects.filter(action="api_key.revoked").count() == 1


def test_an_expired_key_answers_401_and_shows_as_expired(client, institution, institution_owner):
    client.force_login(institution_owner)
    soon = timezone.now() + timedelta(days=1)
    secret = issue(client, institution, expires_at=soon.strftime("%Y-%m-%d %H:%M")).context["issued"]["secret"]
    key = ProviderAPIKey.objects.get(name="checkout")
    assert me(client, secret).status_code == 200
    ProviderAPIKey.objects.filter(pk=key.pk).update(expiry_date=timezone.now() - timedelta(seconds=1))
    response = me(client, secret)
    assert response.status_code == 401
    assert response.json()["detail"] == "This API key has expired."
    assert ">expired<" in client.get(KEYS).content.decode()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"scopes": []}, "scopes"), ({"expires_at": "2001-01-01 00:00"}, "expires_at"), ({"name": ""}, "name")],
)
def test_bad_issue_input_is_shown_beside_the_field(client, institution, institution_owner, overrides, field):
    client.force_login(institution_owner)
    response = issue(client, institution, **overrides)
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert response.context["issued"] is None
    assert not ProviderAPIKey.objects.exists()


def test_only_owners_and_admins_of_an_institution_manage_keys(client, institution, api_key):
    key, secret = api_key
    plain_member = MembershipFactory(subject=institution, role=Membership.Role.MEMBER).user
    merchant_owner = MembershipFactory(subject=SubjectFactory()).user
    pending_admin = MembershipFactory(
        subject=institution, role=Membership.Role.ADMIN, status=Membership.Status.PENDING
    ).user
    for user in (plain_member, merchant_owner, pending_admin):
        client.force_login(user)
        page = client.get(KEYS)
        assert page.status_code == 200
        assert key.prefix not in page.content.decode()
        assert "Issue key" not in page.content.decode()
        # Posting anyway issues nothing and revokes nothing.
        response = issue(client, institution)
        assert response.status_code == 400
        assert "institution" in response.context["form"].errors
        assert client.post(f"{KEYS}{key.prefix}/revoke/").status_code == 404
    assert ProviderAPIKey.objects.count() == 1
    assert me(client, secret).status_code == 200


def test_an_admin_of_the_institution_manages_its_keys(client, institution, api_key):
    key, _ = api_key
    admin = MembershipFactory(subject=institution, role=Membership.Role.ADMIN).user
    client.force_login(admin)
    assert key.prefix in client.get(KEYS).content.decode()
    assert client.post(f"{KEYS}{key.prefix}/revoke/").status_code == 302
    key.refresh_from_db()
    assert key.revoked


def test_owners_see_only_their_own_institutions_keys(client, institution, institution_owner, api_key):
    other_institution = SubjectFactory(is_merchant=False, is_payment_institution=True)
    other_key, _ = ProviderAPIKey.objects.create_key(name="theirs", institution=other_institution, scopes=["screen"])
    client.force_login(institution_owner)
    page = client.get(KEYS).content.decode()
    assert api_key[0].prefix in page
    assert other_key.prefix not in page
    assert client.post(f"{KEYS}{other_key.prefix}/revoke/").status_code == 404
    response = issue(client, other_institution)
    assert response.status_code == 400
    assert not ProviderAPIKey.objects.filter(institution=other_institution, name="checkout").exists()


def test_keys_page_needs_sign_in(client):
    response = client.get(KEYS)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")

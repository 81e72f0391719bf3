"""Webhook endpoints: edit (URL, event types, enabled) and secret rotation with a grace
period during which both secrets sign, checked with the `standardwebhooks` package as the
receiver's independent verifier."""

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from core.errors import InvalidInput, NotFound
from core.models import AuditEntry
from credit.models import Membership
from payments import services
from payments.models import ProviderAPIKey, WebhookDelivery, WebhookEndpoint
from payments.services import webhook_deliveries
from tests.factories import MembershipFactory
from tests.payments.receiver import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def endpoint(compliant_institution, receiver):
    return services.create_webhook_endpoint(
        actor=compliant_institution.manager,
        institution_id=compliant_institution.pk,
        url=receiver.url,
        event_types=["subject.grade_changed"],
    )


def deliver_one(institution, receiver) -> dict:
    [delivery_id] = webhook_deliveries.enqueue_event(
        event_type="subject.grade_changed", institution_ids=[institution.pk], data={"subject_id": 1}
    )
    assert webhook_deliveries.deliver(delivery_id=delivery_id) == "succeeded"
    return receiver.requests[-1]


def test_after_rotation_either_secret_verifies_until_the_grace_period_ends(
    compliant_institution, endpoint, receiver, settings
):
    settings.ENTREPOT = {
        **settings.ENTREPOT,
        "PAYMENTS": {**settings.ENTREPOT["PAYMENTS"], "WEBHOOK_SECRET_ROTATION_GRACE_HOURS": 24},
    }
    old_secret = endpoint.secret
    rotated, new_secret = services.rotate_webhook_secret(
        actor=compliant_institution.manager, institution_id=compliant_institution.pk, endpoint_id=endpoint.pk
    )
    assert new_secret != old_secret and new_secret.startswith("whsec_")
    assert timedelta(hours=23, minutes=59) < rotated.previous_secret_expires_at - timezone.now() <= timedelta(hours=24)

    during = deliver_one(compliant_institution, receiver)
    assert len(during["headers"]["webhook-signature"].split(" ")) == 2
    assert Webhook(new_secret).verify(during["body"], during["headers"])["type"] == "subject.grade_changed"
    assert Webhook(old_secret).verify(during["body"], during["headers"])["type"] == "subject.grade_changed"

    # The grace period is over: only the new secret signs.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    after = deliver_one(compliant_institution, receiver)
    assert len(after["headers"]["webhook-signature"].split(" ")) == 1
    assert Webhook(new_secret).verify(after["body"], after["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(after["body"], after["headers"])


def test_rotation_is_audited_without_the_secrets(compliant_institution, endpoint):
    old = endpoint.secret
    _, new = services.rotate_webhook_secret(
        actor=compliant_institution.manager, institution_id=compliant_institution.pk, endpoint_id=endpoint.pk
    )
    entry = AuditEntry.objects.get(action="webhook.secret_rotated")
    assert old not in str(entry.old) + str(entry.new) and new not in str(entry.old) + str(entry.new)
    assert entry.new["previous_secret_expires_at"]


def test_edit_changes_url_types_and_enabled_and_disabling_stops_pending(compliant_institution, endpoint):
    p = compliant_institution
    [pending] = webhook_deliveries.enqueue_event(event_type="subject.grade_changed", institution_ids=[p.pk], data={})
    services.update_webhook_endpoint(
        actor=p.manager,
        institution_id=p.pk,
        endpoint_id=endpoint.pk,
        url="https://hooks.example.test/new",
        event_types=["subject.blacklisted", "institution.status_changed"],
        enabled=False,
    )
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.test/new"
    assert endpoint.event_types == ["institution.status_changed", "subject.blacklisted"]
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "Disabled by the institution.")
    assert WebhookDelivery.objects.get(pk=pending).status == "disabled"
    entry = AuditEntry.objects.get(action="webhook.endpoint_changed")
    assert entry.old["enabled"] is True and entry.new["enabled"] is False
    assert webhook_deliveries.enqueue_event(event_type="subject.blacklisted", institution_ids=[p.pk], data={}) == []

    services.update_webhook_endpoint(actor=p.manager, institution_id=p.pk, endpoint_id=endpoint.pk, enabled=True)
    assert len(webhook_deliveries.enqueue_event(event_type="subject.blacklisted", institution_ids=[p.pk], data={})) == 1
    # Unchanged values write nothing.
    services.update_webhook_endpoint(actor=p.manager, institution_id=p.pk, endpoint_id=endpoint.pk, enabled=True)
    assert AuditEntry.objects.filter(action="webhook.endpoint_changed").count() == 2
    with pytest.raises(InvalidInput) as exc:
        services.update_webhook_endpoint(
            actor=p.manager, institution_id=p.pk, endpoint_id=endpoint.pk, url="ftp://x", event_types=["nope"]
        )
    assert set(exc.value.field_errors) == {"url", "event_types"}
    services.delete_webhook_endpoint(actor=p.manager, institution_id=p.pk, endpoint_id=endpoint.pk)
    with pytest.raises(NotFound):  # a removed endpoint cannot be revived or rotated
        services.update_webhook_endpoint(actor=p.manager, institution_id=p.pk, endpoint_id=endpoint.pk, enabled=True)
    with pytest.raises(NotFound):
        services.rotate_webhook_secret(actor=p.manager, institution_id=p.pk, endpoint_id=endpoint.pk)


def test_api_patches_and_rotates_own_endpoints_only(compliant_institution, endpoint, institution_key, client_for):
    api = client_for(institution_key[1])
    path = f"/api/v1/webhook-endpoints/{endpoint.pk}/"
    response = api.patch(path, {"enabled": False, "event_types": ["subject.blacklisted"]}, format="json")
    assert response.status_code == 200
    assert (response.json()["enabled"], response.json()["event_types"]) == (False, ["subject.blacklisted"])
    bad = api.patch(path, {"url": "not a url"}, format="json")
    assert bad.status_code == 400 and "url" in bad.json()["errors"]
    old = WebhookEndpoint.objects.get(pk=endpoint.pk).secret
    rotated = api.post(f"{path}rotate-secret/")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != old and rotated.json()["previous_secret_expires_at"]

    from tests.payments.conftest import make_compliant_institution

    other = make_compliant_institution()
    _, other_key = ProviderAPIKey.objects.create_key(name="o", institution_id=other.pk, scopes=["webhooks"])
    foreign = client_for(other_key)
    assert foreign.patch(path, {"enabled": True}, format="json").status_code == 404
    assert foreign.post(f"{path}rotate-secret/").status_code == 404
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).enabled is False


def test_web_edit_and_rotation_shows_the_new_secret_once(client, compliant_institution, endpoint):
    p = compliant_institution
    client.force_login(p.manager)
    edit = f"/institution/{p.pk}/webhooks/{endpoint.pk}/edit/"
    assert client.get(edit).status_code == 200
    bad = client.post(edit, {"url": "https://h.example.test/x", "event_types": []})
    assert bad.status_code == 400 and 'class="field-error"' in bad.content.decode()
    ok = client.post(edit, {"url": "https://h.example.test/x", "event_types": ["subject.blacklisted"], "enabled": "on"})
    assert ok.status_code == 302
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).url == "https://h.example.test/x"

    rotated = client.post(f"/institution/{p.pk}/webhooks/{endpoint.pk}/rotate-secret/")
    secret = WebhookEndpoint.objects.get(pk=endpoint.pk).secret
    assert rotated.status_code == 200 and secret in rotated.content.decode()
    assert "no-store" in rotated["Cache-Control"]  # the page with the secret is never cached
    assert secret not in client.get(edit).content.decode()

    plain = MembershipFactory(subject=p.subject, role=Membership.Role.MEMBER).user
    client.force_login(plain)
    assert client.post(f"/institution/{p.pk}/webhooks/{endpoint.pk}/rotate-secret/").status_code == 302
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == secret

    client.force_login(p.manager)
    client.post(f"/institution/{p.pk}/webhooks/{endpoint.pk}/remove/")
    assert client.post(f"/institution/{p.pk}/webhooks/{endpoint.pk}/rotate-secret/").status_code == 404
    # A removed endpoint stays listed for its log, without a link to a page that cannot save.
    assert client.get(edit).status_code == 404
    assert edit not in client.get(f"/institution/{p.pk}/").content.decode()
    assert (
        client.post(edit, {"url": "https://h.example.test/y", "event_types": ["subject.blacklisted"]}).status_code
        == 404
    )


def test_the_secret_is_shown_once_on_creation_and_never_listed(client, compliant_institution, client_for):
    p = compliant_institution
    client.force_login(p.manager)
    created = client.post(
        f"/institution/{p.pk}/webhooks/",
        {"webhook-url": "https://hooks.example.test/a", "webhook-event_types": ["subject.blacklisted"]},
    )
    endpoint = WebhookEndpoint.objects.get(institution=p)
    assert created.status_code == 200 and endpoint.secret in created.content.decode()
    assert "no-store" in created["Cache-Control"]
    assert endpoint.secret not in client.get(f"/institution/{p.pk}/").content.decode()

    _, key = ProviderAPIKey.objects.create_key(name="w", institution_id=p.pk, scopes=["webhooks"])
    api = client_for(key)
    made = api.post(
        "/api/v1/webhook-endpoints/",
        {"url": "https://hooks.example.test/b", "event_types": ["subject.blacklisted"]},
        format="json",
    )
    assert made.json()["secret"].startswith("whsec_")
    listed = api.get("/api/v1/webhook-endpoints/").json()
    assert len(listed) == 2 and all("secret" not in item for item in listed)
    assert "secret" not in api.patch(f"/api/v1/webhook-endpoints/{endpoint.pk}/", {}, format="json").json()


@pytest.fixture
def public_hosts_only(settings):
    settings.ENTREPOT = {
        **settings.ENTREPOT,
        "PAYMENTS": {**settings.ENTREPOT["PAYMENTS"], "WEBHOOK_ALLOW_PRIVATE_HOSTS": False},
    }


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",
        "http://localhost/hook",
        "https://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8000/",
        "http://192.168.0.10/",
    ],
)
def test_private_webhook_urls_are_refused_when_saving(compliant_institution, public_hosts_only, url):
    with pytest.raises(InvalidInput) as refused:
        services.create_webhook_endpoint(
            actor=compliant_institution.manager,
            institution_id=compliant_institution.pk,
            url=url,
            event_types=["subject.grade_changed"],
        )
    assert "url" in refused.value.field_errors
    assert not WebhookEndpoint.objects.filter(institution_id=compliant_institution.pk).exists()


def test_editing_an_endpoint_to_a_private_url_is_refused(compliant_institution, endpoint, public_hosts_only):
    with pytest.raises(InvalidInput) as refused:
        services.update_webhook_endpoint(
            actor=compliant_institution.manager,
            institution_id=compliant_institution.pk,
            endpoint_id=endpoint.pk,
            url="http://10.0.0.7/steal",
        )
    assert refused.value.field_errors["url"] == ["Webhooks must go to a public address, not a private or reserved one."]
    endpoint.refresh_from_db()
    assert endpoint.url != "http://10.0.0.7/steal"


def test_delivery_to_a_host_that_now_resolves_privately_is_not_sent(
    compliant_institution, endpoint, receiver, public_hosts_only
):
    # The endpoint was saved while private hosts were allowed (it points at 127.0.0.1):
    # the delivery refuses to send it and logs why, rather than POSTing into the network.
    [delivery_id] = webhook_deliveries.enqueue_event(
        event_type="subject.grade_changed", institution_ids=[compliant_institution.pk], data={"subject_id": 1}
    )
    assert webhook_deliveries.deliver(delivery_id=delivery_id) == "pending"
    assert receiver.requests == []
    attempt = WebhookDelivery.objects.get(pk=delivery_id).attempt_log.get()
    assert not attempt.succeeded and attempt.error.startswith("Not sent:")


def test_a_public_address_is_accepted(compliant_institution, public_hosts_only):
    endpoint = services.create_webhook_endpoint(
        actor=compliant_institution.manager,
        institution_id=compliant_institution.pk,
        url="https://93.184.215.14/hooks",
        event_types=["subject.grade_changed"],
    )
    assert endpoint.url == "https://93.184.215.14/hooks"


def test_the_admin_never_shows_either_secret(client, compliant_institution, endpoint):
    from tests.factories import StaffFactory

    rotated, new_secret = services.rotate_webhook_secret(
        actor=compliant_institution.manager, institution_id=compliant_institution.pk, endpoint_id=endpoint.pk
    )
    client.force_login(StaffFactory(is_superuser=True))
    page = client.get(f"/admin/payments/webhookendpoint/{endpoint.pk}/change/")
    assert page.status_code == 200
    assert new_secret not in page.content.decode() and endpoint.secret not in page.content.decode()

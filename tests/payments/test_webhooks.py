"""Webhooks: Standard Webhooks signatures (checked with the standardwebhooks package),
delivery outcomes and the attempt log, backoff, 410, and domain events -> deliveries."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from core.models import DomainEvent, EventCursor
from payments import services, webhooks
from payments.models import InstitutionProfile, WebhookDelivery
from payments.services import webhook_deliveries
from payments.tasks import sweep_webhook_deliveries_task
from tests.factories import SubjectFactory
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
        event_types=["subject.grade_changed", "subject.blacklisted", "institution.status_changed"],
    )


def emit(institution, event_type="subject.grade_changed", **data):
    return webhook_deliveries.enqueue_event(
        event_type=event_type, institution_ids=[institution.pk], data=data or {"x": 1}
    )


def test_signature_verifies_with_standardwebhooks(compliant_institution, endpoint, receiver):
    [delivery_id] = emit(compliant_institution, subject_id=5, new_grade="C")
    assert webhook_deliveries.deliver(delivery_id=delivery_id) == "succeeded"
    [request] = receiver.requests
    payload = Webhook(endpoint.secret).verify(request["body"], request["headers"])
    assert payload["type"] == "subject.grade_changed"
    assert payload["data"] == {"subject_id": 5, "new_grade": "C"}
    assert request["headers"]["webhook-id"] == WebhookDelivery.objects.get(pk=delivery_id).event_id
    tampered = request["body"].replace(b'"C"', b'"A"')
    with pytest.raises(Exception):  # noqa: B017 - the library raises its own verification error
        Webhook(endpoint.secret).verify(tampered, request["headers"])


def test_sign_matches_the_documented_formula():
    secret = webhooks.generate_secret()
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(timezone.now().timestamp()))}
    body = '{"a":1}'
    headers["webhook-signature"] = webhooks.sign(
        secret=secret, msg_id="msg_1", timestamp=int(headers["webhook-timestamp"]), body=body
    )
    assert Webhook(secret).verify(body, headers) == {"a": 1}


def test_success_is_logged(compliant_institution, endpoint):
    [delivery_id] = emit(compliant_institution)
    webhook_deliveries.deliver(delivery_id=delivery_id)
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 204)
    [attempt] = delivery.attempt_log.all()
    assert attempt.succeeded and attempt.status_code == 204 and attempt.latency_ms >= 0


def test_failure_backs_off_and_retries_with_the_same_id(compliant_institution, endpoint, receiver):
    receiver.script = lambda n: 500 if n == 0 else 200
    [delivery_id] = emit(compliant_institution)
    assert webhook_deliveries.deliver(delivery_id=delivery_id) == "pending"
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.next_attempt_at > timezone.now()
    assert delivery.attempt_log.get().error == "HTTP 500"
    assert webhook_deliveries.deliver(delivery_id=delivery_id) == "pending"  # not due yet: nothing sent
    assert len(receiver.requests) == 1
    WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert sweep_webhook_deliveries_task() == 1
    assert WebhookDelivery.objects.get(pk=delivery_id).status == "succeeded"
    assert receiver.requests[0]["headers"]["webhook-id"] == receiver.requests[1]["headers"]["webhook-id"]


def test_backoff_grows_exponentially_with_a_cap(settings):
    delays = [webhook_deliveries.backoff_seconds(n) for n in (1, 2, 3, 20)]
    assert 4 <= delays[0] <= 6 and 8 <= delays[1] <= 12 and 16 <= delays[2] <= 24
    assert delays[3] <= settings.ENTREPOT["PAYMENTS"]["WEBHOOK_BACKOFF_MAX_SECONDS"] * 1.2


def test_gone_disables_the_endpoint(compliant_institution, endpoint, receiver):
    receiver.script = lambda n: 410
    first, second = emit(compliant_institution)[0], emit(compliant_institution)[0]
    assert webhook_deliveries.deliver(delivery_id=first) == "disabled"
    endpoint.refresh_from_db()
    assert endpoint.enabled is False and "410" in endpoint.disabled_reason
    assert WebhookDelivery.objects.get(pk=second).status == "disabled"
    assert emit(compliant_institution) == []  # a disabled endpoint gets nothing new


def test_gives_up_after_the_maximum_attempts(compliant_institution, endpoint, receiver, settings):
    settings.ENTREPOT = {**settings.ENTREPOT, "PAYMENTS": {**settings.ENTREPOT["PAYMENTS"], "WEBHOOK_MAX_ATTEMPTS": 2}}
    receiver.script = lambda n: 503
    [delivery_id] = emit(compliant_institution)
    webhook_deliveries.deliver(delivery_id=delivery_id)
    WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now())
    assert webhook_deliveries.deliver(delivery_id=delivery_id) == "failed"


def test_unreachable_receiver_is_logged_as_an_error(compliant_institution):
    services.create_webhook_endpoint(
        actor=compliant_institution.manager,
        institution_id=compliant_institution.pk,
        url="http://127.0.0.1:9/nothing-listens",
        event_types=["subject.blacklisted"],
    )
    [delivery_id] = emit(compliant_institution, "subject.blacklisted")
    assert webhook_deliveries.deliver(delivery_id=delivery_id) == "pending"
    attempt = WebhookDelivery.objects.get(pk=delivery_id).attempt_log.get()
    assert attempt.status_code is None and "ConnectError" in attempt.error


def test_only_subscribed_endpoints_receive(compliant_institution, endpoint):
    assert emit(compliant_institution, "subject.blacklist_lifted") == []


def test_enqueuing_the_same_event_twice_delivers_once(compliant_institution, endpoint):
    ids = webhook_deliveries.enqueue_event(
        event_type="subject.blacklisted", institution_ids=[compliant_institution.pk], data={}, event_id="evt_1"
    )
    again = webhook_deliveries.enqueue_event(
        event_type="subject.blacklisted", institution_ids=[compliant_institution.pk], data={}, event_id="evt_1"
    )
    assert ids == again
    assert WebhookDelivery.objects.filter(event_id="evt_1").count() == 1


def test_domain_events_become_deliveries_for_watchers(compliant_institution, endpoint):
    watched, unwatched = SubjectFactory(), SubjectFactory()
    services.watch_subject(
        actor=compliant_institution.manager, institution_id=compliant_institution.pk, subject_id=watched.pk
    )
    now = timezone.now()
    DomainEvent.objects.create(
        type="subject.grade_changed", subject=watched, payload={"old_grade": "B", "new_grade": "C"}, occurred_at=now
    )
    DomainEvent.objects.create(type="subject.blacklisted", subject=unwatched, payload={}, occurred_at=now)
    last = DomainEvent.objects.create(
        type="subject.blacklisted", subject=watched, payload={"entry_id": 3}, occurred_at=now
    )
    assert services.process_domain_events() == 3
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id")
    assert [d.event_type for d in deliveries] == ["subject.grade_changed", "subject.blacklisted"]
    assert deliveries[0].payload["data"] == {"subject_id": watched.pk, "old_grade": "B", "new_grade": "C"}
    assert EventCursor.objects.get().last_id == last.pk
    assert services.process_domain_events() == 0  # the cursor moved: nothing twice
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 2


def test_blacklisting_an_institution_requests_its_compliance_check(compliant_institution):
    DomainEvent.objects.create(
        type="subject.blacklisted", subject=compliant_institution.subject, payload={}, occurred_at=timezone.now()
    )
    services.process_domain_events()
    profile = InstitutionProfile.objects.get(pk=compliant_institution.pk)
    assert profile.check_requested_trigger == "blacklisted"


def test_payload_is_compact_json(compliant_institution, endpoint, receiver):
    [delivery_id] = emit(compliant_institution, note="日本")
    webhook_deliveries.deliver(delivery_id=delivery_id)
    body = receiver.requests[0]["body"].decode()
    assert json.loads(body)["data"]["note"] == "日本"
    assert ", " not in body

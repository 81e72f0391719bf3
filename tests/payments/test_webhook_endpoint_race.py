"""A delivery answered 410 Gone while the institution changes or removes the endpoint, and
two deliveries of one endpoint answered 410 at once, on PostgreSQL with real concurrent
connections. Every path locks the endpoint before its deliveries (ARCHITECTURE.md, lock
order), so they queue instead of deadlocking."""

import threading
from unittest import mock

import pytest
from django.db import transaction

from core.models import AuditEntry
from payments import services
from payments.models import WebhookDelivery, WebhookEndpoint
from payments.services import webhook_deliveries
from payments.tasks import deliver_webhook_task
from tests.payments.escrow_helpers import wait_until_blocked
from tests.payments.receiver import Receiver
from tests.races import start, start_together

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_broker():
    """Deliveries are woken on commit; the test delivers them itself."""
    with mock.patch.object(deliver_webhook_task, "apply_async"):
        yield


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


def emit(institution) -> int:
    [delivery_id] = webhook_deliveries.enqueue_event(
        event_type="subject.grade_changed", institution_ids=[institution.pk], data={"x": 1}
    )
    return delivery_id


class HeldAnswer:
    """The receiver's script: tells when a request has arrived and answers 410 Gone only
    when released (the delivery is then between its two transactions)."""

    def __init__(self):
        self.arrived, self.released = threading.Event(), threading.Event()

    def __call__(self, n):
        self.arrived.set()
        self.released.wait(timeout=30)
        return 410


def endpoint_change(institution, endpoint, change: str):
    manager = institution.manager
    if change == "remove":
        return lambda: services.delete_webhook_endpoint(
            actor=manager, institution_id=institution.pk, endpoint_id=endpoint.pk
        )
    return lambda: services.update_webhook_endpoint(
        actor=manager, institution_id=institution.pk, endpoint_id=endpoint.pk, enabled=False
    )


@pytest.mark.parametrize("change", ["remove", "disable"])
def test_gone_answer_while_the_institution_changes_the_endpoint(compliant_institution, endpoint, receiver, change):
    # The delivery's answer (410) is recorded while the institution removes or disables the
    # endpoint. Recording it by locking the delivery and then the endpoint, the delivery
    # would wait for the endpoint that the change holds while it waits to stop that
    # pending delivery: PostgreSQL would kill one of them.
    delivery_id, other_id = emit(compliant_institution), emit(compliant_institution)
    receiver.script = answer = HeldAnswer()
    results: dict = {}
    deliver = start(results, "deliver", lambda: webhook_deliveries.deliver(delivery_id=delivery_id))
    assert answer.arrived.wait(timeout=30)  # claimed and sent; the answer is not back yet
    with transaction.atomic():
        # Hold the delivery (another worker's claim, say) until the change holds the endpoint.
        WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        answer.released.set()
        wait_until_blocked(1)  # the answer is being recorded
        changed = start(results, "change", endpoint_change(compliant_institution, endpoint, change))
        wait_until_blocked(2)
    deliver.join(timeout=30)
    changed.join(timeout=30)

    assert results["deliver"] == "disabled", results
    assert isinstance(results["change"], WebhookEndpoint | None), results
    endpoint.refresh_from_db()
    assert endpoint.enabled is False
    statuses = set(WebhookDelivery.objects.filter(pk__in=[delivery_id, other_id]).values_list("status", flat=True))
    assert statuses == {"disabled"}
    assert WebhookDelivery.objects.get(pk=delivery_id).attempt_log.get().status_code == 410
    assert AuditEntry.objects.filter(action="webhook.endpoint_disabled").count() == 1


def test_two_gone_answers_for_one_endpoint_at_once(compliant_institution, endpoint, receiver):
    # Two deliveries of one endpoint are answered 410 at the same moment. Each recording its
    # answer by locking its delivery and then the endpoint, the first to get the endpoint
    # would wait to stop the other's pending delivery while the other waits for the
    # endpoint: PostgreSQL would kill one of them.
    first, second = emit(compliant_institution), emit(compliant_institution)
    receiver.script = lambda n: 410
    with transaction.atomic():
        # Hold the endpoint (the institution editing it, say) until both answers are back.
        WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        threads, results = start_together(
            lambda: webhook_deliveries.deliver(delivery_id=first),
            lambda: webhook_deliveries.deliver(delivery_id=second),
        )
        wait_until_blocked(2)
    for thread in threads:
        thread.join(timeout=30)

    assert [results.get(0), results.get(1)] == ["disabled", "disabled"], results
    endpoint.refresh_from_db()
    assert endpoint.enabled is False and "410" in endpoint.disabled_reason
    assert AuditEntry.objects.filter(action="webhook.endpoint_disabled").count() == 1
    for delivery_id in (first, second):
        assert WebhookDelivery.objects.get(pk=delivery_id).attempt_log.get().status_code == 410

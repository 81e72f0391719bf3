"""Payment institutions through a REAL Celery worker: a licence passes its end date, the
daily check suspends the institution, and the signed institution.status_changed webhook
reaches a local receiver. Also: deliveries written while the broker was unreachable are
delivered by the beat sweep, and a receiver that fails loses nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from core.models import DomainEvent
from payments import services
from payments.models import InstitutionProfile, Licence, WebhookDelivery
from payments.tasks import process_domain_events_task, run_daily_compliance_checks_task, sweep_webhook_deliveries_task
from tests.factories import SubjectFactory
from tests.payments.conftest import make_compliant_institution
from tests.payments.receiver import Receiver

pytestmark = pytest.mark.integration


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_expired_licence_suspends_on_the_daily_check_and_the_webhook_arrives(
    transactional_db, celery_worker_process, wait_for, receiver
):
    profile = make_compliant_institution()
    endpoint = services.create_webhook_endpoint(
        actor=profile.manager, institution_id=profile.pk, url=receiver.url, event_types=["institution.status_changed"]
    )
    # Let the worker finish the checks the setup requested, so the institution is compliant.
    wait_for(
        lambda: not InstitutionProfile.objects.filter(pk=profile.pk, check_requested_at__isnull=False).exists(),
        message="the set-up checks to run",
    )
    assert InstitutionProfile.objects.get(pk=profile.pk).status == "compliant"

    # The licence passes its end date without anyone touching the institution.
    today = timezone.localdate()
    Licence.objects.filter(institution_id=profile.pk).update(valid_from=today - timedelta(days=5 * 365), valid_to=today)
    run_daily_compliance_checks_task.delay()

    wait_for(
        lambda: InstitutionProfile.objects.get(pk=profile.pk).status == "suspended",
        timeout=30,
        message="the daily check to suspend the institution",
    )
    profile.refresh_from_db()
    assert "No licence on file is valid today" in profile.status_reason
    assert profile.latest_run.trigger == "daily"

    wait_for(lambda: receiver.requests, timeout=30, message="the webhook to reach the receiver")
    request = receiver.requests[-1]
    payload = Webhook(endpoint.secret).verify(request["body"], request["headers"])
    assert payload["type"] == "institution.status_changed"
    assert payload["data"]["new_status"] == "suspended"
    assert "No licence on file is valid today" in payload["data"]["reason"]
    wait_for(
        lambda: WebhookDelivery.objects.filter(endpoint=endpoint, status="succeeded").exists(),
        message="the delivery to be marked delivered",
    )
    assert "payments.run_daily_compliance_checks" in celery_worker_process.log()


def test_grade_change_of_a_watched_subject_reaches_the_receiver_through_the_worker(
    transactional_db, celery_worker_process, wait_for, receiver
):
    profile = make_compliant_institution()
    endpoint = services.create_webhook_endpoint(
        actor=profile.manager, institution_id=profile.pk, url=receiver.url, event_types=["subject.grade_changed"]
    )
    watched = SubjectFactory()
    services.watch_subject(actor=profile.manager, institution_id=profile.pk, subject_id=watched.pk)
    DomainEvent.objects.create(
        type="subject.grade_changed",
        subject=watched,
        payload={"old_grade": "B", "new_grade": "C"},
        occurred_at=timezone.now(),
    )
    process_domain_events_task.delay()
    wait_for(lambda: receiver.requests, timeout=30, message="the grade-change webhook")
    payload = Webhook(endpoint.secret).verify(receiver.requests[0]["body"], receiver.requests[0]["headers"])
    assert payload["data"] == {"subject_id": watched.pk, "old_grade": "B", "new_grade": "C"}


def test_nothing_is_lost_when_the_broker_is_down_and_the_receiver_flaky(
    transactional_db, receiver, settings, private_redis
):
    """Deliveries are written to the outbox even when Redis is unreachable; the sweep
    (beat) delivers them later; a receiver failing every other time still gets each one."""
    settings.ENTREPOT = {
        **settings.ENTREPOT,
        "PAYMENTS": {**settings.ENTREPOT["PAYMENTS"], "WEBHOOK_BACKOFF_BASE_SECONDS": 0},
    }
    profile = make_compliant_institution()
    services.create_webhook_endpoint(
        actor=profile.manager, institution_id=profile.pk, url=receiver.url, event_types=["subject.blacklisted"]
    )
    watched = SubjectFactory()
    services.watch_subject(actor=profile.manager, institution_id=profile.pk, subject_id=watched.pk)
    private_redis.stop()  # Redis is down: enqueueing fails, the outbox keeps the work
    for _ in range(10):
        DomainEvent.objects.create(type="subject.blacklisted", subject=watched, payload={}, occurred_at=timezone.now())
    assert services.process_domain_events() == 10
    assert WebhookDelivery.objects.filter(status="pending").count() == 10
    receiver.script = lambda n: 500 if n % 2 == 0 else 204
    private_redis.start()
    for _ in range(5):
        sweep_webhook_deliveries_task()
        if not WebhookDelivery.objects.filter(status="pending").exists():
            break
    assert WebhookDelivery.objects.filter(status="succeeded").count() == 10
    ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert len(ids) == 10

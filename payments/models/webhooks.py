"""Webhook endpoints, their deliveries (the outbox) and each delivery attempt."""

from django.db import models
from django.db.models import Q

from payments.models.institutions import InstitutionProfile


class WebhookEndpoint(models.Model):
    class EventType(models.TextChoices):
        GRADE_CHANGED = "subject.grade_changed", "Subject grade changed"
        BLACKLISTED = "subject.blacklisted", "Subject blacklisted"
        BLACKLIST_LIFTED = "subject.blacklist_lifted", "Subject's blacklist entry lifted"
        STATUS_CHANGED = "institution.status_changed", "Institution's compliance status changed"

    institution = models.ForeignKey(InstitutionProfile, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100, help_text="whsec_<base64>; signs every delivery")
    previous_secret = models.CharField(
        max_length=100, blank=True, help_text="The secret before the last rotation; also signs until it expires"
    )
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    event_types = models.JSONField(default=list)
    description = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.url

    @property
    def is_removed(self) -> bool:
        """Removed by the institution: kept (disabled) for its delivery log only."""
        return not self.enabled and self.disabled_reason.startswith("Removed")


class WebhookDelivery(models.Model):
    """Outbox row, written in the same transaction as its cause. A worker (woken on commit,
    and by a beat sweep) POSTs it until it succeeds or runs out of attempts."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Gave up"
        DISABLED = "disabled", "Endpoint disabled"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=64, help_text="webhook-id: the same for every attempt")
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhookdelivery_due"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhookdelivery_unique_event"),
        ]


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["-at", "-id"]

"""The kernel's tables: the audit trail, the domain events an app publishes to the apps
above it, the cursors those apps keep over them, and the keys of idempotent POSTs.

They know no domain: a subject is referenced by the model label "credit.Subject" (the
registry every row is about), never by importing it."""

from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    """Append-only: who changed what, the old and new values, and why."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    actor_label = models.CharField(max_length=200, help_text="User name, API key prefix or 'system'")
    action = models.CharField(max_length=80, db_index=True)
    subject = models.ForeignKey("credit.Subject", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    target_type = models.CharField(max_length=80)
    target_id = models.CharField(max_length=80)
    old = models.JSONField(null=True, blank=True)
    new = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["target_type", "target_id"], name="auditentry_target")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target_type}#{self.target_id}"


class DomainEvent(models.Model):
    """What an app tells the apps above it (the registry: grade changed, blacklisted,
    lifted; the types are the publisher's). Readers keep an EventCursor and read by
    increasing id (core.events.events_since_cursor)."""

    type = models.CharField(max_length=40)
    subject = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, related_name="+")
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["id"]


class EventCursor(models.Model):
    """How far one consumer has read the domain events. `name` says whose cursor it is
    ('<app>.<stream>')."""

    name = models.CharField(max_length=40, primary_key=True)
    last_id = models.BigIntegerField(default=0)
    gaps = models.JSONField(
        default=dict,
        help_text="Ids at or below last_id not seen yet (a transaction may still commit them): id -> first seen",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.name} at {self.last_id}"


class IdempotencyKey(models.Model):
    """One `Idempotency-Key` per owner (an API key prefix or a user). The fingerprint is a
    hash of method, path and body: another payload under the same key is refused."""

    class Status(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        DONE = "done", "Done"

    owner = models.CharField(max_length=60, help_text="'key:<prefix>' or 'user:<id>'")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotency_unique_owner_key")]
        indexes = [models.Index(fields=["created_at"], name="idempotencykey_created_at")]

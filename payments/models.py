"""Payment institutions' access to the platform's API."""

from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey


class ProviderAPIKey(AbstractAPIKey):
    """A payment provider's key: a visible prefix plus a secret shown once; the library
    stores only a SHA-512 hash of the whole key."""

    class Scope(models.TextChoices):
        SCREEN = "screen", "Screen counterparties"
        REPORT = "report", "Report payment outcomes"
        RESERVES = "reserves", "File reserve reports"
        WEBHOOKS = "webhooks", "Manage watchlist and webhooks"

    institution = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, related_name="api_keys")
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "provider API key"
        verbose_name_plural = "provider API keys"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

"""Provider API keys, the calls they make and the payment outcomes they report."""

from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey

from payments.models.institutions import MONEY_FIELD, InstitutionProfile


class ProviderAPIKey(AbstractAPIKey):
    """A payment provider's key: a visible prefix plus a secret shown once; the library
    stores only a SHA-512 hash of the whole key."""

    class Scope(models.TextChoices):
        SCREEN = "screen", "Screen counterparties"
        REPORT = "report", "Report payment outcomes"
        RESERVES = "reserves", "File reserve reports"
        WEBHOOKS = "webhooks", "Manage watchlist and webhooks"
        FILINGS = "filings", "Withdraw licences and corridors"

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


class APICallRecord(models.Model):
    """Every payment-provider API call: who, when, what, and which decision."""

    at = models.DateTimeField(db_index=True)
    api_key_prefix = models.CharField(max_length=8, db_index=True)
    institution = models.ForeignKey("credit.Subject", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    status_code = models.PositiveSmallIntegerField()
    decision = models.CharField(max_length=200, blank=True, help_text="e.g. 'allow=3 review=1 deny=0' or an error code")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["institution", "-at"], name="apicallrecord_institution_at")]


class PaymentReport(models.Model):
    """A payment outcome an institution reported about a subject, and the credit event it became."""

    class Outcome(models.TextChoices):
        PAID_ON_TIME = "paid_on_time", "Settled on time"
        PAID_LATE = "paid_late", "Settled late"
        CHARGEBACK = "chargeback", "Chargeback"
        CONFIRMED_FRAUD = "confirmed_fraud", "Confirmed fraud"
        REFUND_ISSUED = "refund_issued", "Refund issued"

    institution = models.ForeignKey(InstitutionProfile, on_delete=models.PROTECT, related_name="payment_reports")
    api_key_prefix = models.CharField(max_length=8)
    subject = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    days_late = models.PositiveIntegerField(default=0)
    amount = models.DecimalField(**MONEY_FIELD, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    payment_reference = models.CharField(max_length=200)
    occurred_at = models.DateTimeField()
    credit_event = models.ForeignKey(
        "credit.CreditEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "payment_reference", "outcome"], name="paymentreport_unique_reference"
            ),
        ]

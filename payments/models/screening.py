"""Screening decisions and the watchlist of subjects an institution follows."""

from django.db import models

from payments.models.institutions import InstitutionProfile


class ScreeningDecision(models.Model):
    """A stored allow / review / deny decision with its inputs and the data and model
    versions it was based on, so it can be explained later."""

    class Decision(models.TextChoices):
        ALLOW = "allow", "Allow"
        REVIEW = "review", "Review"
        DENY = "deny", "Deny"

    institution = models.ForeignKey(InstitutionProfile, on_delete=models.PROTECT, related_name="screenings")
    api_key_prefix = models.CharField(max_length=8, db_index=True)
    batch_id = models.UUIDField(db_index=True)
    position = models.PositiveIntegerField(default=0)
    decided_at = models.DateTimeField(db_index=True)
    inputs = models.JSONField()
    decision = models.CharField(max_length=6, choices=Decision.choices)
    reasons = models.JSONField(default=list)
    subject = models.ForeignKey("credit.Subject", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    candidates = models.JSONField(default=list)
    subject_snapshot = models.JSONField(default=dict, help_text="grade, score, rated_at, blacklisted at decision")
    data_version = models.CharField(max_length=80, help_text="The subject's rating time or 'registry' for misses")
    model_version = models.CharField(max_length=20, help_text="The scoring model version in force")
    threshold_grade = models.CharField(max_length=1)

    class Meta:
        ordering = ["-decided_at", "-id"]


class WatchlistEntry(models.Model):
    institution = models.ForeignKey(InstitutionProfile, on_delete=models.CASCADE, related_name="watchlist")
    subject = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-added_at", "-id"]
        verbose_name_plural = "watchlist entries"
        constraints = [models.UniqueConstraint(fields=["institution", "subject"], name="watchlist_unique_subject")]

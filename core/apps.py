from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The kernel every domain app stands on. It knows no domain: errors, the audit trail,
    the outbox and domain events, idempotency, the transition mechanism, Money, countries,
    roles, CSV export and the web helpers."""

    name = "core"
    verbose_name = "Core"

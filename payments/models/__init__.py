"""Payments' models, by sub-domain. Django finds an app's models through this module, so
every model is imported here."""

from payments.models.escrow import Dispute, Escrow, EscrowTransaction, LedgerAccount, LedgerEntry
from payments.models.institutions import (
    CURRENCY_FIELD,
    MONEY_FIELD,
    ComplianceRun,
    Corridor,
    InstitutionProfile,
    Licence,
    Outcome,
    ReserveAccount,
    ReserveBalance,
    ReserveOutflow,
    ReserveReport,
    RuleResult,
)
from payments.models.keys import APICallRecord, PaymentReport, ProviderAPIKey
from payments.models.screening import ScreeningDecision, WatchlistEntry
from payments.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "APICallRecord",
    "CURRENCY_FIELD",
    "ComplianceRun",
    "Corridor",
    "Dispute",
    "Escrow",
    "EscrowTransaction",
    "InstitutionProfile",
    "LedgerAccount",
    "LedgerEntry",
    "Licence",
    "MONEY_FIELD",
    "Outcome",
    "PaymentReport",
    "ProviderAPIKey",
    "ReserveAccount",
    "ReserveBalance",
    "ReserveOutflow",
    "ReserveReport",
    "RuleResult",
    "ScreeningDecision",
    "WatchlistEntry",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]

"""Django admin for payments. Everything is read-only here: institutions, licences,
reserves and webhooks change through the institution's pages and the API, compliance
decisions through the regulator console; each of those writes its audit record. Staff can
run a compliance check or suspend from here through the services."""

from django.contrib import admin, messages
from django.db import models

from core.admin import ReadOnlyAdmin
from core.errors import DomainError
from payments import services
from payments.models import (
    APICallRecord,
    ComplianceRun,
    Corridor,
    InstitutionProfile,
    Licence,
    PaymentReport,
    ProviderAPIKey,
    ReserveAccount,
    ReserveReport,
    RuleResult,
    ScreeningDecision,
    WatchlistEntry,
    WebhookDelivery,
    WebhookEndpoint,
)


class LicenceInline(admin.TabularInline):
    model = Licence
    extra = 0
    fields = ("number", "issuing_authority", "currencies", "countries", "valid_from", "valid_to", "renewal_filed_on")
    readonly_fields = fields
    can_delete = False


class CorridorInline(admin.TabularInline):
    model = Corridor
    extra = 0
    fields = ("currency", "country", "enabled", "disabled_reason")
    readonly_fields = fields
    can_delete = False


@admin.register(InstitutionProfile)
class InstitutionProfileAdmin(ReadOnlyAdmin):
    list_display = ("subject", "status", "kyb_status", "paid_in_capital", "capital_currency", "latest_run")
    list_filter = ("status", "kyb_status", "regulator_suspended")
    search_fields = ("subject__legal_name", "subject__registration_number")
    list_select_related = ("subject", "latest_run")
    inlines = [LicenceInline, CorridorInline]
    actions = ["run_check"]

    @admin.action(description="Run a compliance check now")
    def run_check(self, request, queryset):
        for profile in queryset:
            try:
                run = services.run_compliance_check(institution_id=profile.pk, trigger="regulator", actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{profile}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{profile}: run #{run.pk} -> {run.derived_status}")


class RuleResultInline(admin.TabularInline):
    model = RuleResult
    extra = 0
    fields = ("rule", "outcome", "reason", "evidence", "corridor")
    readonly_fields = fields
    can_delete = False


@admin.register(ComplianceRun)
class ComplianceRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "institution", "as_of", "started_at", "trigger", "outcome", "derived_status")
    list_filter = ("outcome", "derived_status", "trigger")
    list_select_related = ("institution__subject",)
    inlines = [RuleResultInline]


@admin.register(ReserveReport)
class ReserveReportAdmin(ReadOnlyAdmin):
    list_display = ("id", "institution", "report_date", "currency", "customer_funds_owed", "source")
    list_select_related = ("institution__subject",)


@admin.register(ReserveAccount)
class ReserveAccountAdmin(ReadOnlyAdmin):
    list_display = ("institution", "bank", "bank_kind", "account_reference", "currency")


@admin.register(ScreeningDecision)
class ScreeningDecisionAdmin(ReadOnlyAdmin):
    list_display = ("id", "institution", "api_key_prefix", "decided_at", "decision", "model_version", "data_version")
    list_filter = ("decision",)
    search_fields = ("api_key_prefix", "batch_id")


@admin.register(APICallRecord)
class APICallRecordAdmin(ReadOnlyAdmin):
    list_display = ("at", "api_key_prefix", "method", "path", "status_code", "decision", "duration_ms")
    list_filter = ("status_code", "method")
    search_fields = ("api_key_prefix", "path")


@admin.register(PaymentReport)
class PaymentReportAdmin(ReadOnlyAdmin):
    list_display = ("id", "institution", "subject", "outcome", "days_late", "payment_reference", "credit_event")


@admin.register(WatchlistEntry)
class WatchlistEntryAdmin(ReadOnlyAdmin):
    list_display = ("institution", "subject", "added_at")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ("id", "institution", "url", "enabled", "created_at")
    exclude = ("secret", "previous_secret")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # Django 6 default, no warning


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "endpoint", "event_type", "event_id", "status", "attempts", "next_attempt_at")
    list_filter = ("status", "event_type")


@admin.register(ProviderAPIKey)
class ProviderAPIKeyAdmin(ReadOnlyAdmin):
    list_display = ("prefix", "name", "institution", "scopes", "created", "expiry_date", "revoked", "last_used_at")
    list_filter = ("revoked",)
    exclude = ("hashed_key", "id")


# --- Escrow ledger and disputes (read-only: money moves only through payments.services) -------

from payments.models import Dispute, Escrow, EscrowTransaction, LedgerAccount, LedgerEntry  # noqa: E402


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = ["account", "amount"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(EscrowTransaction)
class EscrowTransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "reference", "kind", "institution", "actor_label", "memo", "created_at"]
    list_filter = ["kind"]
    search_fields = ["reference"]
    list_select_related = ["institution__subject"]
    inlines = [LedgerEntryInline]


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "subject", "reference", "currency", "created_at"]
    list_filter = ["kind", "currency"]
    search_fields = ["reference", "subject__legal_name"]
    list_select_related = ["subject"]


@admin.register(Escrow)
class EscrowAdmin(ReadOnlyAdmin):
    list_display = ["reference", "payer", "payee", "amount_due", "currency", "country", "frozen", "created_at"]
    list_filter = ["frozen", "currency"]
    search_fields = ["reference"]
    list_select_related = ["payer", "payee"]


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    """Disputes are decided on the staff page (/warehouses/disputes/), which records the
    credit outcome; here they are only read."""

    list_display = ["id", "reference", "opener", "respondent", "status", "resolution", "created_at"]
    list_filter = ["status", "resolution"]
    search_fields = ["reference"]
    list_select_related = ["opener", "respondent"]

from django.db.models import Prefetch, QuerySet

from credit.models import Membership, Subject
from credit.roles import is_regulator
from credit.selectors.accounts import active_memberships
from payments.models import (
    ComplianceRun,
    InstitutionProfile,
    ProviderAPIKey,
    ReserveReport,
    RuleResult,
    ScreeningDecision,
    WebhookDelivery,
    WebhookEndpoint,
)


def institutions_managed_by(*, user) -> QuerySet[Subject]:
    """Payment institutions whose keys this user may manage (owners and admins)."""
    ids = (
        active_memberships(user=user)
        .filter(subject__is_payment_institution=True, role__in=[Membership.Role.OWNER, Membership.Role.ADMIN])
        .values("subject_id")
    )
    return Subject.objects.filter(pk__in=ids)


def api_keys_visible_to(*, user) -> QuerySet[ProviderAPIKey]:
    return (
        ProviderAPIKey.objects.filter(institution__in=institutions_managed_by(user=user))
        .select_related("institution", "created_by")
        .order_by("-created")
    )


# --- Institutions and compliance -------------------------------------------------------------


def institutions_of_member(*, user) -> QuerySet[InstitutionProfile]:
    """Institution profiles the user acts for (any active role)."""
    ids = active_memberships(user=user).filter(subject__is_payment_institution=True).values("subject_id")
    return InstitutionProfile.objects.filter(subject_id__in=ids).select_related("subject", "latest_run")


def payment_subjects_of_member(*, user) -> QuerySet[Subject]:
    ids = active_memberships(user=user).filter(subject__is_payment_institution=True).values("subject_id")
    return Subject.objects.filter(pk__in=ids)


def institutions_visible_to(*, user) -> QuerySet[InstitutionProfile]:
    """Regulators and staff see every institution; members see their own."""
    qs = InstitutionProfile.objects.select_related("subject", "latest_run")
    if is_regulator(user) or getattr(user, "is_staff", False):
        return qs
    return qs.filter(pk__in=institutions_of_member(user=user).values("pk"))


def may_view_institution(*, user, institution_id: int) -> bool:
    return institutions_visible_to(user=user).filter(pk=institution_id).exists()


def regulator_institution_list(*, status: str | None = None, q: str | None = None) -> QuerySet[InstitutionProfile]:
    qs = InstitutionProfile.objects.select_related("subject", "latest_run").order_by("subject__legal_name", "pk")
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(subject__legal_name__icontains=q)
    return qs


def runs_for(*, institution_id: int) -> QuerySet[ComplianceRun]:
    return ComplianceRun.objects.filter(institution_id=institution_id).order_by("-started_at", "-id")


def run_with_results(*, run_id: int) -> ComplianceRun | None:
    return (
        ComplianceRun.objects.select_related("institution__subject")
        .prefetch_related(Prefetch("results", queryset=RuleResult.objects.select_related("corridor")))
        .filter(pk=run_id)
        .first()
    )


def latest_reserve_reports(*, institution_id: int) -> list[ReserveReport]:
    """The latest report per currency (latest date, then latest filed), with balances and outflows."""
    reports = (
        ReserveReport.objects.filter(institution_id=institution_id)
        .prefetch_related("balances__account", "outflows")
        .order_by("currency", "-report_date", "-id")
    )
    latest: dict[str, ReserveReport] = {}
    for report in reports:
        latest.setdefault(report.currency, report)
    return list(latest.values())


def reserve_reports_for(*, institution_id: int) -> QuerySet[ReserveReport]:
    return (
        ReserveReport.objects.filter(institution_id=institution_id)
        .prefetch_related("balances__account", "outflows")
        .order_by("-report_date", "-id")
    )


def screenings_for(*, institution_id: int) -> QuerySet[ScreeningDecision]:
    return ScreeningDecision.objects.filter(institution_id=institution_id).order_by("-decided_at", "-id")


def webhook_endpoints_for(*, institution_id: int) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(institution_id=institution_id).order_by("-created_at", "-id")


def deliveries_for(*, institution_id: int) -> QuerySet[WebhookDelivery]:
    return (
        WebhookDelivery.objects.filter(endpoint__institution_id=institution_id)
        .select_related("endpoint")
        .prefetch_related("attempt_log")
        .order_by("-created_at", "-id")
    )

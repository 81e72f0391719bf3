from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from core.roles import is_regulator
from credit.models import Membership, Subject
from credit.selectors.accounts import active_memberships
from payments.models import (
    APICallRecord,
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


def due_delivery_ids(*, limit: int = 500) -> list[int]:
    """Pending webhook deliveries whose next attempt is due, the oldest first."""
    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def due_compliance_checks(*, limit: int = 200) -> list[tuple[int, str]]:
    """(institution id, trigger) of the compliance checks requested and not yet run."""
    return list(
        InstitutionProfile.objects.filter(check_requested_at__isnull=False)
        .order_by("check_requested_at")
        .values_list("pk", "check_requested_trigger")[:limit]
    )


# --- Escrow and disputes -----------------------------------------------------------------------


def _route_problems(*, profile: InstitutionProfile, corridor, currency: str, country: str) -> list[dict]:
    name = profile.subject.legal_name
    problems = []
    if profile.regulator_suspended or profile.status == InstitutionProfile.Status.SUSPENDED:
        problems.append({"code": "institution_suspended", "message": f"{name} is suspended."})
    elif profile.status != InstitutionProfile.Status.COMPLIANT:
        problems.append({"code": "institution_not_compliant", "message": f"{name} is under compliance review."})
    if corridor is None:
        problems.append({"code": "no_corridor", "message": f"{name} has no {currency} corridor for {country}."})
    elif not corridor.enabled:
        problems.append(
            {"code": "corridor_disabled", "message": f"{name}'s {currency}/{country} corridor is switched off."}
        )
    return problems


def payment_route_problems(*, institution_id, currency: str, country: str) -> list[dict]:
    """Why this institution cannot take a payment in `currency` for `country` (empty: it
    can). It must be compliant (not under review, not suspended) and have an enabled
    corridor for the pair."""
    from payments.models import Corridor

    profile = (
        InstitutionProfile.objects.select_related("subject").filter(pk=institution_id).first()
        if isinstance(institution_id, int) and institution_id > 0
        else None
    )
    if profile is None:
        return [{"code": "institution_not_found", "message": "Choose a payment institution."}]
    corridor = Corridor.objects.filter(institution=profile, currency=currency, country=country).first()
    return _route_problems(profile=profile, corridor=corridor, currency=currency, country=country)


def payment_options(*, currency: str, country: str) -> list[dict]:
    """Every payment institution with the reasons it cannot take this payment (empty list:
    it can), in two queries. For the 'pay into escrow' form."""
    from payments.models import Corridor

    corridors = {c.institution_id: c for c in Corridor.objects.filter(currency=currency, country=country)}
    return [
        {
            "institution_id": profile.pk,
            "name": profile.subject.legal_name,
            "problems": _route_problems(
                profile=profile, corridor=corridors.get(profile.pk), currency=currency, country=country
            ),
        }
        for profile in InstitutionProfile.objects.select_related("subject").order_by("subject__legal_name")
    ]


def _totals(rows) -> dict:
    from decimal import Decimal

    zero = Decimal("0.00")
    totals = {"held": zero, "released": zero, "refunded": zero, "balance": zero}
    for kind, amount in rows:
        totals["balance"] += amount
        if amount > 0:
            totals["held"] += amount
        elif kind == "release":
            totals["released"] -= amount
        else:  # refund, or transferred out (refunded to the transferor)
            totals["refunded"] -= amount
    return totals


def escrow_totals(*, account_id: int) -> dict:
    """held (paid in), released (to the payee, before the fee), refunded (to the payer,
    including a transfer out) and balance of one escrow account."""
    from payments.models import LedgerEntry

    return _totals(LedgerEntry.objects.filter(account_id=account_id).values_list("transaction__kind", "amount"))


def _status(*, funded: bool, frozen: bool, totals: dict) -> str:
    if not funded:
        return "unpaid"
    if frozen:
        return "frozen"
    if totals["balance"] > 0:
        return "partially released" if totals["released"] > 0 else "funded"
    # Nothing left: "released" unless more went back to the payer than to the payee (an
    # escrow created by a transfer after everything was released holds nothing: released).
    return "released" if totals["released"] >= totals["refunded"] else "refunded"


def escrow_summaries(*, references: list[str], with_entries: bool = False) -> dict[str, dict]:
    """Escrow summaries for many references in a fixed number of queries (lists)."""
    from collections import defaultdict

    from payments.models import Dispute, Escrow, LedgerEntry

    if not references:
        return {}
    escrows = {e.reference: e for e in Escrow.objects.filter(reference__in=references)}
    rows = defaultdict(list)
    entries = defaultdict(list)
    qs = LedgerEntry.objects.filter(account_id__in=[e.account_id for e in escrows.values()])
    if with_entries:
        for entry in qs.select_related("transaction", "transaction__institution__subject").order_by(
            "transaction__created_at", "id"
        ):
            rows[entry.account_id].append((entry.transaction.kind, entry.amount))
            entries[entry.account_id].append(entry)
    else:
        for account_id, kind, amount in qs.values_list("account_id", "transaction__kind", "amount"):
            rows[account_id].append((kind, amount))
    disputes = set(Dispute.objects.filter(reference__in=references).values_list("reference", "status"))
    open_disputes = {reference for reference, status in disputes if status == Dispute.Status.OPEN}
    decided = {reference for reference, status in disputes if status == Dispute.Status.RESOLVED}
    result = {}
    for reference in references:
        escrow = escrows.get(reference)
        totals = _totals(rows[escrow.account_id]) if escrow else _totals([])
        # Paid: the escrow exists only once its payer paid (a hold, or a transfer that may have
        # put nothing in when the source had released everything already).
        funded = escrow is not None or totals["held"] > 0
        summary = {
            "status": _status(funded=funded, frozen=bool(escrow and escrow.frozen), totals=totals),
            "funded": funded,
            "frozen": bool(escrow and escrow.frozen),
            "open_dispute": reference in open_disputes,
            "decided": reference in decided,
            "currency": escrow.currency if escrow else "",
            **totals,
        }
        if with_entries:
            summary["entries"] = [
                {
                    "at": e.transaction.created_at,
                    "kind": e.transaction.kind,
                    "kind_label": e.transaction.get_kind_display(),
                    "amount": e.amount,
                    "memo": e.transaction.memo,
                    "institution": (
                        e.transaction.institution.subject.legal_name if e.transaction.institution_id else ""
                    ),
                }
                for e in (entries[escrow.account_id] if escrow else [])
            ]
        result[reference] = summary
    return result


def escrow_summary(*, reference: str) -> dict:
    """Status (unpaid / funded / partially released / released / refunded / frozen), held,
    released, refunded, balance, currency and the escrow account's entries."""
    return escrow_summaries(references=[reference], with_entries=True)[reference]


def escrow_transactions(*, reference: str):
    """Every journal transaction that touched the escrow of `reference`, with its entries
    (including the fee transactions on the payee's side)."""
    from payments.models import EscrowTransaction

    return (
        EscrowTransaction.objects.filter(reference=reference)
        .select_related("institution__subject")
        .prefetch_related("entries__account")
        .order_by("created_at", "id")
    )


def disputes_for(*, references: list[str] | None = None, status: str | None = None):
    from payments.models import Dispute

    qs = Dispute.objects.select_related("opener", "respondent", "decided_by", "escrow").order_by("-created_at", "-id")
    if references is not None:
        qs = qs.filter(reference__in=references)
    if status:
        qs = qs.filter(status=status)
    return qs


def dispute_reference(*, dispute_id: int) -> str | None:
    from payments.models import Dispute

    return Dispute.objects.filter(pk=dispute_id).values_list("reference", flat=True).first()


# --- API call log --------------------------------------------------------------------------


def with_key_names(qs: QuerySet[APICallRecord]) -> QuerySet[APICallRecord]:
    """Each call with `api_key_name`, the name its institution gave the key (who called)."""
    from django.db.models import OuterRef, Subquery

    names = ProviderAPIKey.objects.filter(prefix=OuterRef("api_key_prefix")).values("name")[:1]
    return qs.annotate(api_key_name=Subquery(names))


def api_calls_visible_to(*, user) -> QuerySet[APICallRecord]:
    """Regulators (and staff) see every call; an institution's members see its own."""
    qs = with_key_names(APICallRecord.objects.select_related("institution").order_by("-at", "-id"))
    if is_regulator(user) or getattr(user, "is_staff", False):
        return qs
    return qs.filter(institution_id__in=payment_subjects_of_member(user=user).values("pk"))


def filter_api_calls(
    qs: QuerySet[APICallRecord],
    *,
    institution_id: int | None = None,
    date_from=None,
    date_to=None,
    endpoint: str = "",
    status: str = "",
    decision: str = "",
) -> QuerySet[APICallRecord]:
    """Days are UTC calendar days, both included. `status` is a code (403) or a class
    (4xx); `endpoint` and `decision` match a part of the path or the decision text."""
    if institution_id is not None:
        qs = qs.filter(institution_id=institution_id)
    # Ranges on `at` itself (not `at__date`), so the (institution, -at) index serves them.
    if date_from:
        qs = qs.filter(at__gte=datetime.combine(date_from, time.min, tzinfo=UTC))
    if date_to and date_to < date.max:
        qs = qs.filter(at__lt=datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC))
    if endpoint:
        qs = qs.filter(path__icontains=endpoint)
    status = (status or "").strip().lower()
    if len(status) == 3 and status[0] in "12345" and status[1:] == "xx":
        low = int(status[0]) * 100
        qs = qs.filter(status_code__gte=low, status_code__lt=low + 100)
    elif status.isdecimal():
        qs = qs.filter(status_code=int(status))
    if decision:
        qs = qs.filter(decision__icontains=decision)
    return qs

"""The regulator's payment-institution console (/regulator/institutions/): every
institution with its status and latest run, run history, each rule's outcome and evidence,
KYB verification, suspension and reinstatement with a reason (audited).

Only regulators get in: anonymous visitors are sent to sign in, everyone else gets 404."""

import json

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core import csv as csv_export
from core.errors import DomainError
from core.models import AuditEntry
from core.web import submit
from credit.web.regulator import regulator_required
from payments import services
from payments.compliance import REGISTRY
from payments.models import InstitutionProfile
from payments.selectors import (
    latest_reserve_reports,
    regulator_institution_list,
    run_with_results,
    runs_for,
)

PAGE_SIZE = 25


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=4000, help_text="Recorded in the audit log."
    )


class KYBForm(forms.Form):
    kyb_status = forms.ChoiceField(label="KYB status", choices=InstitutionProfile.KYB.choices)
    reason = forms.CharField(required=False, max_length=4000)


def _profile_or_404(institution_id: int) -> InstitutionProfile:
    profile = regulator_institution_list().filter(pk=institution_id).first()
    if profile is None:
        raise Http404("No such institution.")
    return profile


@regulator_required
def institution_list(request):
    status = request.GET.get("status") or None
    if status not in InstitutionProfile.Status.values:
        status = None
    q = (request.GET.get("q") or "").strip()
    qs = regulator_institution_list(status=status, q=q)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="payment-institutions.csv"'
        writer = csv_export.writer(response)
        writer.writerow(["id", "legal_name", "country", "status", "reason", "latest_run", "latest_run_at"])
        for p in qs:
            writer.writerow(
                [
                    p.pk,
                    p.subject.legal_name,
                    p.subject.country,
                    p.status,
                    p.status_reason,
                    p.latest_run_id or "",
                    p.latest_run.started_at.isoformat() if p.latest_run else "",
                ]
            )
        return response
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "payments/regulator_institutions.html",
        {"page": page, "status": status or "", "q": q, "statuses": InstitutionProfile.Status.choices},
    )


def _detail_context(profile: InstitutionProfile, request, **overrides) -> dict:
    runs = Paginator(runs_for(institution_id=profile.pk), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "profile": profile,
        "subject": profile.subject,
        "licences": profile.licences.all(),
        "corridors": profile.corridors.all(),
        "accounts": profile.reserve_accounts.all(),
        "reports": latest_reserve_reports(institution_id=profile.pk),
        "runs": runs,
        "suspend_form": ReasonForm(prefix="suspend"),
        "reinstate_form": ReasonForm(prefix="reinstate"),
        "kyb_form": KYBForm(prefix="kyb", initial={"kyb_status": profile.kyb_status}),
        "audit": AuditEntry.objects.filter(subject_id=profile.pk, action__startswith="institution.")[:20],
    }
    context.update(overrides)
    return context


@regulator_required
def institution_detail(request, institution_id: int):
    profile = _profile_or_404(institution_id)
    return render(request, "payments/regulator_institution.html", _detail_context(profile, request))


def _post_action(request, institution_id: int, *, prefix: str, form_class, action, success: str):
    profile = _profile_or_404(institution_id)
    form = form_class(request.POST, prefix=prefix)
    done = submit(
        request,
        form,
        lambda data: action(profile, data),
        success=success,
        redirect_to=reverse("regulator-institution", args=[profile.pk]),
    )
    if done is not None:
        return done
    profile.refresh_from_db()
    context = _detail_context(profile, request, **{f"{prefix}_form": form})
    return render(request, "payments/regulator_institution.html", context, status=400)


def _decision_view(name: str, *, service: str, success: str):
    """A regulator's decision with a reason (suspend, reinstate): the form, then the service."""

    @regulator_required
    @require_POST
    def view(request, institution_id: int):
        return _post_action(
            request,
            institution_id,
            prefix=name,
            form_class=ReasonForm,
            action=lambda p, data: getattr(services, service)(
                actor=request.user, institution_id=p.pk, reason=data["reason"]
            ),
            success=success,
        )

    view.__name__ = view.__qualname__ = name
    return view


suspend = _decision_view("suspend", service="suspend_institution", success="Institution suspended.")
reinstate = _decision_view(
    "reinstate",
    service="reinstate_institution",
    success="Suspension lifted; the status now follows a fresh compliance run.",
)


@regulator_required
@require_POST
def set_kyb(request, institution_id: int):
    return _post_action(
        request,
        institution_id,
        prefix="kyb",
        form_class=KYBForm,
        action=lambda p, data: services.set_kyb_status(
            actor=request.user, institution_id=p.pk, kyb_status=data["kyb_status"], reason=data["reason"]
        ),
        success="KYB status saved; a compliance check has been requested.",
    )


@regulator_required
@require_POST
def run_check(request, institution_id: int):
    profile = _profile_or_404(institution_id)
    try:
        run = services.request_check_by_regulator(actor=request.user, institution_id=profile.pk)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("regulator-institution", institution_id=profile.pk)
    messages.success(request, f"Compliance run #{run.pk}: {run.get_derived_status_display()}.")
    return redirect("regulator-compliance-run", run_id=run.pk)


@regulator_required
def run_detail(request, run_id: int):
    run = run_with_results(run_id=run_id)
    if run is None:
        raise Http404("No such run.")
    return render(request, "payments/compliance_run.html", run_context(run, regulator=True))


def run_context(run, *, regulator: bool) -> dict:
    results = [
        {
            "result": result,
            "rule": REGISTRY.get(result.rule),
            "evidence": json.dumps(result.evidence, indent=2, ensure_ascii=False, sort_keys=True),
        }
        for result in run.results.all()
    ]
    return {"run": run, "profile": run.institution, "results": results, "regulator": regulator}

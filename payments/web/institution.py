"""The institution's own pages (/institution/): register the compliance profile, file
licences, corridors, capital, reserve accounts and reserve reports, see its status and
every check run, manage the watchlist and webhook endpoints, read the delivery log and
the screening log.

Every active member may look; owners and admins may change things (the services check).
"""

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core import grades
from core.countries import country_choices
from core.errors import DomainError, InvalidInput
from core.web import submit
from credit.selectors.accounts import find_subject_by_registration
from payments import services
from payments.models import InstitutionProfile, ReserveAccount, ReserveOutflow, WatchlistEntry, WebhookEndpoint
from payments.selectors import (
    deliveries_for,
    institutions_managed_by,
    institutions_of_member,
    latest_reserve_reports,
    payment_subjects_of_member,
    run_with_results,
    runs_for,
    screenings_for,
    webhook_endpoints_for,
)
from payments.web.regulator import run_context


def _codes(value: str) -> list[str]:
    return [part.strip().upper() for part in (value or "").replace(";", ",").split(",") if part.strip()]


class RegisterForm(forms.Form):
    subject = forms.ModelChoiceField(queryset=None, empty_label=None, label="Institution")
    paid_in_capital = forms.DecimalField(max_digits=20, decimal_places=2, min_value=0)
    capital_currency = forms.CharField(max_length=3, help_text="ISO 4217, e.g. CNY")

    def __init__(self, *args, subjects, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subject"].queryset = subjects


class CapitalForm(forms.Form):
    paid_in_capital = forms.DecimalField(max_digits=20, decimal_places=2, min_value=0)
    capital_currency = forms.CharField(max_length=3, help_text="ISO 4217, e.g. CNY")


class LicenceForm(forms.Form):
    number = forms.CharField(max_length=80)
    issuing_authority = forms.CharField(max_length=200)
    business_types = forms.CharField(required=False, help_text="Comma-separated, e.g. cross-border payments, e-money")
    currencies = forms.CharField(help_text="Comma-separated ISO 4217 codes, e.g. CNY, USD")
    countries = forms.CharField(help_text="Comma-separated ISO 3166 codes, e.g. CN, US")
    valid_from = forms.DateField(help_text="YYYY-MM-DD")
    valid_to = forms.DateField(label="Valid until (exclusive)", help_text="The first day it no longer holds")
    renewal_filed_on = forms.DateField(required=False, help_text="When renewal was applied for, if it was")


class CorridorForm(forms.Form):
    currency = forms.CharField(max_length=3, help_text="ISO 4217")
    country = forms.ChoiceField(choices=country_choices)
    fx_registration_reference = forms.CharField(required=False, max_length=80, help_text="Needed for CNY corridors")
    partner_bank = forms.CharField(required=False, max_length=200, help_text="Needed for CNY corridors")


class ReserveAccountForm(forms.Form):
    bank = forms.CharField(max_length=200)
    bank_kind = forms.ChoiceField(choices=ReserveAccount.BankKind.choices)
    account_reference = forms.CharField(max_length=80)
    currency = forms.CharField(max_length=3, help_text="ISO 4217")


class ReserveReportForm(forms.Form):
    report_date = forms.DateField(help_text="YYYY-MM-DD: balances at the end of this day")
    currency = forms.CharField(max_length=3, help_text="ISO 4217; give balances of accounts in this currency")
    customer_funds_owed = forms.DecimalField(max_digits=20, decimal_places=2, min_value=0)

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.accounts = list(accounts)
        for account in self.accounts:
            self.fields[f"balance_{account.pk}"] = forms.DecimalField(
                label=f"Balance {account.bank} {account.account_reference} ({account.currency})",
                max_digits=20,
                decimal_places=2,
                min_value=0,
                required=False,
            )
        for value, label in ReserveOutflow.Destination.choices:
            self.fields[f"outflow_{value}"] = forms.DecimalField(
                label=f"Outflow to {label.lower()}", max_digits=20, decimal_places=2, min_value=0, required=False
            )

    def balances(self) -> dict:
        return {
            a.pk: self.cleaned_data[f"balance_{a.pk}"]
            for a in self.accounts
            if self.cleaned_data.get(f"balance_{a.pk}") is not None
        }

    def outflows(self) -> dict:
        return {
            value: self.cleaned_data[f"outflow_{value}"]
            for value in ReserveOutflow.Destination.values
            if self.cleaned_data.get(f"outflow_{value}")
        }


class ThresholdForm(forms.Form):
    screening_minimum_grade = forms.ChoiceField(
        label="Screening threshold",
        choices=[(g, g) for g in grades.LADDER],
        help_text="Deny counterparties graded below",
    )


class WebhookForm(forms.Form):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=WebhookEndpoint.EventType.choices, widget=forms.CheckboxSelectMultiple
    )
    description = forms.CharField(required=False, max_length=200)


class WatchForm(forms.Form):
    country = forms.ChoiceField(choices=country_choices)
    registration_number = forms.CharField(max_length=40)


def profile_for_member(request, institution_id: int) -> InstitutionProfile:
    profile = institutions_of_member(user=request.user).filter(pk=institution_id).first()
    if profile is None:
        raise Http404("No such institution.")
    return profile


@login_required
def institution_home(request):
    """Lists the user's payment institutions and registers a compliance profile."""
    profiles = list(institutions_of_member(user=request.user))
    unregistered = institutions_managed_by(user=request.user).exclude(pk__in=[p.pk for p in profiles])
    form = RegisterForm(request.POST or None, subjects=unregistered)
    registered = submit(
        request,
        form,
        lambda data: services.register_institution(
            actor=request.user,
            subject_id=data["subject"].pk,
            paid_in_capital=data["paid_in_capital"],
            capital_currency=data["capital_currency"],
        ),
        success="Registered. File your licences, corridors and reserves next.",
        redirect_to=lambda profile: reverse("institution-detail", args=[profile.pk]),
    )
    if registered is not None:
        return registered
    if request.method == "GET" and len(profiles) == 1 and not unregistered.exists():
        return redirect("institution-detail", institution_id=profiles[0].pk)
    return render(
        request,
        "payments/institution_home.html",
        {
            "profiles": profiles,
            "form": form,
            "can_register": unregistered.exists(),
            "is_pi_member": payment_subjects_of_member(user=request.user).exists(),
        },
        status=400 if form.errors else 200,
    )


def _page_context(request, profile: InstitutionProfile, **overrides) -> dict:
    can_manage = institutions_managed_by(user=request.user).filter(pk=profile.pk).exists()
    accounts = profile.reserve_accounts.all()
    licence_initial, editing = {}, None
    edit_id = request.GET.get("edit_licence")
    if edit_id and edit_id.isdecimal():
        editing = profile.licences.filter(pk=int(edit_id)).first()
        if editing:
            licence_initial = {
                "number": editing.number,
                "issuing_authority": editing.issuing_authority,
                "business_types": ", ".join(editing.business_types),
                "currencies": ", ".join(editing.currencies),
                "countries": ", ".join(editing.countries),
                "valid_from": editing.valid_from,
                "valid_to": editing.valid_to,
                "renewal_filed_on": editing.renewal_filed_on,
            }
    context = {
        "profile": profile,
        "subject": profile.subject,
        "can_manage": can_manage,
        "licences": profile.licences.all(),
        "corridors": profile.corridors.all(),
        "accounts": accounts,
        "reports": latest_reserve_reports(institution_id=profile.pk),
        "runs": runs_for(institution_id=profile.pk)[:10],
        "editing_licence": editing,
        "licence_form": LicenceForm(prefix="licence", initial=licence_initial),
        "capital_form": CapitalForm(
            prefix="capital",
            initial={"paid_in_capital": profile.paid_in_capital, "capital_currency": profile.capital_currency},
        ),
        "corridor_form": CorridorForm(prefix="corridor"),
        "account_form": ReserveAccountForm(prefix="account"),
        "report_form": ReserveReportForm(
            prefix="report", accounts=accounts, initial={"report_date": timezone.localdate()}
        ),
        "threshold_form": ThresholdForm(
            prefix="threshold", initial={"screening_minimum_grade": profile.screening_minimum_grade}
        ),
        "webhook_form": WebhookForm(prefix="webhook"),
        "watch_form": WatchForm(prefix="watch"),
        "endpoints": webhook_endpoints_for(institution_id=profile.pk),
        "watchlist": WatchlistEntry.objects.filter(institution=profile).select_related("subject"),
    }
    context.update(overrides)
    return context


@login_required
def institution_detail(request, institution_id: int):
    profile = profile_for_member(request, institution_id)
    return render(request, "payments/institution.html", _page_context(request, profile))


def _handle(
    request, institution_id: int, *, form_class, prefix: str, action, success: str, anchor: str = "", form_kwargs=None
):
    """A form of the institution page: `form_class` under `prefix` (shown again as the
    page's `<prefix>_form` with its errors), `action(profile, form)` on a valid POST.
    `form_kwargs(profile)` gives the form's other arguments."""
    profile = profile_for_member(request, institution_id)
    if not institutions_managed_by(user=request.user).filter(pk=profile.pk).exists():
        messages.error(request, "Only the institution's owners and administrators may change it.")
        return redirect("institution-detail", institution_id=profile.pk)
    form = form_class(request.POST, prefix=prefix, **(form_kwargs(profile) if form_kwargs else {}))
    done = submit(
        request,
        form,
        lambda _data: action(profile, form),
        success=success,
        redirect_to=reverse("institution-detail", args=[profile.pk]) + anchor,
    )
    if done is not None:
        return done
    context = _page_context(request, profile, **{f"{prefix}_form": form})
    return render(request, "payments/institution.html", context, status=400)


@login_required
@require_POST
def save_licence(request, institution_id: int):
    licence_id = request.POST.get("licence_id")

    def act(profile, form):
        data = form.cleaned_data
        services.save_licence(
            actor=request.user,
            institution_id=profile.pk,
            licence_id=int(licence_id) if licence_id and licence_id.isdecimal() else None,
            number=data["number"],
            issuing_authority=data["issuing_authority"],
            business_types=[t.strip() for t in data["business_types"].split(",") if t.strip()],
            currencies=_codes(data["currencies"]),
            countries=_codes(data["countries"]),
            valid_from=data["valid_from"],
            valid_to=data["valid_to"],
            renewal_filed_on=data["renewal_filed_on"],
        )

    return _handle(
        request,
        institution_id,
        form_class=LicenceForm,
        prefix="licence",
        action=act,
        success="Licence saved; a compliance check has been requested.",
    )


@login_required
@require_POST
def save_capital(request, institution_id: int):
    return _handle(
        request,
        institution_id,
        form_class=CapitalForm,
        prefix="capital",
        action=lambda p, f: services.register_institution(
            actor=request.user,
            subject_id=p.pk,
            paid_in_capital=f.cleaned_data["paid_in_capital"],
            capital_currency=f.cleaned_data["capital_currency"],
        ),
        success="Capital saved; a compliance check has been requested.",
    )


def _form_view(name: str, *, form_class, prefix: str, service: str, success: str):
    """A form whose cleaned data goes to one service as it is (a corridor, a reserve account)."""

    @login_required
    @require_POST
    def view(request, institution_id: int):
        return _handle(
            request,
            institution_id,
            form_class=form_class,
            prefix=prefix,
            action=lambda p, f: getattr(services, service)(actor=request.user, institution_id=p.pk, **f.cleaned_data),
            success=success,
        )

    view.__name__ = view.__qualname__ = name
    return view


add_corridor = _form_view(
    "add_corridor",
    form_class=CorridorForm,
    prefix="corridor",
    service="add_corridor",
    success="Corridor requested; it is switched on once a compliance check passes it.",
)
add_account = _form_view(
    "add_account",
    form_class=ReserveAccountForm,
    prefix="account",
    service="add_reserve_account",
    success="Reserve account added.",
)


@login_required
@require_POST
def submit_report(request, institution_id: int):
    return _handle(
        request,
        institution_id,
        form_class=ReserveReportForm,
        prefix="report",
        form_kwargs=lambda p: {"accounts": p.reserve_accounts.all()},
        action=lambda p, f: services.submit_reserve_report(
            actor=request.user,
            institution_id=p.pk,
            report_date=f.cleaned_data["report_date"],
            currency=f.cleaned_data["currency"],
            customer_funds_owed=f.cleaned_data["customer_funds_owed"],
            balances=f.balances(),
            outflows=f.outflows(),
        ),
        success="Reserve report filed; a compliance check has been requested.",
    )


@login_required
@require_POST
def save_threshold(request, institution_id: int):
    return _handle(
        request,
        institution_id,
        form_class=ThresholdForm,
        prefix="threshold",
        action=lambda p, f: services.set_screening_threshold(
            actor=request.user, institution_id=p.pk, grade=f.cleaned_data["screening_minimum_grade"]
        ),
        success="Screening threshold saved.",
    )


@login_required
@require_POST
def add_webhook(request, institution_id: int):
    created = {}

    def act(profile, form):
        created["endpoint"] = services.create_webhook_endpoint(
            actor=request.user, institution_id=profile.pk, **form.cleaned_data
        )

    response = _handle(
        request,
        institution_id,
        form_class=WebhookForm,
        prefix="webhook",
        action=act,
        success="Webhook endpoint added.",
        anchor="#webhooks",
    )
    if "endpoint" not in created:
        return response
    # Rendered, not redirected: the signing secret is shown once, in this response.
    from payments.web.manage import secret_page

    return secret_page(request, created["endpoint"], created=True)


@login_required
@require_POST
def remove_webhook(request, institution_id: int, endpoint_id: int):
    return _act(
        request,
        institution_id,
        lambda p: services.delete_webhook_endpoint(actor=request.user, institution_id=p.pk, endpoint_id=endpoint_id),
        success="Webhook endpoint removed.",
        anchor="#webhooks",
    )


def _act(request, institution_id: int, action, *, success: str = "", anchor: str):
    """A one-button POST: the service, its refusal or `success` as a message, then back."""
    profile = profile_for_member(request, institution_id)
    try:
        action(profile)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if success:
            messages.success(request, success)
    return redirect(reverse("institution-detail", args=[profile.pk]) + anchor)


def _watch(request, profile, form):
    subject = find_subject_by_registration(
        country=form.cleaned_data["country"], registration_number=form.cleaned_data["registration_number"]
    )
    if subject is None:
        raise InvalidInput(
            "No subject with that registration number.", field_errors={"registration_number": ["Not registered."]}
        )
    services.watch_subject(actor=request.user, institution_id=profile.pk, subject_id=subject.pk)


@login_required
@require_POST
def watch(request, institution_id: int):
    return _handle(
        request,
        institution_id,
        form_class=WatchForm,
        prefix="watch",
        action=lambda p, f: _watch(request, p, f),
        success="Subject added to the watchlist.",
        anchor="#watchlist",
    )


@login_required
@require_POST
def unwatch(request, institution_id: int, subject_id: int):
    return _act(
        request,
        institution_id,
        lambda p: services.unwatch_subject(actor=request.user, institution_id=p.pk, subject_id=subject_id),
        anchor="#watchlist",
    )


@login_required
def run_detail(request, institution_id: int, run_id: int):
    profile = profile_for_member(request, institution_id)
    run = run_with_results(run_id=run_id)
    if run is None or run.institution_id != profile.pk:
        raise Http404("No such run.")
    return render(request, "payments/compliance_run.html", run_context(run, regulator=False))


@login_required
def deliveries(request, institution_id: int):
    profile = profile_for_member(request, institution_id)
    page = Paginator(deliveries_for(institution_id=profile.pk), 25).get_page(request.GET.get("page"))
    return render(request, "payments/deliveries.html", {"profile": profile, "page": page})


@login_required
def screenings(request, institution_id: int):
    profile = profile_for_member(request, institution_id)
    page = Paginator(screenings_for(institution_id=profile.pk).select_related("subject"), 50).get_page(
        request.GET.get("page")
    )
    for decision in page:
        decision.inputs_json = json.dumps(decision.inputs, ensure_ascii=False)
    return render(request, "payments/screenings.html", {"profile": profile, "page": page})

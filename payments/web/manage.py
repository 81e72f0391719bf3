"""Institution pages that end or change what was filed: withdraw a licence, switch off a
corridor, close a reserve account, edit a webhook endpoint and rotate its secret. Owners
and admins only (the services check; other members are told so)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST

from core.errors import DomainError, NotFound
from core.web import add_domain_error, confirmation_page
from payments import services
from payments.models import Corridor, Licence, ReserveAccount, WebhookEndpoint
from payments.selectors import institutions_managed_by, webhook_endpoints_for
from payments.services import filings
from payments.web.institution import _profile_for_member


class EndReasonForm(forms.Form):
    reason = forms.CharField(required=False, max_length=2000, help_text="Recorded in the audit log.")


class CloseAccountForm(EndReasonForm):
    closed_on = forms.DateField(required=False, help_text="YYYY-MM-DD; today if left empty")


class WebhookEditForm(forms.Form):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=WebhookEndpoint.EventType.choices, widget=forms.CheckboxSelectMultiple
    )
    description = forms.CharField(required=False, max_length=200)
    enabled = forms.BooleanField(required=False)


def _manager_profile(request, institution_id: int):
    profile = _profile_for_member(request, institution_id)
    if not institutions_managed_by(user=request.user).filter(pk=profile.pk).exists():
        messages.error(request, "Only the institution's owners and administrators may change it.")
        return profile, False
    return profile, True


def _end(request, institution_id: int, *, form_class, obj, title: str, action, success, anchor: str, ended=None):
    """GET: a confirmation form (reason, and a date for accounts). POST: the service; errors
    are shown beside their field. `ended`: a message when the filing has already ended."""
    profile, allowed = _manager_profile(request, institution_id)
    back = reverse("institution-detail", args=[profile.pk]) + anchor
    if not allowed:
        return redirect(back)
    if obj is None:
        raise Http404("Not on file.")
    if ended:  # nothing left to confirm: say so rather than offer the form again
        messages.info(request, ended)
        return redirect(back)
    return confirmation_page(
        request,
        title=title,
        form=form_class(request.POST if request.method == "POST" else None),
        action=lambda data: action(profile, data),
        success=success,
        back=back,
        back_label=profile.subject.legal_name,
        explanation=(
            "The record stays on file for history and the audit log keeps who did it and why. "
            "A compliance check runs afterwards."
        ),
    )


@login_required
def withdraw_licence(request, institution_id: int, licence_id: int):
    licence = Licence.objects.filter(pk=licence_id, institution_id=institution_id).first()
    return _end(
        request,
        institution_id,
        form_class=EndReasonForm,
        obj=licence,
        title=f"Withdraw licence {licence.number}" if licence else "",
        action=lambda p, d: filings.withdraw_licence(
            actor=request.user, institution_id=p.pk, licence_id=licence_id, reason=d["reason"]
        ),
        success="Licence withdrawn (kept for history); a compliance check has been requested.",
        anchor="#licences",
        ended=f"Licence {licence.number} was already withdrawn on {licence.withdrawn_at:%Y-%m-%d}."
        if licence and licence.withdrawn_at
        else None,
    )


@login_required
def withdraw_corridor(request, institution_id: int, corridor_id: int):
    corridor = Corridor.objects.filter(pk=corridor_id, institution_id=institution_id).first()
    return _end(
        request,
        institution_id,
        form_class=EndReasonForm,
        obj=corridor,
        title=f"Switch off corridor {corridor}" if corridor else "",
        action=lambda p, d: filings.withdraw_corridor(
            actor=request.user, institution_id=p.pk, corridor_id=corridor_id, reason=d["reason"]
        ),
        success="Corridor switched off; request it again to have it checked anew.",
        anchor="#corridors",
        ended=f"Corridor {corridor} was already switched off on {corridor.withdrawn_at:%Y-%m-%d}."
        if corridor and corridor.withdrawn_at
        else None,
    )


@login_required
def close_account(request, institution_id: int, account_id: int):
    account = ReserveAccount.objects.filter(pk=account_id, institution_id=institution_id).first()
    return _end(
        request,
        institution_id,
        form_class=CloseAccountForm,
        obj=account,
        title=f"Close reserve account {account}" if account else "",
        action=lambda p, d: filings.close_reserve_account(
            actor=request.user, institution_id=p.pk, account_id=account_id, closed_on=d["closed_on"], reason=d["reason"]
        ),
        success=lambda result: (
            (
                "Reserve account removed (no report named it)."
                if result is None
                else "Reserve account closed (kept: reports name it)."
            )
            + " A compliance check has been requested."
        ),
        anchor="#reserves",
        ended=f"Reserve account {account} was already closed on {account.closed_on:%Y-%m-%d}."
        if account and account.closed_on
        else None,
    )


def _endpoint_or_404(profile, endpoint_id: int) -> WebhookEndpoint:
    endpoint = webhook_endpoints_for(institution_id=profile.pk).filter(pk=endpoint_id).first()
    if endpoint is None or endpoint.is_removed:  # a removed endpoint stays listed for its log only
        raise Http404("No such webhook endpoint.")
    return endpoint


@login_required
def edit_webhook(request, institution_id: int, endpoint_id: int):
    profile, allowed = _manager_profile(request, institution_id)
    if not allowed:
        return redirect(reverse("institution-detail", args=[profile.pk]) + "#webhooks")
    endpoint = _endpoint_or_404(profile, endpoint_id)
    initial = {
        "url": endpoint.url,
        "event_types": endpoint.event_types,
        "description": endpoint.description,
        "enabled": endpoint.enabled,
    }
    form = WebhookEditForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_webhook_endpoint(
                actor=request.user, institution_id=profile.pk, endpoint_id=endpoint.pk, **form.cleaned_data
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Webhook endpoint saved.")
            return redirect(reverse("institution-detail", args=[profile.pk]) + "#webhooks")
    return render(
        request,
        "payments/webhook_edit.html",
        {"profile": profile, "endpoint": endpoint, "form": form, "rotated": None},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def rotate_webhook_secret(request, institution_id: int, endpoint_id: int):
    profile, allowed = _manager_profile(request, institution_id)
    if not allowed:
        return redirect(reverse("institution-detail", args=[profile.pk]) + "#webhooks")
    endpoint = _endpoint_or_404(profile, endpoint_id)
    try:
        endpoint, _secret = services.rotate_webhook_secret(
            actor=request.user, institution_id=profile.pk, endpoint_id=endpoint.pk
        )
    except NotFound:
        raise Http404("This endpoint was removed.") from None
    # Rendered, not redirected: the new secret is shown once, in this response.
    return secret_page(request, endpoint, created=False)


def secret_page(request, endpoint: WebhookEndpoint, *, created: bool):
    """The endpoint's edit page showing its (new) signing secret: the only time it is shown."""
    form = WebhookEditForm(
        initial={
            "url": endpoint.url,
            "event_types": endpoint.event_types,
            "description": endpoint.description,
            "enabled": endpoint.enabled,
        }
    )
    response = render(
        request,
        "payments/webhook_edit.html",
        {
            "profile": endpoint.institution,
            "endpoint": endpoint,
            "form": form,
            "rotated": {"secret": endpoint.secret, "created": created},
        },
    )
    add_never_cache_headers(response)  # the secret must not stay in a browser or proxy cache
    return response

"""Institution pages that end or change what was filed: withdraw a licence, switch off a
corridor, close a reserve account, edit a webhook endpoint and rotate its secret. Owners
and admins only (the services check; other members are told so)."""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST

from core.errors import NotFound
from core.web import confirmation_page, submit
from payments import services
from payments.models import Corridor, Licence, ReserveAccount, WebhookEndpoint
from payments.selectors import institutions_managed_by, webhook_endpoints_for
from payments.services import filings
from payments.web.institution import profile_for_member


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
    profile = profile_for_member(request, institution_id)
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


@dataclass(frozen=True)
class Ending:
    """How one kind of filing ends: its confirmation page, the service and what is said."""

    model: type
    form_class: type
    title: str  # "{obj}" is the filing
    ended_field: str  # set once the filing has ended
    ended: str  # "{obj}" and "{on}" (the day it ended)
    anchor: str
    service: Callable  # service(actor=, institution_id=, pk=, **form data) -> the filing, or None


def _ending_page(request, institution_id: int, pk: int, ending: Ending, success):
    obj = ending.model.objects.filter(pk=pk, institution_id=institution_id).first()
    on = getattr(obj, ending.ended_field, None) if obj is not None else None
    return _end(
        request,
        institution_id,
        form_class=ending.form_class,
        obj=obj,
        title=ending.title.format(obj=obj) if obj else "",
        action=lambda profile, data: ending.service(actor=request.user, institution_id=profile.pk, pk=pk, **data),
        success=success,
        anchor=ending.anchor,
        ended=ending.ended.format(obj=obj, on=on) if on else None,
    )


LICENCE = Ending(
    model=Licence,
    form_class=EndReasonForm,
    title="Withdraw licence {obj.number}",
    ended_field="withdrawn_at",
    ended="Licence {obj.number} was already withdrawn on {on:%Y-%m-%d}.",
    anchor="#licences",
    service=lambda pk, **kwargs: filings.withdraw_licence(licence_id=pk, **kwargs),
)
CORRIDOR = Ending(
    model=Corridor,
    form_class=EndReasonForm,
    title="Switch off corridor {obj}",
    ended_field="withdrawn_at",
    ended="Corridor {obj} was already switched off on {on:%Y-%m-%d}.",
    anchor="#corridors",
    service=lambda pk, **kwargs: filings.withdraw_corridor(corridor_id=pk, **kwargs),
)
RESERVE_ACCOUNT = Ending(
    model=ReserveAccount,
    form_class=CloseAccountForm,
    title="Close reserve account {obj}",
    ended_field="closed_on",
    ended="Reserve account {obj} was already closed on {on:%Y-%m-%d}.",
    anchor="#reserves",
    service=lambda pk, **kwargs: filings.close_reserve_account(account_id=pk, **kwargs),
)


@login_required
def withdraw_licence(request, institution_id: int, licence_id: int):
    success = "Licence withdrawn (kept for history); a compliance check has been requested."
    return _ending_page(request, institution_id, licence_id, LICENCE, success)


@login_required
def withdraw_corridor(request, institution_id: int, corridor_id: int):
    success = "Corridor switched off; request it again to have it checked anew."
    return _ending_page(request, institution_id, corridor_id, CORRIDOR, success)


@login_required
def close_account(request, institution_id: int, account_id: int):
    def success(result) -> str:
        if result is None:
            return "Reserve account removed (no report named it). A compliance check has been requested."
        return "Reserve account closed (kept: reports name it). A compliance check has been requested."

    return _ending_page(request, institution_id, account_id, RESERVE_ACCOUNT, success)


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
    saved = submit(
        request,
        form,
        lambda data: services.update_webhook_endpoint(
            actor=request.user, institution_id=profile.pk, endpoint_id=endpoint.pk, **data
        ),
        success="Webhook endpoint saved.",
        redirect_to=reverse("institution-detail", args=[profile.pk]) + "#webhooks",
    )
    if saved is not None:
        return saved
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

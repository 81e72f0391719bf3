from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST

from core.errors import DomainError, NotFound
from core.web import add_domain_error
from payments import services
from payments.selectors import api_keys_visible_to, institutions_managed_by
from payments.web.forms import IssueKeyForm


@login_required
def api_keys(request):
    institutions = institutions_managed_by(user=request.user)
    form = IssueKeyForm(request.POST or None, institutions=institutions)
    issued = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            key, secret = services.issue_api_key(
                actor=request.user,
                institution_id=data["institution"].pk,
                name=data["name"],
                scopes=data["scopes"],
                expires_at=data["expires_at"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            # Rendered, not redirected: the secret exists only in this response.
            issued = {"key": key, "secret": secret}
            form = IssueKeyForm(institutions=institutions)
    response = render(
        request,
        "payments/api_keys.html",
        {"form": form, "keys": api_keys_visible_to(user=request.user), "issued": issued, "institutions": institutions},
        status=400 if form.errors else 200,
    )
    if issued:
        add_never_cache_headers(response)  # the secret must not stay in a browser or proxy cache
    return response


@login_required
@require_POST
def revoke_api_key(request, prefix: str):
    try:
        key = services.revoke_api_key(actor=request.user, prefix=prefix, reason=request.POST.get("reason", ""))
    except NotFound:
        # Someone else's key, or none: nothing here for this user.
        raise Http404("No such API key.") from None
    messages.success(request, f"Key {key.prefix} revoked. It no longer authenticates.")
    return redirect("api-keys")

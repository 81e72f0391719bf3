from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.web import add_domain_error
from credit.selectors.accounts import active_memberships, pending_memberships_for_owner
from credit.services import accounts as services
from credit.web.forms import SignUpForm


def home(request):
    return render(request, "home.html")


def signup(request):
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.sign_up(**form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            login(request, result.user, backend="django.contrib.auth.backends.ModelBackend")
            if result.created_subject:
                messages.success(request, f"Welcome. You act for {result.membership.subject.legal_name}.")
            else:
                messages.info(
                    request, "That enterprise is already registered: its owners must approve your request to join."
                )
            return redirect("account")
    return render(request, "credit/signup.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def account(request):
    return render(
        request,
        "credit/account.html",
        {
            "memberships": active_memberships(user=request.user),
            "pending": pending_memberships_for_owner(user=request.user),
        },
    )


@login_required
@require_POST
def approve_membership(request, membership_id: int):
    try:
        membership = services.approve_membership(actor=request.user, membership_id=membership_id)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{membership.user.username} now acts for {membership.subject.legal_name}.")
    return redirect("account")

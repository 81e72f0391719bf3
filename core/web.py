"""Web helpers every app's pages share: a service's domain error shown beside the fields
it names, the write step of a form page, and the confirmation step of an irreversible
action (every POST redirects; a form with errors answers 400)."""

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render

from core.errors import DomainError, NotFound


def add_domain_error(form, exc: DomainError) -> None:
    """Show a service's error beside the fields it names, or at the top of the form."""
    if not exc.field_errors:
        form.add_error(None, exc.message)
    for field, messages_ in exc.field_errors.items():
        for message in messages_ if isinstance(messages_, list) else [messages_]:
            form.add_error(field if field in form.fields else None, message)


def visible_or_404(selector: Callable[..., object], **kwargs):
    """What a visibility selector returns for `kwargs`; its NotFound (no such object, or not
    one this user may see) is the page's 404."""
    try:
        return selector(**kwargs)
    except NotFound:
        raise Http404 from None


def form_status(form) -> int:
    """400 when the form is shown again with errors, else 200."""
    return 400 if form.errors else 200


def submit(request, form, action: Callable[[dict], object], *, success, redirect_to):
    """The write step of a form page. On a POST whose form is valid, run
    `action(form.cleaned_data)`: a domain error goes beside the fields it names and None is
    returned (render the form again, with `form_status`); otherwise the success message
    (a string, or a callable of the action's result) is shown and the redirect returned.
    `redirect_to` is a URL, a URL name or a callable of the result."""
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        result = action(form.cleaned_data)
    except DomainError as exc:
        add_domain_error(form, exc)
        return None
    messages.success(request, success(result) if callable(success) else success)
    return redirect(redirect_to(result) if callable(redirect_to) else redirect_to)


class ConfirmForm(forms.Form):
    """An irreversible action that needs nothing more than the confirmation itself."""


def confirmation_page(
    request,
    *,
    title: str,
    action: Callable[[dict], object],
    success,
    back: str,
    back_label: str = "Back",
    form=None,
    explanation: str = "",
    confirm_label: str = "Confirm",
    status_for_get: int = 200,
):
    """The confirmation step of an irreversible action: GET shows what will happen
    (`explanation`) with the form (a reason, a date; nothing by default) and one button;
    POST runs `action(cleaned_data)` and redirects to `back`, or shows the form again with
    the service's errors beside their fields (400). Rendered by confirm.html."""
    if form is None:
        form = ConfirmForm(request.POST if request.method == "POST" else None)
    done = submit(request, form, action, success=success, redirect_to=back)
    if done is not None:
        return done
    context = {
        "form": form,
        "title": title,
        "back": back,
        "back_label": back_label,
        "explanation": explanation,
        "confirm_label": confirm_label,
    }
    return render(request, "confirm.html", context, status=form_status(form) if form.is_bound else status_for_get)

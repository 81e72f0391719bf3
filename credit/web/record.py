"""A subject's own record (/account/record/), for the people acting for it: every credit
event (with private evidence references), every blacklist entry with its appeals and
repair applications and their deadlines, what would raise the grade, and the forms to
file an appeal or apply for repair. Other users get 404; anonymous visitors sign in."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from core.errors import DomainError, NotFound
from core.web import submit
from credit.models import Appeal
from credit.selectors import blacklist as selectors
from credit.selectors.accounts import active_memberships, is_member
from credit.services import blacklist as services


class AppealForm(forms.Form):
    challenge = forms.ChoiceField(choices=Appeal.Challenge.choices, widget=forms.RadioSelect)
    grounds = forms.CharField(
        widget=forms.Textarea,
        max_length=8000,
        help_text="Why the entry, its period or the repair result is wrong. Cite your evidence.",
    )


class RepairForm(forms.Form):
    correction_evidence = forms.CharField(
        widget=forms.Textarea, max_length=8000, help_text="How the misconduct has been corrected, with references."
    )
    commitment = forms.CharField(
        widget=forms.Textarea, max_length=8000, help_text="Your credit commitment: what you undertake from now on."
    )
    confirm = forms.BooleanField(label="I confirm the correction is complete and file this commitment.")


def _record_or_404(request, subject_id: int):
    """Only the people acting for the subject (regulators use the console)."""
    if not is_member(user=request.user, subject_id=subject_id):
        raise Http404("No such subject.")
    try:
        return selectors.subject_record(user=request.user, subject_id=subject_id)
    except NotFound:
        raise Http404("No such subject.") from None


def _own_entry_or_404(request, entry_id: int):
    entry = (
        selectors.entries_visible_to(user=request.user)
        .filter(pk=entry_id, subject_id__in=active_memberships(user=request.user).values("subject_id"))
        .prefetch_related("repairs", "appeals")
        .first()
    )
    if entry is None:
        raise Http404("No such blacklist entry.")
    return entry


def _guidance(subject_id: int):
    try:
        from credit.selectors.ratings import grade_guidance
    except ImportError:
        return None
    try:
        return grade_guidance(subject_id=subject_id)
    except DomainError:
        return None


@login_required
def record_index(request):
    memberships = list(active_memberships(user=request.user))
    if len(memberships) == 1:
        return redirect("record", subject_id=memberships[0].subject_id)
    return render(request, "credit/record/index.html", {"memberships": memberships})


@login_required
def record(request, subject_id: int):
    data = _record_or_404(request, subject_id)
    return render(
        request,
        "credit/record/record.html",
        {"record": data, "subject": data.subject, "guidance": _guidance(data.subject.pk)},
    )


def _filing(request, entry, form, *, file, kind: str, done, **context):
    """A member files an appeal or a repair application (`file`, a service) about `entry`;
    `done(item)` is the message once filed."""
    filed = submit(
        request,
        form,
        lambda data: file(actor=request.user, entry_id=entry.pk, **{k: v for k, v in data.items() if k != "confirm"}),
        success=done,
        redirect_to=reverse("record", args=[entry.subject_id]),
    )
    if filed is not None:
        return filed
    return render(
        request,
        f"credit/record/{kind}_form.html",
        {"entry": entry, "form": form, **context},
        status=400 if form.errors else 200,
    )


@login_required
def file_appeal(request, entry_id: int):
    entry = _own_entry_or_404(request, entry_id)
    form = AppealForm(request.POST or None, initial={"challenge": request.GET.get("challenge", "content")})
    return _filing(
        request,
        entry,
        form,
        file=services.file_appeal,
        kind="appeal",
        done=lambda appeal: f"Appeal filed. The regulator replies by {appeal.reply_due_on:%d %b %Y} (working days).",
    )


@login_required
def apply_for_repair(request, entry_id: int):
    entry = _own_entry_or_404(request, entry_id)
    return _filing(
        request,
        entry,
        RepairForm(request.POST or None),
        file=services.apply_for_repair,
        kind="repair",
        done=lambda repair: f"Repair application filed. The platform replies by {repair.reply_due_on:%d %b %Y}.",
        eligibility=selectors.repair_eligibility(entry=entry),
    )

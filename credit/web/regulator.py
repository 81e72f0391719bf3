"""The regulator console (/regulator/): the blacklist, the appeal and repair queues with
their deadlines, credit events, recompute runs and the audit log.

Only regulators get in: anonymous visitors are sent to sign in, everyone else gets 404.
Every write goes through a service; a service's error is shown beside the field it names.
"""

from functools import wraps

from core.models import AuditEntry
from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from config import csv_export
from credit import errors
from credit.countries import country_choices
from credit.models import BlacklistEntry, CreditEvent, EventKind, RecomputeRun, Severity
from credit.roles import is_regulator
from credit.selectors import blacklist as selectors
from credit.selectors.accounts import find_subject_by_registration, get_subject
from credit.services import blacklist as services
from credit.web.views.accounts import add_domain_error

PAGE_SIZE = 25


def regulator_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_regulator(request.user):
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapper


def _page(request, items, size=PAGE_SIZE):
    page = Paginator(items, size).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


def _status(form) -> int:
    return 400 if form.errors else 200


# --- Forms -------------------------------------------------------------------------------------


class SubjectLookupMixin(forms.Form):
    """A subject by id, or by country + registration number."""

    subject_id = forms.IntegerField(required=False, label="Subject id")
    country = forms.ChoiceField(choices=[("", "—")] + country_choices(), required=False)
    registration_number = forms.CharField(max_length=40, required=False)

    def clean(self):
        cleaned = super().clean()
        subject_id = cleaned.get("subject_id")
        country = cleaned.get("country")
        number = (cleaned.get("registration_number") or "").strip()
        subject = None
        if subject_id:
            try:
                subject = get_subject(subject_id=subject_id)
            except errors.SubjectNotFound:
                self.add_error("subject_id", f"No subject with id {subject_id}.")
        elif country and number:
            subject = find_subject_by_registration(country=country, registration_number=number)
            if subject is None:
                self.add_error("registration_number", f"No subject registered in {country} under {number}.")
        else:
            self.add_error("subject_id", "Give the subject id, or its country and registration number.")
        cleaned["subject"] = subject
        return cleaned


class EntryForm(SubjectLookupMixin):
    category = forms.ChoiceField(choices=BlacklistEntry.Category.choices)
    severity = forms.ChoiceField(
        choices=Severity.choices,
        help_text="Minor: published up to 3 months. General: up to 1 year, repair after 3 months. "
        "Serious: up to 3 years, repair after 1 year.",
    )
    legal_basis = forms.CharField(max_length=500)
    decision_reference = forms.CharField(max_length=120, help_text="The regulator's decision number")
    description = forms.CharField(widget=forms.Textarea, max_length=4000)
    starts_on = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Default today"
    )
    publication_ends_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Exclusive. Leave empty for the severity's maximum period.",
    )
    fine_amount = forms.DecimalField(required=False, max_digits=16, decimal_places=2, min_value=0)
    fine_currency = forms.CharField(required=False, max_length=3, help_text="ISO 4217, e.g. CNY")
    fine_paid = forms.BooleanField(required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)


class ReplyForm(forms.Form):
    reply = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=8000)


class AppealDecisionForm(forms.Form):
    outcome = forms.ChoiceField(choices=[("uphold", "Uphold"), ("dismiss", "Dismiss")], widget=forms.RadioSelect)
    reasons = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=8000)
    new_publication_ends_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Period challenges only: the new (exclusive) end of publication when upholding.",
    )


class RepairDecisionForm(forms.Form):
    outcome = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")], widget=forms.RadioSelect)
    reasons = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=8000)


class EventForm(SubjectLookupMixin):
    kind = forms.ModelChoiceField(queryset=EventKind.objects.none())
    occurred_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    magnitude = forms.DecimalField(max_digits=8, decimal_places=2, min_value=0, initial=1)
    evidence_reference = forms.CharField(max_length=300, required=False, help_text="Private to the subject")
    source_reference = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].queryset = EventKind.objects.order_by("component", "code")


# --- Dashboard -----------------------------------------------------------------------------------


@regulator_required
def dashboard(request):
    return render(
        request,
        "credit/regulator/dashboard.html",
        {
            "counts": selectors.dashboard_counts(),
            "appeals": selectors.appeal_queue()[:5],
            "repairs": selectors.repair_queue()[:5],
            "recent": selectors.audit_log()[:10],
        },
    )


# --- Blacklist -------------------------------------------------------------------------------------

CSV_COLUMNS = [
    "id",
    "country",
    "registration_number",
    "legal_name",
    "category",
    "severity",
    "legal_basis",
    "decision_reference",
    "starts_on",
    "publication_ends_on",
    "fine_amount",
    "fine_currency",
    "fine_paid",
    "status",
    "status_reason",
    "decided_by",
]


@regulator_required
def entry_list(request):
    filters = {
        "status": request.GET.get("status") or None,
        "severity": request.GET.get("severity") or None,
        "category": request.GET.get("category") or None,
        "country": (request.GET.get("country") or "").strip() or None,
        "q": (request.GET.get("q") or "").strip() or None,
    }
    entries = selectors.entries_for_regulator(**filters)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="blacklist-{timezone.localdate().isoformat()}.csv"'
        writer = csv_export.writer(response)
        writer.writerow(CSV_COLUMNS)
        for e in entries.iterator(chunk_size=500):
            writer.writerow(
                [
                    e.pk,
                    e.subject.country,
                    e.subject.registration_number,
                    e.subject.legal_name,
                    e.category,
                    e.severity,
                    e.legal_basis,
                    e.decision_reference,
                    e.starts_on.isoformat(),
                    e.publication_ends_on.isoformat(),
                    e.fine_amount if e.fine_amount is not None else "",
                    e.fine_currency,
                    "yes" if e.fine_paid else "no",
                    e.status,
                    e.status_reason,
                    e.decided_by.username,
                ]
            )
        return response
    page, query = _page(request, entries)
    csv_query = request.GET.copy()
    csv_query.pop("page", None)
    csv_query["format"] = "csv"
    return render(
        request,
        "credit/regulator/entry_list.html",
        {
            "page": page,
            "query": query,
            "csv_query": csv_query.urlencode(),
            "filters": filters,
            "statuses": BlacklistEntry.Status.choices,
            "severities": Severity.choices,
            "categories": BlacklistEntry.Category.choices,
        },
    )


@regulator_required
def entry_create(request):
    initial = {}
    if request.GET.get("subject_id"):
        initial["subject_id"] = request.GET["subject_id"]
    form = EntryForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            entry = services.blacklist_subject(
                actor=request.user,
                subject_id=data["subject"].pk,
                category=data["category"],
                legal_basis=data["legal_basis"],
                decision_reference=data["decision_reference"],
                description=data["description"],
                severity=data["severity"],
                starts_on=data["starts_on"],
                publication_ends_on=data["publication_ends_on"],
                fine_amount=data["fine_amount"],
                fine_currency=data["fine_currency"],
                fine_paid=data["fine_paid"],
            )
        except errors.DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(
                request,
                f"{entry.subject.legal_name} is blacklisted under {entry.decision_reference} until "
                f"{entry.publication_ends_on.isoformat()} (exclusive).",
            )
            return redirect("regulator-entry", entry_id=entry.pk)
    return render(request, "credit/regulator/entry_form.html", {"form": form}, status=_status(form))


@regulator_required
def entry_detail(request, entry_id: int, lift_form=None):
    entry = _entry_or_404(entry_id)
    return render(
        request,
        "credit/regulator/entry_detail.html",
        {
            "entry": entry,
            "lift_form": lift_form or ReasonForm(),
            "appeals": selectors.appeals_visible_to(user=request.user).filter(entry=entry).order_by("-filed_at"),
            "repairs": selectors.repairs_visible_to(user=request.user).filter(entry=entry).order_by("-filed_at"),
            "earliest_repair_on": services.earliest_repair_date(entry=entry),
            "history": selectors.audit_log(target_type="credit.blacklistentry").filter(target_id=str(entry.pk)),
        },
        status=400 if lift_form is not None and lift_form.errors else 200,
    )


def _entry_or_404(entry_id):
    entry = selectors.entries_for_regulator().filter(pk=entry_id).first()
    if entry is None:
        raise Http404("No such blacklist entry.")
    return entry


@regulator_required
@require_POST
def entry_lift(request, entry_id: int):
    form = ReasonForm(request.POST)
    if form.is_valid():
        try:
            entry = services.lift_blacklist_entry(
                actor=request.user, entry_id=entry_id, reason=form.cleaned_data["reason"]
            )
        except errors.NotFound:
            raise Http404("No such blacklist entry.") from None
        except errors.DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Entry {entry.decision_reference} lifted.")
            return redirect("regulator-entry", entry_id=entry.pk)
    return entry_detail.__wrapped__(request, entry_id, lift_form=form)


@regulator_required
@require_POST
def entry_fine_paid(request, entry_id: int):
    try:
        services.set_fine_paid(actor=request.user, entry_id=entry_id, paid=request.POST.get("paid") == "1")
    except errors.NotFound:
        raise Http404("No such blacklist entry.") from None
    except errors.DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Fine status updated.")
    return redirect("regulator-entry", entry_id=entry_id)


# --- Appeal and repair queues ------------------------------------------------------------------------


def _queue(request, *, kind: str):
    include_decided = request.GET.get("show") == "all"
    overdue_only = request.GET.get("overdue") == "1"
    loader = selectors.appeal_queue if kind == "appeal" else selectors.repair_queue
    items = loader(include_decided=include_decided, overdue_only=overdue_only)
    page, query = _page(request, items)
    return render(
        request,
        f"credit/regulator/{kind}_queue.html",
        {"page": page, "query": query, "include_decided": include_decided, "overdue_only": overdue_only},
    )


@regulator_required
def appeal_queue(request):
    return _queue(request, kind="appeal")


@regulator_required
def repair_queue(request):
    return _queue(request, kind="repair")


@regulator_required
def appeal_detail(request, appeal_id: int):
    try:
        appeal = selectors.get_appeal(appeal_id=appeal_id)
    except errors.NotFound:
        raise Http404("No such appeal.") from None
    reply_form = ReplyForm(request.POST if request.POST.get("step") == "reply" else None)
    decision_form = AppealDecisionForm(request.POST if request.POST.get("step") == "decide" else None)
    if request.method == "POST":
        try:
            if request.POST.get("step") == "reply" and reply_form.is_valid():
                services.reply_to_appeal(actor=request.user, appeal_id=appeal.pk, **reply_form.cleaned_data)
                messages.success(request, "Reply sent; the decision is now due.")
                return redirect("regulator-appeal", appeal_id=appeal.pk)
            if request.POST.get("step") == "decide" and decision_form.is_valid():
                data = decision_form.cleaned_data
                services.decide_appeal(
                    actor=request.user,
                    appeal_id=appeal.pk,
                    uphold=data["outcome"] == "uphold",
                    reasons=data["reasons"],
                    new_publication_ends_on=data["new_publication_ends_on"],
                )
                messages.success(request, "Appeal decided.")
                return redirect("regulator-appeal", appeal_id=appeal.pk)
        except errors.DomainError as exc:
            add_domain_error(reply_form if request.POST.get("step") == "reply" else decision_form, exc)
    failed = reply_form.errors or decision_form.errors
    return render(
        request,
        "credit/regulator/appeal_detail.html",
        {
            "appeal": appeal,
            "entry": appeal.entry,
            "reply_form": reply_form,
            "decision_form": decision_form,
            "history": selectors.audit_log(target_type="credit.appeal").filter(target_id=str(appeal.pk)),
        },
        status=400 if failed else 200,
    )


@regulator_required
def repair_detail(request, repair_id: int):
    try:
        repair = selectors.get_repair(repair_id=repair_id)
    except errors.NotFound:
        raise Http404("No such repair application.") from None
    reply_form = ReplyForm(request.POST if request.POST.get("step") == "reply" else None)
    decision_form = RepairDecisionForm(request.POST if request.POST.get("step") == "decide" else None)
    if request.method == "POST":
        try:
            if request.POST.get("step") == "reply" and reply_form.is_valid():
                services.reply_to_repair(actor=request.user, repair_id=repair.pk, **reply_form.cleaned_data)
                messages.success(request, "Reply sent; the decision is now due.")
                return redirect("regulator-repair", repair_id=repair.pk)
            if request.POST.get("step") == "decide" and decision_form.is_valid():
                data = decision_form.cleaned_data
                services.decide_repair(
                    actor=request.user,
                    repair_id=repair.pk,
                    approve=data["outcome"] == "approve",
                    reasons=data["reasons"],
                )
                messages.success(request, "Repair application decided.")
                return redirect("regulator-repair", repair_id=repair.pk)
        except errors.DomainError as exc:
            add_domain_error(reply_form if request.POST.get("step") == "reply" else decision_form, exc)
    failed = reply_form.errors or decision_form.errors
    return render(
        request,
        "credit/regulator/repair_detail.html",
        {
            "repair": repair,
            "entry": repair.entry,
            "reply_form": reply_form,
            "decision_form": decision_form,
            "earliest_repair_on": services.earliest_repair_date(entry=repair.entry),
            "history": selectors.audit_log(target_type="credit.repairapplication").filter(target_id=str(repair.pk)),
        },
        status=400 if failed else 200,
    )


# --- Credit events -----------------------------------------------------------------------------------


@regulator_required
def event_create(request):
    form = EventForm(request.POST or None, initial={"occurred_at": timezone.now().strftime("%Y-%m-%dT%H:%M")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            from credit.services.events import record_credit_event

            event = record_credit_event(
                actor=request.user,
                subject_id=data["subject"].pk,
                kind=data["kind"].code,
                source=CreditEvent.Source.REGULATOR,
                occurred_at=data["occurred_at"],
                magnitude=data["magnitude"],
                evidence_reference=data["evidence_reference"],
                source_reference=data["source_reference"],
            )
        except errors.DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(
                request, f"Recorded {event.kind.name} for {data['subject'].legal_name}; the grade will be recomputed."
            )
            return redirect(reverse("regulator-event-new"))
    recent = CreditEvent.objects.filter(source=CreditEvent.Source.REGULATOR).select_related("subject", "kind")[:10]
    return render(request, "credit/regulator/event_form.html", {"form": form, "recent": recent}, status=_status(form))


# --- Recompute runs ------------------------------------------------------------------------------------


def _percent(run: RecomputeRun) -> int:
    if run.total_chunks:
        return int(100 * run.done_chunks / run.total_chunks)
    return 100 if run.status == RecomputeRun.Status.COMPLETED else 0


@regulator_required
def recompute_runs(request):
    runs = RecomputeRun.objects.select_related("model", "started_by").order_by("-started_at", "-id")
    page, query = _page(request, runs, size=20)
    for run in page:
        run.percent = _percent(run)
    return render(request, "credit/regulator/recompute.html", {"page": page, "query": query})


@regulator_required
def recompute_progress(request, run_id: int):
    run = RecomputeRun.objects.filter(pk=run_id).select_related("model").first()
    if run is None:
        raise Http404("No such run.")
    run.percent = _percent(run)
    return render(request, "credit/regulator/_run_progress.html", {"run": run})


@regulator_required
@require_POST
def recompute_start(request):
    try:
        from credit.services import ratings

        ratings.start_full_recompute(actor=request.user)
    except errors.DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "A full recompute has started.")
    return redirect("regulator-recompute")


# --- Audit log ----------------------------------------------------------------------------------------


class AuditFilterForm(forms.Form):
    action = forms.CharField(required=False, help_text="e.g. blacklist. or appeal.upheld")
    actor = forms.CharField(required=False)
    subject_id = forms.IntegerField(required=False)
    target_type = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any"),
            ("credit.blacklistentry", "Blacklist entry"),
            ("credit.appeal", "Appeal"),
            ("credit.repairapplication", "Repair application"),
            ("credit.creditevent", "Credit event"),
            ("credit.subject", "Subject"),
        ],
    )
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


@regulator_required
def audit(request):
    form = AuditFilterForm(request.GET or None)
    rows = AuditEntry.objects.none()
    if not request.GET or form.is_valid():
        data = form.cleaned_data if request.GET else {}
        rows = selectors.audit_log(**{k: v for k, v in data.items() if v not in (None, "")})
    page, query = _page(request, rows, size=50)
    return render(request, "credit/regulator/audit.html", {"form": form, "page": page, "query": query})

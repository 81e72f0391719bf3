"""The regulator console (/regulator/): the blacklist, the appeal and repair queues with
their deadlines, credit events, recompute runs and the audit log.

Only regulators get in: anonymous visitors are sent to sign in, everyone else gets 404.
Every write goes through a service; a service's error is shown beside the field it names.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core import csv as csv_export
from core.errors import DomainError, NotFound
from core.models import AuditEntry
from core.roles import is_regulator
from core.web import add_domain_error, form_status, submit
from credit.models import BlacklistEntry, CreditEvent, RecomputeRun, Severity
from credit.selectors import blacklist as selectors
from credit.services import blacklist as services
from credit.web.regulator_forms import (
    AppealDecisionForm,
    AuditFilterForm,
    EntryForm,
    EventForm,
    ReasonForm,
    RepairDecisionForm,
    ReplyForm,
)

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
    done = submit(
        request,
        form,
        lambda data: services.blacklist_subject(actor=request.user, subject_id=data["subject"].pk, **form.own_data()),
        success=lambda entry: (
            f"{entry.subject.legal_name} is blacklisted under {entry.decision_reference} until "
            f"{entry.publication_ends_on.isoformat()} (exclusive)."
        ),
        redirect_to=lambda entry: reverse("regulator-entry", kwargs={"entry_id": entry.pk}),
    )
    if done is not None:
        return done
    return render(request, "credit/regulator/entry_form.html", {"form": form}, status=form_status(form))


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
        except NotFound:
            raise Http404("No such blacklist entry.") from None
        except DomainError as exc:
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
    except NotFound:
        raise Http404("No such blacklist entry.") from None
    except DomainError as exc:
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


def _review_detail(request, item, *, workflow, decision_form_class, decided: str, **context):
    """An appeal or repair application (`workflow`) with its reply and decision forms."""
    step = request.POST.get("step")
    reply_form = ReplyForm(request.POST if step == "reply" else None)
    decision_form = decision_form_class(request.POST if step == "decide" else None)

    def reply(data):
        return workflow.reply(actor=request.user, pk=item.pk, **data)

    def decide(data):
        data = dict(data)
        outcome, reasons = data.pop("outcome"), data.pop("reasons")
        return workflow.decide(actor=request.user, pk=item.pk, grant=outcome == workflow.grant, reasons=reasons, **data)

    if step == "reply":
        done = submit(
            request, reply_form, reply, success="Reply sent; the decision is now due.", redirect_to=request.path
        )
    else:
        done = submit(request, decision_form, decide, success=decided, redirect_to=request.path)
    if done is not None:
        return done
    failed = reply_form.errors or decision_form.errors
    return render(
        request,
        f"credit/regulator/{workflow.kind}_detail.html",
        {
            workflow.kind: item,
            "entry": item.entry,
            "reply_form": reply_form,
            "decision_form": decision_form,
            "history": selectors.audit_log(target_type=item._meta.label_lower).filter(target_id=str(item.pk)),
            **context,
        },
        status=400 if failed else 200,
    )


@regulator_required
def appeal_detail(request, appeal_id: int):
    try:
        appeal = selectors.get_appeal(appeal_id=appeal_id)
    except NotFound:
        raise Http404("No such appeal.") from None
    return _review_detail(
        request, appeal, workflow=services.APPEALS, decision_form_class=AppealDecisionForm, decided="Appeal decided."
    )


@regulator_required
def repair_detail(request, repair_id: int):
    try:
        repair = selectors.get_repair(repair_id=repair_id)
    except NotFound:
        raise Http404("No such repair application.") from None
    return _review_detail(
        request,
        repair,
        workflow=services.REPAIRS,
        decision_form_class=RepairDecisionForm,
        decided="Repair application decided.",
        earliest_repair_on=services.earliest_repair_date(entry=repair.entry),
    )


# --- Credit events -----------------------------------------------------------------------------------


@regulator_required
def event_create(request):
    form = EventForm(request.POST or None, initial={"occurred_at": timezone.now().strftime("%Y-%m-%dT%H:%M")})

    def record(data):
        from credit.services.events import record_credit_event

        return record_credit_event(
            actor=request.user,
            subject_id=data["subject"].pk,
            source=CreditEvent.Source.REGULATOR,
            **{**form.own_data(), "kind": data["kind"].code},
        )

    done = submit(
        request,
        form,
        record,
        success=lambda event: (
            f"Recorded {event.kind.name} for {form.cleaned_data['subject'].legal_name}; the grade will be recomputed."
        ),
        redirect_to=reverse("regulator-event-new"),
    )
    if done is not None:
        return done
    recent = CreditEvent.objects.filter(source=CreditEvent.Source.REGULATOR).select_related("subject", "kind")[:10]
    context = {"form": form, "recent": recent}
    return render(request, "credit/regulator/event_form.html", context, status=form_status(form))


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
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "A full recompute has started.")
    return redirect("regulator-recompute")


# --- Audit log ----------------------------------------------------------------------------------------


@regulator_required
def audit(request):
    form = AuditFilterForm(request.GET or None)
    rows = AuditEntry.objects.none()
    if not request.GET or form.is_valid():
        data = form.cleaned_data if request.GET else {}
        rows = selectors.audit_log(**{k: v for k, v in data.items() if v not in (None, "")})
    page, query = _page(request, rows, size=50)
    return render(request, "credit/regulator/audit.html", {"form": form, "page": page, "query": query})

"""The public registry pages: search, profile, printable report, blacklist, methodology.
Server-rendered; the same data for every visitor. The filter sets are shared with the API
(credit.api.registry) so both validate the same way."""

from urllib.parse import urlencode

from django import forms
from django.shortcuts import render
from django.utils import timezone

from core import bidi
from core.countries import country_name
from core.errors import DomainError, NotFound
from credit.api.registry import OneQueryPaginator, PublicBlacklistFilter, SubjectSearchFilter
from credit.selectors import registry as selectors
from credit.svg import DEFAULT_THRESHOLDS, grade_history_svg

PAGE_SIZE = 25


class AsOfForm(forms.Form):
    as_of = forms.DateField(
        required=False,
        label="Grade as of",
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Shows the grade in force at the end of that day.",
    )


def _page(request, queryset):
    paginator = OneQueryPaginator(queryset, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return page, params.urlencode()


def _thresholds():
    """The grade ladder of the active scoring model (for the chart's bands)."""
    from credit.selectors.ratings import active_scoring_model

    try:
        grades = active_scoring_model().parameters.get("grades") or []
    except DomainError:
        return DEFAULT_THRESHOLDS
    return [(rung["grade"], float(rung["min_score"])) for rung in grades] or DEFAULT_THRESHOLDS


def search(request):
    filterset = SubjectSearchFilter(request.GET, queryset=selectors.public_subjects())
    searched = any(request.GET.get(name) for name in ("q", "country", "grade", "kind", "blacklisted"))
    page = querystring = None
    if filterset.is_valid():
        page, querystring = _page(request, filterset.qs)
        page.object_list = list(page.object_list)
        for subject in page.object_list:
            subject.kind_labels = selectors.kind_labels(subject)
    status = 400 if filterset.form.errors else 200
    return render(
        request,
        "credit/registry/search.html",
        {
            "filterset": filterset,
            "form": filterset.form,
            "page": page,
            "querystring": querystring,
            "searched": searched,
        },
        status=status,
    )


def _profile_context(request, subject_id: int):
    form = AsOfForm(request.GET or None)
    as_of = form.cleaned_data.get("as_of") if form.is_valid() else None
    profile = selectors.public_profile(subject_id=subject_id, as_of=as_of)
    chart = grade_history_svg(
        profile.history,
        thresholds=_thresholds(),
        now=timezone.now(),
        title=f"Grade history of {bidi.isolate(profile.subject.legal_name)}",
    )
    return {
        "profile": profile,
        "subject": profile.subject,
        "country_name": country_name(profile.subject.country),
        "kind_labels": selectors.kind_labels(profile.subject),
        "chart": chart,
        "as_of_form": form,
        "history_rows": list(reversed(profile.history))[:50],
    }, (400 if form.errors else 200)


def subject_profile(request, pk: int):
    try:
        context, status = _profile_context(request, pk)
    except NotFound:
        return render(request, "404.html", status=404)
    query = {"as_of": context["profile"].as_of.isoformat()} if context["profile"].as_of else {}
    context["report_query"] = ("?" + urlencode(query)) if query else ""
    return render(request, "credit/registry/profile.html", context, status=status)


def subject_report(request, pk: int):
    try:
        context, status = _profile_context(request, pk)
    except NotFound:
        return render(request, "404.html", status=404)
    return render(request, "credit/registry/report.html", context, status=status)


def blacklist(request):
    filterset = PublicBlacklistFilter(request.GET, queryset=selectors.public_blacklist_entries())
    page = querystring = None
    if filterset.is_valid():
        page, querystring = _page(request, filterset.qs)
    params = {k: v for k, v in request.GET.items() if k in ("country", "category", "severity") and v}
    return render(
        request,
        "credit/registry/blacklist.html",
        {
            "filterset": filterset,
            "form": filterset.form,
            "page": page,
            "querystring": querystring,
            "csv_url": "/api/v1/registry/blacklist/?" + urlencode({**params, "format": "csv"}),
            "json_url": "/api/v1/registry/blacklist/" + ("?" + urlencode(params) if params else ""),
        },
        status=400 if filterset.form.errors else 200,
    )


def methodology(request):
    from credit.selectors.ratings import methodology as model_methodology

    try:
        description = model_methodology()
    except DomainError:
        description = None
    return render(request, "credit/registry/methodology.html", {"m": description})

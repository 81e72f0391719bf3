"""The API call log: who (key prefix), when, which endpoint, the status and the decision.
An institution's members see its own calls (/institution/<id>/api-calls/); regulators see
every institution's (/regulator/api-calls/). Filters by day, endpoint, status and decision;
`?format=csv` exports the filtered rows (formula-safe, core.csv)."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render

from core import csv as csv_export
from credit.web.regulator import regulator_required
from payments.selectors import api_calls_visible_to, filter_api_calls
from payments.web.institution import profile_for_member

PAGE_SIZE = 50
CSV_HEADER = [
    "at",
    "institution_id",
    "api_key_prefix",
    "api_key_name",
    "method",
    "path",
    "status_code",
    "decision",
    "duration_ms",
]


class CallFilterForm(forms.Form):
    date_from = forms.DateField(required=False, label="From (UTC day)")
    date_to = forms.DateField(required=False, label="To (UTC day, included)")
    endpoint = forms.CharField(required=False, max_length=100, help_text="Part of the path, e.g. screenings")
    status = forms.RegexField(
        required=False, regex=r"^([1-5][0-9]{2}|[1-5]xx)$", max_length=3, help_text="e.g. 403 or 4xx"
    )
    decision = forms.CharField(required=False, max_length=100, help_text="e.g. deny or institution_suspended")
    institution = forms.IntegerField(required=False, min_value=1, help_text="Institution (subject) id")

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "Give the from day or a later one.")
        return data


class _Echo:
    def write(self, value):
        return value


def _csv_response(qs, filename: str) -> StreamingHttpResponse:
    writer = csv_export.writer(_Echo())

    def rows():
        yield writer.writerow(CSV_HEADER)
        for call in qs.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    call.at.isoformat(),
                    call.institution_id or "",
                    call.api_key_prefix,
                    call.api_key_name or "",
                    call.method,
                    call.path,
                    call.status_code,
                    call.decision,
                    call.duration_ms,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _calls_page(request, *, qs, profile, regulator: bool):
    form = CallFilterForm(request.GET or None)
    if not regulator:
        del form.fields["institution"]
    filters = {}
    if form.is_bound and form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        if "institution" in filters:
            filters["institution_id"] = filters.pop("institution")
    elif form.is_bound:
        qs = qs.none()
    qs = filter_api_calls(qs, **filters)
    if request.GET.get("format") == "csv" and not form.errors:
        return _csv_response(qs, "api-calls.csv")
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "payments/api_calls.html",
        {"profile": profile, "regulator": regulator, "form": form, "page": page, "query": query.urlencode()},
        status=400 if form.errors else 200,
    )


@login_required
def institution_api_calls(request, institution_id: int):
    profile = profile_for_member(request, institution_id)
    qs = api_calls_visible_to(user=request.user).filter(institution_id=profile.pk)
    return _calls_page(request, qs=qs, profile=profile, regulator=False)


@regulator_required
def regulator_api_calls(request):
    return _calls_page(request, qs=api_calls_visible_to(user=request.user), profile=None, regulator=True)

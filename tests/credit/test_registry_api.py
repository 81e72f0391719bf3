"""The public registry API: search, profile, public blacklist (JSON and CSV), errors,
throttling and documentation."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from credit.models import BlacklistEntry, CreditEvent, EventKind, Rating, ScoringModel, Subject
from tests.factories import RegulatorFactory, SubjectFactory

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
SEARCH = "/api/v1/registry/subjects/"
BLACKLIST = "/api/v1/registry/blacklist/"


def assert_problem(response, status, fields=()):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["code"]
    for name in fields:
        assert body["errors"][name], body
    return body


def rate(subject, *, score, grade, at, reasons=(), blacklisted=False):
    """A rating row plus the subject's snapshot, as the scoring service leaves them."""
    model = ScoringModel.objects.get(status=ScoringModel.Status.ACTIVE)
    rating = Rating.objects.create(
        subject=subject,
        model=model,
        score=Decimal(str(score)),
        grade=grade,
        reasons=list(reasons),
        computed_at=at,
        blacklist_override=blacklisted,
    )
    Subject.objects.filter(pk=subject.pk).update(score=Decimal(str(score)), grade=grade, rated_at=at)
    subject.refresh_from_db()
    return rating


def entry(subject, regulator, **overrides):
    today = timezone.localdate()
    values = {
        "category": BlacklistEntry.Category.CONTRACT_DEFAULT,
        "legal_basis": "Art. 12 E-Commerce Credit Measures",
        "decision_reference": f"DEC-{subject.pk}-{BlacklistEntry.objects.count()}",
        "description": "Failed to deliver paid orders.",
        "severity": "general",
        "starts_on": today - timedelta(days=10),
        "publication_ends_on": today + timedelta(days=355),
        "decided_by": regulator,
    }
    values.update(overrides)
    created = BlacklistEntry.objects.create(subject=subject, **values)
    Subject.objects.filter(pk=subject.pk).update(is_blacklisted=True)
    return created


@pytest.fixture
def rated_subject(regulator):
    subject = SubjectFactory(
        country="CN", registration_number="91440300MA5FXXXX1A", legal_name="深圳市海贸跨境电子商务有限公司"
    )
    kind = EventKind.objects.order_by("code").first()
    CreditEvent.objects.create(
        subject=subject,
        kind=kind,
        source="platform",
        occurred_at=timezone.now() - timedelta(days=40),
        evidence_reference="private-evidence-7731.pdf",
    )
    rate(subject, score=82.5, grade="B", at=datetime(2026, 3, 1, 9, tzinfo=UTC))
    rate(
        subject,
        score=61.25,
        grade="C",
        at=datetime(2026, 9, 1, 9, tzinfo=UTC),
        reasons=[
            {"code": kind.code, "component": kind.component, "points": -8.75, "events": 2},
            {"code": "delivered_on_time", "component": "fulfilment", "points": 3.5, "events": 14},
        ],
    )
    entry(subject, regulator, fine_amount=Decimal("50000.00"), fine_currency="CNY")
    entry(
        subject,
        regulator,
        decision_reference="LIFTED-1",
        status=BlacklistEntry.Status.LIFTED,
        legal_basis="Lifted basis that must not show",
    )
    subject.refresh_from_db()
    return subject


# --- Search ----------------------------------------------------------------------------------


def test_search_finds_by_typo_and_pages_in_rank_order(client):
    SubjectFactory(legal_name="Pacific Gateway Warehousing LLC", country="US")
    SubjectFactory(legal_name="Pacific Trading Ltd", country="GB")
    SubjectFactory(legal_name="Zebra Holdings SARL", country="FR")
    body = client.get(SEARCH, {"q": "Pacifc Gatway"}).json()
    assert body["results"][0]["legal_name"] == "Pacific Gateway Warehousing LLC"
    assert {"count", "next", "previous", "results"} <= body.keys()
    assert "Zebra Holdings SARL" not in [r["legal_name"] for r in body["results"]]
    ranks = [r["rank"] for r in body["results"]]
    assert ranks == sorted(ranks, reverse=True)


def test_search_by_registration_number_is_exact_and_normalised(client, rated_subject):
    body = client.get(SEARCH, {"q": "9144 0300 ma5f xxxx1a"}).json()
    assert body["results"][0]["id"] == rated_subject.pk
    assert body["results"][0]["registration_match"] is True
    assert body["results"][0]["grade"] == "C"


def test_search_filters_grade_kind_country_blacklisted(client, rated_subject):
    SubjectFactory(legal_name="Ningbo Haimao Warehousing", country="CN", grade="A", is_warehouse_operator=True)
    SubjectFactory(legal_name="Haimao Trading GmbH", country="DE", grade="A")

    def ids(**params):
        return {r["legal_name"] for r in client.get(SEARCH, params).json()["results"]}

    assert ids(grade="A") == {"Ningbo Haimao Warehousing", "Haimao Trading GmbH"}
    assert ids(grade=["A", "C"]) == {"Ningbo Haimao Warehousing", "Haimao Trading GmbH", rated_subject.legal_name}
    assert ids(kind="warehouse_operator") == {"Ningbo Haimao Warehousing"}
    assert ids(country="de") == {"Haimao Trading GmbH"}
    assert ids(blacklisted="true") == {rated_subject.legal_name}
    assert ids(blacklisted="false") == {"Ningbo Haimao Warehousing", "Haimao Trading GmbH"}
    assert ids(q="Haimao", country="CN") == {"Ningbo Haimao Warehousing"}


def test_search_pagination(client):
    for n in range(30):
        SubjectFactory(legal_name=f"Acme Trading {n:02d}")
    first = client.get(SEARCH, {"q": "Acme Trading", "page_size": 20}).json()
    assert first["count"] == 30 and len(first["results"]) == 20 and first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 10 and second["count"] == 30 and second["next"] is None
    assert not {r["id"] for r in first["results"]} & {r["id"] for r in second["results"]}
    assert_problem(client.get(SEARCH, {"q": "Acme Trading", "page_size": 20, "page": 3}), 404)
    assert client.get(SEARCH, {"q": "Acme Trading", "page_size": 20, "page": "last"}).json()["count"] == 30


@pytest.mark.parametrize(
    "params, field",
    [
        ({"country": "XX"}, "country"),
        ({"country": "CHN"}, "country"),
        ({"grade": "Z"}, "grade"),
        ({"kind": "bank"}, "kind"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_search_invalid_parameters_are_problem_400(client, params, field):
    body = assert_problem(client.get(SEARCH, params), 400, [field])
    assert body["code"] == "invalid"


def test_search_list_has_no_n_plus_one(client, django_assert_max_num_queries):
    for n in range(40):
        SubjectFactory(legal_name=f"Bulk Trading {n:02d}", is_blacklisted=n % 3 == 0)
    # Word look-up, "do all words match as typed?", then the page with its total.
    with django_assert_max_num_queries(3):
        response = client.get(SEARCH, {"q": "Bulk Trading", "page_size": 40})
    assert len(response.json()["results"]) == 40


def test_search_has_its_own_throttle(client, settings):
    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "registry_search": "2/min"},
    }
    try:
        assert client.get(SEARCH, {"q": "a"}).status_code == 200
        assert client.get(SEARCH, {"q": "b"}).status_code == 200
        response = client.get(SEARCH, {"q": "c"})
        assert_problem(response, 429)
        assert int(response["Retry-After"]) > 0
        # Profiles are not in the search bucket.
        subject = SubjectFactory()
        assert client.get(f"{SEARCH}{subject.pk}/").status_code == 200
    finally:
        cache.clear()


# --- Profile ---------------------------------------------------------------------------------


def test_profile_shows_grade_reasons_history_and_public_entries(client, rated_subject):
    body = client.get(f"{SEARCH}{rated_subject.pk}/").json()
    assert body["grade"] == "C" and body["score"] == "61.25"
    assert body["model_version"] == 1
    assert [(r["direction"], r["points"]) for r in body["reasons"]] == [("lowers", -8.75), ("raises", 3.5)]
    assert body["reasons"][0]["label"] == EventKind.objects.get(code=body["reasons"][0]["code"]).name
    assert [(h["grade"], h["score"]) for h in body["history"]] == [("B", 82.5), ("C", 61.25)]
    assert body["is_blacklisted"] is True
    assert len(body["blacklist_entries"]) == 1  # the lifted one is not published
    shown = body["blacklist_entries"][0]
    assert shown["fine_amount"] == "50000.00" and shown["fine_currency"] == "CNY"
    assert {"category", "legal_basis", "severity", "starts_on", "publication_ends_on"} <= shown.keys()
    assert body["as_of"] is None


def test_profile_hides_entries_outside_their_publication_period(client, regulator):
    subject = SubjectFactory()
    today = timezone.localdate()
    entry(subject, regulator, starts_on=today - timedelta(days=100), publication_ends_on=today)  # ends today
    assert client.get(f"{SEARCH}{subject.pk}/").json()["blacklist_entries"] == []


def test_profile_as_of_gives_the_grade_in_force_then(client, rated_subject):
    def as_of(day):
        return client.get(f"{SEARCH}{rated_subject.pk}/", {"as_of": day}).json()["as_of"]

    assert as_of("2026-06-30") == {"date": "2026-06-30", "grade": "B", "score": 82.5}
    assert as_of("2026-09-01") == {"date": "2026-09-01", "grade": "C", "score": 61.25}
    assert as_of("2025-01-01") == {"date": "2025-01-01", "grade": "M", "score": None}


def test_profile_of_an_unrated_subject(client):
    subject = SubjectFactory()
    body = client.get(f"{SEARCH}{subject.pk}/").json()
    assert body["grade"] == "M" and body["score"] is None and body["model_version"] is None
    assert body["reasons"] == [] and body["history"] == [] and body["blacklist_entries"] == []


def test_unknown_subject_is_problem_404(client):
    assert assert_problem(client.get(f"{SEARCH}999999/"), 404)["code"] == "subject_not_found"


@pytest.mark.parametrize("value", ["2026-13-01", "yesterday", "01/02/2026"])
def test_bad_as_of_is_problem_400(client, rated_subject, value):
    assert_problem(client.get(f"{SEARCH}{rated_subject.pk}/", {"as_of": value}), 400, ["as_of"])


# --- Public blacklist ------------------------------------------------------------------------


@pytest.fixture
def listed(regulator):
    cn = SubjectFactory(country="CN", legal_name="深圳市海贸跨境电子商务有限公司")
    de = SubjectFactory(country="DE", legal_name="Frankfurt Cargo Lager GmbH")
    today = timezone.localdate()
    entry(cn, regulator, category="fraud", severity="serious", fine_amount=Decimal("1000"), fine_currency="CNY")
    entry(de, regulator, category="tax", severity="minor")
    entry(de, regulator, status=BlacklistEntry.Status.EXPIRED, decision_reference="OLD")
    entry(de, regulator, starts_on=today + timedelta(days=5), publication_ends_on=today + timedelta(days=50))
    return cn, de


def test_blacklist_lists_only_published_active_entries(client, listed):
    body = client.get(BLACKLIST).json()
    assert body["count"] == 2
    assert {r["subject"]["legal_name"] for r in body["results"]} == {s.legal_name for s in listed}
    assert "description" not in body["results"][0]


def test_blacklist_filters(client, listed):
    def count(**params):
        return client.get(BLACKLIST, params).json()["count"]

    assert count(country="cn") == 1
    assert count(category="tax") == 1
    assert count(severity="serious") == 1
    assert count(severity="general") == 0


@pytest.mark.parametrize("params, field", [({"country": "ZZ"}, "country"), ({"severity": "grave"}, "severity")])
def test_blacklist_invalid_filters_are_problem_400(client, params, field):
    assert_problem(client.get(BLACKLIST, params), 400, [field])


def test_blacklist_csv_is_the_full_filtered_list(client, regulator):
    for n in range(30):
        entry(SubjectFactory(country="NL", legal_name=f'Delft, "Export" {n}'), regulator, severity="serious")
    entry(SubjectFactory(country="FR"), regulator)
    response = client.get(BLACKLIST, {"format": "csv", "country": "NL"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:6] == ["entry_id", "subject_id", "country", "registration_number", "legal_name", "category"]
    assert len(rows) == 31  # header + every entry, not one page
    assert {row[2] for row in rows[1:]} == {"NL"}
    assert rows[1][4].startswith('Delft, "Export"')


def test_blacklist_csv_by_accept_header_and_bad_filter_stays_problem(client, listed):
    response = client.get(BLACKLIST, HTTP_ACCEPT="text/csv")
    assert response["Content-Type"].startswith("text/csv")
    bad = client.get(BLACKLIST, {"format": "csv", "country": "ZZ"})
    assert bad.status_code == 400 and bad["Content-Type"].startswith(PROBLEM)
    assert "country" in bad.json()["errors"]


def test_unknown_format_is_problem_404(client):
    assert_problem(client.get(BLACKLIST, {"format": "xml"}), 404)


def test_blacklist_list_has_no_n_plus_one(client, django_assert_max_num_queries):
    regulator = RegulatorFactory()
    for n in range(30):
        entry(SubjectFactory(legal_name=f"Listed {n}"), regulator)
    with django_assert_max_num_queries(1):  # the page with its total and subjects joined
        body = client.get(BLACKLIST, {"page_size": 30}).json()
    assert len(body["results"]) == 30 and body["count"] == 30
    with django_assert_max_num_queries(1):
        response = client.get(BLACKLIST, {"format": "csv"})
        assert len(b"".join(response.streaming_content).splitlines()) == 31


# --- Documentation ---------------------------------------------------------------------------


def test_endpoints_are_documented_with_their_errors(client):
    schema = client.get("/api/schema/?format=json").json()
    search = schema["paths"]["/api/v1/registry/subjects/"]["get"]
    assert {"q", "country", "grade", "kind", "blacklisted", "page"} <= {p["name"] for p in search["parameters"]}
    assert {"200", "400", "429"} <= search["responses"].keys()
    profile = schema["paths"]["/api/v1/registry/subjects/{id}/"]["get"]
    assert {"200", "400", "404"} <= profile["responses"].keys()
    assert "as_of" in {p["name"] for p in profile["parameters"]}
    blacklist = schema["paths"]["/api/v1/registry/blacklist/"]["get"]
    assert {"application/json", "text/csv"} <= blacklist["responses"]["200"]["content"].keys()


def test_lookup_by_country_and_registration_number(client, rated_subject):
    written = rated_subject.registration_number.lower()
    written = f"{written[:3]} {written[3:]}"
    found = client.get(SEARCH, {"country": rated_subject.country, "registration_number": written}).json()
    assert [row["id"] for row in found["results"]] == [rated_subject.pk]
    other_country = "DE" if rated_subject.country != "DE" else "FR"
    assert client.get(SEARCH, {"country": other_country, "registration_number": written}).json()["count"] == 0


def test_invalid_registration_number_and_country_are_problem_400_with_field_errors(client):
    body = assert_problem(client.get(SEARCH, {"country": "ZZ", "registration_number": "<script>"}), 400, ["country"])
    assert set(body["errors"]) == {"country", "registration_number"}

"""The public registry pages and the server-rendered grade-history chart."""

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from credit.models import BlacklistEntry, EventKind, Rating, ScoringModel, Subject
from credit.svg import grade_history_svg
from tests.factories import SubjectFactory

pytestmark = pytest.mark.django_db

SVG_NS = "{http://www.w3.org/2000/svg}"


def rate(subject, *, score, grade, at, reasons=()):
    model = ScoringModel.objects.get(status=ScoringModel.Status.ACTIVE)
    Rating.objects.create(
        subject=subject, model=model, score=Decimal(str(score)), grade=grade, reasons=list(reasons), computed_at=at
    )
    Subject.objects.filter(pk=subject.pk).update(score=Decimal(str(score)), grade=grade, rated_at=at)


def entry(subject, regulator, **overrides):
    today = timezone.localdate()
    values = {
        "category": "fraud",
        "legal_basis": "Art. 7 Anti-Fraud Rules",
        "decision_reference": f"DEC-{subject.pk}-{BlacklistEntry.objects.count()}",
        "description": "x",
        "severity": "serious",
        "starts_on": today - timedelta(days=3),
        "publication_ends_on": today + timedelta(days=700),
        "decided_by": regulator,
    }
    values.update(overrides)
    BlacklistEntry.objects.create(subject=subject, **values)
    Subject.objects.filter(pk=subject.pk).update(is_blacklisted=True)


@pytest.fixture
def haimao(regulator):
    subject = SubjectFactory(
        legal_name="深圳市海贸跨境电子商务有限公司",
        registration_number="91440300MA5FXXXX1A",
        mode_b2c=True,
        mode_export=True,
    )
    kind = EventKind.objects.order_by("code").first()
    rate(subject, score=91, grade="A", at=datetime(2026, 2, 1, tzinfo=UTC))
    rate(subject, score=74.5, grade="B", at=datetime(2026, 6, 1, tzinfo=UTC))
    rate(
        subject,
        score=35,
        grade="D",
        at=datetime(2026, 10, 1, tzinfo=UTC),
        reasons=[
            {"code": "blacklisted", "component": None, "points": None, "events": 0},
            {"code": kind.code, "component": kind.component, "points": -12.4, "events": 3},
        ],
    )
    entry(subject, regulator, fine_amount=Decimal("20000"), fine_currency="CNY")
    subject.refresh_from_db()
    return subject


def test_search_page_finds_a_typo_and_shows_the_grade_badge(client, haimao):
    SubjectFactory(legal_name="Pacific Gateway Warehousing LLC", country="US", grade="A")
    page = client.get("/registry/", {"q": "Pacifc Gatway"}).content.decode()
    assert "Pacific Gateway Warehousing LLC" in page
    assert 'class="grade grade-A"' in page
    page = client.get("/registry/", {"q": "海贸"}).content.decode()
    assert f'href="/registry/subjects/{haimao.pk}/"' in page
    assert "Blacklisted" in page


def test_search_page_empty_state_and_field_errors(client, haimao):
    page = client.get("/registry/", {"q": "Quokka Biscuits"}).content.decode()
    assert 'data-testid="registry-empty"' in page and "Quokka Biscuits" in page
    response = client.get("/registry/", {"country": "XX"})
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'class="field has-error">\s*<label for="id_country">', html)
    assert "Unknown country code XX" in html


def test_search_page_paginates_keeping_the_filters(client):
    for n in range(30):
        SubjectFactory(legal_name=f"Acme Trading {n:02d}", country="DE")
    first = client.get("/registry/", {"q": "Acme Trading", "country": "DE"}).content.decode()
    assert "Page 1 of 2" in first
    assert "q=Acme+Trading&amp;country=DE&amp;page=2" in first
    second = client.get("/registry/", {"q": "Acme Trading", "country": "DE", "page": 2}).content.decode()
    assert "Page 2 of 2" in second


def test_profile_page(client, haimao):
    html = client.get(f"/registry/subjects/{haimao.pk}/").content.decode()
    assert haimao.legal_name in html and "China (CN)" in html
    assert 'data-testid="grade">D<' in html and "35.00" in html
    # Reasons with the direction of their contribution.
    assert "▼ lowers" in html and "-12.40 points" in html and "An active blacklist entry" in html
    # Blacklist entry with legal basis and fine; chart with one dot per rating.
    assert "Art. 7 Anti-Fraud Rules" in html and "20000.00 CNY" in html
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    circles = ET.fromstring(svg).findall(f"{SVG_NS}circle")
    assert [c.get("data-grade") for c in circles] == ["A", "B", "D"]
    assert f'href="/registry/subjects/{haimao.pk}/report/"' in html
    assert "B2C, export" in html


def test_profile_as_of_and_its_errors(client, haimao):
    html = client.get(f"/registry/subjects/{haimao.pk}/", {"as_of": "2026-07-15"}).content.decode()
    assert 'data-testid="grade">B<' in html and "As of the end of 2026-07-15" in html
    assert f'href="/registry/subjects/{haimao.pk}/report/?as_of=2026-07-15"' in html
    bad = client.get(f"/registry/subjects/{haimao.pk}/", {"as_of": "2026-02-30"})
    assert bad.status_code == 400 and "field-error" in bad.content.decode()


def test_unknown_profile_is_a_404_page(client):
    assert client.get("/registry/subjects/987654/").status_code == 404
    assert client.get("/registry/subjects/987654/report/").status_code == 404


def test_printable_report(client, haimao):
    response = client.get(f"/registry/subjects/{haimao.pk}/report/", {"as_of": "2026-03-01"})
    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'data-testid="generated-at">\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC', html)
    assert 'data-testid="model-version">v1<' in html
    assert 'data-testid="report-as-of">end of 2026-03-01' in html
    assert "<svg" in html and "Art. 7 Anti-Fraud Rules" in html


def test_blacklist_page_filters_and_export_links(client, haimao, regulator):
    other = SubjectFactory(country="DE", legal_name="Frankfurt Cargo Lager GmbH")
    entry(other, regulator, category="tax", severity="minor")
    html = client.get("/registry/blacklist/").content.decode()
    assert haimao.legal_name in html and other.legal_name in html
    html = client.get("/registry/blacklist/", {"country": "DE", "severity": "minor"}).content.decode()
    assert other.legal_name in html and haimao.legal_name not in html
    assert 'href="/api/v1/registry/blacklist/?country=DE&amp;severity=minor&amp;format=csv"' in html
    assert 'href="/api/v1/registry/blacklist/?country=DE&amp;severity=minor"' in html
    assert client.get("/registry/blacklist/", {"severity": "grave"}).status_code == 400


def test_methodology_page_follows_the_active_model(client):
    html = client.get("/registry/methodology/").content.decode()
    model = ScoringModel.objects.get(status=ScoringModel.Status.ACTIVE)
    assert f'data-testid="methodology-version">v{model.version}<' in html
    for rung in model.parameters["grades"]:
        assert f"grade-{rung['grade']}" in html


def test_methodology_page_without_an_active_model(client):
    ScoringModel.objects.update(status=ScoringModel.Status.RETIRED)
    assert "No scoring model has been published yet" in client.get("/registry/methodology/").content.decode()


def test_search_page_has_no_n_plus_one(client, django_assert_max_num_queries):
    for n in range(25):
        SubjectFactory(legal_name=f"Bulk Trading {n:02d}")
    client.get("/registry/")  # warm the session/nav queries of an anonymous visitor
    with django_assert_max_num_queries(4):
        html = client.get("/registry/", {"q": "Bulk Trading"}).content.decode()
    assert html.count('href="/registry/subjects/') == 25


# --- The SVG chart ------------------------------------------------------------------------------


@dataclass
class Point:
    at: datetime
    grade: str
    score: float


def test_chart_is_valid_svg_with_a_dot_per_rating_and_escaped_text():
    points = [
        Point(datetime(2026, 1, 1, tzinfo=UTC), "A", 95.0),
        Point(datetime(2026, 4, 1, tzinfo=UTC), "C", 50.0),
        Point(datetime(2026, 8, 1, tzinfo=UTC), "D", 10.0),
    ]
    svg = grade_history_svg(points, title="<script>alert(1)</script>", now=datetime(2026, 9, 1, tzinfo=UTC))
    root = ET.fromstring(str(svg))  # well-formed XML
    assert "<script>" not in svg
    circles = root.findall(f"{SVG_NS}circle")
    ys = [float(c.get("cy")) for c in circles]
    assert ys[0] < ys[1] < ys[2]  # higher score is drawn higher
    xs = [float(c.get("cx")) for c in circles]
    assert xs == sorted(xs)
    assert "2026-04-01 00:00 UTC: grade C, score 50" in svg


def test_chart_without_ratings_says_so():
    assert "No ratings yet" in grade_history_svg([])

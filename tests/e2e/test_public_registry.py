"""Public registry journey in Chromium: an anonymous visitor misspells a company's name,
still finds it, opens its profile (grade, reasons, chart, blacklist) and its report."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from credit.models import EventKind, Rating, ScoringModel, Subject
from credit.services.ratings import ensure_scoring_catalogue
from tests.factories import SubjectFactory


@pytest.fixture
def registry(transactional_db):
    ensure_scoring_catalogue()  # a previous transactional test may have flushed it
    model = ScoringModel.objects.get(status=ScoringModel.Status.ACTIVE)
    target = SubjectFactory(
        legal_name="Pacific Gateway Warehousing LLC", country="US", registration_number="EIN-84-1234567"
    )
    SubjectFactory(legal_name="Pacific Trading Ltd", country="GB")
    SubjectFactory(legal_name="深圳市海贸跨境电子商务有限公司", country="CN")
    kind = EventKind.objects.order_by("code").first()
    reasons = [{"code": kind.code if kind else "paid_late", "component": "payment", "points": -6.5, "events": 2}]
    for at, score, grade in ((datetime(2026, 1, 5, tzinfo=UTC), 92, "A"), (datetime(2026, 8, 5, tzinfo=UTC), 78, "B")):
        Rating.objects.create(
            subject=target, model=model, score=Decimal(score), grade=grade, reasons=reasons, computed_at=at
        )
    Subject.objects.filter(pk=target.pk).update(
        score=Decimal("78.00"), grade="B", rated_at=datetime(2026, 8, 5, tzinfo=UTC)
    )
    return target


def test_search_with_a_typo_finds_the_subject_and_opens_its_profile(page, registry):
    page.goto("/")
    page.get_by_role("link", name="Registry", exact=True).click()
    page.get_by_label("Name or registration number").fill("Pacifc Gatway")
    page.get_by_role("button", name="Search").click()

    results = page.get_by_test_id("registry-results")
    expect(results).to_be_visible()
    first_row = results.locator("tbody tr").first
    expect(first_row).to_contain_text("Pacific Gateway Warehousing LLC")
    expect(first_row.locator(".grade")).to_have_text("B")

    first_row.get_by_role("link", name="Pacific Gateway Warehousing LLC").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pacific Gateway Warehousing LLC")
    expect(page.get_by_test_id("grade")).to_have_text("B")
    expect(page.get_by_test_id("reason-codes")).to_contain_text("lowers")
    chart = page.get_by_test_id("grade-chart").locator("svg")
    expect(chart).to_be_visible()
    expect(chart.locator("circle")).to_have_count(2)

    page.get_by_test_id("report-link").click()
    expect(page.get_by_role("heading", name="Credit report")).to_be_visible()
    expect(page.get_by_test_id("generated-at")).to_contain_text("UTC")


def test_short_chinese_query_and_empty_state(page, registry):
    page.goto("/registry/?q=" + "海贸")
    expect(page.get_by_test_id("registry-results")).to_contain_text("深圳市海贸跨境电子商务有限公司")
    page.get_by_label("Name or registration number").fill("Quokka Biscuits")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("registry-empty")).to_contain_text("Quokka Biscuits")

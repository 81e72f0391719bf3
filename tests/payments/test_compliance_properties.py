"""Properties of the rules and of status derivation (hypothesis)."""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from payments import compliance
from payments.compliance import FAIL, PASS, WARN, Facts, Finding, ReportFact

RANK = {"compliant": 0, "under_review": 1, "suspended": 2}
money = st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False, allow_infinity=False)


def facts_with(report: ReportFact) -> Facts:
    return Facts(
        today=date(2026, 11, 18),
        country="CN",
        paid_in_capital=Decimal("1e8"),
        capital_currency="CNY",
        kyb_status="verified",
        is_blacklisted=False,
        grade="A",
        latest_reports=(report,),
    )


@given(balance=money, owed=money)
def test_coverage_passes_exactly_when_balances_cover_funds_owed(balance, owed):
    report = ReportFact(1, date(2026, 11, 18), "CNY", owed, (("R", "B", "central_bank", balance),), ())
    [finding] = compliance.REGISTRY["reserve_coverage"].check(facts_with(report), compliance.thresholds())
    assert (finding.outcome == PASS) == (balance >= owed)


outcomes = st.sampled_from([PASS, WARN, FAIL])
scopes = st.sampled_from(["institution", "corridor"])


@given(st.lists(st.tuples(scopes, outcomes), max_size=12), scopes, outcomes)
def test_one_more_finding_never_improves_the_status(results, extra_scope, extra_outcome):
    def rule(scope):
        return compliance.Rule("r", "r", "r", scope, lambda f, t: [])

    def status(items):
        return compliance.derive_status([(rule(s), Finding(o, "x", {}, 1)) for s, o in items])["status"]

    assert RANK[status([*results, (extra_scope, extra_outcome)])] >= RANK[status(results)]


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)), st.integers(0, 120))
def test_add_months_lands_in_the_right_month(day, months):
    result = compliance.add_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    assert result.day <= day.day
    assert result > day - timedelta(days=1)

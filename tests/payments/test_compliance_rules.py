"""Each compliance rule at its boundaries, on plain facts (no database)."""

from datetime import date
from decimal import Decimal

import pytest

from payments import compliance
from payments.compliance import CorridorFact, Facts, LicenceFact, ReportFact

TODAY = date(2026, 11, 18)  # a Wednesday


def licence(**kw):
    values = {
        "id": 1,
        "number": "Z1",
        "issuing_authority": "PBoC",
        "valid_from": date(2022, 1, 1),
        "valid_to": date(2029, 1, 1),
        "renewal_filed_on": None,
        "currencies": ("CNY", "USD"),
        "countries": ("CN", "US"),
    }
    values.update(kw)
    return LicenceFact(**values)


def report(**kw):
    values = {
        "id": 1,
        "report_date": TODAY,
        "currency": "CNY",
        "customer_funds_owed": Decimal("1000.00"),
        "balances": (("R1", "PBoC", "central_bank", Decimal("1000.00")),),
        "outflows": (("merchant_settlement", Decimal("10")),),
    }
    values.update(kw)
    return ReportFact(**values)


def facts(**kw):
    values = {
        "today": TODAY,
        "country": "CN",
        "paid_in_capital": Decimal("100000000"),
        "capital_currency": "CNY",
        "kyb_status": "verified",
        "is_blacklisted": False,
        "grade": "B",
        "licences": (licence(),),
        "corridors": (
            CorridorFact(id=7, currency="CNY", country="CN", fx_registration_reference="S1", partner_bank="BOC"),
        ),
        "latest_reports": (report(),),
    }
    values.update(kw)
    return Facts(**values)


def run(code, f):
    return compliance.REGISTRY[code].check(f, compliance.thresholds())


def outcomes(code, f):
    return [finding.outcome for finding in run(code, f)]


def test_everything_passes_on_a_clean_institution():
    evaluation = compliance.evaluate(facts())
    assert {f.outcome for _, f in evaluation.results} == {"pass"}
    assert evaluation.status == "compliant"


def test_every_rule_is_documented_and_the_required_ones_exist():
    required = {
        "licence_valid",
        "licence_renewal_filed",
        "corridor_within_licence",
        "minimum_capital",
        "kyb_verified",
        "not_blacklisted",
        "credit_grade_minimum",
        "reserve_coverage",
        "reserve_report_fresh",
        "reserve_outflows_permitted",
    }
    assert required <= compliance.REGISTRY.keys()
    assert all(r.description and r.title for r in compliance.REGISTRY.values())


@pytest.mark.parametrize(
    ("valid_from", "valid_to", "expected"),
    [
        (TODAY, date(2027, 1, 1), "pass"),  # starts today
        (date(2020, 1, 1), date(2026, 11, 19), "pass"),  # last valid day is today
        (date(2020, 1, 1), TODAY, "fail"),  # valid_to is exclusive: ended yesterday
        (date(2026, 11, 19), date(2030, 1, 1), "fail"),  # not yet valid
    ],
)
def test_licence_valid_boundaries(valid_from, valid_to, expected):
    assert outcomes("licence_valid", facts(licences=(licence(valid_from=valid_from, valid_to=valid_to),))) == [expected]


def test_no_licence_fails_and_suspends():
    evaluation = compliance.evaluate(facts(licences=()))
    assert evaluation.status == "suspended"
    assert "No licence is on file." in evaluation.summary


@pytest.mark.parametrize(
    ("valid_to", "renewal", "expected"),
    [
        (date(2027, 5, 18), None, "warn"),  # exactly 6 months away: within the window
        (date(2027, 5, 19), None, "pass"),  # 6 months and a day
        (date(2027, 5, 18), date(2026, 10, 1), "pass"),  # renewal filed
        (date(2026, 12, 1), None, "warn"),
    ],
)
def test_licence_renewal_window_boundaries(valid_to, renewal, expected):
    f = facts(licences=(licence(valid_to=valid_to, renewal_filed_on=renewal),))
    assert outcomes("licence_renewal_filed", f) == [expected]


def test_renewal_warning_puts_the_institution_under_review():
    evaluation = compliance.evaluate(facts(licences=(licence(valid_to=date(2027, 5, 18)),)))
    assert evaluation.status == "under_review"
    assert "expires on 2027-05-18" in evaluation.summary


def test_add_months_clamps_to_month_end():
    assert compliance.add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert compliance.add_months(date(2026, 11, 18), 6) == date(2027, 5, 18)


def test_corridor_outside_licence_switches_off_only_that_corridor():
    corridors = (
        CorridorFact(id=1, currency="USD", country="US", fx_registration_reference="", partner_bank=""),
        CorridorFact(id=2, currency="EUR", country="DE", fx_registration_reference="", partner_bank=""),
        CorridorFact(id=3, currency="USD", country="DE", fx_registration_reference="", partner_bank=""),
    )
    evaluation = compliance.evaluate(facts(corridors=corridors))
    assert evaluation.status == "compliant"
    assert set(evaluation.failing_corridors) == {2, 3}
    assert "EUR in DE" in evaluation.failing_corridors[2]


def test_corridor_under_an_expired_licence_fails():
    old = licence(valid_to=TODAY)
    f = facts(licences=(old,), corridors=(CorridorFact(1, "USD", "US", "", ""),))
    assert outcomes("corridor_within_licence", f) == ["fail"]


def test_cny_corridor_needs_fx_registration_and_partner_bank():
    f = facts(corridors=(CorridorFact(1, "CNY", "CN", "", "BOC"),))
    [finding] = run("corridor_fx_registration", f)
    assert finding.outcome == "fail" and "FX registration" in finding.reason
    assert outcomes("corridor_fx_registration", facts(corridors=(CorridorFact(1, "USD", "US", "", ""),))) == []


@pytest.mark.parametrize(
    ("country", "capital", "currency", "expected"),
    [
        ("CN", "100000000", "CNY", "pass"),  # exactly the minimum
        ("CN", "99999999.99", "CNY", "fail"),
        ("DE", "350000", "EUR", "pass"),  # EU member -> EU minimum
        ("FR", "349999", "EUR", "fail"),
        ("SG", "250000", "SGD", "pass"),
        ("SG", "249999.99", "SGD", "fail"),
        ("CN", "200000000", "USD", "warn"),  # cannot compare currencies
        ("US", "1", "USD", "pass"),  # no minimum configured
    ],
)
def test_minimum_capital_by_jurisdiction(country, capital, currency, expected):
    f = facts(country=country, paid_in_capital=Decimal(capital), capital_currency=currency)
    assert outcomes("minimum_capital", f) == [expected]


def test_minimum_capital_reads_settings(settings):
    settings.ENTREPOT = {
        **settings.ENTREPOT,
        "PAYMENTS": {**settings.ENTREPOT["PAYMENTS"], "MINIMUM_CAPITAL": {"CN": {"amount": "5", "currency": "CNY"}}},
    }
    assert outcomes("minimum_capital", facts(paid_in_capital=Decimal("5"))) == ["pass"]
    assert outcomes("minimum_capital", facts(paid_in_capital=Decimal("4.99"))) == ["fail"]


@pytest.mark.parametrize(("status", "expected"), [("verified", "pass"), ("pending", "warn"), ("rejected", "fail")])
def test_kyb(status, expected):
    assert outcomes("kyb_verified", facts(kyb_status=status)) == [expected]


def test_blacklisted_institution_fails_and_is_suspended():
    assert outcomes("not_blacklisted", facts(is_blacklisted=True)) == ["fail"]
    assert compliance.evaluate(facts(is_blacklisted=True)).status == "suspended"


@pytest.mark.parametrize(
    ("grade", "expected"), [("A", "pass"), ("B", "pass"), ("M", "pass"), ("C", "fail"), ("D", "fail")]
)
def test_credit_grade_at_or_above_minimum(grade, expected):
    assert outcomes("credit_grade_minimum", facts(grade=grade)) == [expected]


@pytest.mark.parametrize(
    ("balance", "owed", "expected"),
    [
        ("1000.00", "1000.00", "pass"),  # exactly 100%
        ("999.99", "1000.00", "fail"),
        ("1500", "1000", "pass"),
        ("0", "0", "pass"),  # nothing owed
    ],
)
def test_reserve_coverage_boundaries(balance, owed, expected):
    r = report(customer_funds_owed=Decimal(owed), balances=(("R1", "PBoC", "central_bank", Decimal(balance)),))
    assert outcomes("reserve_coverage", facts(latest_reports=(r,))) == [expected]


def test_reserve_coverage_ignores_accounts_at_unqualified_banks():
    r = report(
        balances=(("R1", "PBoC", "central_bank", Decimal("600")), ("R2", "Shadow", "other", Decimal("400"))),
    )
    [finding] = run("reserve_coverage", facts(latest_reports=(r,)))
    assert finding.outcome == "fail"
    assert finding.evidence["coverage_percent"] == "60.00"


def test_each_currency_must_be_covered():
    usd = report(id=2, currency="USD", balances=(("R9", "Citi", "qualified_bank", Decimal("10")),))
    assert outcomes("reserve_coverage", facts(latest_reports=(report(), usd))) == ["pass", "fail"]


def test_no_reserve_report_is_a_review_not_a_suspension():
    evaluation = compliance.evaluate(facts(latest_reports=()))
    assert evaluation.status == "under_review"


@pytest.mark.parametrize(
    ("report_date", "expected"),
    [
        (date(2026, 11, 18), "pass"),  # today
        (date(2026, 11, 17), "pass"),  # exactly 1 business day
        (date(2026, 11, 16), "fail"),  # 2 business days
    ],
)
def test_reserve_report_freshness_in_business_days(report_date, expected):
    assert outcomes("reserve_report_fresh", facts(latest_reports=(report(report_date=report_date),))) == [expected]


def test_friday_report_is_fresh_on_monday():
    monday = date(2026, 11, 23)
    f = facts(today=monday, latest_reports=(report(report_date=date(2026, 11, 20)),))
    assert outcomes("reserve_report_fresh", f) == ["pass"]


def test_outflows_to_unpermitted_destinations_fail():
    r = report(outflows=(("merchant_settlement", Decimal("5")), ("investment", Decimal("1"))))
    [finding] = run("reserve_outflows_permitted", facts(latest_reports=(r,)))
    assert finding.outcome == "fail"
    assert "investment" in finding.reason
    permitted = report(
        outflows=tuple((d, Decimal("1")) for d in compliance.thresholds()["PERMITTED_OUTFLOW_DESTINATIONS"])
    )
    assert outcomes("reserve_outflows_permitted", facts(latest_reports=(permitted,))) == ["pass"]


def test_fail_beats_warn_in_status_derivation():
    evaluation = compliance.evaluate(facts(kyb_status="pending", is_blacklisted=True))
    assert evaluation.status == "suspended"
    assert evaluation.outcome == "fail"

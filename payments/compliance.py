"""The compliance rule registry: named, documented checks run against a payment institution.

Each rule is a pure function of a `Facts` snapshot (loaded once per run by
payments.services.run_compliance_check) and the thresholds in force
(settings.ENTREPOT["PAYMENTS"], defaults from PRODUCT.md). It returns one or more `Finding`s:

- outcome "pass", "warn" (a regulator should review) or "fail";
- a human reason and JSON evidence, stored immutably with the run;
- `corridor_id` for corridor-scoped rules: a failing corridor is switched off on its own and
  does not change the institution's status.

Status derivation (`derive_status`): any institution-scoped fail -> suspended; otherwise
any warn -> under review; otherwise compliant. A regulator's suspension overrides this.
"""

import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal

from django.conf import settings

from core import grades
from credit.workdays import working_days_between

RULES_VERSION = "2026.11-1"

EU_MEMBERS = frozenset("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split())

PASS, WARN, FAIL = "pass", "warn", "fail"


def thresholds() -> dict:
    return settings.ENTREPOT["PAYMENTS"]


def add_months(day: date, months: int) -> date:
    """The same day-of-month `months` later, clamped to the month's last day
    (31 August + 6 months = 28/29 February)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# --- The facts a run is evaluated against ---------------------------------------------------


@dataclass(frozen=True)
class LicenceFact:
    id: int
    number: str
    issuing_authority: str
    valid_from: date
    valid_to: date  # exclusive
    renewal_filed_on: date | None
    currencies: tuple[str, ...]
    countries: tuple[str, ...]

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day < self.valid_to

    def evidence(self) -> dict:
        return {
            "id": self.id,
            "number": self.number,
            "issuing_authority": self.issuing_authority,
            "valid_from": self.valid_from.isoformat(),
            "valid_to_exclusive": self.valid_to.isoformat(),
            "renewal_filed_on": self.renewal_filed_on.isoformat() if self.renewal_filed_on else None,
        }


@dataclass(frozen=True)
class CorridorFact:
    id: int
    currency: str
    country: str
    fx_registration_reference: str
    partner_bank: str


@dataclass(frozen=True)
class ReportFact:
    id: int
    report_date: date
    currency: str
    customer_funds_owed: Decimal
    balances: tuple[tuple[str, str, str, Decimal], ...]  # (account ref, bank, bank kind, balance)
    outflows: tuple[tuple[str, Decimal], ...]  # (destination type, amount)


@dataclass(frozen=True)
class Facts:
    today: date
    country: str
    paid_in_capital: Decimal
    capital_currency: str
    kyb_status: str
    is_blacklisted: bool
    grade: str
    licences: tuple[LicenceFact, ...] = ()
    corridors: tuple[CorridorFact, ...] = ()
    latest_reports: tuple[ReportFact, ...] = ()  # the latest report per currency
    standing_reasons: tuple[dict, ...] = field(default=())  # from credit's may_subject, if any

    def valid_licences(self) -> list[LicenceFact]:
        return [lic for lic in self.licences if lic.valid_on(self.today)]


@dataclass(frozen=True)
class Finding:
    outcome: str
    reason: str
    evidence: dict
    corridor_id: int | None = None


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    description: str
    scope: str  # "institution" or "corridor"
    check: Callable[[Facts, dict], list[Finding]]


REGISTRY: dict[str, Rule] = {}


def rule(code: str, title: str, *, scope: str = "institution"):
    def register(func):
        REGISTRY[code] = Rule(code=code, title=title, description=(func.__doc__ or "").strip(), scope=scope, check=func)
        return func

    return register


# --- The rules ----------------------------------------------------------------------------


@rule("licence_valid", "Licence valid today")
def licence_valid(facts: Facts, t: dict) -> list[Finding]:
    """At least one licence is valid today (valid_from <= today < valid_to). Fails otherwise:
    an institution without a licence in force may not serve the platform."""
    valid = facts.valid_licences()
    evidence = {"today": facts.today.isoformat(), "licences": [lic.evidence() for lic in facts.licences]}
    if valid:
        numbers = ", ".join(lic.number for lic in valid)
        return [Finding(PASS, f"Licence {numbers} is valid today.", evidence)]
    if not facts.licences:
        return [Finding(FAIL, "No licence is on file.", evidence)]
    return [Finding(FAIL, "No licence on file is valid today.", evidence)]


@rule("licence_renewal_filed", "Renewal filed for a licence expiring soon")
def licence_renewal_filed(facts: Facts, t: dict) -> list[Finding]:
    """A PBoC licence is valid 5 years and renewal must be applied for within the 6 months
    before expiry. A valid licence whose end (valid_to) falls on or before today + N months
    (LICENCE_RENEWAL_WINDOW_MONTHS, default 6) with no renewal filed is flagged for review
    (warn). Exactly 6 months away counts as within the window."""
    months = int(t["LICENCE_RENEWAL_WINDOW_MONTHS"])
    horizon = add_months(facts.today, months)
    valid = facts.valid_licences()
    evidence = {"window_months": months, "horizon": horizon.isoformat()}
    if not valid:
        return [Finding(PASS, "No licence in force to renew (see licence_valid).", evidence)]
    # Another valid licence running beyond the horizon covers the gap.
    if any(lic.valid_to > horizon for lic in valid):
        return [Finding(PASS, f"A licence remains valid beyond {horizon.isoformat()}.", evidence)]
    expiring = [lic for lic in valid if lic.renewal_filed_on is None]
    evidence["licences"] = [lic.evidence() for lic in valid]
    if expiring:
        lic = min(expiring, key=lambda item: item.valid_to)
        return [
            Finding(
                WARN,
                f"Licence {lic.number} expires on {lic.valid_to.isoformat()}, within {months} months, "
                "and no renewal has been filed.",
                evidence,
            )
        ]
    return [Finding(PASS, "Renewal has been filed for every licence expiring soon.", evidence)]


@rule("corridor_within_licence", "Corridor within the licence", scope="corridor")
def corridor_within_licence(facts: Facts, t: dict) -> list[Finding]:
    """Each corridor (currency and country pair) must be covered by a licence valid today
    that names both the currency and the country. A corridor that is not is switched off; the
    institution's other corridors and its status are unaffected."""
    findings = []
    valid = facts.valid_licences()
    for corridor in facts.corridors:
        covering = [
            lic.number for lic in valid if corridor.currency in lic.currencies and corridor.country in lic.countries
        ]
        evidence = {
            "corridor": f"{corridor.currency}/{corridor.country}",
            "licences_in_force": [
                {"number": lic.number, "currencies": list(lic.currencies), "countries": list(lic.countries)}
                for lic in valid
            ],
        }
        if covering:
            reason = f"{corridor.currency}/{corridor.country} is covered by licence {', '.join(covering)}."
            findings.append(Finding(PASS, reason, evidence, corridor.id))
        else:
            reason = f"No licence in force covers {corridor.currency} in {corridor.country}."
            findings.append(Finding(FAIL, reason, evidence, corridor.id))
    return findings


@rule("corridor_fx_registration", "FX registration and partner bank for FX corridors", scope="corridor")
def corridor_fx_registration(facts: Facts, t: dict) -> list[Finding]:
    """SAFE: a CNY corridor (FX_CORRIDOR_CURRENCIES) needs an FX registration and a partner
    bank on file. Without them that corridor is switched off."""
    currencies = set(t["FX_CORRIDOR_CURRENCIES"])
    findings = []
    for corridor in facts.corridors:
        if corridor.currency not in currencies:
            continue
        evidence = {
            "corridor": f"{corridor.currency}/{corridor.country}",
            "fx_registration_reference": corridor.fx_registration_reference,
            "partner_bank": corridor.partner_bank,
        }
        missing = [
            label
            for label, value in (
                ("FX registration", corridor.fx_registration_reference),
                ("partner bank", corridor.partner_bank),
            )
            if not value
        ]
        if missing:
            reason = f"{corridor.currency}/{corridor.country} lacks: {', '.join(missing)}."
            findings.append(Finding(FAIL, reason, evidence, corridor.id))
        else:
            findings.append(Finding(PASS, "FX registration and partner bank on file.", evidence, corridor.id))
    return findings


@rule("minimum_capital", "Minimum paid-in capital for the jurisdiction")
def minimum_capital(facts: Facts, t: dict) -> list[Finding]:
    """Paid-in capital must be at least the jurisdiction's minimum (MINIMUM_CAPITAL: RMB 100m
    in China, EUR 350k in the EU, SGD 250k in Singapore). Exactly the minimum passes. Capital
    stated in another currency cannot be compared and is flagged for review. A jurisdiction
    with no configured minimum passes, with that noted in the evidence."""
    table = t["MINIMUM_CAPITAL"]
    jurisdiction = "EU" if facts.country in EU_MEMBERS and facts.country not in table else facts.country
    minimum = table.get(jurisdiction)
    evidence = {
        "jurisdiction": jurisdiction,
        "paid_in_capital": str(facts.paid_in_capital),
        "currency": facts.capital_currency,
        "minimum": minimum,
    }
    if minimum is None:
        return [Finding(PASS, f"No minimum capital is configured for {jurisdiction}.", evidence)]
    if facts.capital_currency != minimum["currency"]:
        reason = (
            f"Capital is stated in {facts.capital_currency or 'no currency'}; the minimum is in {minimum['currency']}."
        )
        return [Finding(WARN, reason, evidence)]
    required = Decimal(minimum["amount"])
    if facts.paid_in_capital >= required:
        return [
            Finding(
                PASS,
                f"Paid-in capital {facts.paid_in_capital:,} {facts.capital_currency} meets the minimum {required:,}.",
                evidence,
            )
        ]
    return [
        Finding(
            FAIL,
            f"Paid-in capital {facts.paid_in_capital:,} {facts.capital_currency} is below the minimum "
            f"{required:,} for {jurisdiction}.",
            evidence,
        )
    ]


@rule("kyb_verified", "Identity (KYB) verified")
def kyb_verified(facts: Facts, t: dict) -> list[Finding]:
    """The institution's identity has been verified (KYB). Pending verification is flagged for
    review; a rejected verification fails."""
    evidence = {"kyb_status": facts.kyb_status}
    if facts.kyb_status == "verified":
        return [Finding(PASS, "KYB verified.", evidence)]
    if facts.kyb_status == "rejected":
        return [Finding(FAIL, "KYB verification was rejected.", evidence)]
    return [Finding(WARN, "KYB verification is pending.", evidence)]


@rule("not_blacklisted", "Not on the blacklist")
def not_blacklisted(facts: Facts, t: dict) -> list[Finding]:
    """The institution itself is not on the credit registry's active blacklist."""
    evidence = {"is_blacklisted": facts.is_blacklisted, "standing_reasons": list(facts.standing_reasons)}
    if facts.is_blacklisted:
        return [Finding(FAIL, "The institution is on the blacklist.", evidence)]
    return [Finding(PASS, "Not blacklisted.", evidence)]


@rule("credit_grade_minimum", "Credit grade at or above the minimum")
def credit_grade_minimum(facts: Facts, t: dict) -> list[Finding]:
    """The institution's own credit grade is at or above MINIMUM_GRADE (default M, on the
    ladder A > B > M > C > D): C and D fail."""
    minimum = t["MINIMUM_GRADE"]
    evidence = {"grade": facts.grade, "minimum": minimum}
    if grades.at_least(facts.grade, minimum):
        return [Finding(PASS, f"Grade {facts.grade} is at or above {minimum}.", evidence)]
    return [Finding(FAIL, f"Grade {facts.grade} is below the minimum {minimum}.", evidence)]


@rule("reserve_coverage", "Customer reserve coverage at least 100%")
def reserve_coverage(facts: Facts, t: dict) -> list[Finding]:
    """On the latest reserve report in each currency, balances held at the central bank or a
    qualified bank must cover at least RESERVE_COVERAGE_MIN_PERCENT (100) of customer funds
    owed. Exactly 100% passes. Accounts elsewhere do not count. No report yet: review."""
    minimum = Decimal(t["RESERVE_COVERAGE_MIN_PERCENT"])
    if not facts.latest_reports:
        return [Finding(WARN, "No reserve report has been filed yet.", {"minimum_percent": str(minimum)})]
    findings = []
    for report in facts.latest_reports:
        counted = sum((b[3] for b in report.balances if b[2] in ("central_bank", "qualified_bank")), Decimal(0))
        evidence = {
            "report_id": report.id,
            "report_date": report.report_date.isoformat(),
            "currency": report.currency,
            "customer_funds_owed": str(report.customer_funds_owed),
            "counted_balance": str(counted),
            "accounts": [
                {"account": ref, "bank": bank, "bank_kind": kind, "balance": str(balance)}
                for ref, bank, kind, balance in report.balances
            ],
            "minimum_percent": str(minimum),
        }
        if report.customer_funds_owed == 0:
            findings.append(Finding(PASS, f"No customer funds owed in {report.currency}.", evidence))
            continue
        percent = (counted * 100 / report.customer_funds_owed).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        evidence["coverage_percent"] = str(percent)
        if counted * 100 >= minimum * report.customer_funds_owed:
            findings.append(Finding(PASS, f"{report.currency} reserves cover {percent}% of funds owed.", evidence))
        else:
            reason = f"{report.currency} reserves cover only {percent}% of funds owed (minimum {minimum}%)."
            findings.append(Finding(FAIL, reason, evidence))
    return findings


@rule("reserve_report_fresh", "Latest reserve report is recent")
def reserve_report_fresh(facts: Facts, t: dict) -> list[Finding]:
    """The latest reserve report is dated no more than RESERVE_REPORT_MAX_AGE_BUSINESS_DAYS
    business days (Monday to Friday; default 1, for daily reconciliation) before today.
    Exactly the limit passes. No report yet: review."""
    limit = int(t["RESERVE_REPORT_MAX_AGE_BUSINESS_DAYS"])
    if not facts.latest_reports:
        return [Finding(WARN, "No reserve report has been filed yet.", {"max_age_business_days": limit})]
    latest = max(report.report_date for report in facts.latest_reports)
    age = working_days_between(latest, facts.today)
    evidence = {"latest_report_date": latest.isoformat(), "age_business_days": age, "max_age_business_days": limit}
    if age <= limit:
        return [Finding(PASS, f"Latest reserve report is {age} business day(s) old.", evidence)]
    return [Finding(FAIL, f"Latest reserve report is {age} business days old (limit {limit}).", evidence)]


@rule("reserve_outflows_permitted", "Reserve outflows only to permitted destinations")
def reserve_outflows_permitted(facts: Facts, t: dict) -> list[Finding]:
    """Customer reserve funds may leave only for customers' or merchants' settlement accounts,
    the filed own-funds account, pending-settlement accounts and partner institutions
    (PERMITTED_OUTFLOW_DESTINATIONS). Any other outflow on the latest reports fails."""
    permitted = set(t["PERMITTED_OUTFLOW_DESTINATIONS"])
    if not facts.latest_reports:
        return [Finding(PASS, "No reserve report yet, so no outflows to check.", {})]
    bad = []
    for report in facts.latest_reports:
        bad.extend(
            {"report_id": report.id, "currency": report.currency, "destination": dest, "amount": str(amount)}
            for dest, amount in report.outflows
            if dest not in permitted and amount > 0
        )
    evidence = {"permitted": sorted(permitted), "not_permitted": bad}
    if bad:
        kinds = sorted({item["destination"] for item in bad})
        return [
            Finding(FAIL, f"Reserve funds went to destinations that are not permitted: {', '.join(kinds)}.", evidence)
        ]
    return [Finding(PASS, "All reserve outflows went to permitted destinations.", evidence)]


# --- Running and deriving status ------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    results: list[tuple[Rule, Finding]]
    outcome: str
    status: str
    summary: str
    failing_corridors: dict[int, str]  # corridor id -> reason


def evaluate(facts: Facts, t: dict | None = None) -> Evaluation:
    t = t or thresholds()
    results = [(r, finding) for r in REGISTRY.values() for finding in r.check(facts, t)]
    return Evaluation(results=results, **derive_status(results))


def derive_status(results: list[tuple[Rule, Finding]]) -> dict:
    hard = [f for r, f in results if r.scope == "institution" and f.outcome == FAIL]
    warns = [f for r, f in results if r.scope == "institution" and f.outcome == WARN]
    failing_corridors: dict[int, str] = {}
    for r, f in results:
        if r.scope == "corridor" and f.outcome == FAIL and f.corridor_id is not None:
            failing_corridors.setdefault(f.corridor_id, f.reason)
    if hard:
        status, outcome, summary = "suspended", FAIL, "; ".join(f.reason for f in hard)
    elif warns:
        status, outcome, summary = "under_review", WARN, "; ".join(f.reason for f in warns)
    else:
        status, outcome, summary = "compliant", PASS, "Every rule passed."
    if failing_corridors and outcome == PASS:
        summary = f"Compliant; {len(failing_corridors)} corridor(s) switched off."
    return {"outcome": outcome, "status": status, "summary": summary, "failing_corridors": failing_corridors}

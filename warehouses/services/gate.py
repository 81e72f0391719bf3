"""The credit gate for leases, built on the credit service's "may X?" answer.

Grade ladder (best first): A, B, M (new, too little history), C, D. A listing's
`min_tenant_grade` must be met by the tenant's current grade snapshot; instant booking
needs at least ENTREPOT["WAREHOUSE_INSTANT_MIN_GRADE"] (default B), otherwise an instant
listing takes the lease as a request the operator answers within 24 hours.
"""

from dataclasses import dataclass, field

from django.conf import settings

from core import grades
from credit.models import Subject
from credit.selectors.standing import may_subject, may_subjects
from warehouses.errors import CreditGateRefused
from warehouses.models import Listing


@dataclass
class GateOutcome:
    instant: bool
    reasons: list[dict] = field(default_factory=list)


def instant_min_grade() -> str:
    return getattr(settings, "ENTREPOT", {}).get("WAREHOUSE_INSTANT_MIN_GRADE", "B")


def check_operator(*, owner: Subject) -> list[dict]:
    decision = may_subject(subject_id=owner.pk, action="list_capacity")
    if not decision.allowed:
        raise CreditGateRefused(
            reasons=[
                {"code": f"operator_{r['code']}", "message": f"The operator may not list capacity: {r['message']}"}
                for r in decision.reasons
            ]
        )
    return list(decision.reasons)


def check_lease(*, tenant: Subject, listing: Listing) -> GateOutcome:
    """Raises CreditGateRefused with every reason; otherwise says whether the lease is
    instant and why."""
    refusals: list[dict] = []
    # Both parties' standing in one query (the listing comes with its warehouse's owner).
    decision, owner_decision = may_subjects(checks=[(tenant, "lease"), (listing.warehouse.owner, "list_capacity")])
    if not decision.allowed:
        refusals += decision.reasons
    if not owner_decision.allowed:
        refusals += [
            {"code": f"operator_{r['code']}", "message": f"The operator may not lease out space: {r['message']}"}
            for r in owner_decision.reasons
        ]
    minimum = listing.min_tenant_grade
    if minimum and not grades.at_least(tenant.grade or "D", minimum):
        refusals.append(
            {
                "code": "grade_below_minimum",
                "message": (
                    f"This listing needs tenant grade {minimum} or better; {tenant.legal_name} has {tenant.grade}."
                ),
            }
        )
    if refusals:
        raise CreditGateRefused(reasons=refusals)
    reasons = list(decision.reasons)
    if minimum:
        reasons.append(
            {"code": "grade_meets_minimum", "message": f"Grade {tenant.grade} meets the listing's minimum {minimum}."}
        )
    instant = False
    if listing.booking_mode == Listing.BookingMode.INSTANT:
        needed = instant_min_grade()
        if grades.at_least(tenant.grade or "D", needed):
            instant = True
            reasons.append(
                {"code": "instant_booking", "message": f"Grade {tenant.grade} allows instant booking (needs {needed})."}
            )
        else:
            reasons.append(
                {
                    "code": "instant_needs_grade",
                    "message": (
                        f"Instant booking needs grade {needed} or better; grade {tenant.grade} books by request, "
                        "which the operator answers within the deadline."
                    ),
                }
            )
    return GateOutcome(instant=instant, reasons=reasons)

"""Warehouse marketplace errors (categories from core.errors decide the HTTP status)."""

from core.errors import Conflict, NotAllowed, NotFound


class WarehouseNotFound(NotFound):
    code = "warehouse_not_found"
    default_message = "No such warehouse."


class ListingNotFound(NotFound):
    code = "listing_not_found"
    default_message = "No such listing."


class LeaseNotFound(NotFound):
    code = "lease_not_found"
    default_message = "No such lease."


class NotEnoughCapacity(Conflict):
    code = "not_enough_capacity"
    default_message = "Not enough free capacity on every day of the range."


class CapacityBelowReserved(Conflict):
    code = "capacity_below_reserved"
    default_message = "Capacity cannot be cut below what is already reserved."


class CreditGateRefused(NotAllowed):
    """The credit service (or the listing's minimum grade) refuses the deal; `reasons`
    lists each reason as {code, message} and is shown to the user."""

    code = "credit_gate_refused"
    default_message = "The credit check refuses this lease."

    def __init__(self, message=None, *, reasons=None, code=None):
        self.reasons = reasons or []
        super().__init__(
            message or "; ".join(r["message"] for r in self.reasons) or None,
            code=code,
            field_errors={"credit": [r["message"] for r in self.reasons]} if self.reasons else None,
        )


class InvalidTransition(Conflict):
    code = "invalid_transition"
    default_message = "The lease is not in a state that allows this."


class TransferNotFound(NotFound):
    code = "transfer_not_found"
    default_message = "No such lease transfer."


class ReviewNotAllowed(Conflict):
    code = "review_not_allowed"
    default_message = "This lease cannot be reviewed now."

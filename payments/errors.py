from core.errors import Conflict, NotAllowed, NotFound


class NotAnInstitution(NotAllowed):
    code = "not_an_institution"
    default_message = "Only members of a payment institution may do this."


class APIKeyNotFound(NotFound):
    code = "api_key_not_found"
    default_message = "No such API key."


class InstitutionNotFound(NotFound):
    code = "institution_not_found"
    default_message = "No such payment institution."


class RegulatorOnly(NotAllowed):
    code = "regulator_only"
    default_message = "Only a regulator may do this."


class InstitutionSuspended(NotAllowed):
    code = "institution_suspended"
    default_message = "This institution is suspended."


class InstitutionUnderReview(NotAllowed):
    code = "institution_under_review"
    default_message = "This institution is under compliance review."


class MissingScope(NotAllowed):
    code = "missing_scope"
    default_message = "This API key lacks the scope for this operation."


class DuplicatePaymentReport(Conflict):
    code = "duplicate_payment_report"
    default_message = "This payment outcome has already been reported."


class EndpointNotFound(NotFound):
    code = "webhook_endpoint_not_found"
    default_message = "No such webhook endpoint."


class InstitutionNotSuspended(Conflict):
    code = "institution_not_suspended"
    default_message = "This institution is not suspended by a regulator."


# --- Escrow and disputes ------------------------------------------------------------------


class PaymentRouteRefused(Conflict):
    """The chosen institution cannot take this payment; `reasons` lists {code, message}."""

    code = "payment_route_refused"
    default_message = "This payment institution cannot take this payment."

    def __init__(self, message=None, *, reasons=None, code=None):
        self.reasons = reasons or []
        super().__init__(
            message or "; ".join(r["message"] for r in self.reasons) or None,
            code=code,
            field_errors={"institution": [r["message"] for r in self.reasons]} if self.reasons else None,
        )


class EscrowNotFound(NotFound):
    code = "escrow_not_found"
    default_message = "Nothing has been paid into escrow for this."


class EscrowNotFunded(Conflict):
    code = "escrow_not_funded"
    default_message = "Nothing has been paid into escrow yet."


class EscrowFrozen(Conflict):
    code = "escrow_frozen"
    default_message = "The escrow is frozen by an open dispute; nothing moves until it is resolved."


class EscrowDecided(Conflict):
    code = "escrow_decided"
    default_message = "A dispute decision has settled this escrow; its money can no longer follow a transfer."


class EscrowAlreadyFunded(Conflict):
    code = "escrow_already_funded"
    default_message = "This escrow is paid already: a transfer cannot pay it again."


class InsufficientEscrow(Conflict):
    code = "insufficient_escrow"
    default_message = "The escrow does not hold that much."


class DisputeNotFound(NotFound):
    code = "dispute_not_found"
    default_message = "No such dispute."


class DisputeAlreadyOpen(Conflict):
    code = "dispute_already_open"
    default_message = "A dispute about this is already open."


class StaffOnly(NotAllowed):
    code = "staff_only"
    default_message = "Only platform staff may do this."

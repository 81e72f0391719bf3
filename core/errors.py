"""Domain errors. Every app's errors derive from these categories; the API's exception
handler (config/api.py) chooses the HTTP status by category, and web views show
`message` beside the field named in `field_errors`."""


class DomainError(Exception):
    code = "domain_error"
    default_message = "The request could not be carried out."

    def __init__(self, message: str | None = None, *, code: str | None = None, field_errors=None):
        self.message = message or self.default_message
        if code:
            self.code = code
        self.field_errors = field_errors or {}
        super().__init__(self.message)


class NotFound(DomainError):
    code = "not_found"
    default_message = "Not found."


class InvalidInput(DomainError):
    code = "invalid"
    default_message = "The input is not valid."


class Conflict(DomainError):
    code = "conflict"
    default_message = "The request conflicts with the current state."


class NotAllowed(DomainError):
    code = "not_allowed"
    default_message = "You may not do this."


class Busy(DomainError):
    """A lock could not be taken in time: retry shortly."""

    code = "busy"
    default_message = "The resource is busy; retry shortly."
    retry_after_seconds = 1


class IdempotencyKeyRequired(InvalidInput):
    code = "idempotency_key_required"
    default_message = "This request needs an Idempotency-Key header."


class IdempotencyKeyReused(DomainError):
    """Same key, different payload: 422 (DomainError's default status)."""

    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was used with a different request."


class IdempotencyInFlight(Conflict):
    code = "idempotency_in_flight"
    default_message = "A request with this Idempotency-Key is still being processed; retry shortly."
    retry_after_seconds = 1

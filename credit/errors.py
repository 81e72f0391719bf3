"""The registry's domain errors. The categories (and the HTTP status each maps to) are
core's; they are re-exported here while callers move to `core.errors`."""

from core.errors import Busy, Conflict, DomainError, InvalidInput, NotAllowed, NotFound  # noqa: F401


class SubjectNotFound(NotFound):
    code = "subject_not_found"
    default_message = "No such subject."

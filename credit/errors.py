"""The registry's domain errors, each in one of core's categories (core.errors), which
decide the HTTP status."""

from core.errors import NotFound


class SubjectNotFound(NotFound):
    code = "subject_not_found"
    default_message = "No such subject."

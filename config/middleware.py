"""Request guards that apply to every page and endpoint."""

from django.conf import settings

from config.views import handler_400, handler_413


class RejectOversizedBodiesMiddleware:
    """A request body declared larger than DATA_UPLOAD_MAX_MEMORY_SIZE (Django's 2.5 MB)
    is answered 413 before anything reads it or looks the caller up: problem+json
    `request_too_large` under /api/, a page elsewhere; the same for anonymous callers.
    Reading such a body would raise RequestDataTooBig wherever it happened (a 500 from a
    view). Multipart bodies are left to Django, which counts only their non-file fields
    against the limit (and the handlers answer 413 for those too)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and request.content_type != "multipart/form-data":
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                return handler_413(request)
        return self.get_response(request)


class RejectNulBytesMiddleware:
    """A NUL byte in the path or query string is never meaningful, and PostgreSQL refuses it
    in any string literal (`ValueError`/`DataError` -> 500). Answer 400 before any view runs
    (problem+json under /api/), and the same for a web form posted with one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or _has_nul(request.GET):
            return handler_400(request)
        # Web forms: some views read a raw field (a reason, a status) without a Django form
        # field's NUL validator. API bodies are left to the API's
        # parsers; CsrfViewMiddleware reads request.POST of web forms anyway.
        if (
            request.method == "POST"
            and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
            and not request.path.startswith("/api/")
            and _has_nul(request.POST)
        ):
            return handler_400(request)
        return self.get_response(request)


def _has_nul(query) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in query.lists())

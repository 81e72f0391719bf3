"""Request guards that apply to every page and endpoint."""

from config.views import handler_400


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

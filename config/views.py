"""Error pages: problem+json under /api/, HTML elsewhere. Nothing answers a bare 500."""

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.views.decorators.csrf import csrf_exempt

from config.api import problem_response, too_large_detail


@csrf_exempt
def api_not_found(request, rest=""):
    return problem_response(404, code="not_found", detail=f"No API endpoint at {request.path}.")


def handler_400(request, exception=None):
    """Bad requests Django itself rejects (a disallowed Host header, too many fields...)."""
    if isinstance(exception, RequestDataTooBig):
        return handler_413(request)
    if request.path.startswith("/api/"):
        return problem_response(400, code="bad_request", detail="The request could not be understood.")
    return HttpResponseBadRequest(loader.render_to_string("400.html"))


def handler_413(request, exception=None):
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE (RejectOversizedBodiesMiddleware, or Django
    finding out while reading one)."""
    if request.path.startswith("/api/"):
        return problem_response(413, code="request_too_large", detail=too_large_detail())
    return HttpResponse(loader.render_to_string("413.html"), status=413)


def handler_403(request, exception=None):
    if request.path.startswith("/api/"):
        return problem_response(403, code="permission_denied", detail="You may not do this.")
    return HttpResponseForbidden(loader.render_to_string("403.html"))


def handler_404(request, exception=None):
    if request.path.startswith("/api/"):
        return api_not_found(request)
    return render(request, "404.html", status=404)


def handler_500(request):
    """Touches neither the database nor Redis (either may be why we are here): no request
    context, so no context processors run."""
    if request.path.startswith("/api/"):
        return problem_response(500, code="server_error", detail="An unexpected error occurred; it has been logged.")
    return HttpResponseServerError(loader.render_to_string("500.html"))

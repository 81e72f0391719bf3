"""Project-wide API wiring: RFC 9457 problem+json errors, pagination and throttles."""

import codecs
import logging
import math
import re
import threading

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from django.utils.translation import gettext
from redis.exceptions import RedisError
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser as BaseJSONParser
from rest_framework.parsers import get_encoding
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.utils import json

from core import errors

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://entrepot.example/problems/"

DOMAIN_STATUS = (
    (errors.NotFound, status.HTTP_404_NOT_FOUND),
    (errors.InvalidInput, status.HTTP_400_BAD_REQUEST),
    (errors.Busy, status.HTTP_409_CONFLICT),
    (errors.Conflict, status.HTTP_409_CONFLICT),
    (errors.NotAllowed, status.HTTP_403_FORBIDDEN),
    (errors.DomainError, status.HTTP_422_UNPROCESSABLE_ENTITY),
)

TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"

    def __init__(self):
        super().__init__(too_large_detail(), code=self.default_code)


def too_large_detail() -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
    return gettext("The request body is larger than %(limit)s bytes; send less at a time.") % {"limit": f"{limit:,}"}


def problem(status_code: int, *, code: str, detail: str, errors_by_field=None, headers=None) -> dict:
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if errors_by_field:
        body["errors"] = errors_by_field
    return body


def _flatten(detail):
    """DRF's nested ErrorDetail structures as plain JSON lists of messages per field."""
    if isinstance(detail, dict):
        return {str(key): _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [str(item) for item in detail]
        return [_flatten(item) for item in detail]
    return [str(detail)]


def _first_message(errors, path=""):
    """(dotted field path, message) of the first leaf in a nested error structure, e.g.
    ("items.3.registration_number", "This field is required.")."""
    if isinstance(errors, dict):
        items = errors.items()
    elif isinstance(errors, list):
        if errors and all(isinstance(item, str) for item in errors):
            return (path or "non_field_errors", errors[0])
        items = enumerate(errors)
    else:
        return (path or "non_field_errors", str(errors))
    for key, value in items:
        found = _first_message(value, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


def problem_exception_handler(exc, context):
    headers = {}
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):  # a body with no Content-Length, read past the limit
        exc = RequestTooLarge()

    if isinstance(exc, errors.DomainError):
        status_code = next(code for cls, code in DOMAIN_STATUS if isinstance(exc, cls))
        if getattr(exc, "retry_after_seconds", None):  # busy, or a copy still in flight
            headers["Retry-After"] = str(exc.retry_after_seconds)
        body = problem(
            status_code,
            code=exc.code,
            detail=exc.message,
            errors_by_field={k: _flatten(v) for k, v in exc.field_errors.items()},
        )
    elif isinstance(exc, exceptions.ValidationError):
        status_code = status.HTTP_400_BAD_REQUEST
        field_errors = _flatten(exc.detail)
        if not isinstance(field_errors, dict):
            field_errors = {"non_field_errors": field_errors}
        first = _first_message(field_errors)
        summary = f"{first[0]}: {first[1]}" if first else "Invalid input."
        body = problem(status_code, code="invalid", detail=summary, errors_by_field=field_errors)
    elif isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        body = problem(status_code, code=code, detail=str(detail))
    else:
        logger.exception("Unhandled API error", exc_info=exc)
        status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
        body = problem(status_code, code="server_error", detail="An unexpected error occurred; it has been logged.")

    # An authentication failure answers 401 when a scheme can be offered, else 403.
    request = context.get("request")
    if status_code == 401 and request is not None and "WWW-Authenticate" not in headers:
        headers["WWW-Authenticate"] = 'Api-Key realm="api"'
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def problem_response(status_code: int, *, code: str, detail: str) -> JsonResponse:
    return JsonResponse(
        problem(status_code, code=code, detail=detail), status=status_code, content_type=PROBLEM_CONTENT_TYPE
    )


# A \uXXXX escape of a UTF-16 surrogate (D800-DFFF). Valid JSON, but unless a high one is
# followed by a low one it decodes to a lone surrogate: a str that cannot be encoded, so
# every later step that encodes it (PostgreSQL, the renderer echoing it in an error) fails.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class JSONParser(BaseJSONParser):
    """DRF's JSON parser, refusing with a 400 what would otherwise fail later as a 500:
    bodies nested deeper than Python's recursion limit, and strings (values or keys) that
    hold a lone surrogate escape such as "\\ud800" (code `invalid_unicode`)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            text = codecs.getreader(get_encoding(parser_context or {}))(stream).read()
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - the document is nested too deeply.") from None
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        # Only a surrogate escape in the text can make one: most bodies skip the walk.
        if _SURROGATE_ESCAPE.search(text):
            where = lone_surrogate_at(data)
            if where is not None:
                raise exceptions.ParseError(
                    gettext("The JSON text is not valid Unicode: %(field)s holds an unpaired surrogate escape.")
                    % {"field": where or gettext("the document")},
                    code="invalid_unicode",
                )
        return data


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def lone_surrogate_at(data, path: str = "") -> str | None:
    """The dotted path ("items.3.name") of the first string, or key, holding a lone
    surrogate in parsed JSON; "" for the document itself; None when there is none."""
    if isinstance(data, str):
        return None if _encodable(data) else path
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = ((str(i), v) for i, v in enumerate(data))
    else:
        return None
    for key, value in items:
        here = f"{path}.{key}" if path else key
        if isinstance(key, str) and not _encodable(key):
            return path or "(key)"
        found = lone_surrogate_at(value, here)
        if found is not None:
            return found
    return None


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


class FailOpenThrottleMixin:
    """Throttle counters live in Redis; if Redis is down, serve rather than fail."""

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError):
            logger.warning("Throttle store unavailable; allowing request")
            return True


class SlidingWindowThrottle(SimpleRateThrottle):
    """One bucket per client (subclasses say who): a sliding-window counter in Redis. The
    previous window counts pro rata to its overlap with the last `duration` seconds; a
    refused request is not counted.

    Each worker process takes permits from Redis in leases of 1% of the rate (one script
    call: count this window, read the previous one, grant what fits) and spends them
    locally, so most requests make no Redis round trip at all; permits a process leased
    but did not use before the window ended still count, so a client may be refused up to
    (processes x 1%) of its rate early. (DRF's own throttle pickles up to the rate's worth
    of timestamps to and from Redis on every request, through a new Redis client object
    each time.)"""

    LEASE_FRACTION = 100  # a lease is 1/100 of the rate (at least one request)

    def ident_for(self, request) -> str | None:
        raise NotImplementedError

    def get_cache_key(self, request, view):
        ident = self.ident_for(request)
        return None if ident is None else self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        base = self.get_cache_key(request, view)
        if base is None:
            return True
        script = _throttle_script()
        if script is None:  # not a Redis cache: DRF's own history-list throttle
            return super().allow_request(request, view)
        now = self.timer()
        window = int(now // self.duration)
        lease_key = (cache.make_key(base), self.num_requests, self.duration)
        with _leases_lock:
            lease = _leases.get(lease_key)
            if lease is not None and lease[0] == window and lease[1] > 0:
                lease[1] -= 1
                return True
        elapsed = now / self.duration - window  # fraction of the current window gone by
        granted, count, previous = script(
            keys=[cache.make_key(f"{base}:{window}"), cache.make_key(f"{base}:{window - 1}")],
            args=[
                2 * self.duration + 1,
                self.num_requests,
                repr(elapsed),
                max(1, self.num_requests // self.LEASE_FRACTION),
            ],
        )
        if granted:
            with _leases_lock:
                if len(_leases) > 10_000:
                    _leases.clear()
                lease = _leases.get(lease_key)
                if lease is not None and lease[0] == window:
                    lease[1] += granted - 1
                else:
                    _leases[lease_key] = [window, granted - 1]
            return True
        # Seconds until one more request fits: the previous window's share shrinks as the
        # current one advances; once this window is full, it has to become "previous".
        if count < self.num_requests and previous:
            fraction = 1 - (self.num_requests - count - 1) / previous
            self._wait = (fraction - elapsed) * self.duration
        else:
            fraction = 1 - (self.num_requests - 1) / max(count, 1)
            self._wait = (1 - elapsed + max(fraction, 0)) * self.duration
        return False

    def wait(self):
        return max(1, math.ceil(round(getattr(self, "_wait", self.duration), 3)))


class AnonThrottle(FailOpenThrottleMixin, SlidingWindowThrottle):
    """Requests without credentials, per client address."""

    scope = "anon"

    def ident_for(self, request):
        if getattr(request, "auth", None) is not None or request.user.is_authenticated:
            return None
        return self.get_ident(request)


class UserThrottle(FailOpenThrottleMixin, SlidingWindowThrottle):
    """Signed-in users (session or token), per user."""

    scope = "user"

    def ident_for(self, request):
        return request.user.pk if request.user and request.user.is_authenticated else None


class APIKeyThrottle(FailOpenThrottleMixin, SlidingWindowThrottle):
    """Payment-provider keys, per key."""

    scope = "api_key"

    def ident_for(self, request):
        key = getattr(request, "api_key", None)
        return None if key is None else key.prefix


# Grants up to ARGV[4] permits that fit under the limit ARGV[2] in the window KEYS[1], the
# previous window KEYS[2] weighing 1 - ARGV[3]; returns {granted, count, previous}.
SLIDING_WINDOW_LUA = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local room = math.floor(tonumber(ARGV[2]) - previous * (1 - tonumber(ARGV[3])) - count)
if room < 1 then return {0, count, previous} end
local granted = math.min(tonumber(ARGV[4]), room)
count = redis.call('INCRBY', KEYS[1], granted)
redis.call('EXPIRE', KEYS[1], ARGV[1])
return {granted, count, previous}
"""
_throttle_scripts: dict = {}
_leases: dict = {}  # (key, rate, duration) -> [window, permits left] in this process
_leases_lock = threading.Lock()


def _throttle_script():
    """The sliding-window script bound to one Redis client per process and cache location,
    or None when the cache is not Redis. (Django's Redis cache builds a new client object
    on every call, which costs more than the script itself.)"""
    backend = getattr(cache, "_cache", None)
    servers = getattr(backend, "_servers", None)
    if not servers:
        return None
    script = _throttle_scripts.get(servers[0])
    if script is None:
        script = backend.get_client(write=True).register_script(SLIDING_WINDOW_LUA)
        _throttle_scripts[servers[0]] = script
    return script

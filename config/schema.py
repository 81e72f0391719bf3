"""The OpenAPI schema's error answers, declared once for every operation.

Views document their success answers and the errors particular to them; what any operation
can answer is added here (a drf-spectacular postprocessing hook), so the schema says what
the middleware, authentication, throttles and content negotiation really do:

| status | on which operations |
|---|---|
| 400 bad request | any with parameters or a body (NUL bytes, malformed JSON, invalid fields) |
| 401 not authenticated | every one (credentials that do not check out are refused everywhere) |
| 403 forbidden | any that needs a signed-in caller, and every write (CSRF, permissions) |
| 404 not found | any with a path parameter or a `page` |
| 406 not acceptable | every one (an `Accept` header JSON cannot satisfy) |
| 413 content too large | every write (RejectOversizedBodiesMiddleware) |
| 415 unsupported media type | any with a body |
| 429 too many requests | every one (throttles), with `Retry-After` |

Every 4xx answer is `application/problem+json` (RFC 9457) with the `Problem` schema,
whatever a view declared for it."""

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An RFC 9457 problem: what went wrong, with a stable `code` and, for invalid input, "
    "the messages per field in `errors`.",
    "properties": {
        "type": {"type": "string", "format": "uri", "description": "Identifies the problem type"},
        "title": {"type": "string", "description": "The HTTP status, in words"},
        "status": {"type": "integer", "description": "The HTTP status code"},
        "detail": {"type": "string", "description": "What went wrong, for a person"},
        "code": {"type": "string", "description": "Stable and machine-readable, e.g. `invalid`, `not_found`"},
        "errors": {
            "type": "object",
            "description": "Messages per field (dotted paths for nested fields)",
            "additionalProperties": {},
        },
    },
    "required": ["type", "title", "status", "detail", "code"],
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying"}}
WWW_AUTHENTICATE = {
    "WWW-Authenticate": {"schema": {"type": "string"}, "description": "The scheme to authenticate with"}
}
DESCRIPTIONS = {
    400: "Malformed or invalid request; `errors` names each field",
    401: "No valid credentials",
    403: "The caller may not do this",
    404: "Not found, or not visible to the caller",
    406: "No representation matches the Accept header",
    409: "Conflicts with the current state, or busy (see Retry-After)",
    413: "The request body is too large",
    415: "The request body is not in a supported media type",
    422: "Understood but refused by a business rule",
    429: "Too many requests",
}
HEADERS = {401: WWW_AUTHENTICATE, 409: RETRY_AFTER, 429: RETRY_AFTER}
UNSAFE = {"post", "put", "patch", "delete"}


def _statuses(path: str, method: str, operation: dict) -> set[int]:
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    anonymous = {} in operation.get("security", [{}])
    found = {401, 406, 429}
    if parameters or has_body:
        found.add(400)
    if method in UNSAFE or not anonymous:
        found.add(403)
    if "{" in path or any(p.get("name") == "page" and p.get("in") == "query" for p in parameters):
        found.add(404)
    if method in UNSAFE:
        found.add(413)
    if has_body:
        found.add(415)
    return found


def declare_problem_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: see the module docstring."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in _statuses(path, method, operation):
                responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
            for code, response in responses.items():
                if not code.isdigit() or int(code) < 400:
                    continue
                response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}
                if response.get("description", "") in ("", "No response body", PROBLEM_MEDIA_TYPE):
                    response["description"] = DESCRIPTIONS.get(int(code), "Error")
                if int(code) in HEADERS:
                    response.setdefault("headers", {}).update(HEADERS[int(code)])
            operation["responses"] = dict(sorted(responses.items()))
    return result

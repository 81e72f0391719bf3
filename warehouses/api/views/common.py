"""What every warehouses API view shares: problem responses, tags, the Idempotency-Key
parameter, the search pagination and one factory for the POST-an-action views."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from core.api import validated
from credit.selectors import accounts

PROBLEM = OpenApiResponse(description="application/problem+json with `code`, `detail` and per-field `errors`")
ERRORS = {400: PROBLEM, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM}
TAGS = ["warehouses"]
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="Same key + same body replays the first response; another body: 422; in flight: 409",
)


def acting_subject(user, given: int | None, field: str) -> int:
    """The id of the subject the user acts for: the one given (if theirs), or their only one."""
    return accounts.acting_subject(user=user, subject_id=given, field=field).pk


MAX_PAGE_NUMBER = 1_000_000


class SearchPagination(BasePagination):
    """Page numbers without a total: counting every available listing would cost more
    than finding the page. `next` is null on the last page."""

    page_size = 25
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        try:
            self.page = int(request.query_params.get("page", 1))
            size = int(request.query_params.get("page_size", self.page_size))
        except ValueError:
            raise ValidationError({"page": ["Use whole numbers for page and page_size."]}) from None
        if self.page < 1 or size < 1:
            raise ValidationError({"page": ["Pages and page sizes start at 1."]})
        self.size = min(size, self.max_page_size)
        offset = (self.page - 1) * self.size
        # Past any real result set; a huge OFFSET would overflow the database's integer.
        rows = list(queryset[offset : offset + self.size + 1]) if self.page <= MAX_PAGE_NUMBER else []
        self.has_next = len(rows) > self.size
        return rows[: self.size]

    def get_paginated_response(self, data):
        url = self.request.build_absolute_uri()
        return Response(
            {
                "page": self.page,
                "next": replace_query_param(url, "page", self.page + 1) if self.has_next else None,
                "previous": replace_query_param(url, "page", self.page - 1) if self.page > 1 else None,
                "results": data,
            }
        )

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "page",
                "required": False,
                "in": "query",
                "description": "A page number (from 1).",
                "schema": {"type": "integer"},
            },
            {
                "name": "page_size",
                "required": False,
                "in": "query",
                "description": f"Results per page (default {self.page_size}, at most {self.max_page_size}).",
                "schema": {"type": "integer"},
            },
        ]

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["page", "results"],
            "properties": {
                "page": {"type": "integer"},
                "next": {"type": "string", "format": "uri", "nullable": True},
                "previous": {"type": "string", "format": "uri", "nullable": True},
                "results": schema,
            },
        }


def action_view(*, name: str, operation_id: str, doc: str, request, response, read, call) -> type[APIView]:
    """A POST view for one action on one object (the URL's only argument): `read(user, pk)`
    answers 404 for anyone who cannot see the object, then the input serializer `request`
    (or none), then `call(user, pk, validated_data)` (the service), then the object as
    `read` gives it again, through the output serializer `response`."""

    class ActionView(APIView):
        permission_classes = [IsAuthenticated]

        @extend_schema(
            request=request,
            responses={200: response, **ERRORS},
            tags=TAGS,
            description=doc,
            operation_id=operation_id,
        )
        def post(self, http_request, **url):
            (pk,) = url.values()
            read(http_request.user, pk)
            values = {} if request is None else validated(request, http_request.data)
            call(http_request.user, pk, values)
            return Response(response(read(http_request.user, pk)).data)

    ActionView.__name__ = ActionView.__qualname__ = name
    return ActionView

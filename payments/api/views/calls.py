"""The calling institution's own API call log."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema

from config.api import Pagination
from payments.api import serializers as s
from payments.api.views.base import ERRORS, InstitutionAPIView, paginated
from payments.models import APICallRecord
from payments.selectors import filter_api_calls, with_key_names


class APICallsView(InstitutionAPIView):
    """The calling institution's own API calls, newest first (this request included once
    it has finished)."""

    pagination_class = Pagination  # paginated by `paginated`: the schema documents the pages too

    @extend_schema(
        parameters=[
            OpenApiParameter("date_from", OpenApiTypes.DATE, description="UTC day, included"),
            OpenApiParameter("date_to", OpenApiTypes.DATE, description="UTC day, included"),
            OpenApiParameter("endpoint", OpenApiTypes.STR, description="Part of the path, e.g. screenings"),
            OpenApiParameter("status", OpenApiTypes.STR, description="A status code (403) or a class (4xx)"),
            OpenApiParameter("decision", OpenApiTypes.STR, description="Part of the decision, e.g. deny"),
        ],
        responses={200: s.APICallRecordSerializer(many=True), **ERRORS},
        tags=["payments"],
    )
    def get(self, request):
        params = s.APICallFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        qs = filter_api_calls(
            with_key_names(APICallRecord.objects.filter(institution_id=request.institution.pk).order_by("-at", "-id")),
            **{k: v for k, v in params.validated_data.items() if v not in (None, "")},
        )
        return paginated(request, self, qs, s.APICallRecordSerializer)

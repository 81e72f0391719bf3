"""What every payment-provider API view shares: the API-key permission, the call record,
the documented errors, pagination, a write for the institution and ending a filing."""

import time

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import Pagination, problem_exception_handler
from core.errors import NotAllowed
from payments import errors
from payments.api import serializers as s
from payments.models import APICallRecord, InstitutionProfile, ProviderAPIKey

PROBLEM = OpenApiResponse(description="application/problem+json")
ERRORS = {400: PROBLEM, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 429: PROBLEM}
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="Same key + same payload replays the first response; another payload 422; in flight 409.",
)


class InstitutionAPIKey(BasePermission):
    """An API key with the view's `required_scope`; `view.requires_compliance` also needs the
    institution to be compliant. Sets request.institution (the InstitutionProfile)."""

    def has_permission(self, request, view):
        key = request.auth if isinstance(request.auth, ProviderAPIKey) else None
        if key is None:
            if request.user and request.user.is_authenticated:
                raise NotAllowed("This endpoint takes a payment institution's API key.", code="api_key_required")
            raise exceptions.NotAuthenticated("This endpoint takes a payment institution's API key.")
        scope = getattr(view, "required_scope", None)
        if scope and not key.has_scope(scope):
            raise errors.MissingScope(f"This API key lacks the '{scope}' scope.")
        # Read with the key by APIKeyAuthentication (same query, same request).
        profile = getattr(key, "institution_profile", None)
        if profile is None or profile.pk != key.institution_id:
            profile = InstitutionProfile.objects.filter(pk=key.institution_id).first()
        if profile is None:
            raise errors.InstitutionUnderReview(
                "This institution has not registered for compliance review yet.", code="institution_not_registered"
            )
        request.institution = profile
        if getattr(view, "requires_compliance", False):
            if profile.status == InstitutionProfile.Status.SUSPENDED:
                raise errors.InstitutionSuspended(f"This institution is suspended: {profile.status_reason}")
            if profile.status != InstitutionProfile.Status.COMPLIANT:
                raise errors.InstitutionUnderReview(
                    f"This institution is under compliance review: {profile.status_reason}"
                )
        return True


class InstitutionAPIView(APIView):
    """Records every call: who (key), when, what, the status and which decision."""

    permission_classes = [InstitutionAPIKey]
    required_scope: str | None = None
    requires_compliance = False

    def initial(self, request, *args, **kwargs):
        request._started = time.monotonic()
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        key = request._request.__dict__.get("api_key")
        if key is None:
            return response
        decision = getattr(request, "decision_summary", "")
        if response.status_code >= 400 and isinstance(response.data, dict):
            decision = str(response.data.get("code", "")) or decision
        recorded = getattr(request, "call_record_id", None)  # stored with the decisions
        if recorded is None:
            APICallRecord.objects.create(**self.call_record(request, response.status_code, decision))
        elif response.status_code != status.HTTP_200_OK:  # failed after the decisions were stored
            APICallRecord.objects.filter(pk=recorded).update(status_code=response.status_code, decision=decision[:200])
        return response

    def call_record(self, request, status_code: int, decision: str) -> dict:
        """The APICallRecord fields for this call."""
        key = request._request.__dict__.get("api_key")
        started = getattr(request, "_started", None)
        return {
            "at": timezone.now(),
            "api_key_prefix": key.prefix,
            "institution_id": key.institution_id,
            "method": request.method,
            "path": request.path[:300],
            "status_code": status_code,
            "decision": decision[:200],
            "duration_ms": int((time.monotonic() - started) * 1000) if started else 0,
        }


def problem_pair(request):
    def render(exc):
        response = problem_exception_handler(exc, {"request": request})
        return response.status_code, response.data

    return render


def paginated(request, view, queryset, serializer_class):
    """One page of `queryset` in the project's pagination envelope (the view's
    `pagination_class`, which also documents the pages in the schema)."""
    paginator = (getattr(view, "pagination_class", None) or Pagination)()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


def institution_write(request, *, service, input_serializer, output, created=False, **target):
    """Input serializer -> a service acting for the calling institution (on `target`, e.g.
    endpoint_id=...) -> output serializer; 201 when the service created something."""
    data = input_serializer(data=request.data)
    data.is_valid(raise_exception=True)
    result = service(actor=request.auth, institution_id=request.institution.pk, **target, **data.validated_data)
    return Response(output(result).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def end_filing(request, *, service, output, input_serializer=None, **target):
    """Input serializer -> the filings service -> output serializer. A service that ends the
    filing by removing it (a reserve account no report named) answers 204."""
    data = (input_serializer or s.EndInputSerializer)(data=request.data)
    data.is_valid(raise_exception=True)
    ended = service(actor=request.auth, institution_id=request.institution.pk, **target, **data.validated_data)
    if ended is None:
        return Response(status=status.HTTP_204_NO_CONTENT)
    return Response(output(ended).data)

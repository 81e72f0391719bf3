"""Payment reports: an idempotent POST that becomes a credit event."""

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from config.api import PROBLEM_CONTENT_TYPE, problem_exception_handler
from core import idempotency
from core.errors import IdempotencyInFlight, InvalidInput, NotFound
from credit.selectors.accounts import find_subject_by_registration
from payments import services
from payments.api import serializers as s
from payments.api.views.base import ERRORS, IDEMPOTENCY_HEADER, PROBLEM, InstitutionAPIView, problem_pair
from payments.models import ProviderAPIKey


class PaymentReportView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.REPORT
    requires_compliance = True

    @extend_schema(
        request=s.PaymentReportInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: s.PaymentReportSerializer, 409: PROBLEM, 422: PROBLEM, **ERRORS},
        tags=["payments"],
        summary="Report a payment outcome about a subject (becomes a credit event)",
    )
    def post(self, request):
        key = request.auth
        body = request._request.body  # read before DRF parses it; the parser reuses it
        fingerprint = idempotency.fingerprint(method=request.method, path=request.path, body=body)

        def handle():
            serializer = s.PaymentReportInputSerializer(data=request.data)
            if not serializer.is_valid():
                raise exceptions.ValidationError(serializer.errors)
            data = serializer.validated_data
            subject_id = data.get("subject_id")
            if subject_id is None:
                subject = find_subject_by_registration(
                    country=data["country"], registration_number=data["registration_number"]
                )
                if subject is None:
                    raise NotFound("No subject with that registration number.", code="subject_not_found")
                subject_id = subject.pk
            report = services.report_payment_outcome(
                api_key=key,
                subject_id=subject_id,
                outcome=data["outcome"],
                payment_reference=data["payment_reference"],
                occurred_at=data["occurred_at"],
                days_late=data.get("days_late") or 0,
                amount=data.get("amount"),
                currency=data.get("currency") or "",
            )
            return status.HTTP_201_CREATED, s.PaymentReportSerializer(report).data

        def render_error(exc):
            return problem_pair(request)(exc)

        try:
            code, payload, replayed = idempotency.run_idempotently(
                owner=idempotency.owner_for(api_key=key),
                key=request.headers.get("Idempotency-Key", ""),
                fingerprint=fingerprint,
                handler=_catching_validation(handle),
                error_response=render_error,
            )
        except IdempotencyInFlight:
            request.decision_summary = "idempotency_in_flight"
            raise
        request.decision_summary = ("replayed " if replayed else "") + str(
            payload.get("outcome") or payload.get("code")
        )
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        content_type = PROBLEM_CONTENT_TYPE if code >= 400 else None
        return Response(payload, status=code, headers=headers, content_type=content_type)


def _catching_validation(handler):
    """Turn a serializer's ValidationError into a domain error so that it is stored and
    replayed like any other answer."""

    def run():
        try:
            return handler()
        except exceptions.ValidationError as exc:
            raise _StoredValidationError(exc) from exc

    return run


class _StoredValidationError(InvalidInput):
    def __init__(self, exc: exceptions.ValidationError):
        # The fields' messages as the API's exception handler lists them for this error.
        field_errors = problem_exception_handler(exc, {}).data.get("errors") or {}
        first = next(iter(field_errors.items()), None)
        summary = (
            f"{first[0]}: {first[1][0]}" if first and first[1] and isinstance(first[1][0], str) else "Invalid input."
        )
        super().__init__(summary, code="invalid", field_errors=field_errors)

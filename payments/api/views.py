"""The payment-provider API. Every endpoint takes `Authorization: Api-Key <prefix>.<secret>`
of a payment institution, needs the scope it names, and is recorded (APICallRecord).

Screening and payment reports need a *compliant* institution: a suspended one gets 403
`institution_suspended`, one under review 403 `institution_under_review`, each naming the
reason. The institution's own data (status, reserves, watchlist, webhooks, past decisions)
stays reachable whatever its status, so it can put things right.
"""

import time

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import PROBLEM_CONTENT_TYPE, problem_exception_handler
from core import idempotency
from core.errors import IdempotencyInFlight, InvalidInput, NotAllowed, NotFound
from credit.selectors.accounts import find_subject_by_registration
from payments import errors, services
from payments.api import serializers as s
from payments.models import (
    APICallRecord,
    InstitutionProfile,
    ProviderAPIKey,
    ScreeningDecision,
    WatchlistEntry,
)
from payments.selectors import deliveries_for, reserve_reports_for, webhook_endpoints_for
from payments.services import filings, screening

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


def _problem_pair(request):
    def render(exc):
        response = problem_exception_handler(exc, {"request": request})
        return response.status_code, response.data

    return render


# --- Institution --------------------------------------------------------------------------


class InstitutionView(InstitutionAPIView):
    """The calling institution's compliance status, its reason and its corridors."""

    @extend_schema(responses={200: s.InstitutionSerializer, **ERRORS}, tags=["payments"])
    def get(self, request):
        profile = (
            InstitutionProfile.objects.prefetch_related("corridors")
            .select_related("subject")
            .get(pk=request.institution.pk)
        )
        return Response(s.InstitutionSerializer(profile).data)


# --- Screening ----------------------------------------------------------------------------


class ScreeningView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.SCREEN
    requires_compliance = True

    @extend_schema(
        request=s.ScreeningRequestSerializer,
        responses={200: s.ScreeningBatchSerializer, **ERRORS},
        tags=["payments"],
        summary="Screen one counterparty or a batch of up to 1,000",
        description=(
            "By registration_number + country, or by name (+ optional country) with typo-tolerant "
            "matching that returns candidates with scores. Each decision (allow / review / deny) is "
            "stored with its inputs and the data and model versions used; GET "
            "/api/v1/screenings/{id}/ explains it later."
        ),
    )
    def post(self, request):
        # Validated by hand: a batch of 1,000 through DRF serializers costs more than the
        # screening itself. The shape is documented by ScreeningRequestSerializer.
        data = request.data
        limit = settings.ENTREPOT["PAYMENTS"]["SCREENING_BATCH_MAX"]
        if isinstance(data, dict) and "items" in data:
            raw_items, prefix = data["items"], "items"
            if not isinstance(raw_items, list) or not raw_items:
                raise exceptions.ValidationError({"items": ["Give a non-empty list of counterparties."]})
            if len(raw_items) > limit:
                raise exceptions.ValidationError({"items": [f"A batch holds at most {limit} counterparties."]})
        else:
            raw_items, prefix = [data], ""
        items, field_errors = [], {}
        for i, raw in enumerate(raw_items):
            item, item_errors = clean_screening_item(raw)
            items.append(item)
            for field, message in item_errors.items():
                field_errors[f"{prefix}[{i}].{field}" if prefix else field] = [message]
        if field_errors:
            raise exceptions.ValidationError(field_errors)
        batch_id, decisions = screening.decide(api_key=request.auth, institution=request.institution, items=items)
        summary = screening.summarize(decisions)
        request.decision_summary = " ".join(f"{k}={v}" for k, v in summary.items())
        # The call record is written with the decisions, in the same statement and commit.
        request.call_record_id = screening.store(
            decisions, call_record=self.call_record(request, status.HTTP_200_OK, request.decision_summary)
        )
        return Response(
            {
                "batch_id": str(batch_id),
                "count": len(decisions),
                "summary": summary,
                "results": [decision_json(d) for d in decisions],
            }
        )


ITEM_FIELDS = {"registration_number": 40, "country": 2, "name": 200, "reference": 100}


def clean_screening_item(raw) -> tuple[dict, dict]:
    """The shape of one counterparty (ScreeningItemSerializer), checked without DRF."""
    if not isinstance(raw, dict):
        return {}, {"non_field_errors": "Expected an object."}
    item, item_errors = {}, {}
    for field, max_length in ITEM_FIELDS.items():
        value = raw.get(field)
        if value is None:
            continue
        if not isinstance(value, str):
            item_errors[field] = "Not a valid string."
        elif len(value) > max_length:
            item_errors[field] = f"Ensure this field has no more than {max_length} characters."
        else:
            item[field] = value.strip()
    if item_errors:
        return item, item_errors
    if item.get("registration_number"):
        if not item.get("country"):
            item_errors["country"] = "Required with a registration number."
    elif not item.get("name"):
        item_errors["non_field_errors"] = "Give registration_number and country, or a name."
    return item, item_errors


def decision_json(d: ScreeningDecision) -> dict:
    """ScreeningDecisionSerializer's output, built directly (fast for batches)."""
    return {
        "id": d.pk,
        "batch_id": str(d.batch_id),
        "position": d.position,
        "decided_at": d.decided_at.isoformat().replace("+00:00", "Z"),
        "reference": d.inputs.get("reference", ""),
        "inputs": d.inputs,
        "decision": d.decision,
        "reasons": d.reasons,
        "subject": d.subject_snapshot,
        "candidates": d.candidates,
        "threshold_grade": d.threshold_grade,
        "model_version": d.model_version,
        "data_version": d.data_version,
    }


class ScreeningDetailView(InstitutionAPIView):
    """A past decision with its inputs, reasons and versions (own decisions only)."""

    required_scope = ProviderAPIKey.Scope.SCREEN

    @extend_schema(responses={200: s.ScreeningDecisionSerializer, **ERRORS}, tags=["payments"])
    def get(self, request, decision_id: int):
        decision = ScreeningDecision.objects.filter(pk=decision_id, institution_id=request.institution.pk).first()
        if decision is None:
            raise NotFound("No such screening decision.", code="screening_not_found")
        request.decision_summary = decision.decision
        return Response(decision_json(decision))


# --- Payment reports ----------------------------------------------------------------------


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
            return _problem_pair(request)(exc)

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
        from config.api import _flatten

        field_errors = _flatten(exc.detail)
        if not isinstance(field_errors, dict):
            field_errors = {"non_field_errors": field_errors}
        first = next(iter(field_errors.items()), None)
        summary = (
            f"{first[0]}: {first[1][0]}" if first and first[1] and isinstance(first[1][0], str) else "Invalid input."
        )
        super().__init__(summary, code="invalid", field_errors=field_errors)


# --- Reserves -----------------------------------------------------------------------------


class ReserveAccountsView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.RESERVES

    @extend_schema(responses={200: s.ReserveAccountSerializer(many=True), **ERRORS}, tags=["payments"])
    def get(self, request):
        accounts = request.institution.reserve_accounts.order_by("currency", "bank", "id")
        return Response(s.ReserveAccountSerializer(accounts, many=True).data)

    @extend_schema(
        request=s.ReserveAccountSerializer, responses={201: s.ReserveAccountSerializer, **ERRORS}, tags=["payments"]
    )
    def post(self, request):
        serializer = s.ReserveAccountSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = services.add_reserve_account(
            actor=request.auth, institution_id=request.institution.pk, **serializer.validated_data
        )
        return Response(s.ReserveAccountSerializer(account).data, status=status.HTTP_201_CREATED)


class ReserveReportsView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.RESERVES

    @extend_schema(responses={200: s.ReserveReportSerializer(many=True), **ERRORS}, tags=["payments"])
    def get(self, request):
        page = self.paginator.paginate_queryset(
            reserve_reports_for(institution_id=request.institution.pk), request, view=self
        )
        return self.paginator.get_paginated_response(s.ReserveReportSerializer(page, many=True).data)

    @property
    def paginator(self):
        if not hasattr(self, "_paginator"):
            from config.api import Pagination

            self._paginator = Pagination()
        return self._paginator

    @extend_schema(
        request=s.ReserveReportInputSerializer, responses={201: s.ReserveReportSerializer, **ERRORS}, tags=["payments"]
    )
    def post(self, request):
        serializer = s.ReserveReportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        report = services.submit_reserve_report(
            actor=request.auth,
            institution_id=request.institution.pk,
            report_date=data["report_date"],
            currency=data["currency"],
            customer_funds_owed=data["customer_funds_owed"],
            balances={b["account_id"]: b["balance"] for b in data["balances"]},
            outflows={o["destination_type"]: o["amount"] for o in data.get("outflows", [])},
            source="api",
        )
        report = reserve_reports_for(institution_id=request.institution.pk).get(pk=report.pk)
        return Response(s.ReserveReportSerializer(report).data, status=status.HTTP_201_CREATED)


# --- Watchlist and webhooks -----------------------------------------------------------------


class WatchlistView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.WEBHOOKS

    @extend_schema(responses={200: s.WatchlistEntrySerializer(many=True), **ERRORS}, tags=["webhooks"])
    def get(self, request):
        entries = WatchlistEntry.objects.filter(institution=request.institution).select_related("subject")
        return Response(s.WatchlistEntrySerializer(entries, many=True).data)

    @extend_schema(
        request=s.WatchInputSerializer, responses={201: s.WatchlistEntrySerializer, **ERRORS}, tags=["webhooks"]
    )
    def post(self, request):
        serializer = s.WatchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = services.watch_subject(
            actor=request.auth,
            institution_id=request.institution.pk,
            subject_id=serializer.validated_data["subject_id"],
        )
        entry = WatchlistEntry.objects.select_related("subject").get(pk=entry.pk)
        return Response(s.WatchlistEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class WatchlistEntryView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.WEBHOOKS

    @extend_schema(responses={204: None, **ERRORS}, tags=["webhooks"])
    def delete(self, request, subject_id: int):
        if not services.unwatch_subject(
            actor=request.auth, institution_id=request.institution.pk, subject_id=subject_id
        ):
            raise NotFound("This subject is not on your watchlist.", code="not_watched")
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointsView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.WEBHOOKS

    @extend_schema(responses={200: s.WebhookEndpointSerializer(many=True), **ERRORS}, tags=["webhooks"])
    def get(self, request):
        return Response(
            s.WebhookEndpointSerializer(webhook_endpoints_for(institution_id=request.institution.pk), many=True).data
        )

    @extend_schema(
        request=s.WebhookEndpointInputSerializer,
        responses={201: s.WebhookEndpointWithSecretSerializer, **ERRORS},
        tags=["webhooks"],
    )
    def post(self, request):
        serializer = s.WebhookEndpointInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.create_webhook_endpoint(
            actor=request.auth, institution_id=request.institution.pk, **serializer.validated_data
        )
        return Response(s.WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookEndpointView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.WEBHOOKS

    @extend_schema(
        request=s.WebhookEndpointUpdateSerializer,
        responses={200: s.WebhookEndpointSerializer, **ERRORS},
        tags=["webhooks"],
        summary="Change an endpoint's URL, event types, description or enabled flag",
    )
    def patch(self, request, endpoint_id: int):
        data = s.WebhookEndpointUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.update_webhook_endpoint(
            actor=request.auth, institution_id=request.institution.pk, endpoint_id=endpoint_id, **data.validated_data
        )
        return Response(s.WebhookEndpointSerializer(endpoint).data)

    @extend_schema(responses={204: None, **ERRORS}, tags=["webhooks"])
    def delete(self, request, endpoint_id: int):
        services.delete_webhook_endpoint(
            actor=request.auth, institution_id=request.institution.pk, endpoint_id=endpoint_id
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveriesView(InstitutionAPIView):
    """The delivery log: every delivery with each attempt's status code, latency and error."""

    required_scope = ProviderAPIKey.Scope.WEBHOOKS

    @extend_schema(
        parameters=[OpenApiParameter("status", OpenApiTypes.STR, description="pending, succeeded, failed, disabled")],
        responses={200: s.WebhookDeliverySerializer(many=True), **ERRORS},
        tags=["webhooks"],
    )
    def get(self, request):
        from config.api import Pagination

        qs = deliveries_for(institution_id=request.institution.pk)
        if request.query_params.get("status"):
            qs = qs.filter(status=request.query_params["status"])
        paginator = Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(s.WebhookDeliverySerializer(page, many=True).data)


# --- Ending filings -----------------------------------------------------------------------


class LicencesView(InstitutionAPIView):
    """The institution's licences, withdrawn ones included (kept for history)."""

    required_scope = ProviderAPIKey.Scope.FILINGS

    @extend_schema(responses={200: s.LicenceSerializer(many=True), **ERRORS}, tags=["payments"])
    def get(self, request):
        return Response(s.LicenceSerializer(request.institution.licences.order_by("-valid_to", "id"), many=True).data)


class LicenceWithdrawView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.FILINGS

    @extend_schema(
        request=s.EndInputSerializer,
        responses={200: s.LicenceSerializer, **ERRORS},
        tags=["payments"],
        summary="Withdraw a licence (kept for history; a compliance check follows)",
    )
    def post(self, request, licence_id: int):
        data = s.EndInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        licence = filings.withdraw_licence(
            actor=request.auth,
            institution_id=request.institution.pk,
            licence_id=licence_id,
            reason=data.validated_data["reason"],
        )
        return Response(s.LicenceSerializer(licence).data)


class CorridorWithdrawView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.FILINGS

    @extend_schema(
        request=s.EndInputSerializer,
        responses={200: s.CorridorSerializer, **ERRORS},
        tags=["payments"],
        summary="Switch a corridor off (compliance runs leave it off until requested again)",
    )
    def post(self, request, corridor_id: int):
        data = s.EndInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        corridor = filings.withdraw_corridor(
            actor=request.auth,
            institution_id=request.institution.pk,
            corridor_id=corridor_id,
            reason=data.validated_data["reason"],
        )
        return Response(s.CorridorSerializer(corridor).data)


class ReserveAccountCloseView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.RESERVES

    @extend_schema(
        request=s.CloseAccountInputSerializer,
        responses={
            200: s.ReserveAccountSerializer,
            204: OpenApiResponse(description="Removed: no reserve report ever named the account"),
            **ERRORS,
        },
        tags=["payments"],
        summary="Close a reserve account (removed outright if no report names it)",
    )
    def post(self, request, account_id: int):
        data = s.CloseAccountInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = filings.close_reserve_account(
            actor=request.auth,
            institution_id=request.institution.pk,
            account_id=account_id,
            closed_on=data.validated_data["closed_on"],
            reason=data.validated_data["reason"],
        )
        if account is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(s.ReserveAccountSerializer(account).data)


# --- Webhook endpoints: edit, rotate ---------------------------------------------------------


class WebhookSecretRotateView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.WEBHOOKS

    @extend_schema(
        request=None,
        responses={200: s.WebhookEndpointWithSecretSerializer, **ERRORS},
        tags=["webhooks"],
        summary="Rotate the signing secret",
        description=(
            "Returns the endpoint with its new `secret`. Until `previous_secret_expires_at` "
            "(WEBHOOK_SECRET_ROTATION_GRACE_HOURS, default 24 h) deliveries carry two signatures in "
            "`webhook-signature`, one per secret."
        ),
    )
    def post(self, request, endpoint_id: int):
        endpoint, _secret = services.rotate_webhook_secret(
            actor=request.auth, institution_id=request.institution.pk, endpoint_id=endpoint_id
        )
        return Response(s.WebhookEndpointWithSecretSerializer(endpoint).data)


# --- The API call log ---------------------------------------------------------------------


class APICallsView(InstitutionAPIView):
    """The calling institution's own API calls, newest first (this request included once
    it has finished)."""

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
        from config.api import Pagination
        from payments.selectors import filter_api_calls, with_key_names

        params = s.APICallFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        qs = filter_api_calls(
            with_key_names(APICallRecord.objects.filter(institution_id=request.institution.pk).order_by("-at", "-id")),
            **{k: v for k, v in params.validated_data.items() if v not in (None, "")},
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(s.APICallRecordSerializer(page, many=True).data)

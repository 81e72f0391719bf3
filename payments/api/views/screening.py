"""The calling institution's status, and screening counterparties."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from core.errors import NotFound
from payments.api import serializers as s
from payments.api.views.base import ERRORS, InstitutionAPIView
from payments.models import InstitutionProfile, ProviderAPIKey, ScreeningDecision
from payments.services import screening


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

"""What an institution filed: reserve accounts and reports, licences, and ending them."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from config.api import Pagination
from payments import services
from payments.api import serializers as s
from payments.api.views.base import ERRORS, InstitutionAPIView, end_filing, institution_write, paginated
from payments.models import ProviderAPIKey
from payments.selectors import reserve_reports_for
from payments.services import filings


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
        return institution_write(
            request,
            service=services.add_reserve_account,
            input_serializer=s.ReserveAccountSerializer,
            output=s.ReserveAccountSerializer,
            created=True,
        )


class ReserveReportsView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.RESERVES
    pagination_class = Pagination  # paginated by `paginated`: the schema documents the pages too

    @extend_schema(responses={200: s.ReserveReportSerializer(many=True), **ERRORS}, tags=["payments"])
    def get(self, request):
        reports = reserve_reports_for(institution_id=request.institution.pk)
        return paginated(request, self, reports, s.ReserveReportSerializer)

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
        return end_filing(request, service=filings.withdraw_licence, output=s.LicenceSerializer, licence_id=licence_id)


class CorridorWithdrawView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.FILINGS

    @extend_schema(
        request=s.EndInputSerializer,
        responses={200: s.CorridorSerializer, **ERRORS},
        tags=["payments"],
        summary="Switch a corridor off (compliance runs leave it off until requested again)",
    )
    def post(self, request, corridor_id: int):
        return end_filing(
            request, service=filings.withdraw_corridor, output=s.CorridorSerializer, corridor_id=corridor_id
        )


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
        return end_filing(
            request,
            service=filings.close_reserve_account,
            output=s.ReserveAccountSerializer,
            input_serializer=s.CloseAccountInputSerializer,
            account_id=account_id,
        )

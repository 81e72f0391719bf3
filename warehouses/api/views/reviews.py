"""Ratings after a completed lease."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import validated
from warehouses import selectors
from warehouses.api import serializers as s
from warehouses.api.views.common import ERRORS, PROBLEM, TAGS
from warehouses.services import reviews as review_services


class LeaseReviewView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=s.ReviewInputSerializer,
        responses={201: s.LeaseReviewSerializer, **ERRORS},
        tags=TAGS,
        description=(
            "After completion each party (tenant, operator) rates the other once, 1-5 stars, within "
            "ENTREPOT['REVIEW_WINDOW_DAYS'] (30) days. 4-5 stars record a positive_rating credit event for the "
            "reviewed party, 1-2 a negative_rating, 3 none. Not completed, window closed or already reviewed: 409."
        ),
    )
    def post(self, request, lease_id: int):
        selectors.get_lease(user=request.user, lease_id=lease_id)
        v = validated(s.ReviewInputSerializer, request.data)
        review = review_services.review_lease(
            actor=request.user, lease_id=lease_id, stars=v["stars"], comment=v["comment"], reviewer_id=v.get("reviewer")
        )
        return Response(s.LeaseReviewSerializer(review).data, status=status.HTTP_201_CREATED)


class LeaseReviewListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.LeaseReviewSerializer(many=True), 404: PROBLEM}, tags=TAGS)
    def get(self, request, lease_id: int):
        lease = selectors.get_lease(user=request.user, lease_id=lease_id)
        return Response(s.LeaseReviewSerializer(selectors.lease_reviews(lease=lease), many=True).data)

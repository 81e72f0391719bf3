"""Ratings after a completed lease."""

from rest_framework import serializers

from warehouses.api.serializers.transfers import MAX_ID, PartySerializer
from warehouses.models import LeaseReview


class ReviewInputSerializer(serializers.Serializer):
    stars = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    reviewer = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="The side you review for (tenant or operator subject id); optional if only one",
    )


class LeaseReviewSerializer(serializers.ModelSerializer):
    reviewer = PartySerializer(read_only=True)
    reviewed = PartySerializer(read_only=True)

    class Meta:
        model = LeaseReview
        fields = ["id", "lease", "reviewer", "reviewed", "stars", "comment", "created_at"]

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from config.api import JSONParser
from core.roles import is_regulator
from credit.selectors.accounts import active_memberships


class IsAuthenticatedOrAPIKey(BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated) or getattr(request, "api_key", None) is not None


MeSerializer = inline_serializer(
    "Me",
    {
        "kind": serializers.ChoiceField(choices=["user", "api_key"]),
        "username": serializers.CharField(required=False),
        "is_regulator": serializers.BooleanField(required=False),
        "is_staff": serializers.BooleanField(required=False),
        "memberships": serializers.ListField(child=serializers.DictField(), required=False),
        "key_prefix": serializers.CharField(required=False),
        "institution_id": serializers.IntegerField(required=False),
        "scopes": serializers.ListField(child=serializers.CharField(), required=False),
    },
)


class MeView(APIView):
    """Who the API sees: a signed-in user (session or token) or a payment-provider key."""

    permission_classes = [IsAuthenticatedOrAPIKey]

    @extend_schema(responses={200: MeSerializer}, tags=["identity"])
    def get(self, request):
        key = getattr(request, "api_key", None)
        if key is not None:
            return Response(
                {
                    "kind": "api_key",
                    "key_prefix": key.prefix,
                    "institution_id": key.institution_id,
                    "scopes": key.scopes,
                }
            )
        user = request.user
        return Response(
            {
                "kind": "user",
                "username": user.username,
                "is_regulator": is_regulator(user),
                "is_staff": user.is_staff,
                "memberships": [
                    {"subject_id": m.subject_id, "legal_name": m.subject.legal_name, "role": m.role}
                    for m in active_memberships(user=user)
                ],
            }
        )


class TokenView(ObtainAuthToken):
    """Exchange a user name and password for an API token (header `Authorization: Token <key>`)."""

    authentication_classes = []
    parser_classes = (FormParser, MultiPartParser, JSONParser)
    # ObtainAuthToken turns throttling off; password guessing must be throttled like the rest.
    throttle_classes = api_settings.DEFAULT_THROTTLE_CLASSES

    @extend_schema(
        request=inline_serializer(
            "TokenRequest", {"username": serializers.CharField(), "password": serializers.CharField()}
        ),
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()})},
        tags=["identity"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

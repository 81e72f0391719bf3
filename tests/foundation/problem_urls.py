"""The project's URLs plus a few views that fail on purpose, for the problem+json tests."""

from django.urls import path
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler400, handler403, handler404, handler500
from config.urls import urlpatterns as project_urlpatterns
from core.errors import Busy, Conflict, InvalidInput, NotAllowed, NotFound


class Open(APIView):
    """Open to all, under the default throttles."""

    permission_classes = [permissions.AllowAny]

    def get(self, request):
        return Response({"ok": True})


class Boom(APIView):
    permission_classes = [permissions.AllowAny]

    def get(self, request):
        raise RuntimeError("an unexpected bug")


class Forbidden(APIView):
    permission_classes = [permissions.IsAdminUser]

    def get(self, request):
        return Response({})


class Domain(APIView):
    permission_classes = [permissions.AllowAny]
    raises = {
        "not_found": NotFound("No such thing."),
        "invalid": InvalidInput("Bad.", field_errors={"units": ["Must be positive."]}),
        "conflict": Conflict("Already done."),
        "not_allowed": NotAllowed("Not you."),
        "busy": Busy(),
    }

    def get(self, request, kind):
        raise self.raises[kind]


class Payload(serializers.Serializer):
    units = serializers.IntegerField(min_value=1)
    currency = serializers.RegexField(r"^[A-Z]{3}$")


class Batch(serializers.Serializer):
    items = Payload(many=True)
    origin = Payload()


class Validate(APIView):
    permission_classes = [permissions.AllowAny]

    def post(self, request):
        serializer = Batch if "items" in request.data else Payload
        serializer(data=request.data).is_valid(raise_exception=True)
        return Response({})


def plain_boom(request):
    raise RuntimeError("a bug outside DRF")


urlpatterns = [
    path("api/v1/test/open/", Open.as_view()),
    path("api/v1/test/boom/", Boom.as_view()),
    path("api/v1/test/forbidden/", Forbidden.as_view()),
    path("api/v1/test/domain/<str:kind>/", Domain.as_view()),
    path("api/v1/test/validate/", Validate.as_view()),
    path("api/v1/test/plain-boom/", plain_boom),
    path("test/plain-boom/", plain_boom),
    *project_urlpatterns,
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]

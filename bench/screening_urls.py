from django.http import JsonResponse
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns


def minimal(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/minimal/", minimal), *project_urlpatterns]

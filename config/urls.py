from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import healthz, livez, readyz
from config.views import api_not_found, handler_400, handler_403, handler_404, handler_500

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("livez", livez, name="livez"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # The marketplace first, under its own prefix: a lease request (the busiest write) is
    # resolved without trying the registry's and the payment API's patterns.
    path("api/v1/warehouses/", include("warehouses.api.urls")),
    path("api/v1/", include("credit.api.urls")),
    path("api/v1/", include("payments.api.urls")),
    path("api/<path:rest>", api_not_found),
    path("", include("credit.web.urls")),
    path("", include("payments.web.urls")),
    path("", include("warehouses.web.urls")),
]

handler400 = handler_400
handler403 = handler_403
handler404 = handler_404
handler500 = handler_500

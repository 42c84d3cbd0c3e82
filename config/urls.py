from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from config import health, metrics

api_v1 = [
    path("", include("integrations.urls")),
    path("communication/", include("communication.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("sync/", include("sync.urls")),
    path("iot/", include("iot.urls")),
    path("schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[AllowAny]), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[], permission_classes=[AllowAny]), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema", authentication_classes=[], permission_classes=[AllowAny]), name="redoc"),
]

urlpatterns = [
    # Before admin.site.urls, whose catch-all would answer these paths with a 404.
    path("admin/settings/integrations/", include("integrations.admin_wizard.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("webhooks/", include("webhooks.inbound_urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
]

handler404 = "config.api.problem_404"
handler500 = "config.api.problem_500"

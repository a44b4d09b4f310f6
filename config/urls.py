from django.contrib import admin
from django.urls import include, path

from config import health, metrics

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/reports/", include("reporting.api_urls")),
    path("api/v1/", include("capture.api_urls")),
    path("api/v1/", include("privacy.api_urls")),
    path("api/", include("leads.api.urls")),
    path("reports/", include("reporting.urls")),
    path("", include("capture.urls")),
    path("", include("privacy.urls")),
    path("", include("leads.urls")),
]

from django.contrib import admin
from django.urls import include, path

from config import health, metrics, views

handler404 = "core.middleware.page_not_found"
handler500 = "core.middleware.server_error"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    # The reset form is throttled per client and address (PASSWORD_RESET_RATE); the other auth views as Django's.
    path("accounts/password_reset/", views.throttled_password_reset, name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("sales.api_urls")),  # before reporting's: /api/v1/reports/pipeline/ is sales'
    path("api/v1/reports/", include("reporting.api_urls")),
    path("api/v1/", include("capture.api_urls")),
    path("api/v1/", include("privacy.api_urls")),
    path("api/v1/", include("outbox.api_urls")),
    path("api/v1/", include("integrations.api_urls")),
    path("api/v1/", include("engagement.api_urls")),
    path("api/", include("leads.api.urls")),
    path("attention/", views.attention_page, name="attention"),
    path("reports/", include("reporting.urls")),
    path("sales/", include("sales.urls")),
    path("", include("capture.urls")),
    path("", include("privacy.urls")),
    path("", include("engagement.urls")),
    path("", include("integrations.urls")),  # before leads': /leads/export.csv
    path("", include("leads.urls")),
]

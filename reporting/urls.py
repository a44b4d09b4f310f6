"""Report pages, mounted at /reports/."""

from django.urls import path

from reporting import views

app_name = "reporting"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("funnel/", views.funnel, name="funnel"),
    path("velocity/", views.velocity, name="velocity"),
    path("stalls/", views.stalls, name="stalls"),
    path("speed-to-lead/", views.speed, name="speed"),
    path("acceptance/", views.acceptance, name="acceptance"),
    path("sources/", views.sources, name="sources"),
    path("sla/", views.sla, name="sla"),
    path("definitions/", views.definitions, name="definitions"),
    path("my-report/", views.my_report, name="my_report"),
    path("my-report/preview/", views.email_preview, name="email_preview"),
]

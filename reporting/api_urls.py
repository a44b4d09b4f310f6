"""Report API, mounted at /api/v1/reports/."""

from django.urls import path

from reporting import api

app_name = "reporting-api"

urlpatterns = [
    path("funnel/", api.FunnelView.as_view(), name="funnel"),
    path("velocity/", api.VelocityView.as_view(), name="velocity"),
    path("speed-to-lead/", api.SpeedToLeadView.as_view(), name="speed-to-lead"),
    path("sources/", api.SourcesView.as_view(), name="sources"),
    path("reasons/", api.ReasonsView.as_view(), name="reasons"),
]

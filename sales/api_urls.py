"""Sales API, mounted at /api/v1/ by config.urls."""

from django.urls import path

from sales import api

app_name = "sales-api"

urlpatterns = [
    path("accounts/", api.AccountsView.as_view(), name="accounts"),
    path("opportunities/", api.OpportunitiesView.as_view(), name="opportunities"),
    path("opportunities/<int:pk>/", api.OpportunityView.as_view(), name="opportunity"),
    path("reports/pipeline/", api.PipelineReportView.as_view(), name="pipeline"),
]

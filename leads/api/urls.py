"""API routes, mounted at /api/ by config.urls. Version 1 lives under /api/v1/."""

from csp.decorators import csp_update
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from leads.api import views
from leads.team import api as team_api

app_name = "api"

DOCS_CSP = {"style-src": ["'unsafe-inline'"]}
REDOC_CSP = {"style-src": ["'unsafe-inline'"], "script-src": ["'unsafe-inline'"], "worker-src": ["blob:"]}

leads_list = views.LeadViewSet.as_view({"get": "list"})
lead_detail = views.LeadViewSet.as_view({"get": "retrieve", "patch": "partial_update"})
lead_history = views.LeadViewSet.as_view({"get": "history"}, pagination_class=None)  # the latest changes, not paged
lead_transition = views.LeadViewSet.as_view({"post": "transition"})
lead_claim = views.LeadViewSet.as_view({"post": "claim"})
lead_assign = views.LeadViewSet.as_view({"post": "assign"})
lead_activities = views.LeadViewSet.as_view({"post": "activities"})
reps_list = team_api.RepViewSet.as_view({"get": "list"})
rep_detail = team_api.RepViewSet.as_view({"patch": "partial_update"})

urlpatterns = [
    path("v1/leads/", leads_list, name="lead-list"),
    path("v1/leads/<int:pk>/", lead_detail, name="lead-detail"),
    path("v1/leads/<int:pk>/history/", lead_history, name="lead-history"),
    path("v1/leads/<int:pk>/transitions/<str:name>/", lead_transition, name="lead-transition"),
    path("v1/leads/<int:pk>/claim/", lead_claim, name="lead-claim"),
    path("v1/leads/<int:pk>/assign/", lead_assign, name="lead-assign"),
    path("v1/leads/<int:pk>/activities/", lead_activities, name="lead-activities"),
    path("v1/reason-codes/", views.ReasonCodesView.as_view(), name="reason-codes"),
    path("v1/reps/", reps_list, name="rep-list"),
    path("v1/reps/<str:username>/", rep_detail, name="rep-detail"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI with its script served separately (no inline script); both doc viewers style elements
    # inline, and Redoc runs a worker from a blob: URL: only these two pages allow that (docs/security.md).
    path("docs/", csp_update(DOCS_CSP)(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
    path("redoc/", csp_update(REDOC_CSP)(SpectacularRedocView.as_view(url_name="api:schema")), name="redoc"),
]

"""API routes, mounted at /api/ by config.urls. Version 1 lives under /api/v1/."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from leads.api import views
from leads.team import api as team_api

app_name = "api"

leads_list = views.LeadViewSet.as_view({"get": "list"})
lead_detail = views.LeadViewSet.as_view({"get": "retrieve"})
lead_transition = views.LeadViewSet.as_view({"post": "transition"})
lead_claim = views.LeadViewSet.as_view({"post": "claim"})
lead_assign = views.LeadViewSet.as_view({"post": "assign"})
lead_activities = views.LeadViewSet.as_view({"post": "activities"})
reps_list = team_api.RepViewSet.as_view({"get": "list"})
rep_detail = team_api.RepViewSet.as_view({"patch": "partial_update"})

urlpatterns = [
    path("v1/leads/", leads_list, name="lead-list"),
    path("v1/leads/<int:pk>/", lead_detail, name="lead-detail"),
    path("v1/leads/<int:pk>/transitions/<str:name>/", lead_transition, name="lead-transition"),
    path("v1/leads/<int:pk>/claim/", lead_claim, name="lead-claim"),
    path("v1/leads/<int:pk>/assign/", lead_assign, name="lead-assign"),
    path("v1/leads/<int:pk>/activities/", lead_activities, name="lead-activities"),
    path("v1/reps/", reps_list, name="rep-list"),
    path("v1/reps/<str:username>/", rep_detail, name="rep-detail"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
]

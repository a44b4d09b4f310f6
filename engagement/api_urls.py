"""Engagement API, mounted at /api/v1/ by config.urls."""

from django.urls import path

from engagement import api

app_name = "engagement-api"

urlpatterns = [
    path("programmes/", api.ProgrammesView.as_view(), name="programmes"),
    path("programmes/<slug:slug>/report/", api.ProgrammeReportView.as_view(), name="report"),
    path("programmes/<slug:slug>/enrolments/", api.EnrolmentsView.as_view(), name="enrolments"),
    path("leads/<int:pk>/messages/", api.LeadMessagesView.as_view(), name="lead_messages"),
]

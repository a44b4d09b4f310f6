"""The events feed, mounted under /api/v1/."""

from django.urls import path

from outbox import api

app_name = "outbox-api"

urlpatterns = [
    path("events/", api.EventFeedView.as_view(), name="events"),
]

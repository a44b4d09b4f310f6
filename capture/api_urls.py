"""The capture API, mounted under /api/v1/."""

from django.urls import path

from capture import api

app_name = "capture-api"

urlpatterns = [
    path("capture/", api.CaptureView.as_view(), name="capture"),
    path("track/", api.TrackView.as_view(), name="track"),
]

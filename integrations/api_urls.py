"""The webhooks API, mounted under /api/v1/."""

from django.urls import path

from integrations import api

app_name = "integrations-api"

urlpatterns = [
    path("campaigns/", api.CampaignsView.as_view(), name="campaigns"),
    path("webhooks/", api.WebhooksView.as_view(), name="webhooks"),
    path("webhooks/<int:pk>/", api.WebhookView.as_view(), name="webhook"),
    path("webhooks/<int:pk>/rotate-secret/", api.RotateSecretView.as_view(), name="webhook-rotate-secret"),
    path("webhooks/<int:pk>/deliveries/", api.DeliveriesView.as_view(), name="webhook-deliveries"),
    path("webhooks/<int:pk>/redeliver/", api.RedeliverFailedView.as_view(), name="webhook-redeliver-failed"),
    path("webhooks/<int:pk>/deliveries/<int:delivery_id>/redeliver/", api.RedeliverView.as_view(),
         name="webhook-redeliver"),
]

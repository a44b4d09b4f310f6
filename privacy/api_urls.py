"""Privacy API (export, erase, object, consent log), mounted under /api/v1/."""

from django.urls import path

from privacy import api

app_name = "privacy-api"

urlpatterns = [
    path("leads/<int:pk>/export/", api.LeadExportView.as_view(), name="lead-export"),
    path("leads/<int:pk>/erase/", api.LeadEraseView.as_view(), name="lead-erase"),
    path("leads/<int:pk>/object/", api.LeadObjectView.as_view(), name="lead-object"),
    path("leads/<int:pk>/consent/", api.LeadConsentView.as_view(), name="lead-consent"),
]

"""Privacy API (export, erase, object, consent log), mounted under /api/v1/."""

from django.urls import path

from leads.api import privacy

urlpatterns = [
    path("leads/<int:pk>/export/", privacy.LeadExportView.as_view(), name="lead-export"),
    path("leads/<int:pk>/erase/", privacy.LeadEraseView.as_view(), name="lead-erase"),
    path("leads/<int:pk>/object/", privacy.LeadObjectView.as_view(), name="lead-object"),
    path("leads/<int:pk>/consent/", privacy.LeadConsentView.as_view(), name="lead-consent"),
]

"""Privacy pages (consent confirmation, unsubscribe, preferences, consent proof, data requests)."""

from django.urls import path

from privacy import views

app_name = "privacy"

urlpatterns = [
    path("leads/<int:lead_id>/consent/", views.consent_proof, name="consent_proof"),
    path("leads/<int:lead_id>/consent/record/", views.record_consent, name="consent_record"),
    path("leads/<int:lead_id>/export-link/", views.send_export_link, name="privacy_export_link"),
    path("leads/<int:lead_id>/export.<str:fmt>", views.export, name="privacy_export"),
    path("leads/<int:lead_id>/erase/", views.erase, name="privacy_erase"),
    path("leads/<int:lead_id>/object/", views.object_to_marketing, name="privacy_object"),
    path("privacy/confirm/<str:token>/", views.confirm_opt_in, name="confirm_opt_in"),
    path("privacy/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("privacy/preferences/<str:token>/", views.preferences, name="preferences"),
    path("privacy/export/<str:token>.<str:fmt>", views.my_export, name="my_export"),
]

"""Privacy pages (consent confirmation, unsubscribe, preferences, consent proof, data requests)."""

from django.urls import path

from leads import views_privacy

urlpatterns = [
    path("leads/<int:lead_id>/consent/", views_privacy.consent_proof, name="consent_proof"),
    path("leads/<int:lead_id>/consent/record/", views_privacy.record_consent, name="consent_record"),
    path("leads/<int:lead_id>/export-link/", views_privacy.send_export_link, name="privacy_export_link"),
    path("leads/<int:lead_id>/export.<str:fmt>", views_privacy.export, name="privacy_export"),
    path("leads/<int:lead_id>/erase/", views_privacy.erase, name="privacy_erase"),
    path("leads/<int:lead_id>/object/", views_privacy.object_to_marketing, name="privacy_object"),
    path("privacy/confirm/<str:token>/", views_privacy.confirm_opt_in, name="confirm_opt_in"),
    path("privacy/unsubscribe/<str:token>/", views_privacy.unsubscribe, name="unsubscribe"),
    path("privacy/preferences/<str:token>/", views_privacy.preferences, name="preferences"),
    path("privacy/export/<str:token>.<str:fmt>", views_privacy.my_export, name="my_export"),
]

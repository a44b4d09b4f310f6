"""Capture pages: manual entry, the CSV import and the hosted web form (paths unchanged from `leads`)."""

from django.urls import path

from capture import views

app_name = "capture"

urlpatterns = [
    path("leads/new/", views.create, name="create"),
    path("leads/import/", views.import_leads, name="import"),
    path("leads/import/<uuid:token>/", views.import_mapping, name="import_mapping"),
    path("leads/import/<uuid:token>/report/", views.import_report, name="import_report"),
    path("leads/import/<uuid:token>/rejected.csv", views.import_rejected, name="import_rejected"),
    path("f/<str:key>/", views.hosted_form, name="hosted_form"),
]

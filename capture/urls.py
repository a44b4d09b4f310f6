"""Capture pages: manual entry, the CSV import and the hosted web form (paths unchanged from `leads`)."""

from django.urls import path

from capture import views

app_name = "capture"

urlpatterns = [
    path("leads/new/", views.create, name="create"),
    path("leads/import/", views.import_leads, name="import"),
    path("f/<str:key>/", views.hosted_form, name="hosted_form"),
]

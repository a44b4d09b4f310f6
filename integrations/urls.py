from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("leads/export.csv", views.lead_csv, name="lead_csv"),
    path("inbound/meta/leads/", views.meta_leads, name="meta_leads"),
    path("inbound/linkedin/leads/", views.linkedin_leads, name="linkedin_leads"),
]

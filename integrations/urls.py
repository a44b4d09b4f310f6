from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("leads/export.csv", views.lead_csv, name="lead_csv"),
]

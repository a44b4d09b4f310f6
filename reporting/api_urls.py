"""Report API, mounted at /api/v1/reports/ (filled by the reporting work)."""

app_name = "reporting-api"
urlpatterns: list = []

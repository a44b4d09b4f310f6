"""Report pages, mounted at /reports/ (filled by the reporting work)."""

app_name = "reporting"
urlpatterns: list = []

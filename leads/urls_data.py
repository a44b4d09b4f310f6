"""Clean-data pages (merge candidates, data health)."""

urlpatterns: list = []

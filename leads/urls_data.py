"""Clean-data pages (merge candidates, data health)."""

from django.urls import path

from leads import views_data

urlpatterns = [
    path("data/health/", views_data.data_health, name="data_health"),
    path("data/duplicates/", views_data.merge_candidates, name="merge_candidates"),
    path("data/duplicates/merge/", views_data.merge, name="merge"),
    path("data/merges/<int:transition_id>/undo/", views_data.unmerge, name="unmerge"),
]

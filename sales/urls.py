from django.urls import path

from sales import views

app_name = "sales"

urlpatterns = [
    path("opportunities/", views.board, name="board"),
    path("opportunities/<int:pk>/", views.opportunity_page, name="opportunity"),
    path("opportunities/<int:pk>/move/", views.move, name="move"),
    path("accounts/", views.accounts_page, name="accounts"),
    path("accounts/<int:pk>/", views.account_page, name="account"),
    path("accounts/<int:pk>/merge/", views.merge, name="merge"),
    path("accounts/<int:pk>/merges/<int:merge_id>/undo/", views.undo_merge, name="undo_merge"),
    path("pipeline/", views.pipeline_page, name="pipeline"),
]

from django.urls import path

from leads import views
from leads.quality import views as quality_views
from leads.team import views as team_views

app_name = "leads"

urlpatterns = [
    path("", views.home, name="home"),
    path("queue/", views.queue, name="queue"),
    path("pool/", views.pool, name="pool"),
    path("leads/", views.lead_list, name="list"),
    path("leads/<int:lead_id>/", views.lead_detail, name="detail"),
    path("leads/<int:lead_id>/edit/", views.edit, name="edit"),
    path("leads/<int:lead_id>/transitions/<slug:name>/", views.transition, name="transition"),
    path("leads/<int:lead_id>/claim/", views.claim, name="claim"),
    path("leads/<int:lead_id>/assign/", views.assign, name="assign"),
    path("leads/<int:lead_id>/activities/", views.log_activity, name="log_activity"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/badge/", views.notification_badge, name="notification_badge"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("notifications/<int:notification_id>/read/", views.notification_read, name="notification_read"),
    path("team/", team_views.board, name="team"),
    path("team/reps/<str:username>/", team_views.rep_detail, name="team_rep"),
    path("team/reps/<str:username>/availability/", team_views.availability, name="team_availability"),
    path("team/reps/<str:username>/presence/", team_views.rep_presence, name="team_presence"),
    path("team/reps/<str:username>/reassign/", team_views.reassign, name="team_reassign"),
    path("routing/test/", team_views.routing_test, name="routing_test"),
    path("data/health/", quality_views.data_health, name="data_health"),
    path("data/duplicates/", quality_views.merge_candidates, name="merge_candidates"),
    path("data/duplicates/merge/", quality_views.merge, name="merge"),
    path("data/merges/<int:transition_id>/undo/", quality_views.unmerge, name="unmerge"),
]

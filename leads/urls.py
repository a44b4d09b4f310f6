from django.urls import include, path

from leads import views, views_team

app_name = "leads"

urlpatterns = [
    path("", views.home, name="home"),
    path("queue/", views.queue, name="queue"),
    path("pool/", views.pool, name="pool"),
    path("leads/", views.lead_list, name="list"),
    path("leads/<int:lead_id>/", views.lead_detail, name="detail"),
    path("leads/<int:lead_id>/transitions/<slug:name>/", views.transition, name="transition"),
    path("leads/<int:lead_id>/claim/", views.claim, name="claim"),
    path("leads/<int:lead_id>/assign/", views.assign, name="assign"),
    path("leads/<int:lead_id>/activities/", views.log_activity, name="log_activity"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("notifications/<int:notification_id>/read/", views.notification_read, name="notification_read"),
    path("team/", views_team.board, name="team"),
    path("team/reps/<str:username>/", views_team.rep_detail, name="team_rep"),
    path("team/reps/<str:username>/availability/", views_team.availability, name="team_availability"),
    path("team/reps/<str:username>/presence/", views_team.rep_presence, name="team_presence"),
    path("team/reps/<str:username>/reassign/", views_team.reassign, name="team_reassign"),
    path("routing/test/", views_team.routing_test, name="routing_test"),
    path("", include("leads.urls_data")),
]

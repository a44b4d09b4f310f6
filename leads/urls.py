from django.urls import path

from leads import views

app_name = "leads"

urlpatterns = [
    path("", views.home, name="home"),
    path("queue/", views.queue, name="queue"),
    path("pool/", views.pool, name="pool"),
    path("leads/", views.lead_list, name="list"),
    path("leads/new/", views.create, name="create"),
    path("leads/import/", views.import_leads, name="import"),
    path("leads/<int:lead_id>/", views.lead_detail, name="detail"),
    path("leads/<int:lead_id>/transitions/<slug:name>/", views.transition, name="transition"),
    path("leads/<int:lead_id>/claim/", views.claim, name="claim"),
    path("leads/<int:lead_id>/assign/", views.assign, name="assign"),
    path("leads/<int:lead_id>/activities/", views.log_activity, name="log_activity"),
    path("f/<str:key>/", views.hosted_form, name="hosted_form"),
]

"""Engagement pages under /engagement/ and the public tracking endpoints under /e/ (short: they are in e-mails)."""

from django.urls import path

from engagement import esp, views

app_name = "engagement"

urlpatterns = [
    path("engagement/", views.programmes, name="programmes"),
    path("engagement/programmes/<slug:slug>/", views.programme, name="programme"),
    path("engagement/programmes/<slug:slug>/steps/<int:pk>/delete/", views.delete_step, name="delete_step"),
    path("engagement/templates/", views.templates, name="templates"),
    path("engagement/templates/<int:pk>/", views.template, name="template"),
    path("engagement/templates/<int:pk>/preview/", views.preview, name="preview"),
    path("engagement/templates/<int:pk>/test-send/", views.test_send, name="test_send"),
    path("engagement/leads/<int:lead_id>/enrol/", views.enrol, name="enrol"),
    path("engagement/leads/<int:lead_id>/enrolments/<int:pk>/end/", views.end_enrolment, name="end_enrolment"),
    path("engagement/tasks/<int:pk>/done/", views.task_done, name="task_done"),
    path("e/c/<str:token>/", views.click, name="click"),
    path("e/o/<str:token>/", views.pixel, name="open"),
    path("e/u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    *[
        path(f"anymail/{name}/tracking/", esp.webhook(name), name=f"esp_{name}")
        for name in esp.VIEWS
    ],
]

"""Helpers the page tests share (their fixtures are in conftest.py)."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leads.models import Lead

HTMX_PANEL = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "lead-panel"}


def as_user(client, user):
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


def reload(lead):
    return Lead.objects.get(pk=lead.pk)


def count_queries(client, name: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse(name)).status_code == 200
    return len(queries)

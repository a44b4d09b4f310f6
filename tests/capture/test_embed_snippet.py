"""The embed snippet (admin and the hosted form's staff view) and links built from the address the app is
served at: SITE_URL when set, else the request's own host, else http://127.0.0.1:PORT."""

import html
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import CaptureFormFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def snippet_of(page: str) -> str:
    return html.unescape(page.split('data-testid="embed-snippet">')[1].split("</code>")[0])


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    return client


def test_the_admin_snippet_uses_the_address_the_admin_is_served_at(admin_client, settings):
    settings.SITE_URL_IS_SET = False
    form = CaptureFormFactory(name="Demo request")
    page = admin_client.get(reverse("admin:leads_captureform_change", args=[form.pk]),
                            HTTP_HOST="127.0.0.1:8123").content.decode()
    snippet = html.unescape(page.split("data-testid='embed-snippet'>")[1].split("</pre>")[0])
    assert f'<iframe src="http://127.0.0.1:8123/f/{form.key}/?embed=1" data-leadwerk-form ' in snippet
    assert (f'<script src="http://127.0.0.1:8123/static/leads/track.js" data-form-key="{form.key}" '
            'data-endpoint="http://127.0.0.1:8123" async></script>') in snippet
    assert "8000" not in snippet


def test_a_configured_site_url_wins_over_the_request(admin_client, settings):
    settings.SITE_URL_IS_SET, settings.SITE_URL = True, "https://leads.example"
    form = CaptureFormFactory()
    page = admin_client.get(reverse("capture:hosted_form", args=[form.key]), HTTP_HOST="127.0.0.1:8123")
    snippet = snippet_of(page.content.decode())
    assert f'src="https://leads.example/f/{form.key}/?embed=1" data-leadwerk-form' in snippet
    assert 'data-endpoint="https://leads.example"' in snippet and "127.0.0.1" not in snippet


def test_a_form_title_cannot_break_out_of_the_snippet(admin_client, settings):
    settings.SITE_URL_IS_SET = False
    form = CaptureFormFactory(title='Demo"><script>alert(1)</script>')
    snippet = snippet_of(admin_client.get(reverse("capture:hosted_form", args=[form.key])).content.decode())
    assert "<script>alert(1)" not in snippet and 'title="Demo&quot;&gt;&lt;script&gt;alert(1)' in snippet


def _site_url_with(env: dict) -> str:
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
         "print(settings.SITE_URL, settings.SITE_URL_IS_SET)"],
        cwd=ROOT, env={**{k: v for k, v in os.environ.items() if k not in ("SITE_URL", "PORT")},
                       "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True, text=True, timeout=60,
    )
    return result.stdout.strip()


def test_without_site_url_links_point_at_the_port_the_app_runs_on():
    assert _site_url_with({"PORT": "8123"}) == "http://127.0.0.1:8123 False"
    assert _site_url_with({"PORT": "8123", "SITE_URL": ""}) == "http://127.0.0.1:8123 False"
    assert _site_url_with({"SITE_URL": "https://leads.example/"}) == "https://leads.example True"

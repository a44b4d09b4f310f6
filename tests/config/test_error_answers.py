"""Error answers in every mode: JSON under /api/ (404, 405, 413, 500, DEBUG on or off), and pages whose
htmx errors render the page's own message (no django-htmx DEBUG script that replaces the page)."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import CaptureFormFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[False, True], ids=["production", "debug"])
def mode(request, settings):
    settings.DEBUG = request.param
    return request.param


def test_an_unknown_api_url_is_json_in_every_mode(mode, marketing):
    client = APIClient()
    client.force_authenticate(marketing)
    response = client.get("/api/v1/no-such-thing/")
    assert (response.status_code, response["Content-Type"]) == (404, "application/json")
    assert b"urlpatterns" not in response.content and b"<html" not in response.content


def test_a_wrong_method_under_the_api_is_json(mode, marketing):
    client = APIClient()
    client.force_authenticate(marketing)
    response = client.put("/api/v1/leads/", {}, format="json")
    assert response.status_code == 405
    assert response["Content-Type"].startswith("application/json")


def test_a_server_error_under_the_api_is_json_without_a_traceback(mode, marketing, monkeypatch):
    from leads.api import views

    def broken(self, request, *args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views.LeadViewSet, "list", broken)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(marketing)
    response = client.get("/api/v1/leads/")
    assert (response.status_code, response["Content-Type"]) == (500, "application/json")
    assert b"secret internals" not in response.content and b"Traceback" not in response.content


def test_a_body_over_the_capture_limit_is_a_json_413(settings):
    settings.CAPTURE_MAX_BODY_BYTES = 2048
    form = CaptureFormFactory()
    body = b'{"email": "a@firma.de", "message": "' + b"x" * 4000 + b'"}'
    response = APIClient().generic("POST", "/api/v1/capture/", body, content_type="application/json",
                                   HTTP_X_FORM_KEY=form.key)
    assert (response.status_code, response["Content-Type"]) == (413, "application/json")


def test_a_hosted_form_post_over_the_limit_is_refused_with_the_forms_own_message(settings):
    settings.CAPTURE_MAX_BODY_BYTES = 2048
    form = CaptureFormFactory()
    response = Client().post(f"/f/{form.key}/", {"email": "a@firma.de", "message": "x" * 4000})
    assert response.status_code == 413
    assert "please shorten your message" in response.content.decode()


def test_pages_load_htmx_without_the_debug_script_in_every_mode(mode, client, sdr):
    client.force_login(sdr)
    page = client.get("/queue/").content.decode()
    assert "django_htmx/htmx-2.min.js" in page
    assert "django-htmx.js" not in page  # in DEBUG it would replace the page with any 400 answer


def test_an_htmx_validation_error_answers_the_pages_own_partial(mode, client, sdr):
    from tests.factories import LeadFactory

    lead = LeadFactory(stage="sal", owner=sdr)
    client.force_login(sdr)
    response = client.post(f"/leads/{lead.pk}/activities/", {"activity-kind": "call",
                           "activity-occurred_at": "1850-01-01T10:00"}, HTTP_HX_REQUEST="true",
                           HTTP_HX_TARGET="lead-panel")
    assert response.status_code == 400
    assert 'id="lead-panel"' in response.content.decode()  # the panel, with the message next to the field
    assert "1900-01-01" in response.content.decode()

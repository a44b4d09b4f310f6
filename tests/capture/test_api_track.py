"""POST /api/v1/track/: anonymous visitors and their page views, stitched to the lead once they identify."""

from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient

from core.vocabulary import Role
from leads.models import Activity, Lead, Visitor
from tests.factories import CaptureFormFactory, UserFactory

URL = "/api/v1/track/"
ORIGIN = "https://www.example.com"
VISITOR = "v-3f9c2a7b1d"


@pytest.fixture(autouse=True)
def _fresh_rate_limits(db):
    cache.clear()


@pytest.fixture
def form(db):
    return CaptureFormFactory(allowed_origins=ORIGIN)


def track(form, body, **headers):
    return APIClient().post(URL, body, format="json", HTTP_X_FORM_KEY=form.key, **headers)


def page_view(url="https://www.example.com/produkt", **extra):
    return {"visitor_id": VISITOR, "url": url, **extra}


def nothing_tracked():
    return not Visitor.objects.exists() and not Activity.objects.exists()


def test_page_view_stores_the_visitor_and_the_activity(form):
    body = page_view(title="Produkt", referrer="https://www.google.com/", occurred_at="2026-11-02T09:30:00Z")
    response = track(form, body)
    assert response.status_code == 202
    assert response.json() == {"visitor_id": VISITOR}
    visitor = Visitor.objects.get()
    assert (visitor.anonymous_id, visitor.capture_form, visitor.lead) == (VISITOR, form, None)
    activity = Activity.objects.get()
    assert (activity.visitor, activity.lead, activity.kind, activity.url) == (
        visitor, None, "page_view", "https://www.example.com/produkt"
    )
    assert activity.occurred_at.isoformat() == "2026-11-02T09:30:00+00:00"
    assert activity.data == {"title": "Produkt", "referrer": "https://www.google.com/"}


def test_pricing_page_view_counts_as_pricing_view(form):
    track(form, page_view(url="https://www.example.com/preise"))
    assert Activity.objects.get().kind == "pricing_view"


def test_repeat_visits_keep_one_visitor(form):
    track(form, page_view(url="https://www.example.com/a"))
    track(form, page_view(url="https://www.example.com/b"))
    assert Visitor.objects.count() == 1
    assert Activity.objects.filter(visitor__anonymous_id=VISITOR).count() == 2


def test_invalid_tracking_names_every_bad_field_and_stores_nothing(form):
    body = {"visitor_id": "x", "url": "javascript:alert(1)", "kind": "demo_request", "title": 5, "cookie": "1"}
    response = track(form, body)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"visitor_id", "url", "kind", "title", "cookie"}
    assert nothing_tracked()


def test_visitor_id_is_required(form):
    response = track(form, {"url": "https://www.example.com/"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"visitor_id"}
    assert nothing_tracked()


def test_tracking_body_must_be_a_json_object(form):
    response = track(form, [VISITOR])
    assert response.status_code == 400
    assert response.json() == {"errors": {"non_field_errors": ["Send a JSON object."]}}
    assert nothing_tracked()


def test_tracking_without_a_key_is_401(db):
    response = APIClient().post(URL, page_view(), format="json")
    assert response.status_code == 401
    assert "X-Form-Key" in response["WWW-Authenticate"]
    assert nothing_tracked()


def test_tracking_with_a_wrong_key_is_403(db):
    response = APIClient().post(URL, page_view(), format="json", HTTP_X_FORM_KEY="guessed")
    assert response.status_code == 403
    assert nothing_tracked()


def test_tracking_takes_form_keys_not_api_tokens(db):
    user = UserFactory(username="marketing", role=Role.MARKETING)
    out = StringIO()
    call_command("create_api_token", user.username, stdout=out)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")
    assert client.post(URL, page_view(), format="json").status_code == 401
    assert nothing_tracked()


# --- stitching -------------------------------------------------------------------------------------------


def test_capture_with_the_visitor_id_joins_earlier_page_views_to_the_lead(form):
    track(form, page_view(url="https://www.example.com/a"))
    track(form, page_view(url="https://www.example.com/preise"))
    response = APIClient().post(
        "/api/v1/capture/", {"email": "erika@firma.de", "visitor_id": VISITOR}, format="json",
        HTTP_X_FORM_KEY=form.key,
    )
    assert response.status_code == 202
    lead = Lead.objects.get()
    assert Visitor.objects.get().lead == lead
    assert set(Activity.objects.filter(lead=lead).values_list("kind", flat=True)) == {
        "page_view", "pricing_view", "form_submit"
    }
    assert not Activity.objects.filter(lead__isnull=True).exists()


def test_page_views_after_identification_go_to_the_lead(form):
    APIClient().post("/api/v1/capture/", {"email": "erika@firma.de", "visitor_id": VISITOR}, format="json",
                     HTTP_X_FORM_KEY=form.key)
    track(form, page_view(url="https://www.example.com/after"))
    lead = Lead.objects.get()
    assert Activity.objects.get(url="https://www.example.com/after").lead == lead


# --- CORS and rate limits --------------------------------------------------------------------------------


def test_tracking_preflight_from_an_allowed_origin_is_answered(form):
    response = APIClient().options(
        URL, HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,x-form-key",
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_tracking_from_an_allowed_origin_gets_the_cors_header(form):
    response = track(form, page_view(), HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 202
    assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_tracking_from_a_disallowed_origin_is_403_and_stores_nothing(form):
    response = track(form, page_view(), HTTP_ORIGIN="https://evil.example.net")
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response
    assert nothing_tracked()


def test_tracking_beyond_the_rate_gets_429(form, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "track": "2/minute"},
    }
    cache.clear()
    statuses = [track(form, page_view(url=f"https://www.example.com/{i}")).status_code for i in range(3)]
    assert statuses == [202, 202, 429]
    assert Activity.objects.count() == 2

"""Audit 13: POST /api/v1/track/ and the hosted form /f/<key>/ never answer 5xx.

Through HTTP only (APIClient / Django test client). Today (main @ 9071055) every case here is a 500.
"""

import json

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import CaptureFormFactory

TRACK = "/api/v1/track/"
VISIT = {"visitor_id": "abcdefgh12"}


@pytest.fixture(autouse=True)
def _no_rate_limits(db):
    cache.clear()


@pytest.fixture
def form(db):
    return CaptureFormFactory(consent_wording="Yes, send me news.")


def track(form, raw):
    cache.clear()
    body = raw.encode() if isinstance(raw, str) else raw
    return APIClient(raise_request_exception=False).generic(
        "POST", TRACK, body, content_type="application/json", HTTP_X_FORM_KEY=form.key
    )


def assert_400(response, *fields):
    assert response.status_code == 400, (response.status_code, response.content[:300])
    errors = response.json()["errors"]
    if fields:
        assert any(field in errors for field in fields), errors


# --- track ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body,field", [
    pytest.param({**VISIT, "kind": ["page_view"]}, "kind", id="kind-list"),
    pytest.param({**VISIT, "kind": {"a": 1}}, "kind", id="kind-dict"),
    pytest.param({**VISIT, "title": "Pricing\u0000"}, "title", id="title-nul"),
    pytest.param({**VISIT, "title": "\ud800"}, "title", id="title-lone-surrogate"),
    pytest.param({**VISIT, "occurred_at": "2026-02-30T10:00:00Z"}, "occurred_at", id="date-2026-02-30"),
    pytest.param({**VISIT, "occurred_at": "0000-01-01T00:00:00"}, "occurred_at", id="date-year-0"),
    pytest.param({**VISIT, "occurred_at": "0252-01-01T00:00:00Z"}, "occurred_at", id="date-year-252-accepted-today"),
])
def test_track_refuses_bad_values_with_a_400(form, body, field):
    assert_400(track(form, json.dumps(body)), field)


@pytest.mark.parametrize("raw", [
    pytest.param("[" * 10_000 + "]" * 10_000, id="nested-10000"),
    pytest.param('{"visitor_id":"abcdefgh12","\\udc00":1}', id="lone-surrogate-key"),
])
def test_track_refuses_bad_bodies_with_a_400(form, raw):
    assert_400(track(form, raw))


def test_track_refuses_a_nul_form_key(db):
    response = APIClient(raise_request_exception=False).post(TRACK, VISIT, format="json", HTTP_X_FORM_KEY="\x00")
    assert response.status_code in (401, 403)


def test_track_accepts_urls_up_to_the_documented_2000_characters(form):
    """Not a 5xx, a mismatch: the schema says maxLength 2000, `clean_url` cuts at 200 ("Use at most 200
    characters (this has 1999)"), for track `url`/`referrer`, capture `activity.url` and activity `url`."""
    url = "https://www.example.com/" + "a" * 1500
    assert track(form, json.dumps({**VISIT, "url": url, "referrer": url})).status_code == 202


# --- the hosted form ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("embed", ["", "?embed=1"])
@pytest.mark.parametrize("honeypot", ["x\x00", "\x00", "bot\x00bot"])
def test_a_nul_in_the_honeypot_is_still_just_spam(form, embed, honeypot):
    """The honeypot value goes unchecked into the stored payload (jsonb refuses \\u0000 -> 500)."""
    response = Client(raise_request_exception=False).post(
        f"/f/{form.key}/{embed}", {"email": "bot@firma.de", "website_url": honeypot}
    )
    assert response.status_code in (200, 400), response.status_code


def test_a_nul_in_the_honeypot_urlencoded_by_hand(form):
    response = Client(raise_request_exception=False).generic(
        "POST", f"/f/{form.key}/", b"email=bot@firma.de&website_url=%00",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code in (200, 400)


@pytest.mark.parametrize("referer", ["http://[::1", "http://[zz]/", "https://[1:2:3/x"])
def test_a_malformed_referer_is_refused_or_ignored(form, referer):
    """`_origin_of` calls urlsplit(), which raises ValueError on a bad IPv6 literal (reachable over real HTTP)."""
    response = Client(raise_request_exception=False).post(
        f"/f/{form.key}/", {"email": "r@firma.de"}, HTTP_REFERER=referer
    )
    assert response.status_code in (200, 400, 403), response.status_code


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("key", ["%00", "a%00b"])
def test_a_nul_in_the_form_key_is_a_404(db, method, key):
    response = getattr(Client(raise_request_exception=False), method)(f"/f/{key}/")
    assert response.status_code == 404


def test_a_nul_user_agent_on_the_hosted_form(form):
    """Test-client only (gunicorn refuses the header), see H1."""
    response = Client(raise_request_exception=False).post(
        f"/f/{form.key}/", {"email": "ua@firma.de"}, HTTP_USER_AGENT="x\x00"
    )
    assert response.status_code in (200, 400)


def test_the_hosted_form_does_not_say_an_address_was_erased(form, marketing):
    """Proposed behaviour: the refusal message tells anybody with the public form that this address belonged
    to a lead and asked for erasure."""
    from tests.factories import LeadFactory

    lead = LeadFactory(email="gone@firma.de", email_normalized="gone@firma.de")
    staff = APIClient()
    staff.force_authenticate(marketing)
    assert staff.post(f"/api/v1/leads/{lead.pk}/erase/", {"reason": "Art. 17"}, format="json").status_code == 200
    response = Client().post(f"/f/{form.key}/", {"email": "gone@firma.de"})
    assert b"erase" not in response.content.lower() and b"gel\xc3\xb6scht" not in response.content.lower()

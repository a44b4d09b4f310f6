"""Audit 13: Hypothesis fuzzing of the public endpoints (capture, track, hosted form) through HTTP only.

Bounded and reproducible: derandomized, 60 examples per test, no example database (about 15 s in all).
Property: never a 5xx, an answer in the documented shape, and every stored submission reaches a final
outcome (none is left `received`). Today each test finds a 500 within its
first examples (NUL, lone surrogates, non-finite numbers, lists where strings belong, impossible dates).
"""

import json
import string

import pytest
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from leads.models import Submission
from tests.factories import CaptureFormFactory

FUZZ = settings(max_examples=60, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))

CAPTURE_FIELDS = ["email", "first_name", "last_name", "company", "job_title", "phone", "country", "industry",
                  "company_size", "website", "source", "campaign", "utm_source", "visitor_id", "message", "consent",
                  "activity", "street", "postcode", "city", "region", "topic"]
nasty_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["\x00", "a\x00b", "\ud800", "\udfff", "2026-02-30T10:00:00Z", "0000-01-01T00:00:00Z",
                     "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "=HYPERLINK(1)", "", " ", "web_form",
                     "page_view", "https://[::1", "+49 89 123456", "DE"]),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), nasty_text,
                    st.sampled_from([float("inf"), -float("inf"), 1e308]))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                             st.dictionaries(nasty_text, inner, max_size=3)),
                           max_leaves=8)
activities = st.fixed_dictionaries({}, optional={"kind": json_values, "url": json_values, "occurred_at": json_values})
capture_bodies = st.one_of(
    st.fixed_dictionaries({"email": st.sampled_from(["a@firma.de", "B@Firma.de"])},
                          optional={name: (activities if name == "activity" else json_values)
                                    for name in CAPTURE_FIELDS if name != "email"}),
    json_values,
)


def encode(value) -> bytes:
    """JSON as a client may send it: non-finite numbers as 1e400 (which json.loads turns into inf)."""
    text = json.dumps(value, allow_nan=True).replace("-Infinity", "-1e400").replace("Infinity", "1e400")
    return text.encode("utf-8", "surrogatepass")


@pytest.fixture
def form(transactional_db):
    return CaptureFormFactory(consent_wording="Yes")


@pytest.mark.django_db(transaction=True)
def test_capture_never_answers_5xx(form):
    client = APIClient(raise_request_exception=False)

    @FUZZ
    @given(body=capture_bodies, key=st.one_of(st.just(""), st.text(string.printable, min_size=1, max_size=12)))
    def run(body, key):
        cache.clear()
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        response = client.generic("POST", "/api/v1/capture/", encode(body), content_type="application/json",
                                  HTTP_X_FORM_KEY=form.key, **headers)
        assert response.status_code < 500, (response.status_code, body)
        if response.status_code == 400:
            assert "errors" in response.json()
        assert not Submission.objects.filter(outcome=Submission.Outcome.RECEIVED).exists()

    run()
    assert Submission.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_track_never_answers_5xx(form):
    client = APIClient(raise_request_exception=False)
    bodies = st.fixed_dictionaries({"visitor_id": st.sampled_from(["abcdefgh12", "ZZZZZZZZ"])}, optional={
        name: json_values for name in ("kind", "url", "occurred_at", "title", "referrer")
    })

    @FUZZ
    @given(body=st.one_of(bodies, json_values))
    def run(body):
        cache.clear()
        response = client.generic("POST", "/api/v1/track/", encode(body), content_type="application/json",
                                  HTTP_X_FORM_KEY=form.key)
        assert response.status_code < 500, (response.status_code, body)

    run()


@pytest.mark.django_db(transaction=True)
def test_the_hosted_form_never_answers_5xx(form):
    client = Client(raise_request_exception=False)
    field_values = st.one_of(st.text(max_size=30), st.sampled_from(["\x00", "x\x00", "2026-02-30", "+49 89 1"]))
    posts = st.fixed_dictionaries({"email": st.sampled_from(["a@firma.de", "", "x"])}, optional={
        name: field_values for name in ("first_name", "company", "phone", "country", "message", "visitor_id",
                                        "utm_source", "consent", "website_url")
    })
    referers = st.one_of(st.none(), st.sampled_from(["http://[::1", "https://www.example.com/p", "null", "%"]))

    @FUZZ
    @given(data=posts, embed=st.booleans(), referer=referers)
    def run(data, embed, referer):
        cache.clear()
        headers = {"HTTP_REFERER": referer} if referer else {}
        response = client.post(f"/f/{form.key}/" + ("?embed=1" if embed else ""), data, **headers)
        assert response.status_code < 500, (response.status_code, data, referer)
        assert not Submission.objects.filter(outcome=Submission.Outcome.RECEIVED).exists()

    run()

"""Audit 13: authenticated inputs (marketing, manager, SDR) that answer 5xx, API and pages.

Through HTTP only. Today (main @ 9071055) every case here is a 500 (or, where the docstring says so, a
stored value that makes later reads answer 500).
"""

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import ActivityFactory, LeadFactory

DEEP = "[" * 10_000 + "]" * 10_000


def api_for(user):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user)
    return client


def page_for(user):
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def post_raw(client, url, raw):
    body = raw.encode() if isinstance(raw, str) else raw
    return client.generic("POST", url, body, content_type="application/json")


def assert_400(response, *fields):
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    errors = response.json()["errors"]
    if fields:
        assert any(field in errors for field in fields), errors


@pytest.fixture
def sal(sdr):
    return LeadFactory(stage="sal", owner=sdr)


@pytest.fixture
def mql(sdr):
    return LeadFactory(stage="mql", owner=sdr)


# --- P1 on every JSON endpoint: nesting, lone surrogates, 1e400 -----------------------------------------------

JSON_ENDPOINTS = [
    ("sdr", "/api/v1/leads/{sal}/activities/"),
    ("sdr", "/api/v1/leads/{mql}/transitions/reject/"),
    ("manager", "/api/v1/leads/{mql}/assign/"),
    ("marketing", "/api/v1/leads/{sal}/erase/"),
    ("marketing", "/api/v1/leads/{sal}/object/"),
]
BAD_BODIES = [
    pytest.param(DEEP, id="nested-10000"),
    pytest.param('{"a":' + DEEP + "}", id="nested-value-10000"),
    pytest.param('{"\\udc00":1}', id="lone-surrogate-key"),
]


@pytest.mark.parametrize("who,url", JSON_ENDPOINTS)
@pytest.mark.parametrize("raw", BAD_BODIES)
def test_bad_json_bodies_are_a_400(request, sal, mql, who, url, raw):
    user = request.getfixturevalue(who)
    assert_400(post_raw(api_for(user), url.format(sal=sal.pk, mql=mql.pk), raw))


def make_rep(admin_user, user):
    """A team with `user` as its rep, made through the admin (there is no factory for reps)."""
    response = page_for(admin_user).post("/admin/routing/team/add/", {
        "name": "Inside Sales", "slug": "inside-sales", "kind": "sdr", "hand_off_on": "qualify",
        "qualification_framework": "bant",
        "reps-TOTAL_FORMS": "1", "reps-INITIAL_FORMS": "0", "reps-MIN_NUM_FORMS": "0", "reps-MAX_NUM_FORMS": "1000",
        "reps-0-user": str(user.pk), "reps-0-capacity": "10", "reps-0-weight": "1", "reps-0-is_available": "on",
    })
    assert response.status_code == 302, response.content[:2000]


@pytest.mark.parametrize("raw", BAD_BODIES)
def test_bad_json_bodies_on_rep_presence_are_a_400(manager, sdr, admin_user, raw):
    make_rep(admin_user, sdr)
    assert api_for(manager).get("/api/v1/reps/").json()[0]["username"] == "sdr1"
    response = api_for(manager).generic("PATCH", "/api/v1/reps/sdr1/", raw.encode(), content_type="application/json")
    assert_400(response)


def test_a_nul_in_a_rep_username_is_a_404(manager):
    response = api_for(manager).generic("PATCH", "/api/v1/reps/a%00b/", b"{}", content_type="application/json")
    assert response.status_code == 404
    assert page_for(manager).get("/team/reps/a%00b/").status_code == 404
    assert page_for(manager).post("/team/reps/a%00b/reassign/", {}).status_code == 404


# --- activities: NUL, surrogates, impossible dates, no lower bound -------------------------------------------

@pytest.mark.parametrize("body,field", [
    pytest.param({"kind": "call", "note": "a\u0000b"}, "note", id="note-nul"),
    pytest.param({"kind": "call", "note": "\ud800"}, "note", id="note-lone-surrogate"),
    pytest.param({"kind": "call", "url": "https://a.de/\ud800"}, "url", id="url-lone-surrogate"),
    pytest.param({"kind": "call", "occurred_at": "2026-02-30T10:00:00Z"}, "occurred_at", id="2026-02-30"),
    pytest.param({"kind": "call", "occurred_at": "0000-01-01T10:00:00Z"}, "occurred_at", id="year-0"),
    pytest.param({"kind": "call", "occurred_at": "2024-01-01T12:99:00Z"}, "occurred_at", id="minute-99"),
    pytest.param({"kind": "call", "occurred_at": "0252-01-01T00:00:00Z"}, "occurred_at", id="year-252-accepted"),
    pytest.param({"kind": "call", "next_step_on": "0001-01-01"}, "next_step_on", id="next-step-year-1-accepted"),
    pytest.param({"kind": "call", "outcome": {"a": 1}}, "outcome", id="outcome-dict-accepted"),
    pytest.param({"kind": "call", "note": ["x"]}, "note", id="note-list"),
])
def test_bad_activities_are_a_400(sdr, sal, body, field):
    # json.dumps escapes a lone surrogate as \ud800 (the test client's own encoder cannot send it)
    assert_400(post_raw(api_for(sdr), f"/api/v1/leads/{sal.pk}/activities/", json.dumps(body)), field)


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "0001-01-01T05:00:00+10:00"])
def test_an_activity_before_year_1_in_utc_does_not_poison_the_lead(sdr, sal, when):
    """Today the activity is stored (the POST answers 400 "Datetime value out of range." from the response
    serializer, after the write), and from then on the lead page and GET /api/v1/leads/<id>/ answer 500."""
    response = api_for(sdr).post(f"/api/v1/leads/{sal.pk}/activities/", {"kind": "call", "occurred_at": when},
                                 format="json")
    assert_400(response, "occurred_at")
    assert api_for(sdr).get(f"/api/v1/leads/{sal.pk}/").status_code == 200
    assert page_for(sdr).get(f"/leads/{sal.pk}/").status_code == 200


def test_the_activity_form_refuses_year_1_in_berlin_time(sdr, sal):
    """The page's ActivityForm accepts 0001-01-01T00:00; in Europe/Berlin (LMT +00:53:28) that is 1 BC in UTC:
    the POST answers 500 and the lead page stays 500."""
    response = page_for(sdr).post(f"/leads/{sal.pk}/activities/",
                                  {"activity-kind": "call", "activity-occurred_at": "0001-01-01T00:00"})
    assert response.status_code == 400
    assert page_for(sdr).get(f"/leads/{sal.pk}/").status_code == 200


def test_an_old_activity_renders_a_valid_date_time(sdr, sal):
    """Schema mismatch: dates before 1893 render with the LMT offset +00:53:28, not an RFC 3339 date-time."""
    response = api_for(sdr).post(f"/api/v1/leads/{sal.pk}/activities/",
                                 {"kind": "call", "occurred_at": "1850-01-01T12:00:00Z"}, format="json")
    if response.status_code == 201:  # if such dates stay allowed, they must render as a valid date-time
        assert ":28" not in response.json()["occurred_at"][-6:]
    else:
        assert_400(response, "occurred_at")


# --- transitions: free text stored unchecked, Decimal overflow ----------------------------------------------

@pytest.mark.parametrize("name,body,field", [
    pytest.param("reject", {"reason": "a\u0000b"}, "reason", id="reject-reason-nul"),
    pytest.param("reject", {"reason": "\ud800"}, "reason", id="reject-reason-lone-surrogate"),
    pytest.param("disqualify", {"reason": "a\u0000b"}, "reason", id="disqualify-reason-nul"),
])
def test_bad_transition_text_is_a_400(sdr, mql, name, body, field):
    assert_400(post_raw(api_for(sdr), f"/api/v1/leads/{mql.pk}/transitions/{name}/", json.dumps(body)), field)


def test_a_nul_in_a_qualification_answer_is_a_400(sdr, sal):
    ActivityFactory(lead=sal, kind="call", outcome="connected", occurred_at=sal.stage_entered_at)
    body = {"budget": "40k\u0000", "authority": "CFO", "need": "routing", "timeline": "Q1"}
    assert_400(api_for(sdr).post(f"/api/v1/leads/{sal.pk}/transitions/qualify/", body, format="json"), "budget")


def test_a_huge_exponent_deal_value_is_a_400(manager, sdr):
    lead = LeadFactory(stage="sql", owner=sdr)
    response = api_for(manager).post(f"/api/v1/leads/{lead.pk}/transitions/open_opportunity/",
                                     {"deal_value": "1e999999999", "close_date": "2030-01-01"}, format="json")
    assert_400(response, "deal_value")


# --- lead list: filters and cursor ------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["marketing", "manager", "sdr", "admin_user"])
def test_created_before_the_last_day_is_no_500(request, who):
    user = request.getfixturevalue(who)
    api = api_for(user).get("/api/v1/leads/?created_before=9999-12-31")
    assert api.status_code in (200, 400)
    page = page_for(user).get("/leads/?created_before=9999-12-31")
    assert page.status_code in (200, 400)
    htmx = page_for(user).get("/leads/?created_before=9999-12-31", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="lead-table")
    assert htmx.status_code in (200, 400)


@pytest.mark.parametrize("cursor", ["cD0yMDI2", "cD05OTk5LTk5LTk5", "cj0xJnA9eA%3D%3D"])
def test_a_forged_cursor_is_refused(marketing, cursor):
    """base64 of `p=2026`, `p=9999-99-99`, `r=1&p=x`: the position goes unchecked into created_at__lt."""
    response = api_for(marketing).get(f"/api/v1/leads/?cursor={cursor}")
    assert response.status_code in (400, 404)
    assert response["Content-Type"].startswith("application/json")


# --- reports: date ranges at the ends of the calendar ------------------------------------------------------

REPORT_PAGES = ["", "funnel/", "velocity/", "stalls/", "speed-to-lead/", "acceptance/", "sources/", "sla/"]
EDGE_RANGES = ["end=9999-12-31", "start=9999-12-30&end=9999-12-31", "end=0001-01-05", "end=0001-01-01",
               "format=csv&end=9999-12-31"]


@pytest.mark.parametrize("page", REPORT_PAGES)
@pytest.mark.parametrize("query", EDGE_RANGES)
def test_report_pages_refuse_dates_at_the_end_of_the_calendar(marketing, page, query):
    assert page_for(marketing).get(f"/reports/{page}?{query}").status_code == 400


@pytest.mark.parametrize("report", ["funnel", "velocity", "speed-to-lead", "sources"])
@pytest.mark.parametrize("query,field", [("end=9999-12-31", "end"), ("end=0001-01-05", "end"),
                                         ("end=0001-01-01", "end")])
def test_report_api_refuses_dates_at_the_end_of_the_calendar(sdr, report, query, field):
    response = api_for(sdr).get(f"/api/v1/reports/{report}/?{query}")
    assert_400(response, field, "start")


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_the_report_preview_refuses_dates_at_the_end_of_the_calendar(sdr, day):
    client = page_for(sdr)
    assert client.get(f"/reports/my-report/preview/?date={day}").status_code == 400
    assert client.get(f"/reports/my-report/preview/?part=text&date={day}").status_code == 400


# --- privacy pages: reasons stored unchecked ------------------------------------------------------------------

@pytest.mark.parametrize("action", ["erase", "object"])
def test_a_nul_in_a_privacy_reason_is_refused(marketing, sal, action):
    response = page_for(marketing).post(f"/leads/{sal.pk}/{action}/", {"reason": "asked by phone\x00"})
    assert response.status_code in (302, 400)


def test_a_forged_export_token_with_a_non_numeric_id_is_refused(db):
    """With the development SECRET_KEY (make run, .env.example, every test run) anyone can sign a token;
    one whose lead id is not a number is a 500 (the signature itself is the real problem, see issue 13)."""
    from django.core import signing

    token = signing.dumps({"l": "x"}, salt="leadwerk.export", compress=True)
    response = Client(raise_request_exception=False).get(f"/privacy/export/{token}.json")
    assert response.status_code in (404, 410)


@pytest.mark.parametrize("page", ["unsubscribe", "preferences"])
def test_a_forged_unsubscribe_token_with_a_non_numeric_id_is_refused(db, page):
    from django.core import signing

    token = signing.dumps({"l": "x"}, salt="leadwerk.unsubscribe")
    response = Client(raise_request_exception=False).get(f"/privacy/{page}/{token}/")
    assert response.status_code == 404

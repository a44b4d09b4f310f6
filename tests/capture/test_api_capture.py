"""POST /api/v1/capture/: credentials, validation, dedup, idempotency, concurrency, CORS and rate limits."""

import threading
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from capture.submissions import payload_hash
from core.vocabulary import Role
from leads.models import Activity, Lead, Submission
from privacy.models import ConsentEvent
from tests.factories import CampaignFactory, CaptureFormFactory, LeadFactory, UserFactory
from tests.idempotency import holding_key

URL = "/api/v1/capture/"
ORIGIN = "https://www.example.com"


@pytest.fixture(autouse=True)
def _fresh_rate_limits(db):
    cache.clear()


@pytest.fixture
def form(db):
    return CaptureFormFactory(campaign=CampaignFactory(slug="spring-webinar"), allowed_origins=ORIGIN)


def post(form, body, client=None, **headers):
    client = client or APIClient()
    return client.post(URL, body, format="json", HTTP_X_FORM_KEY=form.key, **headers)


def token_client(user):
    out = StringIO()
    call_command("create_api_token", user.username, stdout=out)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")
    return client


def nothing_captured():
    return not Lead.objects.exists() and not Activity.objects.exists()


# --- credentials -----------------------------------------------------------------------------------------


def test_form_key_capture_creates_a_lead_with_the_forms_defaults(form):
    response = post(form, {"email": "Erika.Muster@Firma.de", "first_name": "Erika"})
    assert response.status_code == 202
    assert response.json() == {"detail": "Thank you."}  # a public key learns nothing about the lead
    lead = Lead.objects.get()
    assert (lead.email_normalized, lead.first_name) == ("erika.muster@firma.de", "Erika")
    assert (lead.source, lead.campaign.slug, lead.capture_form) == ("web_form", "spring-webinar", form)
    assert Activity.objects.get(lead=lead).kind == "form_submit"


def test_payload_source_and_campaign_win_over_the_forms(form):
    CampaignFactory(slug="fair-2026")
    response = post(form, {"email": "a@firma.de", "source": "event", "campaign": "fair-2026"})
    assert response.status_code == 202
    lead = Lead.objects.get()
    assert (lead.source, lead.campaign.slug) == ("event", "fair-2026")


@pytest.mark.parametrize("role", [Role.MARKETING, Role.MANAGER])
def test_staff_api_token_may_capture(role):
    user = UserFactory(username=f"{role}-integrator", role=role)
    response = token_client(user).post(URL, {"email": "b@firma.de"}, format="json")
    assert response.status_code == 201
    lead = Lead.objects.get()
    assert lead.source == "api"
    assert Submission.objects.get().submitted_by == user


def test_sdr_api_token_may_not_capture(db):
    sdr = UserFactory(username="sdr1", role=Role.SDR)
    response = token_client(sdr).post(URL, {"email": "c@firma.de"}, format="json")
    assert response.status_code == 403
    assert nothing_captured()


def test_missing_credentials_get_401_naming_both_schemes(db):
    response = APIClient().post(URL, {"email": "d@firma.de"}, format="json")
    assert response.status_code == 401
    assert "Token" in response["WWW-Authenticate"]
    assert "X-Form-Key" in response["WWW-Authenticate"]
    assert nothing_captured()
    assert not Submission.objects.exists()


def test_wrong_form_key_gets_403(db):
    response = APIClient().post(URL, {"email": "e@firma.de"}, format="json", HTTP_X_FORM_KEY="guessed-key")
    assert response.status_code == 403
    assert response.json() == {"detail": "Unknown or inactive form key."}
    assert nothing_captured()
    assert not Submission.objects.exists()


def test_inactive_form_key_gets_403(db):
    form = CaptureFormFactory(is_active=False)
    assert post(form, {"email": "f@firma.de"}).status_code == 403
    assert nothing_captured()


def test_client_ip_and_user_agent_are_recorded(form):
    post(form, {"email": "g@firma.de"}, REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="Integrator/1.0")
    submission = Submission.objects.get()
    assert (submission.ip_address, submission.user_agent, submission.channel) == (
        "203.0.113.7", "Integrator/1.0", "api"
    )


def test_consent_is_stored_with_the_forms_wording(db):
    form = CaptureFormFactory(consent_wording="Ja, ich möchte Informationen per E-Mail erhalten.")
    assert post(form, {"email": "h@firma.de", "consent": True}).status_code == 202
    consent = ConsentEvent.objects.get(kind="given")
    assert consent.wording == "Ja, ich möchte Informationen per E-Mail erhalten."
    assert Lead.objects.get().consent_status == "given"


# --- validation ------------------------------------------------------------------------------------------


def test_invalid_capture_names_every_bad_field_and_creates_no_lead(form):
    body = {
        "email": "not-an-email",
        "phone": "12",
        "country": "XX",
        "first_name": "x" * 101,
        "last_name": 42,
        "company_size": "many",
        "website": "not a site",
        "consent": "perhaps",
        "campaign": "no-such-campaign",
        "visitor_id": "short",
        "activity": {"kind": "teleport", "url": "ftp://example.com/x"},
    }
    response = post(form, body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {
        "email", "phone", "country", "first_name", "last_name", "company_size", "website", "consent",
        "campaign", "visitor_id", "activity.kind", "activity.url",
    }
    assert all(isinstance(messages, list) and messages for messages in errors.values())
    assert nothing_captured()
    submission = Submission.objects.get()
    assert (submission.outcome, submission.errors) == ("rejected", errors)


def test_unknown_fields_are_refused(form):
    response = post(form, {"email": "i@firma.de", "favourite_colour": "blue", "password": "x"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"favourite_colour", "password"}
    assert nothing_captured()


def test_email_is_required(form):
    response = post(form, {"first_name": "Erika"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"email"}
    assert nothing_captured()


def test_phone_is_stored_as_e164(form):
    assert post(form, {"email": "j@firma.de", "phone": "030 1234567", "country": "de"}).status_code == 202
    lead = Lead.objects.get()
    assert (lead.phone, lead.country) == ("+49301234567", "DE")


def test_body_must_be_a_json_object(form):
    """Refused by the API's parser before anything is stored (`core.parsers`)."""
    response = post(form, ["email", "k@firma.de"])
    assert response.status_code == 400
    assert response.json() == {"errors": {"non_field_errors": ["Send a JSON object."]}}
    assert nothing_captured()
    assert not Submission.objects.exists()


def test_malformed_json_is_400(form):
    response = APIClient().post(URL, data="{not json", content_type="application/json", HTTP_X_FORM_KEY=form.key)
    assert response.status_code == 400
    assert nothing_captured()


# --- dedup -----------------------------------------------------------------------------------------------


def test_known_email_merges_fills_empty_fields_and_keeps_filled_ones(form):
    existing = LeadFactory(email="erika@firma.de", phone="", job_title="", company="Firma GmbH")
    body = {"email": "  ERIKA@firma.de", "phone": "+49 30 12345678", "job_title": "CTO", "company": "Other AG"}
    response = post(form, body)
    assert response.status_code == 202
    assert response.json() == {"detail": "Thank you."}  # the same as for a new address
    lead = Lead.objects.get()
    assert lead.pk == existing.pk
    assert (lead.phone, lead.job_title, lead.company) == ("+493012345678", "CTO", "Firma GmbH")
    assert Activity.objects.filter(lead=lead).count() == 1
    assert Submission.objects.get().outcome == "merged"


# --- idempotency -----------------------------------------------------------------------------------------


def test_same_idempotency_key_and_body_replays_without_a_second_effect(form):
    body = {"email": "l@firma.de"}
    first = post(form, body, HTTP_IDEMPOTENCY_KEY="order-1")
    second = post(form, body, HTTP_IDEMPOTENCY_KEY="order-1")
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json() == first.json()
    assert (Lead.objects.count(), Activity.objects.count(), Submission.objects.count()) == (1, 1, 1)


def test_same_idempotency_key_with_another_body_is_422(form):
    assert post(form, {"email": "m@firma.de"}, HTTP_IDEMPOTENCY_KEY="order-2").status_code == 202
    response = post(form, {"email": "other@firma.de"}, HTTP_IDEMPOTENCY_KEY="order-2")
    assert response.status_code == 422
    assert response.json()["detail"]
    assert list(Lead.objects.values_list("email", flat=True)) == ["m@firma.de"]
    assert Activity.objects.count() == 1


def test_idempotency_key_still_in_flight_is_409(form):
    """The first request's database session still holds the key (another connection here): 409."""
    body = {"email": "n@firma.de"}
    Submission.objects.create(
        channel="api", capture_form=form, idempotency_scope=f"form:{form.pk}", idempotency_key="order-3",
        payload_hash=payload_hash(body), payload=body, outcome=Submission.Outcome.RECEIVED,
    )
    with holding_key(f"form:{form.pk}", "order-3"):
        response = post(form, body, HTTP_IDEMPOTENCY_KEY="order-3")
    assert response.status_code == 409
    assert response.json()["detail"]
    assert nothing_captured()


def test_idempotency_key_of_a_dead_request_is_taken_over_at_once(form):
    """The first request's session is gone (its process was killed): the repeat finishes the submission
    at once, not after IDEMPOTENCY_STALE_SECONDS."""
    body = {"email": "dead@firma.de"}
    Submission.objects.create(
        channel="api", capture_form=form, idempotency_scope=f"form:{form.pk}", idempotency_key="order-dead",
        payload_hash=payload_hash(body), payload=body, outcome=Submission.Outcome.RECEIVED,
    )
    with holding_key(f"form:{form.pk}", "order-dead"):
        assert post(form, body, HTTP_IDEMPOTENCY_KEY="order-dead").status_code == 409
    response = post(form, body, HTTP_IDEMPOTENCY_KEY="order-dead")  # the holder's session has ended
    assert response.status_code == 202
    assert Submission.objects.get().outcome == Submission.Outcome.CREATED


def test_idempotency_keys_are_scoped_per_form(form):
    other_form = CaptureFormFactory()
    assert post(form, {"email": "o@firma.de"}, HTTP_IDEMPOTENCY_KEY="same").status_code == 202
    assert post(other_form, {"email": "p@firma.de"}, HTTP_IDEMPOTENCY_KEY="same").status_code == 202
    assert Lead.objects.count() == 2


def test_overlong_idempotency_key_is_400(form):
    response = post(form, {"email": "q@firma.de"}, HTTP_IDEMPOTENCY_KEY="k" * 201)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert nothing_captured()


# --- concurrency -----------------------------------------------------------------------------------------


def race(requests):
    """Run the callables at the same moment, each in its own thread and database connection."""
    barrier = threading.Barrier(len(requests))
    results = [None] * len(requests)

    def run(index, request):
        try:
            barrier.wait()
            results[index] = request()
        except Exception as error:  # noqa: BLE001 - the outcome is what the test counts
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_captures_of_one_new_email_create_exactly_one_lead():
    form = CaptureFormFactory()
    bodies = [{"email": "race@firma.de", "first_name": f"Racer {i}"} for i in range(8)]
    responses = race([lambda body=body: post(form, body) for body in bodies])
    assert [r.status_code for r in responses] == [202] * 8, responses
    lead = Lead.objects.get()
    assert sorted(Submission.objects.values_list("outcome", flat=True)) == ["created"] + ["merged"] * 7
    assert set(Submission.objects.values_list("lead_id", flat=True)) == {lead.pk}
    assert Activity.objects.filter(lead=lead).count() == 8


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_idempotency_key_have_one_effect():
    form = CaptureFormFactory()
    body = {"email": "same-key@firma.de"}
    responses = race([lambda: post(form, body, HTTP_IDEMPOTENCY_KEY="race-key") for _ in range(8)])
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {202, 409}, responses
    assert 202 in statuses
    lead = Lead.objects.get()
    assert Submission.objects.get().lead_id == lead.pk
    assert (Activity.objects.count(), Submission.objects.count()) == (1, 1)


# --- CORS ------------------------------------------------------------------------------------------------


def preflight(origin):
    return APIClient().options(
        URL, HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,x-form-key,idempotency-key",
    )


def test_preflight_from_an_allowed_origin_is_answered(form):
    response = preflight(ORIGIN)
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    allowed = {h.strip().lower() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "x-form-key", "idempotency-key"} <= allowed
    assert "POST" in response["Access-Control-Allow-Methods"]


def test_preflight_from_an_unknown_origin_is_refused(form):
    response = preflight("https://evil.example.net")
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response


def test_capture_from_an_allowed_origin_gets_the_cors_header(form):
    response = post(form, {"email": "r@firma.de"}, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 202
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in response["Vary"]


def test_validation_errors_carry_the_cors_header_too(form):
    response = post(form, {"email": "nope"}, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 400
    assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_capture_from_a_disallowed_origin_is_403_and_captures_nothing(form):
    response = post(form, {"email": "s@firma.de"}, HTTP_ORIGIN="https://evil.example.net")
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response
    assert nothing_captured()
    assert not Submission.objects.exists()


def test_origin_allowed_for_another_form_is_403(form):
    strict = CaptureFormFactory(allowed_origins="https://shop.example.org")
    response = post(strict, {"email": "t@firma.de"}, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 403
    assert nothing_captured()


def test_server_side_capture_without_origin_needs_no_cors(form):
    response = post(form, {"email": "u@firma.de"})
    assert response.status_code == 202
    assert "Access-Control-Allow-Origin" not in response


# --- rate limits -----------------------------------------------------------------------------------------


@pytest.fixture
def low_capture_rate(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "capture": "2/minute"},
    }
    cache.clear()


def test_capture_beyond_the_rate_gets_429_and_has_no_effect(form, low_capture_rate):
    statuses = [post(form, {"email": f"rate{i}@firma.de"}).status_code for i in range(3)]
    assert statuses == [202, 202, 429]
    assert Lead.objects.count() == 2
    assert Submission.objects.count() == 2


def test_rate_limit_answers_with_retry_after(form, low_capture_rate):
    for i in range(2):
        post(form, {"email": f"retry{i}@firma.de"})
    response = post(form, {"email": "retry2@firma.de"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_rate_limit_counts_per_client_ip(form, low_capture_rate):
    for i in range(2):
        post(form, {"email": f"ip{i}@firma.de"}, REMOTE_ADDR="198.51.100.1")
    assert post(form, {"email": "ip2@firma.de"}, REMOTE_ADDR="198.51.100.1").status_code == 429
    assert post(form, {"email": "ip3@firma.de"}, REMOTE_ADDR="198.51.100.2").status_code == 202


def test_rate_limit_counts_per_form_key(form, low_capture_rate):
    other_form = CaptureFormFactory()
    for i in range(2):
        post(form, {"email": f"key{i}@firma.de"})
    assert post(form, {"email": "key2@firma.de"}).status_code == 429
    assert post(other_form, {"email": "key3@firma.de"}).status_code == 202

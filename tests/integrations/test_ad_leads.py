"""Inbound ad lead forms: Meta Lead Ads and LinkedIn Lead Gen Forms webhooks with their signatures and
handshakes, details fetched through the fetcher interface (recorded payloads here), mapped per connected
form and passed through capture (source, campaign, consent wording, idempotency by the platform's lead id)."""

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from core.vocabulary import Channel
from integrations import adleads, tasks
from integrations.models import AdForm, AdPlatform, InboundAdLead, InboundStatus
from leads.models import Lead, Submission
from privacy.models import ConsentEvent
from tests.factories import CampaignFactory, CaptureFormFactory

pytestmark = pytest.mark.django_db

RECORDED = Path(__file__).parent / "recorded"
META_SECRET, LINKEDIN_SECRET = "meta-app-secret", "linkedin-client-secret"


def recorded(name: str) -> bytes:
    return (RECORDED / name).read_bytes()


class RecordedFetcher:
    """The platform's API, answered from recorded payloads (fetching needs the internet)."""

    def __init__(self, parse, files: dict[str, str]):
        self.parse, self.files, self.asked = parse, files, []

    def fetch(self, platform_lead_id):
        self.asked.append(platform_lead_id)
        return self.parse(json.loads(recorded(self.files[platform_lead_id])))


@pytest.fixture(autouse=True)
def _platforms(settings, monkeypatch):
    settings.META_APP_SECRET, settings.META_VERIFY_TOKEN = META_SECRET, "verify-me"
    settings.LINKEDIN_CLIENT_SECRET = LINKEDIN_SECRET
    fetchers = {
        AdPlatform.META: RecordedFetcher(adleads.parse_meta_lead, {
            "1029384756": "meta_lead.json", "1029384757": "meta_lead_without_email.json",
        }),
        AdPlatform.LINKEDIN: RecordedFetcher(adleads.parse_linkedin_lead, {
            "0bd7f2c1-3e2a-4d4b-9d0e-5e8f2a1b7c9d": "linkedin_lead.json",
        }),
    }
    monkeypatch.setattr(adleads, "FETCHERS", fetchers)
    return fetchers


@pytest.fixture
def meta_form(db):
    campaign = CampaignFactory(slug="meta-q4", channel=Channel.PAID_SOCIAL)
    capture_form = CaptureFormFactory(
        name="Meta Q4", source=Channel.PAID_SOCIAL, campaign=campaign,
        consent_wording="Yes, send me product news by e-mail.",
    )
    return AdForm.objects.create(platform=AdPlatform.META, external_id="2861932410", name="Q4 whitepaper",
                                 capture_form=capture_form)


@pytest.fixture
def linkedin_form(db):
    capture_form = CaptureFormFactory(name="LinkedIn", source=Channel.PAID_SOCIAL, consent_wording="Keep me posted.")
    return AdForm.objects.create(
        platform=AdPlatform.LINKEDIN, external_id="11223344", name="Demo form", capture_form=capture_form,
        field_mapping={"1": "email", "2": "first_name", "3": "last_name", "4": "company"},
    )


def _meta_post(client, body: bytes, secret=META_SECRET):
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post("/inbound/meta/leads/", body, content_type="application/json",
                       headers={"X-Hub-Signature-256": signature})


def _linkedin_post(client, body: bytes, secret=LINKEDIN_SECRET):
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post("/inbound/linkedin/leads/", body, content_type="application/json",
                       headers={"X-LI-Signature": signature})


def _process_all():
    for inbound in InboundAdLead.objects.filter(status=InboundStatus.RECEIVED):
        tasks.ingest_ad_lead(inbound.pk)


def test_a_meta_lead_goes_through_capture_with_source_campaign_and_consent(client, meta_form):
    response = _meta_post(client, recorded("meta_notification.json"))
    assert response.status_code == 200 and response.json() == {"received": 1}
    _process_all()
    inbound = InboundAdLead.objects.get()
    assert inbound.status == InboundStatus.ACCEPTED and inbound.platform_lead_id == "1029384756"
    lead = Lead.objects.get(pk=inbound.lead_id)
    assert (lead.email, lead.first_name, lead.last_name, lead.company, lead.job_title) == (
        "ada.lovelace@analytical-engines.example", "Ada King", "Lovelace", "Analytical Engines Ltd", "Head of Data"
    )
    assert lead.source == Channel.PAID_SOCIAL and lead.campaign.slug == "meta-q4"
    consent = ConsentEvent.objects.get(lead=lead)
    assert consent.wording == "Yes, send me product news by e-mail." and consent.kind == "given"


def test_a_repeated_notification_makes_no_second_lead(client, meta_form, _platforms):
    for _ in range(2):
        assert _meta_post(client, recorded("meta_notification.json")).status_code == 200
    _process_all()
    assert InboundAdLead.objects.count() == 1 and Lead.objects.count() == 1
    inbound = InboundAdLead.objects.get()
    InboundAdLead.objects.filter(pk=inbound.pk).update(status=InboundStatus.RECEIVED)  # the task ran twice
    tasks.ingest_ad_lead(inbound.pk)
    assert Lead.objects.count() == 1 and Submission.objects.filter(lead__isnull=False).count() == 1


def test_a_bad_meta_signature_is_a_401_stored_as_rejected(client, meta_form, _platforms):
    response = _meta_post(client, recorded("meta_notification.json"), secret="someone-else")
    assert response.status_code == 401
    inbound = InboundAdLead.objects.get()
    assert inbound.status == InboundStatus.REJECTED and "signature" in inbound.reason
    assert inbound.platform_lead_id == ""  # nothing of an unsigned body is kept
    assert Lead.objects.count() == 0 and _platforms[AdPlatform.META].asked == []
    missing = client.post("/inbound/meta/leads/", recorded("meta_notification.json"), content_type="application/json")
    assert missing.status_code == 401


def test_a_meta_lead_without_email_is_rejected_with_the_reason(client, meta_form):
    body = recorded("meta_notification.json").replace(b"1029384756", b"1029384757")
    _meta_post(client, body)
    _process_all()
    inbound = InboundAdLead.objects.get()
    assert inbound.status == InboundStatus.REJECTED and inbound.reason.startswith("email")
    assert Lead.objects.count() == 0
    assert Submission.objects.get(pk=inbound.submission_id).lead_id is None  # recorded like any capture


def test_a_lead_of_a_form_not_connected_is_rejected(client):
    _meta_post(client, recorded("meta_notification.json"))
    _process_all()
    inbound = InboundAdLead.objects.get()
    assert inbound.status == InboundStatus.REJECTED and "2861932410" in inbound.reason
    assert Lead.objects.count() == 0


def test_the_meta_handshake_answers_the_challenge_only_with_the_verify_token(client):
    ok = client.get("/inbound/meta/leads/", {"hub.mode": "subscribe", "hub.verify_token": "verify-me",
                                             "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.content == b"1158201444"
    wrong = client.get("/inbound/meta/leads/", {"hub.mode": "subscribe", "hub.verify_token": "guess",
                                                "hub.challenge": "1"})
    assert wrong.status_code == 403


def test_a_linkedin_lead_maps_question_ids_and_consent(client, linkedin_form):
    response = _linkedin_post(client, recorded("linkedin_notification.json"))
    assert response.status_code == 200 and response.json() == {"received": 1}
    _process_all()
    inbound = InboundAdLead.objects.get()
    assert inbound.status == InboundStatus.ACCEPTED and inbound.ad_form == linkedin_form
    lead = Lead.objects.get(pk=inbound.lead_id)
    assert (lead.email, lead.first_name, lead.last_name, lead.company) == (
        "grace.hopper@cobol.example", "Grace", "Hopper", "COBOL Systems"
    )
    assert ConsentEvent.objects.filter(lead=lead).exists()


def test_a_bad_linkedin_signature_is_a_401_stored_as_rejected(client, linkedin_form):
    response = _linkedin_post(client, recorded("linkedin_notification.json"), secret="wrong")
    assert response.status_code == 401
    assert InboundAdLead.objects.get().status == InboundStatus.REJECTED
    assert Lead.objects.count() == 0


def test_the_linkedin_validation_challenge_is_signed_with_the_client_secret(client):
    response = client.get("/inbound/linkedin/leads/", {"challengeCode": "890e4bd8-aa0f-4c47"})
    expected = hmac.new(LINKEDIN_SECRET.encode(), b"890e4bd8-aa0f-4c47", hashlib.sha256).hexdigest()
    assert response.json() == {"challengeCode": "890e4bd8-aa0f-4c47", "challengeResponse": expected}
    assert client.get("/inbound/linkedin/leads/").status_code == 400


def test_a_signed_body_that_is_not_json_is_a_400(client):
    assert _meta_post(client, b"not json").status_code == 400
    assert InboundAdLead.objects.count() == 0


def test_an_unconfigured_platform_has_no_endpoint(client, settings):
    settings.META_APP_SECRET = ""
    assert _meta_post(client, recorded("meta_notification.json")).status_code == 404
    assert InboundAdLead.objects.count() == 0


def test_the_admin_refuses_a_mapping_to_an_unknown_field_or_without_email(client, admin_user):
    capture_form = CaptureFormFactory(name="F")
    client.force_login(admin_user)
    data = {"platform": "meta", "external_id": "1", "name": "x", "capture_form": capture_form.pk, "is_active": "on"}
    bad = client.post("/admin/integrations/adform/add/", {**data, "field_mapping": '{"email": "salary"}'})
    assert "Unknown lead field: salary" in bad.content.decode()
    no_email = client.post("/admin/integrations/adform/add/", {**data, "field_mapping": '{"name": "first_name"}'})
    assert "Map one question to email" in no_email.content.decode()
    assert AdForm.objects.count() == 0


def test_a_failed_fetch_is_tried_again_and_given_up_after_a_day(client, meta_form, _platforms, monkeypatch):
    import datetime as dt

    import time_machine
    from django.utils import timezone

    class Down:
        def fetch(self, platform_lead_id):
            raise OSError("graph.facebook.com unreachable")

    monkeypatch.setitem(adleads.FETCHERS, AdPlatform.META, Down())
    _meta_post(client, recorded("meta_notification.json"))
    inbound = InboundAdLead.objects.get()
    with pytest.raises(OSError):
        tasks.ingest_ad_lead(inbound.pk)
    assert InboundAdLead.objects.get().status == InboundStatus.RECEIVED
    monkeypatch.setitem(adleads.FETCHERS, AdPlatform.META, _platforms[AdPlatform.META])
    queued = []
    monkeypatch.setattr(adleads, "enqueue_on_commit", lambda func, *args: queued.append((func, args)))
    assert adleads.retry_stale() == 0  # too fresh
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=3)):
        assert adleads.retry_stale() == 1
    assert queued == [("integrations.tasks.ingest_ad_lead", (inbound.pk,))]
    with time_machine.travel(timezone.now() + dt.timedelta(days=1, minutes=1)):
        assert adleads.retry_stale() == 0
    inbound.refresh_from_db()
    assert inbound.status == InboundStatus.REJECTED and "could not be fetched" in inbound.reason

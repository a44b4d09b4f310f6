"""Staff-recorded consent with evidence, the person's export link by e-mail, and phone consent evidence kept
5 years after its last use (UWG § 7a)."""

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from core.errors import Refused
from core.vocabulary import ConsentStatus, Stage
from leads.models import ActivityKind, Lead
from privacy import consent, rights, suppression, tasks
from privacy.models import ConsentEvent, OptInRequest, PrivacyRequest
from tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db

WORDING = "Ja, Sie dürfen mich zu Ihren Angeboten anrufen."


@pytest.fixture
def phone_wording(db):
    return consent.publish_wording(purpose="sales_phone", text=WORDING)


def post_record(client, lead, **data):
    payload = {
        "purpose": "sales_phone",
        "kind": "given",
        "method": "phone",
        "wording": WORDING,
        "evidence_reference": "REC-2026-4711",
        "occurred_at": "",
        "note": "",
        **data,
    }
    return client.post(f"/leads/{lead.pk}/consent/record/", payload)


# --- 1. staff-recorded consent with evidence ---------------------------------------------------------------


def test_the_proof_page_offers_the_form_prefilled_with_the_current_wording(client, marketing, phone_wording):
    lead = LeadFactory()
    client.force_login(marketing)
    page = client.get(f"/leads/{lead.pk}/consent/").content.decode()
    assert f'action="/leads/{lead.pk}/consent/record/"' in page
    assert "Ja, Sie dürfen mich zu Ihren Angeboten anrufen." in page
    other = consent.publish_wording(purpose="newsletter", text="Newsletter bitte.")
    assert other.text in client.get(f"/leads/{lead.pk}/consent/?purpose=newsletter").content.decode()


def test_marketing_records_phone_consent_with_its_evidence(client, marketing, phone_wording):
    lead = LeadFactory()
    client.force_login(marketing)
    response = post_record(client, lead, occurred_at="2026-01-05T10:30")
    assert response.status_code == 302
    event = ConsentEvent.objects.get(lead=lead)
    assert (event.purpose, event.kind, event.method) == ("sales_phone", "given", "phone")
    assert event.evidence_reference == "REC-2026-4711"
    assert event.recorded_by == marketing
    assert event.wording == WORDING and event.wording_version == phone_wording and consent.proof_matches(event)
    assert timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M") == "2026-01-05 10:30"
    assert consent.may_contact_for_sales(lead, channel="phone")
    assert "REC-2026-4711" in client.get(f"/leads/{lead.pk}/consent/").content.decode()


def test_occurred_at_defaults_to_now(client, manager, phone_wording):
    lead = LeadFactory()
    client.force_login(manager)
    before = timezone.now()
    assert post_record(client, lead).status_code == 302
    assert ConsentEvent.objects.get(lead=lead).at >= before


def test_withdrawal_by_phone_is_recorded(client, marketing, phone_wording):
    lead = LeadFactory()
    consent.give(lead=lead, purposes=["sales_phone"], method="web_form", double_opt_in=False)
    client.force_login(marketing)
    assert post_record(client, lead, kind="withdrawn", wording="", evidence_reference="Notiz 12").status_code == 302
    assert consent.statuses(lead.pk)["sales_phone"] == ConsentStatus.WITHDRAWN
    assert ConsentEvent.objects.filter(lead=lead, kind="withdrawn", method="phone").count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"evidence_reference": ""}, "evidence_reference"),
        ({"occurred_at": "2099-01-01T10:00"}, "occurred_at"),
        ({"wording": "  "}, "wording"),
        ({"purpose": "carrier_pigeon"}, "purpose"),
        ({"method": "web_form"}, "method"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(client, marketing, phone_wording, data, field):
    lead = LeadFactory()
    client.force_login(marketing)
    response = post_record(client, lead, **data)
    assert response.status_code == 400
    assert f'data-field="{field}"' in response.content.decode()
    assert not ConsentEvent.objects.filter(lead=lead).exists()


def test_manual_consent_needs_no_evidence_reference(client, marketing, phone_wording):
    lead = LeadFactory()
    client.force_login(marketing)
    assert post_record(client, lead, method="manual", evidence_reference="").status_code == 302
    assert ConsentEvent.objects.get(lead=lead).method == "manual"


def test_sdrs_record_only_on_their_own_leads(client, sdr, other_sdr, phone_wording):
    own = LeadFactory(stage=Stage.SAL, owner=sdr)
    pool = LeadFactory(stage=Stage.MQL, owner=None)
    theirs = LeadFactory(stage=Stage.SAL, owner=other_sdr)
    client.force_login(sdr)
    assert post_record(client, own).status_code == 302
    assert post_record(client, pool).status_code == 403  # visible in the pool, but not theirs
    assert post_record(client, theirs).status_code == 404
    assert 'consent/record/' not in client.get(f"/leads/{pool.pk}/consent/").content.decode()
    assert ConsentEvent.objects.filter(lead__in=[pool, theirs]).count() == 0


def test_staff_recorded_newsletter_consent_still_needs_the_double_opt_in(
    client, marketing, django_capture_on_commit_callbacks
):
    lead = LeadFactory()
    client.force_login(marketing)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_record(client, lead, purpose="newsletter", method="manual", wording="Newsletter bitte.")
    assert response.status_code == 302
    assert consent.statuses(lead.pk)["newsletter"] == ConsentStatus.PENDING
    assert not consent.may_send_marketing(lead)
    assert OptInRequest.objects.filter(lead=lead).count() == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [lead.email]


def test_no_consent_is_recorded_on_an_erased_lead(client, marketing, phone_wording):
    lead = LeadFactory()
    rights.erase(lead_id=lead.pk, reason="asked")
    client.force_login(marketing)
    assert post_record(client, lead).status_code == 302
    assert not ConsentEvent.objects.filter(lead=lead, method="phone").exists()


# --- 2. the person's export link by e-mail -----------------------------------------------------------------


def export_token(message) -> str:
    return re.search(r"/privacy/export/([^\s]+)\.json", message.body).group(1)


def test_marketing_e_mails_the_person_their_export_link(client, marketing, django_capture_on_commit_callbacks):
    lead = LeadFactory(email="anna@firma.de")
    client.force_login(marketing)
    assert "Send the person their data export link" in client.get(f"/leads/{lead.pk}/consent/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/leads/{lead.pk}/export-link/")
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["anna@firma.de"]
    assert "List-Unsubscribe" in message.extra_headers
    assert not re.search(r"newsletter|offer|angebot|rabatt|discount", message.body, re.IGNORECASE)
    logged = PrivacyRequest.objects.get(kind="export", via="email")
    assert logged.actor == marketing and "7 days" in logged.reason

    token = export_token(message)
    client.logout()
    download = client.get(f"/privacy/export/{token}.json")
    assert download.status_code == 200 and download.json()["data"]["leads.Lead"][0]["email"] == "anna@firma.de"
    assert client.get(f"/privacy/export/{token}.csv").status_code == 200


def test_the_export_link_works_seven_days(client, marketing, django_capture_on_commit_callbacks):
    lead = LeadFactory()
    start = timezone.now()
    with time_machine.travel(start, tick=False), django_capture_on_commit_callbacks(execute=True):
        rights.request_export_link(lead_id=lead.pk, by=marketing)
    token = export_token(mail.outbox[0])
    with time_machine.travel(start + dt.timedelta(days=6, hours=23), tick=False):
        assert client.get(f"/privacy/export/{token}.json").status_code == 200
    with time_machine.travel(start + dt.timedelta(days=7, minutes=1), tick=False):
        assert client.get(f"/privacy/export/{token}.json").status_code == 410


def test_the_mail_goes_only_on_commit(marketing, django_capture_on_commit_callbacks):
    lead = LeadFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        rights.request_export_link(lead_id=lead.pk, by=marketing)
    assert mail.outbox == [] and len(callbacks) == 1


def test_no_export_link_for_erased_leads_or_leads_without_e_mail(
    client, marketing, django_capture_on_commit_callbacks
):
    erased = LeadFactory()
    rights.erase(lead_id=erased.pk, reason="asked")
    without = LeadFactory(email="", email_normalized="")
    client.force_login(marketing)
    with django_capture_on_commit_callbacks(execute=True):
        for lead in (erased, without):
            assert client.post(f"/leads/{lead.pk}/export-link/").status_code == 302
            with pytest.raises(Refused):
                rights.request_export_link(lead_id=lead.pk, by=marketing)
    assert mail.outbox == []
    assert not PrivacyRequest.objects.filter(kind="export").exists()


def test_managers_and_sdrs_do_not_send_export_links(client, manager, sdr):
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    for user in (manager, sdr):
        client.force_login(user)
        assert client.post(f"/leads/{lead.pk}/export-link/").status_code == 403
    assert mail.outbox == []


# --- 3. phone consent evidence kept 5 years after its last use ----------------------------------------------

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def phone_lead(by):
    with time_machine.travel(T0, tick=False):
        lead = LeadFactory(email="Zebulon.Q@quixo.de", first_name="Zebulon", last_name="Quixotewski",
                           phone="+49 89 7654321")
        consent.give(lead=lead, purposes=["newsletter"], method="web_form", double_opt_in=False,
                     page_url="https://example.com/?who=zebulon", ip_address="203.0.113.5")
        consent.record(lead=lead, purpose="sales_phone", kind="given", method="phone", by=by, wording=WORDING,
                       evidence_reference="REC-4711 Quixotewski", ip_address="203.0.113.5")
    return lead


def call(lead, at):
    ActivityFactory(lead=lead, kind=ActivityKind.CALL, occurred_at=at, note="Called Zebulon")


def test_erasure_keeps_the_phone_evidence_without_clear_identifiers(marketing):
    lead = phone_lead(marketing)
    call(lead, T0 - dt.timedelta(days=30))  # before the consent: not a use of it
    call(lead, T0 + dt.timedelta(days=365))
    with time_machine.travel(T0 + dt.timedelta(days=400), tick=False):
        rights.erase(lead_id=lead.pk, by=marketing, reason="Request")

    kept = ConsentEvent.objects.filter(lead=lead, purpose="sales_phone", method="phone").get()
    assert kept.wording == WORDING and consent.proof_matches(kept)
    assert kept.at == T0 and kept.recorded_by == marketing
    assert kept.evidence_reference == "REC-4711 [erased]"
    assert kept.ip_address is None
    phone_hash = suppression.suppression_hash("phone", "+49 89 7654321")
    assert phone_hash in kept.note and suppression.suppression_hash("email", "zebulon.q@quixo.de") in kept.note
    assert "2032-03-02" in kept.note  # 5 years after the last call
    newsletter = ConsentEvent.objects.get(lead=lead, purpose="newsletter", method="web_form")
    assert (newsletter.page_url, newsletter.ip_address) == ("", None)
    for event in ConsentEvent.objects.filter(lead=lead).values():
        text = " ".join(str(v) for v in event.values()).lower()
        assert not any(trace in text for trace in ("zebulon", "quixotewski", "7654321", "quixo.de"))
    assert Lead.objects.get(pk=lead.pk).email.endswith("@erased.invalid")


def test_retention_purges_the_phone_evidence_5_years_after_the_last_call(marketing):
    lead = phone_lead(marketing)
    last_call = T0 + dt.timedelta(days=365)
    call(lead, last_call)
    with time_machine.travel(T0 + dt.timedelta(days=400), tick=False):
        rights.erase(lead_id=lead.pk, by=marketing, reason="Request")
    five_years = dt.datetime(2032, 3, 2, 10, 0, tzinfo=dt.UTC)
    assert five_years == rights._add_years(last_call, 5)

    with time_machine.travel(five_years - dt.timedelta(days=1), tick=False):
        assert tasks.apply_retention()["phone_evidence_purged"] == 0
    assert ConsentEvent.objects.filter(lead=lead, purpose="sales_phone").exists()

    with time_machine.travel(five_years + dt.timedelta(days=1), tick=False):
        assert tasks.apply_retention()["phone_evidence_purged"] == 1
    assert not ConsentEvent.objects.filter(lead=lead, purpose="sales_phone").exists()
    assert ConsentEvent.objects.filter(lead=lead, purpose="newsletter").exists()  # the rest of the log stays
    assert tasks.apply_retention()["phone_evidence_purged"] == 0


def test_without_calls_the_5_years_run_from_the_consent(marketing):
    lead = phone_lead(marketing)
    with time_machine.travel(T0 + dt.timedelta(days=10), tick=False):
        rights.erase(lead_id=lead.pk, reason="Request")
    assert ConsentEvent.objects.get(lead=lead, purpose="sales_phone", method="phone").evidence_reference
    with time_machine.travel(rights._add_years(T0, 5) + dt.timedelta(days=1), tick=False):
        assert tasks.apply_retention()["phone_evidence_purged"] == 1


def test_evidence_older_than_5_years_is_not_kept_by_the_erasure(marketing):
    lead = phone_lead(marketing)
    with time_machine.travel(T0 + dt.timedelta(days=6 * 366), tick=False):
        rights.erase(lead_id=lead.pk, reason="Request")
    event = ConsentEvent.objects.get(lead=lead, purpose="sales_phone", method="phone")
    assert event.evidence_reference == "" and "HMAC" not in event.note


def test_retention_erasure_of_an_expired_lead_keeps_recent_phone_evidence(marketing, settings):
    settings.RETENTION_MONTHS = {"known": 24}
    lead = phone_lead(marketing)
    call(lead, T0 + dt.timedelta(days=10))
    Lead.objects.filter(pk=lead.pk).update(last_touch_at=T0 + dt.timedelta(days=10))
    with time_machine.travel(T0 + dt.timedelta(days=800), tick=False):
        result = tasks.apply_retention()
    assert result["erased"] == 1 and result["phone_evidence_purged"] == 0
    assert ConsentEvent.objects.get(lead=lead, purpose="sales_phone", method="phone").evidence_reference

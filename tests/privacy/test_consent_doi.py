"""Consent with proof and double opt-in: capture -> one mail -> confirm link -> proof."""

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from capture import submissions as capture
from core.vocabulary import ConsentStatus
from leads.models import Lead
from privacy import consent, tasks
from privacy.models import ConsentEvent, OptInRequest
from tests.factories import CaptureFormFactory, LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def doi_form(db):
    return CaptureFormFactory(consent_wording="Ja, schickt mir den Newsletter.", double_opt_in=True,
                              consent_purposes=["newsletter"])


def capture_with_consent(form, email="c@firma.de", **extra):
    return capture.submit(channel="web_form", form=form, payload={"email": email, "consent": True, **extra},
                          ip_address="203.0.113.9", user_agent="Browser/1.0")


def link_token(message, name="confirm") -> str:
    return re.search(rf"/privacy/{name}/([^/\s]+)/", message.body).group(1)


def confirm_via_page(client, token, **headers):
    return client.post(f"/privacy/confirm/{token}/", REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="Phone/2", **headers)


def test_a_capture_with_marketing_consent_sends_one_confirmation_mail(doi_form, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        lead = capture_with_consent(doi_form).lead
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["c@firma.de"]
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/privacy/unsubscribe/" in message.extra_headers["List-Unsubscribe"]
    assert "/privacy/confirm/" in message.body
    request = OptInRequest.objects.get(lead=lead)
    assert request.mail_sent_at is not None and len(request.token_hash) == 64
    assert link_token(message) not in str(OptInRequest.objects.values().get())  # only the hash is stored
    assert consent.statuses(lead.pk)["newsletter"] == ConsentStatus.PENDING
    assert Lead.objects.get(pk=lead.pk).consent_status == ConsentStatus.PENDING
    assert not consent.may_send_marketing(lead)


def test_a_retried_task_never_sends_twice(doi_form, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        lead = capture_with_consent(doi_form).lead
    request = OptInRequest.objects.get(lead=lead)
    assert tasks.send_opt_in(request.pk) is False
    assert len(mail.outbox) == 1


def test_the_confirm_link_flips_the_status_and_records_the_proof(client, doi_form, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        lead = capture_with_consent(doi_form).lead
    token = link_token(mail.outbox[0])
    assert client.get(f"/privacy/confirm/{token}/").status_code == 200  # a mail scanner's GET confirms nothing
    assert consent.statuses(lead.pk)["newsletter"] == ConsentStatus.PENDING
    response = confirm_via_page(client, token)
    assert response.status_code == 200
    event = ConsentEvent.objects.get(lead=lead, kind="confirmed")
    assert (event.ip_address, event.user_agent, event.purpose) == ("198.51.100.7", "Phone/2", "newsletter")
    assert event.confirmed_at is not None and event.mail_sent_at is not None
    assert event.token_hash == consent.token_hash(token)
    assert consent.may_send_marketing(lead)
    assert Lead.objects.get(pk=lead.pk).consent_status == ConsentStatus.CONFIRMED


def test_the_consent_proof_is_reproducible(doi_form):
    lead = capture_with_consent(doi_form).lead
    given_event = ConsentEvent.objects.get(lead=lead, kind="given")
    assert given_event.wording == "Ja, schickt mir den Newsletter."
    assert given_event.wording_hash == consent.sha256(given_event.wording)
    assert (given_event.ip_address, given_event.user_agent, given_event.capture_form) == (
        "203.0.113.9", "Browser/1.0", doi_form
    )
    assert consent.proof_matches(given_event)


def test_a_published_wording_version_is_snapshotted_and_verifiable():
    wording = consent.publish_wording(purpose="marketing_email", text="Version eins.")
    newer = consent.publish_wording(purpose="marketing_email", text="Version zwei.")
    form = CaptureFormFactory(consent_wording="", consent_purposes=["marketing_email"])
    lead = capture_with_consent(form).lead
    event = ConsentEvent.objects.get(lead=lead)
    assert (wording.version, newer.version) == (1, 2)
    assert (event.wording, event.wording_version) == ("Version zwei.", newer)
    assert consent.proof_matches(event)
    ConsentEvent.objects.filter(pk=event.pk).update(wording="Tampered.")
    event.refresh_from_db()
    assert not consent.proof_matches(event)


def test_a_reused_link_is_refused(client, doi_form, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        lead = capture_with_consent(doi_form).lead
    token = link_token(mail.outbox[0])
    confirm_via_page(client, token)
    response = confirm_via_page(client, token)
    assert response.status_code == 410
    assert b"already used" in response.content
    assert ConsentEvent.objects.filter(lead=lead, kind="confirmed").count() == 1


def test_an_expired_link_is_refused(client, doi_form, settings, django_capture_on_commit_callbacks):
    settings.DOI_EXPIRY_DAYS = 7
    with django_capture_on_commit_callbacks(execute=True):
        lead = capture_with_consent(doi_form).lead
    token = link_token(mail.outbox[0])
    with time_machine.travel(timezone.now() + dt.timedelta(days=8)):
        response = confirm_via_page(client, token)
    assert response.status_code == 410
    assert b"expired" in response.content
    assert not ConsentEvent.objects.filter(lead=lead, kind="confirmed").exists()
    assert not consent.may_send_marketing(lead)


def test_an_unknown_link_is_refused(client):
    response = confirm_via_page(client, "not-a-token")
    assert response.status_code == 404
    assert not ConsentEvent.objects.exists()


def test_unconfirmed_requests_are_reminded_once_then_purged(doi_form, settings, django_capture_on_commit_callbacks):
    settings.DOI_REMINDER_DAYS, settings.DOI_PURGE_DAYS = 3, 30
    with django_capture_on_commit_callbacks(execute=True):
        lead = capture_with_consent(doi_form).lead
    start = timezone.now()
    with time_machine.travel(start + dt.timedelta(days=4)):
        assert tasks.opt_in_housekeeping() == {"reminded": 1, "purged": 0}
        assert tasks.opt_in_housekeeping() == {"reminded": 0, "purged": 0}
    assert len(mail.outbox) == 2 and "Reminder" in mail.outbox[1].subject
    with time_machine.travel(start + dt.timedelta(days=31)):
        assert tasks.opt_in_housekeeping() == {"reminded": 0, "purged": 1}
    request = OptInRequest.objects.get(lead=lead)
    assert request.purged_at is not None and request.token_hash == "" and request.reminder_token_hash == ""
    assert consent.statuses(lead.pk)["newsletter"] == ConsentStatus.WITHDRAWN


def test_withdrawal_stops_the_next_send(client, doi_form, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        lead = capture_with_consent(doi_form).lead
    confirm_via_page(client, link_token(mail.outbox[0]))
    assert consent.may_send_marketing(lead)
    unsubscribe = mail.outbox[0].extra_headers["List-Unsubscribe"].strip("<>")
    response = client.post(unsubscribe, {"List-Unsubscribe": "One-Click"})  # RFC 8058, no CSRF token
    assert response.status_code == 200
    assert not consent.may_send_marketing(lead)
    assert ConsentEvent.objects.filter(lead=lead, kind="withdrawn", purpose="newsletter").count() == 1


def test_a_form_without_double_opt_in_gives_consent_but_no_marketing_mail():
    form = CaptureFormFactory(consent_wording="Ja.", double_opt_in=False, consent_purposes=["sales_phone"])
    lead = capture_with_consent(form).lead
    assert not OptInRequest.objects.exists()
    assert consent.statuses(lead.pk)["sales_phone"] == ConsentStatus.GIVEN
    assert consent.may_contact_for_sales(lead, channel="phone")
    assert not consent.may_contact_for_sales(lead, channel="email")
    assert not consent.may_send_marketing(lead)


def test_the_preference_page_withdraws_and_asks_confirmation_for_new_purposes(
    client, django_capture_on_commit_callbacks
):
    lead = LeadFactory()
    consent.give(lead=lead, purposes=["sales_email"], method="manual", double_opt_in=False)
    token = consent.unsubscribe_token(lead.pk)
    assert client.get(f"/privacy/preferences/{token}/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/privacy/preferences/{token}/", {"purpose": ["newsletter"]})
    assert response.status_code == 302
    current = consent.statuses(lead.pk)
    assert (current["sales_email"], current["newsletter"]) == (ConsentStatus.WITHDRAWN, ConsentStatus.PENDING)
    assert len(mail.outbox) == 1


def test_a_forged_unsubscribe_link_is_refused(client):
    lead = LeadFactory()
    consent.give(lead=lead, purposes=["newsletter"], method="manual", double_opt_in=False)
    response = client.post(f"/privacy/unsubscribe/{consent.unsubscribe_token(lead.pk)}x/")
    assert response.status_code == 404
    assert not ConsentEvent.objects.filter(kind="withdrawn").exists()


def test_the_consent_proof_page_prints_the_log(client, marketing, doi_form):
    lead = capture_with_consent(doi_form).lead
    client.force_login(marketing)
    response = client.get(f"/leads/{lead.pk}/consent/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Ja, schickt mir den Newsletter." in page and consent.sha256("Ja, schickt mir den Newsletter.") in page
    assert "hash matches the wording" in page and "203.0.113.9" in page


def test_an_sdr_cannot_see_the_proof_of_a_lead_not_theirs(client, sdr):
    lead = LeadFactory()
    client.force_login(sdr)
    assert client.get(f"/leads/{lead.pk}/consent/").status_code == 404


# --- the status fold, against a simple model ---------------------------------------------------------------

EVENTS = st.lists(st.sampled_from(["given", "confirmed", "withdrawn"]), max_size=12)


def model_may_send(kinds: list[str]) -> bool:
    """Marketing e-mail needs a confirmation of a pending consent with no withdrawal after it."""
    state = "none"
    for kind in kinds:
        if kind == "given" and state != "confirmed":
            state = "pending"
        elif kind == "confirmed" and state == "pending":
            state = "confirmed"
        elif kind == "withdrawn":
            state = "withdrawn"
    return state == "confirmed"


@given(EVENTS)
def test_no_marketing_send_without_a_confirmation_after_the_last_withdrawal(kinds):
    status = consent.fold(consent.Step(kind, requires_confirmation=True) for kind in kinds)
    assert consent.is_contactable(status) == model_may_send(kinds)
    if "confirmed" not in kinds:
        assert not consent.is_contactable(status)
    if kinds and kinds[-1] == "withdrawn":
        assert not consent.is_contactable(status)


@hypothesis_settings(max_examples=25, deadline=None)
@given(EVENTS)
def test_may_send_marketing_reads_the_log_like_the_model(kinds):
    lead = LeadFactory()
    for kind in kinds:
        consent.record(lead=lead, purpose="newsletter", kind=kind, method="manual", requires_confirmation=True)
    assert consent.may_send_marketing(lead) == model_may_send(kinds)
    ConsentEvent.objects.filter(lead=lead).delete()

"""One source of consent: the demo data, the lead page, its timeline and the proof page all use the consent log."""

import re

import pytest
from django.contrib.auth import get_user_model

from config import demo
from core.vocabulary import ConsentStatus
from leads.models import Lead
from privacy import consent
from privacy.models import ConsentEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded(db):
    demo.load(leads=60)
    return get_user_model().objects.get(username="manager")


def consent_items(page: str) -> dict[str, str]:
    """The consent section of the lead page: purpose label -> status value."""
    return dict(re.findall(r'<li><span>([^<]+):</span> <span class="consent consent-(\w+)">', page))


def proof_statuses(page: str) -> dict[str, str]:
    return dict(re.findall(r'<tr><td>([^<]+)</td><td data-status="(\w+)">', page))


def test_a_demo_lead_with_consent_shows_it_on_its_lead_page_and_its_proof_page(client, loaded):
    lead = Lead.objects.filter(consent_status=ConsentStatus.GIVEN).first()
    given = ConsentEvent.objects.get(lead=lead, kind="given")
    client.force_login(loaded)

    page = client.get(f"/leads/{lead.pk}/").content.decode()
    proof = client.get(f"/leads/{lead.pk}/consent/").content.decode()

    assert consent_items(page)["Marketing e-mail"] == ConsentStatus.GIVEN
    assert re.search(r'<li class="tl tl-consent">.*?<strong>Consent</strong> Marketing e-mail:\s*given', page, re.S)
    assert proof_statuses(proof)["Marketing e-mail"] == ConsentStatus.GIVEN
    assert given.wording in proof and given.wording_hash in proof
    assert "hash matches the wording" in proof and "No consent recorded." not in proof


def test_a_demo_lead_with_a_confirmed_double_opt_in_may_receive_marketing_mail(client, loaded):
    lead = Lead.objects.filter(consent_status=ConsentStatus.CONFIRMED).first()
    client.force_login(loaded)

    page = client.get(f"/leads/{lead.pk}/").content.decode()
    proof = client.get(f"/leads/{lead.pk}/consent/").content.decode()

    assert consent_items(page)["Marketing e-mail"] == ConsentStatus.CONFIRMED
    assert proof_statuses(proof)["Marketing e-mail"] == ConsentStatus.CONFIRMED
    assert "Marketing e-mail may be sent (double opt-in confirmed)." in proof


def test_a_demo_lead_without_consent_shows_none_and_an_empty_log(client, loaded):
    lead = Lead.objects.filter(consent_status=ConsentStatus.NONE).first()
    client.force_login(loaded)

    page = client.get(f"/leads/{lead.pk}/").content.decode()
    proof = client.get(f"/leads/{lead.pk}/consent/").content.decode()

    assert set(consent_items(page).values()) == {ConsentStatus.NONE}
    assert "No consent recorded." in proof


def test_every_demo_leads_summary_is_what_its_log_derives(loaded):
    for lead in Lead.objects.all():
        assert lead.consent_status == consent.summary(consent.statuses(lead.pk)), lead.pk


def test_the_demo_consent_log_carries_its_proof(loaded):
    given = ConsentEvent.objects.filter(kind="given").select_related("submission")
    assert given.exists()
    for event in given:
        assert consent.proof_matches(event), event.pk
        assert event.submission.lead_id == event.lead_id and event.submission.received_at == event.at
    for event in ConsentEvent.objects.filter(kind="confirmed"):
        asked = ConsentEvent.objects.get(lead=event.lead_id, purpose=event.purpose, kind="given")
        assert asked.requires_confirmation and asked.at < event.at and event.token_hash

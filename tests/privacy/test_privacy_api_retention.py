"""Privacy API per role, retention with a frozen clock, and the generated record of processing."""

import datetime as dt
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from capture import submissions as capture
from core.vocabulary import Stage
from leads.models import Lead, Submission
from privacy import consent, tasks
from privacy.models import PrivacyRequest
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(db):
    lead = capture.submit(channel="api", payload={"email": "anna@firma.de", "first_name": "Anna"}).lead
    consent.give(lead=lead, purposes=["newsletter"], method="manual", double_opt_in=False)
    return lead


@pytest.mark.parametrize("url", ["export/", "consent/"])
def test_marketing_and_admins_read_export_and_consent(api_as, marketing, admin_user, person, url):
    for user in (marketing, admin_user):
        response = api_as(user).get(f"/api/v1/leads/{person.pk}/{url}")
        assert response.status_code == 200, user


def test_the_api_export_is_json_or_csv_and_logged(api_as, marketing, person):
    response = api_as(marketing).get(f"/api/v1/leads/{person.pk}/export/")
    assert response.json()["data"]["leads.Lead"][0]["email"] == "anna@firma.de"
    csv = api_as(marketing).get(f"/api/v1/leads/{person.pk}/export/?as=csv")
    assert csv["Content-Type"].startswith("text/csv") and "anna@firma.de" in csv.content.decode()
    assert PrivacyRequest.objects.filter(kind="export", via="api").count() == 2


def test_the_consent_log_shows_status_and_events(api_as, marketing, person):
    body = api_as(marketing).get(f"/api/v1/leads/{person.pk}/consent/").json()
    assert body["status"]["newsletter"] == "given" and body["may_send_marketing"] is False
    assert body["events"][0]["wording_hash"] == consent.sha256(body["events"][0]["wording"])


@pytest.mark.parametrize("method,url,body", [
    ("get", "export/", None), ("get", "consent/", None), ("post", "erase/", {"reason": "x"}), ("post", "object/", {}),
])
def test_managers_are_refused_and_nothing_changes(api_as, manager, person, method, url, body):
    response = getattr(api_as(manager), method)(f"/api/v1/leads/{person.pk}/{url}", body, format="json")
    assert response.status_code == 403
    assert not PrivacyRequest.objects.exists()
    assert Lead.objects.get(pk=person.pk).erased_at is None


def test_an_sdr_is_refused_on_own_leads_and_sees_nothing_else(api_as, sdr, person):
    own = LeadFactory(owner=sdr, stage=Stage.SAL)
    assert api_as(sdr).post(f"/api/v1/leads/{own.pk}/erase/", {"reason": "x"}, format="json").status_code == 403
    assert api_as(sdr).get(f"/api/v1/leads/{person.pk}/export/").status_code == 404
    assert not PrivacyRequest.objects.exists()


def test_anonymous_callers_get_401(api, person):
    assert api.get(f"/api/v1/leads/{person.pk}/consent/").status_code == 401


def test_erase_needs_a_reason(api_as, marketing, person):
    response = api_as(marketing).post(f"/api/v1/leads/{person.pk}/erase/", {}, format="json")
    assert response.status_code == 400 and "reason" in response.json()["errors"]
    assert Lead.objects.get(pk=person.pk).erased_at is None


def test_the_staff_page_erases_with_a_reason(client, marketing, person):
    client.force_login(marketing)
    response = client.post(f"/leads/{person.pk}/erase/", {"reason": "Mail of 2026-11-20"})
    assert response.status_code == 302
    assert Lead.objects.get(pk=person.pk).first_name == ""


def test_a_manager_cannot_erase_on_the_page(client, manager, person):
    client.force_login(manager)
    assert client.post(f"/leads/{person.pk}/erase/", {"reason": "x"}).status_code == 403
    assert Lead.objects.get(pk=person.pk).first_name == "Anna"


# --- retention ---------------------------------------------------------------------------------------------


def test_retention_anonymises_only_expired_leads_of_limited_stages(settings):
    settings.RETENTION_MONTHS = {"known": 24, "recycled": 24, "disqualified": 12, "lost": 0}
    now = timezone.now()
    old = now - dt.timedelta(days=25 * 30)
    expired = LeadFactory(stage=Stage.KNOWN, last_touch_at=old)
    recent = LeadFactory(stage=Stage.KNOWN, last_touch_at=now - dt.timedelta(days=23 * 30))
    customer = LeadFactory(stage=Stage.CUSTOMER, last_touch_at=old)
    lost = LeadFactory(stage=Stage.LOST, last_touch_at=old)
    with time_machine.travel(now, tick=False):
        result = tasks.apply_retention()
    assert result["erased"] == 1
    erased = Lead.objects.filter(erased_at__isnull=False).values_list("pk", flat=True)
    assert list(erased) == [expired.pk]
    assert {recent.pk, customer.pk, lost.pk}.isdisjoint(erased)
    assert PrivacyRequest.objects.get().kind == "retention"
    with time_machine.travel(now + dt.timedelta(days=60), tick=False):
        assert tasks.apply_retention()["erased"] == 1  # the recent one expires two months later
    assert tasks.apply_retention()["erased"] == 0


def test_retention_drops_old_ip_addresses_of_submissions(settings):
    settings.RETENTION_IP_DAYS = 30
    capture.submit(channel="api", payload={"email": "a@firma.de"}, ip_address="203.0.113.1", user_agent="UA")
    with time_machine.travel(timezone.now() + dt.timedelta(days=31)):
        assert tasks.apply_retention()["ip_cleared"] == 1
    assert Submission.objects.get().ip_address is None


# --- the record of processing ------------------------------------------------------------------------------


def test_docs_privacy_is_current():
    from privacy.management.commands.privacy_doc import render

    assert (Path(settings.BASE_DIR) / "docs" / "privacy.md").read_text() == render(), (
        "docs/privacy.md is stale: run `python manage.py privacy_doc`"
    )

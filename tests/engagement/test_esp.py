"""The ESP path: django-anymail's test backend records the provider's message id; the provider's signed
(basic-auth) tracking webhook posts come back as our tracking events and lead activities; a hard bounce stops
further sends."""

import base64
import datetime as dt
import json

import pytest
from django.utils import timezone

from core.vocabulary import ActivityKind
from engagement import engine, sending, services
from engagement.models import Message, TrackingEvent
from leads.models import Activity
from tests.engagement.helpers import consenting_lead, programme

SECRET = "hooks:s3cret-Passw0rd"


@pytest.fixture
def esp(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def post(client, payload, *, secret=SECRET):
    auth = "Basic " + base64.b64encode(secret.encode()).decode()
    return client.post("/anymail/postmark/tracking/", json.dumps(payload), content_type="application/json",
                       HTTP_AUTHORIZATION=auth)


def sent(django_capture_on_commit_callbacks):
    prog = programme("welcome", steps=[{"kind": "send_email"}, {"kind": "wait", "wait_days": 2},
                                       {"kind": "send_email"}])
    lead = consenting_lead(language="de")
    with django_capture_on_commit_callbacks(execute=True):
        services.enrol(programme=prog, lead_id=lead.pk)
    message = Message.objects.get()
    assert message.status == Message.Status.SENT and message.esp_message_id
    return message


@pytest.mark.django_db
def test_a_click_webhook_becomes_a_tracking_event_and_an_activity(client, esp, django_capture_on_commit_callbacks):
    message = sent(django_capture_on_commit_callbacks)
    answer = post(client, {"RecordType": "Click", "MessageID": message.esp_message_id,
                           "Recipient": "x@example.com", "OriginalLink": "https://www.example.com/leitfaden",
                           "ReceivedAt": "2026-12-03T10:00:00Z"})
    assert answer.status_code == 200
    assert TrackingEvent.objects.filter(message=message, kind="clicked").exists()
    assert Activity.objects.filter(lead_id=message.enrolment.lead_id, kind=ActivityKind.EMAIL_CLICK).exists()


@pytest.mark.django_db
def test_a_hard_bounce_stops_every_further_send(client, esp, django_capture_on_commit_callbacks):
    message = sent(django_capture_on_commit_callbacks)
    post(client, {"RecordType": "Bounce", "Type": "HardBounce", "MessageID": message.esp_message_id,
                  "Email": "x@example.com", "BouncedAt": "2026-12-03T10:00:00Z"})
    message.refresh_from_db()
    assert message.status == Message.Status.BOUNCED
    later = timezone.now() + dt.timedelta(days=3)
    engine.tick(now=later)
    sending.send_due(now=later)
    assert Message.objects.filter(status=Message.Status.SENT).count() == 0
    assert message.enrolment.messages.count() == 1  # the exited enrolment queued nothing more


@pytest.mark.django_db
def test_a_webhook_without_the_secret_is_refused_and_records_nothing(client, esp, django_capture_on_commit_callbacks):
    message = sent(django_capture_on_commit_callbacks)
    answer = post(client, {"RecordType": "Open", "MessageID": message.esp_message_id}, secret="hooks:wrong")
    assert answer.status_code in (400, 403)
    assert not TrackingEvent.objects.exists()


@pytest.mark.django_db
def test_the_webhooks_are_off_without_a_secret(client, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": ""}
    assert client.post("/anymail/postmark/tracking/", "{}", content_type="application/json").status_code == 404

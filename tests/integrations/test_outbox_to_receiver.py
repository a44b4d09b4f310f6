"""End to end: a capture commits, the outbox dispatch hands the event to the webhooks consumer, which writes
the delivery and (after its commit) the send task posts it to the receiver, signed. A capture that rolls
back sends nothing."""

import pytest
from django.db import transaction
from standardwebhooks import Webhook

from capture import submissions as capture
from integrations.models import Delivery, DeliveryStatus
from leads.models import Lead
from outbox import events

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_captured_lead_reaches_the_receiver_signed(receiver, subscribe):
    _subscription, secret = subscribe(receiver.url, ["lead.created"])
    events.dispatch(wait_seconds=0)  # the consumer's cursor starts here (no replay of older history)
    result = capture.submit(channel="api", payload={"email": "ada@example.com", "first_name": "Ada"})
    assert result.status == 201
    events.dispatch(wait_seconds=30)  # what the minute schedule does when another test's transaction held it back
    lead = Lead.objects.get()
    [request] = [r for r in receiver.requests if b'"lead.created"' in r.body]
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "lead.created" and payload["lead"] == lead.pk
    assert b"ada@example.com" not in request.body  # ids, not personal data
    assert Delivery.objects.get().status == DeliveryStatus.DELIVERED


def test_a_rolled_back_change_sends_nothing(receiver, subscribe):
    subscribe(receiver.url, ["lead.created"])
    events.dispatch(wait_seconds=0)
    with pytest.raises(RuntimeError), transaction.atomic():
        capture.submit(channel="api", payload={"email": "bo@example.com"})
        raise RuntimeError("the surrounding change failed")
    events.dispatch(wait_seconds=5)
    assert Delivery.objects.count() == 0 and receiver.requests == []

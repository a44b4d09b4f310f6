"""Slack and Microsoft Teams targets: readable messages for a new hot lead (score, owner), a lead that
reached SQL and an SLA breach, sent to a real receiver; other events make no message."""

import json

import pytest

from core.vocabulary import Stage
from integrations import chat, consumer, deliveries
from integrations.models import Delivery, DeliveryStatus
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hot_lead(db):
    owner = UserFactory(username="sam", first_name="Sam", last_name="Berg")
    return LeadFactory(
        first_name="Ada", last_name="Lovelace", company="Acme <GmbH> & Co", score=87, stage=Stage.MQL, owner=owner
    )


def _send(receiver, subscribe, make_events, fmt, spec):
    subscription, _secret = subscribe(receiver.url, chat.CHAT_EVENT_TYPES, format=fmt)
    consumer.consume(make_events(spec))
    deliveries.send_due(subscription.pk, budget_seconds=10)
    [request] = receiver.requests
    assert "webhook-signature" not in request.headers
    return json.loads(request.body)


def test_slack_hot_lead_message_names_score_and_owner(receiver, subscribe, make_events, hot_lead):
    body = _send(receiver, subscribe, make_events, "slack", {
        "type": "lead.stage_changed", "lead_id": hot_lead.pk, "payload": {"transition": "mark_mql", "target": "mql"}
    })
    assert body["text"] == "New hot lead: Ada Lovelace (Acme <GmbH> & Co). Score 87, Owner Sam Berg."
    header, facts = body["blocks"]
    assert header["text"]["text"] == (
        f"*New hot lead*: <http://127.0.0.1:8000/leads/{hot_lead.pk}/|Ada Lovelace (Acme &lt;GmbH&gt; &amp; Co)>"
    )
    assert [field["text"] for field in facts["fields"]] == ["*Score*\n87", "*Owner*\nSam Berg"]


def test_teams_sql_message_is_an_adaptive_card(receiver, subscribe, make_events, hot_lead):
    body = _send(receiver, subscribe, make_events, "teams", {
        "type": "lead.stage_changed", "lead_id": hot_lead.pk, "payload": {"transition": "qualify", "target": "sql"}
    })
    assert body["type"] == "message"
    assert body["summary"] == "Lead reached SQL: Ada Lovelace (Acme <GmbH> & Co). Score 87, Owner Sam Berg."
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert [block.get("text") for block in card["body"][:2]] == ["Lead reached SQL", "Ada Lovelace (Acme <GmbH> & Co)"]
    assert card["body"][2]["facts"] == [{"title": "Score", "value": "87"}, {"title": "Owner", "value": "Sam Berg"}]
    assert card["actions"][0]["url"].endswith(f"/leads/{hot_lead.pk}/")


def test_sla_breach_message_names_stage_owner_and_due_time(receiver, subscribe, make_events, hot_lead):
    body = _send(receiver, subscribe, make_events, "slack", {
        "type": "sla.breached", "lead_id": hot_lead.pk, "payload": {"clock": 1, "due_at": "2026-12-03T09:00:00Z"}
    })
    assert body["text"] == (
        "SLA breached: Ada Lovelace (Acme <GmbH> & Co). Stage MQL, Owner Sam Berg, Due 2026-12-03T09:00:00Z."
    )


def test_a_pool_lead_says_nobody_owns_it(receiver, subscribe, make_events):
    lead = LeadFactory(first_name="Bo", last_name="Ek", company="", score=55, owner=None)
    body = _send(receiver, subscribe, make_events, "teams", {
        "type": "lead.stage_changed", "lead_id": lead.pk, "payload": {"target": "mql"}
    })
    assert body["summary"] == "New hot lead: Bo Ek. Score 55, Owner nobody yet (pool)."


def test_other_stage_changes_make_no_chat_delivery(receiver, subscribe, make_events, hot_lead):
    subscribe(receiver.url, chat.CHAT_EVENT_TYPES, format="slack")
    consumer.consume(make_events(
        {"type": "lead.stage_changed", "lead_id": hot_lead.pk, "payload": {"target": "sal"}},
        {"type": "lead.stage_changed", "lead_id": hot_lead.pk, "payload": {"target": "recycled"}},
    ))
    assert Delivery.objects.count() == 0


def test_a_lead_gone_before_the_send_sends_nothing(receiver, subscribe, make_events, hot_lead):
    subscription, _secret = subscribe(receiver.url, chat.CHAT_EVENT_TYPES, format="slack")
    consumer.consume(make_events({"type": "sla.breached", "lead_id": hot_lead.pk, "payload": {}}))
    hot_lead.delete()
    deliveries.send_due(subscription.pk, budget_seconds=10)
    assert receiver.requests == []
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and "no longer exists" in delivery.last_error

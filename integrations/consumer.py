"""The outbox consumer "integrations.webhooks": events become deliveries, in the consumer's transaction (so
the cursor moves with them: a failure hands the same batch again, and the unique constraint drops what was
already written). The sending happens after the commit, in `integrations.tasks.send`.
"""

from __future__ import annotations

from core.tasks import enqueue_on_commit
from core.vocabulary import EventType
from integrations import chat
from integrations.models import Delivery, Format, Subscription
from leads.models import Lead
from outbox.models import Event

NAME = "integrations.webhooks"


def _matches(subscription: Subscription, event: Event, lead: tuple | None) -> bool:
    if event.type not in subscription.event_types:
        return False
    if subscription.format != Format.STANDARD and chat.kind_of(event.type, event.payload) is None:
        return False
    if event.type == EventType.LEAD_ERASED:
        return True  # an erasure reaches every subscriber of it, whatever its filters (nothing is left to filter)
    if subscription.stages:
        stage = event.payload.get("target") if event.type == EventType.LEAD_STAGE_CHANGED else None
        stage = stage or (lead[0] if lead else None)
        if not subscription.wants_stage(stage):
            return False
    if subscription.team_id is not None and (lead is None or lead[1] != subscription.team_id):
        return False
    return True


def consume(events: list[Event]) -> None:
    subscriptions = list(Subscription.objects.filter(is_active=True))
    if not subscriptions:
        return
    wanted = {kind for subscription in subscriptions for kind in subscription.event_types}
    events = [event for event in events if event.type in wanted]
    lead_ids = {event.lead_id for event in events if event.lead_id}
    leads = {}
    if lead_ids and any(subscription.stages or subscription.team_id for subscription in subscriptions):
        rows = Lead.objects.filter(pk__in=lead_ids).values_list("pk", "stage", "owner__rep__team")
        leads = {pk: (stage, team_id) for pk, stage, team_id in rows}
    rows, touched = [], set()
    for event in events:
        for subscription in subscriptions:
            if _matches(subscription, event, leads.get(event.lead_id)):
                rows.append(Delivery(
                    subscription=subscription, event_position=event.position, event_type=event.type,
                    event_at=event.at, lead_id=event.lead_id, actor_id=event.actor_id, data=event.payload,
                ))
                touched.add(subscription.pk)
    if not rows:
        return
    Delivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    for subscription_id in sorted(touched):
        enqueue_on_commit("integrations.tasks.send", subscription_id)

"""The hand-off hears of qualify through the transactional outbox: the event the lifecycle writes reaches the
sales consumer after the commit, and the consumer opens the opportunity once."""

import pytest
from django.db import transaction

from core.vocabulary import EventType
from leads import lifecycle
from outbox import events
from outbox.models import Event
from sales.models import Opportunity
from tests.sales.helpers import closing_team, sql_lead

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_transition_writes_its_stage_change_event(sdr):
    lead = sql_lead(sdr)
    lifecycle.fire(lead_id=lead.pk, name="recycle", by=sdr, inputs={"reason": "No budget this year."})
    event = Event.objects.get(type=EventType.LEAD_STAGE_CHANGED, lead_id=lead.pk)
    assert event.payload == {"transition": "recycle", "source": "sql", "target": "recycled"}
    assert event.actor_id == sdr.pk


def test_a_qualify_event_hands_the_lead_to_an_ae_once(sdr):
    closing_team("ae1", "ae2")
    lead = sql_lead(sdr)
    for _ in range(2):  # at least once: a repeated event opens no second opportunity
        with transaction.atomic():
            events.record(
                EventType.LEAD_STAGE_CHANGED, lead_id=lead.pk, actor_id=sdr.pk,
                payload={"transition": "qualify", "source": "sal", "target": "sql"},
            )
    events.dispatch(wait_seconds=30)
    opportunity = Opportunity.objects.get(lead=lead)
    assert opportunity.owner.username in {"ae1", "ae2"}
    assert opportunity.sourced_by == sdr

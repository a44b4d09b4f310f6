"""The AE's first-meeting SLA: a clock started by the hand-off's assignment, stopped by the first meeting logged on
the lead, escalated by the sweep to the AE (not the SDR, who keeps the lead)."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from leads import activities
from leads.models import Notification, SlaClock
from leads.sla import sweep
from routing import sla_policy
from routing.models import BusinessCalendar, EscalationStep, SlaPolicy
from sales import handoff
from sales.models import Opportunity
from tests.sales.helpers import closing_team, sql_lead

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def first_meeting_policy():
    calendar = BusinessCalendar.objects.create(name="Always", is_always_open=True)
    policy = SlaPolicy.objects.create(
        name="AE first meeting",
        starts_on="ae_assigned",
        stops_on="first_meeting",
        duration=48,
        unit="hours",
        calendar=calendar,
    )
    EscalationStep.objects.create(policy=policy, position=1, after=0, action="warn_owner")
    return policy


def test_the_hand_off_starts_the_aes_clock_and_its_due_is_the_opportunitys(sdr, first_meeting_policy):
    closing_team("ae1")
    lead = sql_lead(sdr)
    opportunity = handoff.hand_off(lead_id=lead.pk)
    clock = SlaClock.objects.get(lead=lead, policy=first_meeting_policy)
    assert (clock.owner.username, clock.stopped_at) == ("ae1", None)
    assert clock.due_at == NOW + dt.timedelta(hours=48) == opportunity.first_meeting_due_at
    assert lead.owner == sdr  # the SDR keeps the lead


def test_a_call_does_not_stop_it_the_first_meeting_does(sdr, first_meeting_policy):
    closing_team("ae1")
    lead = sql_lead(sdr)
    opportunity = handoff.hand_off(lead_id=lead.pk)
    activities.log_activity(lead_id=lead.pk, by=opportunity.owner, raw={"kind": "call", "outcome": "no_answer"})
    assert SlaClock.objects.get(policy=first_meeting_policy).stopped_at is None
    activities.log_activity(lead_id=lead.pk, by=opportunity.owner, raw={"kind": "meeting", "note": "Kick-off"})
    clock = SlaClock.objects.get(policy=first_meeting_policy)
    assert (clock.met_at, clock.stop_reason, clock.breached) == (NOW, "first_meeting", False)


def test_the_meeting_event_notes_the_opportunitys_first_meeting(sdr, first_meeting_policy):
    closing_team("ae1")
    lead = sql_lead(sdr)
    opportunity = handoff.hand_off(lead_id=lead.pk)
    meeting = activities.log_activity(lead_id=lead.pk, by=opportunity.owner, raw={"kind": "meeting"})
    assert handoff.note_meeting(lead_id=lead.pk, activity_id=meeting.pk) == 1
    assert handoff.note_meeting(lead_id=lead.pk, activity_id=meeting.pk) == 0  # once
    assert Opportunity.objects.get(pk=opportunity.pk).first_meeting_at == meeting.occurred_at


def test_the_sweep_warns_the_ae_not_the_sdr(sdr, first_meeting_policy):
    closing_team("ae1")
    lead = sql_lead(sdr)
    handoff.hand_off(lead_id=lead.pk)
    Notification.objects.all().delete()  # the hand-off's own notices
    with time_machine.travel(NOW + dt.timedelta(hours=49), tick=False):
        sweep.run(now=timezone.now())
    assert list(Notification.objects.values_list("user__username", "kind")) == [("ae1", "sla_warning")]
    assert SlaClock.objects.get(policy=first_meeting_policy).breached


def test_without_an_ae_no_clock_starts(sdr, first_meeting_policy):
    team, reps = closing_team("ae1")
    reps[0].is_available = False
    reps[0].save()
    handoff.hand_off(lead_id=sql_lead(sdr).pk)
    assert not SlaClock.objects.filter(policy=first_meeting_policy).exists()


def test_an_ae_clock_must_stop_at_the_first_meeting_and_may_only_warn():
    calendar = BusinessCalendar.objects.create(name="Always", is_always_open=True)
    wrong = SlaPolicy(name="x", starts_on="ae_assigned", stops_on="contact_attempt", duration=1, calendar=calendar)
    with pytest.raises(ValidationError) as refused:
        wrong.full_clean()
    assert "stops_on" in refused.value.message_dict
    problems = sla_policy.policy_problems(
        stage="", starts_on="ae_assigned", stops_on="first_meeting", counts_from="event", actions=["reassign"]
    )
    assert "steps" in problems

"""The default SLA for MQLs waiting unowned in the pool: the managers are told after one business hour, and
the lead is routed again after four (issue 14, item 3)."""

import pytest
import time_machine

from core.vocabulary import NotificationKind, Role, Stage
from leads import lifecycle
from leads.models import Lead, Notification, SlaClock
from leads.sla import sweep as sla_sweep
from tests.factories import LeadFactory, UserFactory
from tests.sla_helpers import POOL, berlin, make_team, munich_business_hours, only_policies

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool_lead():
    munich_business_hours()
    only_policies(POOL)
    with time_machine.travel(berlin(2026, 6, 30, 10, 0), tick=False):  # a Tuesday, nobody in routing
        lead = LeadFactory(score=500)
        lifecycle.fire(lead_id=lead.pk, name="mark_mql", by=None)
    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.stage, lead.owner_id) == (Stage.MQL, None)
    return lead


def sweep_at(moment):
    with time_machine.travel(moment, tick=False):
        return sla_sweep.run()


def test_the_pool_clock_is_due_after_one_business_hour(pool_lead):
    clock = SlaClock.objects.get(lead=pool_lead, stopped_at__isnull=True)
    assert (clock.policy.name, clock.owner_id, clock.due_at) == (POOL, None, berlin(2026, 6, 30, 11, 0))


def test_the_managers_are_told_after_one_business_hour_and_it_is_routed_again_after_four(pool_lead):
    manager = UserFactory(username="boss", role=Role.MANAGER)
    sweep_at(berlin(2026, 6, 30, 10, 59))
    assert not Notification.objects.filter(kind=NotificationKind.SLA_ESCALATION).exists()
    sweep_at(berlin(2026, 6, 30, 11, 1))
    told = Notification.objects.get(kind=NotificationKind.SLA_ESCALATION, lead=pool_lead)
    assert told.user == manager
    _team, (rep, _other) = make_team()  # reps are available now
    sweep_at(berlin(2026, 6, 30, 13, 59))
    assert Lead.objects.get(pk=pool_lead.pk).owner_id is None
    sweep_at(berlin(2026, 6, 30, 14, 1))
    lead = Lead.objects.get(pk=pool_lead.pk)
    assert lead.owner is not None and lead.stage == Stage.MQL
    clock = SlaClock.objects.get(lead=lead, policy__name=POOL)
    assert (clock.step, clock.stop_reason) == (2, "owner_assigned")  # routing gave it an owner: met
    assert clock.met_at is not None


def test_claiming_from_the_pool_meets_the_clock_and_nobody_is_told(pool_lead, sdr):
    with time_machine.travel(berlin(2026, 6, 30, 10, 30), tick=False):
        lifecycle.claim(lead_id=pool_lead.pk, by=sdr)
    clock = SlaClock.objects.get(lead=pool_lead, policy__name=POOL)
    assert (clock.met_at, clock.stop_reason) == (berlin(2026, 6, 30, 10, 30), "owner_assigned")
    UserFactory(username="boss", role=Role.MANAGER)
    sweep_at(berlin(2026, 6, 30, 15, 0))
    assert not Notification.objects.filter(kind=NotificationKind.SLA_ESCALATION).exists()


def test_a_routed_mql_gets_no_pool_clock():
    munich_business_hours()
    make_team()
    lead = LeadFactory(score=500)
    lifecycle.fire(lead_id=lead.pk, name="mark_mql", by=None)
    assert Lead.objects.get(pk=lead.pk).owner_id is not None
    assert not SlaClock.objects.filter(lead=lead, policy__name=POOL).exists()

"""SLA clocks start and stop with every transition and owner change, in the same transaction."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from capture import submissions as capture
from core.vocabulary import Stage
from leads import activities, lifecycle
from leads import clocks as sla_clocks
from leads.models import Lead, LeadTransition, SlaClock
from leads.sla import queries as sla_queries
from routing.models import SlaPolicy
from tests.factories import ActivityFactory, LeadFactory
from tests.sla_helpers import (
    ACCEPT,
    POOL,
    SAL,
    SPEED,
    SQL,
    STALE,
    berlin,
    clock_of,
    clocks,
    make_team,
    munich_business_hours,
    running_names,
)

pytestmark = pytest.mark.django_db

MONDAY_10 = berlin(2026, 6, 15, 10, 0)
BANT = {"budget": "50k", "authority": "CFO", "need": "routing", "timeline": "Q3"}


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(MONDAY_10, tick=False):
        munich_business_hours()
        yield


def hot_capture(number=1):
    return Lead.objects.get(pk=capture.submit(channel="api", payload={
        "email": f"buyer{number}@kunde{number}.de", "activity": {"kind": "demo_request"}}).body["id"])


def reload(lead):
    return Lead.objects.get(pk=lead.pk)


# --- mark_mql and owner changes -------------------------------------------------------------------------


def test_a_routed_mql_gets_the_accept_and_speed_to_lead_clocks_of_its_owner():
    _team, (sdr1, _sdr2) = make_team()
    lead = hot_capture()
    assert lead.owner == sdr1
    accept, speed = clock_of(lead, ACCEPT), clock_of(lead, SPEED)
    assert (accept.owner, accept.stage, accept.started_at) == (sdr1, Stage.MQL, MONDAY_10)
    assert accept.due_at == berlin(2026, 6, 15, 14, 0)
    assert speed.due_at == berlin(2026, 6, 15, 10, 5)
    assert accept.next_step_at == accept.due_at and accept.step == 0 and not accept.breached


def test_a_pool_mql_has_no_owner_clock_but_the_pool_clock(pool_mql):
    # was: no clock at all; issue 14 item 3 gives MQLs waiting unowned in the pool a default SLA
    lead = LeadFactory(score=500)
    lifecycle.fire(lead_id=lead.pk, name="mark_mql", by=None)
    assert Lead.objects.get(pk=lead.pk).owner_id is None
    assert running_names(lead) == {POOL}
    assert SlaClock.objects.count() == 1


def test_an_owned_lead_that_becomes_an_mql_starts_its_owner_clocks_at_once(sdr):
    lead = LeadFactory(score=500, owner=sdr)
    lifecycle.fire(lead_id=lead.pk, name="mark_mql", by=None)
    assert running_names(lead) == {ACCEPT, SPEED}  # the owner had it from the moment it became an MQL
    assert reload(lead).mql_assigned_at == MONDAY_10


def test_claiming_starts_the_claimers_clocks_and_accepting_meets_the_accept_clock(pool_mql, sdr):
    lifecycle.fire(lead_id=pool_mql.pk, name="accept", by=sdr)
    accept = clock_of(pool_mql, ACCEPT, running=False)
    assert (accept.met_at, accept.stop_reason, accept.breached) == (MONDAY_10, "accept", False)
    assert running_names(pool_mql) == {SPEED, SAL}  # first contact is still awaited; the SAL clock started
    assert clock_of(pool_mql, SPEED).owner == sdr
    assert clock_of(pool_mql, SAL).due_at == berlin(2026, 6, 29, 10, 0)  # 10 working days later


def test_assigning_another_owner_cancels_the_old_clocks_and_starts_new_ones(own_mql, manager, other_sdr):
    lifecycle.assign(lead_id=own_mql.pk, owner_username="sdr1", by=manager)  # no change: nothing happens
    assert SlaClock.objects.filter(lead=own_mql).count() == 0
    lifecycle.assign(lead_id=own_mql.pk, owner_username="sdr2", by=manager)
    first = {c.policy.name: c for c in clocks(own_mql, running=True)}
    assert set(first) == {ACCEPT, SPEED} and first[ACCEPT].owner == other_sdr
    lifecycle.assign(lead_id=own_mql.pk, owner_username="sdr1", by=manager)
    cancelled = SlaClock.objects.get(pk=first[ACCEPT].pk)
    assert (cancelled.stop_reason, cancelled.met_at) == ("owner_changed", None)
    assert clock_of(own_mql, ACCEPT).owner.username == "sdr1"


def test_releasing_to_the_pool_cancels_the_owner_clocks(own_mql, manager, sdr):
    lifecycle.release(lead_id=own_mql.pk, by=manager)
    lifecycle.assign(lead_id=own_mql.pk, owner_username="sdr1", by=manager)
    assert running_names(own_mql) == {ACCEPT, SPEED}
    lifecycle.release(lead_id=own_mql.pk, by=manager)
    assert running_names(own_mql) == {POOL}  # the owner's clocks end; waiting in the pool has its own clock
    # the owner's clocks cancelled; the pool clocks: met by the assignment, and the running one
    assert {c.stop_reason for c in clocks(own_mql) if c.policy.name != POOL} == {"owner_removed"}
    assert {c.stop_reason for c in clocks(own_mql) if c.policy.name == POOL} == {"owner_assigned", ""}


# --- every other transition -----------------------------------------------------------------------------


def sal_lead(sdr):
    lead = LeadFactory(stage=Stage.MQL, owner=sdr)
    lifecycle.fire(lead_id=lead.pk, name="accept", by=sdr)
    return lead


def test_reject_meets_the_accept_clock_and_ends_the_rest(own_mql, manager, sdr):
    lifecycle.assign(lead_id=own_mql.pk, owner_username="sdr1", by=manager)
    lifecycle.release(lead_id=own_mql.pk, by=manager)
    lifecycle.claim(lead_id=own_mql.pk, by=sdr)
    lifecycle.fire(lead_id=own_mql.pk, name="reject", by=sdr, inputs={"reason": "student"})
    assert running_names(own_mql) == set()
    assert clock_of(own_mql, ACCEPT, running=False).stop_reason == "reject"
    assert [c.stop_reason for c in clocks(own_mql) if c.policy.name == SPEED][-1] == "lead_closed"


def test_qualify_meets_the_sal_clock_and_starts_the_sql_clock(sdr):
    lead = sal_lead(sdr)
    ActivityFactory(lead=lead, kind="call", outcome="connected")
    lifecycle.fire(lead_id=lead.pk, name="qualify", by=sdr, inputs=BANT)
    assert clock_of(lead, SAL, running=False).stop_reason == "qualify"
    sql = clock_of(lead, SQL)
    assert sql.due_at == berlin(2026, 7, 27, 10, 0)  # 42 days around the clock


def test_open_opportunity_meets_the_sql_clock_and_ages_the_deal_from_its_close_date(sdr):
    lead = LeadFactory(stage=Stage.SQL, owner=sdr)
    lifecycle.fire(lead_id=lead.pk, name="open_opportunity", by=sdr,
                   inputs={"deal_value": "12000", "close_date": "2026-07-31"})
    stale = clock_of(lead, STALE)
    assert stale.due_at == berlin(2026, 8, 31, 0, 0)  # 30 days after the close date ended
    assert running_names(lead) == {STALE}


@pytest.mark.parametrize("name, inputs", [
    ("win", {"contract_signed_on": "2026-06-15"}),
    ("lose", {"reason": "budget cut"}),
    ("recycle", {"reason": "went quiet"}),
])
def test_closing_an_opportunity_meets_the_stale_clock(sdr, name, inputs):
    lead = LeadFactory(stage=Stage.SQL, owner=sdr)
    lifecycle.fire(lead_id=lead.pk, name="open_opportunity", by=sdr,
                   inputs={"deal_value": "12000", "close_date": "2026-07-31"})
    lifecycle.fire(lead_id=lead.pk, name=name, by=sdr, inputs=inputs)
    assert clock_of(lead, STALE, running=False).stop_reason == name
    assert running_names(lead) == set()


@pytest.mark.parametrize("name", ["recycle", "disqualify"])
def test_leaving_sal_meets_its_clock_and_ends_the_speed_to_lead_clock(sdr, name):
    lead = LeadFactory(stage=Stage.MQL, owner=None)
    lifecycle.claim(lead_id=lead.pk, by=sdr)
    lifecycle.fire(lead_id=lead.pk, name="accept", by=sdr)
    lifecycle.fire(lead_id=lead.pk, name=name, by=sdr, inputs={"reason": "no budget"})
    assert clock_of(lead, SAL, running=False).stop_reason == name
    assert clock_of(lead, SPEED, running=False).stop_reason == "lead_closed"
    assert running_names(lead) == set()


def test_disqualifying_an_mql_meets_the_accept_clock(own_mql, manager):
    lifecycle.assign(lead_id=own_mql.pk, owner_username="sdr1", by=manager)
    lifecycle.release(lead_id=own_mql.pk, by=manager)
    lifecycle.assign(lead_id=own_mql.pk, owner_username="sdr1", by=manager)
    lifecycle.fire(lead_id=own_mql.pk, name="disqualify", by=manager, inputs={"reason": "competitor"})
    assert clock_of(own_mql, ACCEPT, running=False).stop_reason == "disqualify"
    assert running_names(own_mql) == set()


def test_a_refused_transition_starts_and_stops_nothing(sdr):
    lead = sal_lead(sdr)
    before = list(SlaClock.objects.filter(lead=lead).values_list("pk", "stopped_at"))
    with pytest.raises(lifecycle.TransitionRefused):
        lifecycle.fire(lead_id=lead.pk, name="qualify", by=sdr, inputs=BANT)  # no conversation yet
    assert list(SlaClock.objects.filter(lead=lead).values_list("pk", "stopped_at")) == before


def test_a_clock_met_after_its_due_counts_as_breached(sdr):
    lead = sal_lead(sdr)
    with time_machine.travel(berlin(2026, 6, 30, 10, 0), tick=False):
        lifecycle.fire(lead_id=lead.pk, name="disqualify", by=sdr, inputs={"reason": "gone"})
    sal = clock_of(lead, SAL, running=False)
    assert sal.breached and sal.met_at > sal.due_at


def test_an_inactive_policy_starts_no_clock(pool_mql, sdr):
    SlaPolicy.objects.filter(name=SAL).update(is_active=False)
    lifecycle.fire(lead_id=pool_mql.pk, name="accept", by=sdr)
    assert SAL not in running_names(pool_mql)


def test_a_policy_change_does_not_move_running_clocks(sdr):
    lead = sal_lead(sdr)
    due = clock_of(lead, SAL).due_at
    SlaPolicy.objects.filter(name=SAL).update(duration=1)
    assert clock_of(lead, SAL).due_at == due


# --- policies cached per process -----------------------------------------------------------------------


def policy_reads(queries) -> int:
    return sum(q["sql"].startswith('SELECT "routing_slapolicy"') for q in queries.captured_queries)


def test_starting_clocks_reads_the_policies_once_until_they_change(sdr):
    first, second = LeadFactory(stage=Stage.MQL, owner=sdr), LeadFactory(stage=Stage.MQL, owner=sdr)
    sla_clocks.on_owner_change(first, now=MONDAY_10)  # reads (or re-reads) the policies
    with CaptureQueriesContext(connection) as queries:
        sla_clocks.on_owner_change(second, now=MONDAY_10)
    assert policy_reads(queries) == 0
    # running clocks (1), policies' fingerprint (1), two clocks written: no re-read of the running clocks
    assert len(queries) == 4
    assert running_names(second) == {ACCEPT, SPEED}


def test_a_policy_changed_without_signals_is_seen_at_the_next_start(sdr):
    sla_clocks.on_owner_change(LeadFactory(stage=Stage.MQL, owner=sdr), now=MONDAY_10)  # warm the cache
    SlaPolicy.objects.filter(name=ACCEPT).update(duration=2)  # QuerySet.update() sends no signal
    lead = LeadFactory(stage=Stage.MQL, owner=sdr)
    with CaptureQueriesContext(connection) as queries:
        sla_clocks.on_owner_change(lead, now=MONDAY_10)
    assert policy_reads(queries) == 1
    assert clock_of(lead, ACCEPT).due_at == berlin(2026, 6, 15, 12, 0)
    SlaPolicy.objects.filter(name=ACCEPT).update(duration=3)  # the same row again, same transaction
    again = LeadFactory(stage=Stage.MQL, owner=sdr)
    sla_clocks.on_owner_change(again, now=MONDAY_10)
    assert clock_of(again, ACCEPT).due_at == berlin(2026, 6, 15, 13, 0)


def test_a_new_closure_moves_the_due_of_clocks_started_after_it(sdr):
    from routing.models import CalendarClosure

    sla_clocks.on_owner_change(LeadFactory(stage=Stage.MQL, owner=sdr), now=MONDAY_10)  # warm the cache
    calendar = SlaPolicy.objects.get(name=ACCEPT).calendar
    CalendarClosure.objects.create(calendar=calendar, name="Offsite", starts_on=dt.date(2026, 6, 15),
                                   ends_on=dt.date(2026, 6, 15))
    lead = LeadFactory(stage=Stage.MQL, owner=sdr)
    sla_clocks.on_owner_change(lead, now=MONDAY_10)
    assert clock_of(lead, ACCEPT).due_at == berlin(2026, 6, 16, 13, 0)  # Monday closed: 4 h from Tuesday 9:00


def test_a_switched_off_policy_starts_nothing_even_when_cached(sdr):
    sla_clocks.on_owner_change(LeadFactory(stage=Stage.MQL, owner=sdr), now=MONDAY_10)  # warm the cache
    SlaPolicy.objects.filter(name=SPEED).update(is_active=False)
    lead = LeadFactory(stage=Stage.MQL, owner=sdr)
    sla_clocks.on_owner_change(lead, now=MONDAY_10)
    assert running_names(lead) == {ACCEPT}


# --- contact attempts and speed to lead -----------------------------------------------------------------


def log(lead, by, kind="call", outcome="no_answer", **extra):
    return activities.log_activity(lead_id=lead.pk, by=by, raw={"kind": kind, "outcome": outcome, **extra})


def test_the_first_contact_attempt_meets_the_speed_to_lead_clock(pool_mql, sdr):
    lifecycle.claim(lead_id=pool_mql.pk, by=sdr)
    with time_machine.travel(berlin(2026, 6, 15, 10, 3), tick=False):
        log(pool_mql, sdr, kind="email", outcome="")
    speed = clock_of(pool_mql, SPEED, running=False)
    assert (speed.met_at, speed.stop_reason, speed.breached) == (berlin(2026, 6, 15, 10, 3), "contact_attempt", False)
    assert reload(pool_mql).first_contact_at == berlin(2026, 6, 15, 10, 3)
    assert ACCEPT in running_names(pool_mql)


def test_a_note_is_not_a_contact_attempt(pool_mql, sdr):
    lifecycle.claim(lead_id=pool_mql.pk, by=sdr)
    log(pool_mql, sdr, kind="note", outcome="")
    assert SPEED in running_names(pool_mql)
    assert reload(pool_mql).first_contact_at is None


def test_a_contact_attempt_logged_late_is_met_when_it_happened(pool_mql, sdr):
    lifecycle.claim(lead_id=pool_mql.pk, by=sdr)
    with time_machine.travel(berlin(2026, 6, 15, 11, 0), tick=False):
        log(pool_mql, sdr, occurred_at="2026-06-15T10:04:00+02:00")
    speed = clock_of(pool_mql, SPEED, running=False)
    assert speed.met_at == berlin(2026, 6, 15, 10, 4) and not speed.breached


def test_speed_to_lead_is_stored_when_it_happens(sdr):
    _team, (sdr1, _sdr2) = make_team()
    with time_machine.travel(berlin(2026, 6, 15, 9, 0), tick=False):
        lead = LeadFactory(score=0)
    ActivityFactory(lead=lead, kind="demo_request")
    lifecycle.fire(lead_id=lead.pk, name="mark_mql", by=None)
    with time_machine.travel(berlin(2026, 6, 15, 10, 7), tick=False):
        log(lead, sdr1)
    lead = reload(lead)
    assert (lead.became_mql_at, lead.mql_assigned_at, lead.first_contact_at) == (
        MONDAY_10, MONDAY_10, berlin(2026, 6, 15, 10, 7))
    assert sla_queries.speed_to_lead(lead) == {
        "capture_to_mql": dt.timedelta(hours=1), "mql_to_owner": dt.timedelta(0),
        "owner_to_first_contact": dt.timedelta(minutes=7),
    }


def test_becoming_an_mql_again_starts_speed_to_lead_afresh(sdr):
    lead = LeadFactory(stage=Stage.RECYCLED, score=500, first_contact_at=berlin(2026, 1, 1, 10, 0),
                       became_mql_at=berlin(2026, 1, 1, 9, 0), mql_assigned_at=berlin(2026, 1, 1, 9, 0))
    lifecycle.fire(lead_id=lead.pk, name="mark_mql", by=None)
    lead = reload(lead)
    assert (lead.became_mql_at, lead.mql_assigned_at, lead.first_contact_at) == (MONDAY_10, None, None)


def test_clocks_are_written_in_the_transaction_of_the_event(sdr, monkeypatch):
    lead = LeadFactory(stage=Stage.MQL, owner=None)

    def broken(*args, **kwargs):
        raise RuntimeError("audit failed")

    monkeypatch.setattr(LeadTransition.objects, "create", broken)
    with pytest.raises(RuntimeError):
        lifecycle.fire(lead_id=lead.pk, name="accept", by=sdr)
    assert SlaClock.objects.filter(lead=lead).count() == 0
    assert reload(lead).stage == Stage.MQL


def test_speed_to_lead_is_backfilled_from_the_history(sdr):
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    for name, at, to_owner in (("mark_mql", berlin(2026, 6, 1, 9, 0), None), ("assign", berlin(2026, 6, 1, 9, 2),
                                                                              "sdr1")):
        LeadTransition.objects.create(lead=lead, name=name, source="known", target="mql", at=at,
                                      data={"to_owner": to_owner} if to_owner else {})
    ActivityFactory(lead=lead, kind="call", occurred_at=berlin(2026, 6, 1, 9, 4))
    ActivityFactory(lead=lead, kind="call", occurred_at=berlin(2026, 5, 1, 9, 4))  # before the MQL: ignored
    assert sla_clocks.backfill_speed_to_lead() == 1
    lead = reload(lead)
    assert (lead.became_mql_at, lead.mql_assigned_at, lead.first_contact_at) == (
        berlin(2026, 6, 1, 9, 0), berlin(2026, 6, 1, 9, 2), berlin(2026, 6, 1, 9, 4))
    assert sla_clocks.backfill_speed_to_lead() == 0

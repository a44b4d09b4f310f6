"""What lists, filters and the API show of SLAs: `sla`, `stalled`, speed to lead, sorting by the due."""

import datetime as dt

import pytest
import time_machine

from core.vocabulary import Stage
from leads import lifecycle
from leads.filters import LeadFilter
from leads.models import Lead
from leads.sla import queries
from routing.models import StallThreshold
from tests.factories import LeadFactory
from tests.sla_helpers import ACCEPT, berlin, munich_business_hours

pytestmark = pytest.mark.django_db

MONDAY_10 = berlin(2026, 6, 15, 10, 0)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(MONDAY_10, tick=False):
        munich_business_hours()
        yield


def test_the_lead_detail_shows_the_clock_that_matters_now(api_as, manager, sdr):
    lead = LeadFactory(stage=Stage.MQL, owner=None)
    lifecycle.assign(lead_id=lead.pk, owner_username="sdr1", by=manager)
    body = api_as(manager).get(f"/api/v1/leads/{lead.pk}/").json()
    assert body["sla"] == {
        "policy": "Speed to lead: first contact within 5 minutes of assignment", "stage": "mql",
        "started_at": "2026-06-15T10:00:00+02:00", "due_at": "2026-06-15T10:05:00+02:00", "met_at": None,
        "stopped_at": None, "running": True, "breached": False, "step": 0, "next_step_at": "2026-06-15T10:05:00+02:00",
    }
    assert {clock["policy"] for clock in body["sla_clocks"]} == {ACCEPT, body["sla"]["policy"]}
    assert body["stalled"] is False
    assert body["mql_assigned_at"] == "2026-06-15T10:00:00+02:00"
    assert body["speed_to_lead"] == {"capture_to_mql": None, "mql_to_owner": None, "owner_to_first_contact": None}


def test_a_running_clock_past_its_due_shows_breached_before_the_sweep_looked(api_as, manager, sdr):
    lead = LeadFactory(stage=Stage.MQL, owner=None)
    lifecycle.assign(lead_id=lead.pk, owner_username="sdr1", by=manager)
    with time_machine.travel(MONDAY_10 + dt.timedelta(minutes=6), tick=False):
        body = api_as(manager).get(f"/api/v1/leads/{lead.pk}/").json()
    assert body["sla"]["breached"] is True and body["sla"]["running"] is True


def test_a_lead_without_clocks_has_sla_null(api_as, manager):
    lead = LeadFactory(stage=Stage.KNOWN)
    body = api_as(manager).get(f"/api/v1/leads/{lead.pk}/").json()
    assert (body["sla"], body["sla_clocks"]) == (None, [])


def test_speed_to_lead_is_in_seconds(api_as, manager):
    lead = LeadFactory(
        stage=Stage.SAL, created_at=berlin(2026, 6, 15, 9, 0), became_mql_at=berlin(2026, 6, 15, 9, 30),
        mql_assigned_at=berlin(2026, 6, 15, 9, 31), first_contact_at=berlin(2026, 6, 15, 9, 35),
    )
    body = api_as(manager).get(f"/api/v1/leads/{lead.pk}/").json()
    assert body["speed_to_lead"] == {"capture_to_mql": 1800, "mql_to_owner": 60, "owner_to_first_contact": 240}
    assert body["became_mql_at"] == "2026-06-15T09:30:00+02:00"


def test_leads_over_their_stage_threshold_are_stalled_in_list_detail_and_filter(api_as, manager):
    fresh = LeadFactory(stage=Stage.MQL, stage_entered_at=MONDAY_10 - dt.timedelta(days=2))
    stalled = LeadFactory(stage=Stage.MQL, stage_entered_at=MONDAY_10 - dt.timedelta(days=4))
    closed = LeadFactory(stage=Stage.LOST, stage_entered_at=MONDAY_10 - dt.timedelta(days=400))
    client = api_as(manager)
    rows = {row["id"]: row["stalled"] for row in client.get("/api/v1/leads/").json()["results"]}
    assert rows == {fresh.pk: False, stalled.pk: True, closed.pk: False}
    assert [row["id"] for row in client.get("/api/v1/leads/?stalled=true").json()["results"]] == [stalled.pk]
    assert {row["id"] for row in client.get("/api/v1/leads/?stalled=false").json()["results"]} == {fresh.pk, closed.pk}
    assert client.get(f"/api/v1/leads/{stalled.pk}/").json()["stalled"] is True
    StallThreshold.objects.filter(stage="mql").update(days=5)
    assert client.get(f"/api/v1/leads/{stalled.pk}/").json()["stalled"] is False


def test_the_api_filters_by_sla_state(api_as, manager, sdr):
    waiting = LeadFactory(stage=Stage.MQL, owner=None)
    lifecycle.assign(lead_id=waiting.pk, owner_username="sdr1", by=manager)
    quiet = LeadFactory(stage=Stage.KNOWN)
    client = api_as(manager)

    def ids(query):
        return {row["id"] for row in client.get(f"/api/v1/leads/?sla={query}").json()["results"]}

    assert (ids("running"), ids("none"), ids("breached")) == ({waiting.pk}, {quiet.pk}, set())
    with time_machine.travel(MONDAY_10 + dt.timedelta(minutes=5), tick=False):
        assert ids("breached") == {waiting.pk}
    assert client.get("/api/v1/leads/?sla=late").status_code == 400


def test_the_list_sorts_by_the_sla_due_with_leads_without_a_clock_last(manager, sdr):
    later = LeadFactory(stage=Stage.MQL, owner=None)
    lifecycle.assign(lead_id=later.pk, owner_username="sdr1", by=manager)
    with time_machine.travel(MONDAY_10 - dt.timedelta(hours=1), tick=False):
        sooner = LeadFactory(stage=Stage.MQL, owner=None)
        lifecycle.assign(lead_id=sooner.pk, owner_username="sdr1", by=manager)
    none = LeadFactory(stage=Stage.KNOWN)
    for ordering, expected in (("sla_due_at", [sooner, later, none]), ("-sla_due_at", [later, sooner, none])):
        found = LeadFilter({"ordering": ordering}, queryset=Lead.objects.all()).qs
        assert list(found) == expected


def test_annotate_gives_the_queue_its_countdown_in_the_same_query(django_assert_num_queries, manager, sdr):
    lead = LeadFactory(stage=Stage.MQL, owner=None)
    lifecycle.assign(lead_id=lead.pk, owner_username="sdr1", by=manager)
    with django_assert_num_queries(1):
        row = queries.annotate(Lead.objects.filter(pk=lead.pk)).get()
    assert (row.sla_due_at, row.sla_breached, row.is_stalled) == (berlin(2026, 6, 15, 10, 5), False, False)
    assert Lead.objects.filter(queries.stalled_q()).count() == 0
    assert Lead.objects.filter(queries.running_q()).count() == 1
    assert Lead.objects.filter(queries.breached_q(now=MONDAY_10 + dt.timedelta(hours=1))).count() == 1


"""The recycling rule: N logged attempts without a connection within M days send a SAL back to marketing."""

import datetime as dt

import pytest
import time_machine

from capture import submissions as capture
from core.vocabulary import Stage
from leads import activities, lifecycle
from leads.models import Lead, LeadTransition
from routing.models import RecyclingRule
from tests.factories import ActivityFactory, LeadFactory
from tests.sla_helpers import SAL, berlin, clock_of

pytestmark = pytest.mark.django_db

START = berlin(2026, 6, 1, 9, 0)


def sal(sdr, **fields):
    with time_machine.travel(START, tick=False):
        lead = LeadFactory(stage=Stage.MQL, owner=sdr, email="anna@beispiel.de", email_normalized="anna@beispiel.de",
                           **fields)
        lifecycle.fire(lead_id=lead.pk, name="accept", by=sdr)
    return lead


def attempt(lead, by, day, *, kind="call", outcome="no_answer"):
    with time_machine.travel(START + dt.timedelta(days=day, hours=1), tick=False):
        activities.log_activity(lead_id=lead.pk, by=by, raw={"kind": kind, "outcome": outcome})
    return Lead.objects.get(pk=lead.pk)


def test_six_unanswered_attempts_within_14_days_recycle_the_sal_with_the_reason(sdr):
    lead = sal(sdr)
    for day, kind in enumerate(["call", "email", "call", "linkedin", "call"]):
        assert attempt(lead, sdr, day * 2, kind=kind).stage == Stage.SAL
    lead = attempt(lead, sdr, 12, outcome="voicemail")
    assert (lead.stage, lead.stage_reason, lead.owner, lead.contact_attempts) == (
        Stage.RECYCLED, "No contact after 6 attempts in 14 days", None, 0)
    entry = LeadTransition.objects.get(lead=lead, name="recycle")
    assert (entry.actor, entry.reason) == (None, "No contact after 6 attempts in 14 days")
    assert clock_of(lead, SAL, running=False).stop_reason == "recycle"


def test_a_connected_conversation_in_the_window_keeps_the_sal(sdr):
    lead = sal(sdr)
    attempt(lead, sdr, 0, outcome="connected")
    for day in range(1, 7):
        lead = attempt(lead, sdr, day)
    assert lead.stage == Stage.SAL


def test_attempts_spread_over_more_than_14_days_do_not_count_together(sdr):
    lead = sal(sdr)
    for day in (0, 3, 6, 9, 12, 15, 18):  # never six within fourteen days
        lead = attempt(lead, sdr, day)
    assert lead.stage == Stage.SAL


def test_attempts_before_the_lead_became_sal_do_not_count(sdr):
    lead = sal(sdr)
    for _number in range(5):
        ActivityFactory(lead=lead, kind="call", outcome="no_answer", occurred_at=START - dt.timedelta(hours=1))
    assert attempt(lead, sdr, 1).stage == Stage.SAL


def test_the_rule_is_configurable_and_can_be_switched_off(sdr):
    RecyclingRule.objects.update(attempts=2, days=3)
    lead = sal(sdr)
    attempt(lead, sdr, 0)
    assert attempt(lead, sdr, 1).stage_reason == "No contact after 2 attempts in 3 days"

    RecyclingRule.objects.update(is_enabled=False)
    other = LeadFactory(stage=Stage.SAL, owner=sdr)
    for day in range(8):
        other = attempt(other, sdr, day)
    assert other.stage == Stage.SAL


def test_a_recycled_lead_that_re_engages_becomes_an_mql_again(sdr, settings):
    settings.MQL_SCORE_THRESHOLD = 10_000
    RecyclingRule.objects.update(attempts=1, days=14)
    lead = attempt(sal(sdr), sdr, 0)
    assert lead.stage == Stage.RECYCLED  # it does not bounce straight back on its old score
    with time_machine.travel(START + dt.timedelta(days=30), tick=False):
        capture.submit(channel="api", payload={"email": "anna@beispiel.de", "activity": {"kind": "demo_request"}})
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.stage == Stage.MQL
    assert lead.became_mql_at == START + dt.timedelta(days=30)

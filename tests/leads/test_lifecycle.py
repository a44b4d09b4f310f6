"""Every transition allowed, and refused with the state unchanged and no audit row."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from core.errors import Conflict, Invalid, NotPermitted
from core.vocabulary import Stage
from leads import lifecycle
from leads.models import Lead, LeadTransition
from tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db


def reload(lead):
    return Lead.objects.get(pk=lead.pk)


def assert_refused(lead, name, by, inputs=None, *, codes):
    before = LeadTransition.objects.filter(lead=lead).count()
    with pytest.raises(lifecycle.TransitionRefused) as refused:
        lifecycle.fire(lead_id=lead.pk, name=name, by=by, inputs=inputs)
    assert {unmet.code for unmet in refused.value.unmet} == set(codes)
    assert all(unmet.message for unmet in refused.value.unmet)
    assert reload(lead).stage == lead.stage
    assert LeadTransition.objects.filter(lead=lead).count() == before
    return refused.value


# --- mark_mql -------------------------------------------------------------------------------------------


def test_mark_mql_fires_at_the_score_threshold(marketing, settings):
    settings.MQL_SCORE_THRESHOLD = 50
    lead = LeadFactory(score=50)
    lifecycle.fire(lead_id=lead.pk, name="mark_mql", by=marketing)
    assert reload(lead).stage == Stage.MQL
    entry = LeadTransition.objects.get(lead=lead)
    assert (entry.name, entry.source, entry.target, entry.actor) == ("mark_mql", "known", "mql", marketing)


def test_mark_mql_is_refused_below_threshold_without_hot_intent(marketing, settings):
    settings.MQL_SCORE_THRESHOLD = 50
    lead = LeadFactory(score=49)
    refused = assert_refused(lead, "mark_mql", marketing, codes={"score_below_threshold"})
    assert "49" in refused.unmet[0].message and "50" in refused.unmet[0].message


def test_mark_mql_fires_on_a_demo_request(marketing):
    lead = LeadFactory(score=0)
    ActivityFactory(lead=lead, kind="demo_request", occurred_at=timezone.now())
    lifecycle.fire(lead_id=lead.pk, name="mark_mql", by=marketing)
    assert reload(lead).stage == Stage.MQL


def test_mark_mql_fires_on_three_pricing_views_within_seven_days(marketing):
    lead = LeadFactory(score=0)
    for days in (0, 2, 6):
        ActivityFactory(lead=lead, kind="pricing_view", occurred_at=timezone.now() - dt.timedelta(days=days))
    lifecycle.fire(lead_id=lead.pk, name="mark_mql", by=marketing)
    assert reload(lead).stage == Stage.MQL


def test_two_recent_pricing_views_and_an_old_one_are_not_hot_intent(marketing):
    lead = LeadFactory(score=0)
    for days in (0, 2, 9):
        ActivityFactory(lead=lead, kind="pricing_view", occurred_at=timezone.now() - dt.timedelta(days=days))
    assert_refused(lead, "mark_mql", marketing, codes={"score_below_threshold"})


def test_mark_mql_is_refused_without_a_valid_email(marketing, settings):
    settings.MQL_SCORE_THRESHOLD = 10
    lead = LeadFactory(score=80, email="", email_normalized="")
    assert_refused(lead, "mark_mql", marketing, codes={"email_invalid"})


def test_system_may_fire_mark_mql_and_is_logged_without_actor():
    lead = LeadFactory(score=500)
    lifecycle.fire(lead_id=lead.pk, name="mark_mql", by=None)
    assert LeadTransition.objects.get(lead=lead).actor is None


def test_sdr_may_not_mark_mql(sdr):
    lead = LeadFactory(score=500, owner=sdr)
    with pytest.raises(NotPermitted):
        lifecycle.fire(lead_id=lead.pk, name="mark_mql", by=sdr)
    assert reload(lead).stage == Stage.KNOWN
    assert not LeadTransition.objects.filter(lead=lead).exists()


# --- accept / reject ------------------------------------------------------------------------------------


def test_owner_accepts_an_mql(own_mql, sdr):
    lifecycle.fire(lead_id=own_mql.pk, name="accept", by=sdr)
    assert reload(own_mql).stage == Stage.SAL


def test_accepting_a_pool_lead_claims_it_in_the_same_step(pool_mql, sdr):
    lifecycle.fire(lead_id=pool_mql.pk, name="accept", by=sdr)
    lead = reload(pool_mql)
    assert (lead.stage, lead.owner) == (Stage.SAL, sdr)
    assert list(LeadTransition.objects.filter(lead=lead).values_list("name", flat=True)) == ["claim", "accept"]


def test_another_sdr_may_not_accept_an_owned_lead(own_mql, other_sdr):
    with pytest.raises(NotPermitted):
        lifecycle.fire(lead_id=own_mql.pk, name="accept", by=other_sdr)
    assert reload(own_mql).stage == Stage.MQL
    assert not LeadTransition.objects.filter(lead=own_mql).exists()


def test_manager_accept_of_an_unowned_lead_is_refused_with_a_reason(pool_mql, manager):
    refused = assert_refused(pool_mql, "accept", manager, codes={"no_owner"})
    assert "owner" in refused.unmet[0].message


def test_reject_needs_a_reason(own_mql, sdr):
    assert_refused(own_mql, "reject", sdr, {"reason": "  "}, codes={"reason_missing"})


def test_reject_sends_the_lead_back_to_marketing(own_mql, sdr):
    lifecycle.fire(lead_id=own_mql.pk, name="reject", by=sdr, inputs={"reason": "Student, no budget"})
    lead = reload(own_mql)
    assert (lead.stage, lead.owner, lead.stage_reason) == (Stage.RECYCLED, None, "Student, no budget")
    assert LeadTransition.objects.get(lead=lead).reason == "Student, no budget"


# --- qualify --------------------------------------------------------------------------------------------

BANT = {"budget": "50k EUR", "authority": "CFO decides", "need": "Replace spreadsheets", "timeline": "Q1"}


def test_qualify_needs_bant_and_a_connected_conversation(sdr):
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    assert_refused(
        lead, "qualify", sdr, {"budget": "50k"},
        codes={"authority_missing", "need_missing", "timeline_missing", "no_conversation"},
    )


def test_qualify_is_refused_when_the_call_did_not_connect(sdr):
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    ActivityFactory(lead=lead, kind="call", outcome="no_answer")
    assert_refused(lead, "qualify", sdr, BANT, codes={"no_conversation"})


def test_qualify_with_bant_and_a_connected_call(sdr):
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    ActivityFactory(lead=lead, kind="call", outcome="connected")
    lifecycle.fire(lead_id=lead.pk, name="qualify", by=sdr, inputs=BANT)
    lead = reload(lead)
    assert lead.stage == Stage.SQL
    assert (lead.budget, lead.authority, lead.need, lead.timeline) == tuple(BANT.values())
    assert LeadTransition.objects.get(lead=lead).data["budget"] == "50k EUR"


# --- opportunity, win, lose -----------------------------------------------------------------------------


def test_open_opportunity_needs_value_and_a_future_close_date(sdr):
    lead = LeadFactory(stage=Stage.SQL, owner=sdr)
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    assert_refused(lead, "open_opportunity", sdr, {"deal_value": "0", "close_date": yesterday},
                   codes={"deal_value_missing", "close_date_past"})
    assert_refused(lead, "open_opportunity", sdr, {}, codes={"deal_value_missing", "close_date_missing"})


def test_open_opportunity(sdr):
    lead = LeadFactory(stage=Stage.SQL, owner=sdr)
    today = timezone.localdate().isoformat()
    lifecycle.fire(lead_id=lead.pk, name="open_opportunity", by=sdr,
                   inputs={"deal_value": "12500.50", "close_date": today})
    lead = reload(lead)
    assert (lead.stage, lead.deal_value, lead.close_date.isoformat()) == (
        Stage.OPPORTUNITY, Decimal("12500.50"), today)


def test_malformed_inputs_are_invalid_input_not_a_refusal(sdr):
    lead = LeadFactory(stage=Stage.SQL, owner=sdr)
    with pytest.raises(Invalid) as invalid:
        lifecycle.fire(lead_id=lead.pk, name="open_opportunity", by=sdr,
                       inputs={"deal_value": "lots", "close_date": "31.12.2026", "colour": "red"})
    assert set(invalid.value.errors) == {"deal_value", "close_date", "colour"}
    assert reload(lead).stage == Stage.SQL


def test_win_needs_the_contract_date(sdr):
    lead = LeadFactory(stage=Stage.OPPORTUNITY, owner=sdr)
    assert_refused(lead, "win", sdr, {}, codes={"contract_date_missing"})
    lifecycle.fire(lead_id=lead.pk, name="win", by=sdr, inputs={"contract_signed_on": "2026-11-20"})
    assert reload(lead).stage == Stage.CUSTOMER


def test_lose_needs_a_reason(sdr):
    lead = LeadFactory(stage=Stage.OPPORTUNITY, owner=sdr)
    assert_refused(lead, "lose", sdr, {}, codes={"reason_missing"})
    lifecycle.fire(lead_id=lead.pk, name="lose", by=sdr, inputs={"reason": "Chose a competitor"})
    assert reload(lead).stage == Stage.LOST


# --- recycle, disqualify --------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", [Stage.SAL, Stage.SQL, Stage.OPPORTUNITY])
def test_recycle_returns_the_lead_to_marketing(stage, sdr):
    lead = LeadFactory(stage=stage, owner=sdr, contact_attempts=4)
    lifecycle.fire(lead_id=lead.pk, name="recycle", by=sdr, inputs={"reason": "No contact after 6 attempts"})
    lead = reload(lead)
    assert (lead.stage, lead.owner, lead.contact_attempts) == (Stage.RECYCLED, None, 0)


def test_recycle_needs_a_reason(sdr):
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    assert_refused(lead, "recycle", sdr, {"reason": ""}, codes={"reason_missing"})


@pytest.mark.parametrize("stage", [Stage.KNOWN, Stage.MQL, Stage.SAL, Stage.SQL, Stage.RECYCLED])
def test_marketing_disqualifies_with_a_reason(stage, marketing):
    lead = LeadFactory(stage=stage)
    assert_refused(lead, "disqualify", marketing, {}, codes={"reason_missing"})
    lifecycle.fire(lead_id=lead.pk, name="disqualify", by=marketing, inputs={"reason": "Competitor"})
    assert reload(lead).stage == Stage.DISQUALIFIED


@pytest.mark.parametrize("stage", [Stage.CUSTOMER, Stage.LOST, Stage.DISQUALIFIED, Stage.OPPORTUNITY])
def test_disqualify_is_refused_from_stages_it_does_not_start_from(stage, manager):
    lead = LeadFactory(stage=stage)
    assert_refused(lead, "disqualify", manager, {"reason": "x"}, codes={"wrong_stage"})


def test_a_recycled_lead_can_become_an_mql_again_on_new_intent(marketing):
    lead = LeadFactory(stage=Stage.RECYCLED, stage_entered_at=timezone.now() - dt.timedelta(days=30))
    ActivityFactory(lead=lead, kind="demo_request", occurred_at=timezone.now() - dt.timedelta(days=40))
    assert_refused(lead, "mark_mql", marketing, codes={"score_below_threshold"})
    ActivityFactory(lead=lead, kind="demo_request", occurred_at=timezone.now())
    lifecycle.fire(lead_id=lead.pk, name="mark_mql", by=marketing)
    assert reload(lead).stage == Stage.MQL


# --- available transitions and declarations -------------------------------------------------------------


def test_available_transitions_follow_role_and_stage(sdr, other_sdr, marketing, manager):
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    assert lifecycle.available_transitions(sdr, lead) == ["qualify", "recycle", "disqualify"]
    assert lifecycle.available_transitions(other_sdr, lead) == []
    assert lifecycle.available_transitions(marketing, lead) == ["disqualify"]
    assert lifecycle.available_transitions(manager, lead) == ["qualify", "recycle", "disqualify"]


def test_transition_table_matches_the_architecture():
    assert {name: (set(sources), target) for name, (sources, target) in lifecycle.TRANSITIONS.items()} == {
        "mark_mql": ({"known", "recycled"}, "mql"),
        "accept": ({"mql"}, "sal"),
        "reject": ({"mql"}, "recycled"),
        "qualify": ({"sal"}, "sql"),
        "open_opportunity": ({"sql"}, "opportunity"),
        "win": ({"opportunity"}, "customer"),
        "lose": ({"opportunity"}, "lost"),
        "recycle": ({"sal", "sql", "opportunity"}, "recycled"),
        "disqualify": ({"known", "mql", "sal", "sql", "recycled"}, "disqualified"),
        "reopen": ({"lost", "disqualified"}, "known"),
    }


def test_the_stage_cannot_be_assigned_directly():
    lead = LeadFactory()
    with pytest.raises(AttributeError):
        lead.stage = Stage.CUSTOMER


# --- owners ---------------------------------------------------------------------------------------------


def test_sdr_claims_a_pool_lead_and_it_is_logged(pool_mql, sdr):
    lifecycle.claim(lead_id=pool_mql.pk, by=sdr)
    entry = LeadTransition.objects.get(lead=pool_mql)
    assert (reload(pool_mql).owner, entry.name, entry.data["to_owner"]) == (sdr, "claim", "sdr1")


def test_claiming_someone_elses_lead_is_a_conflict(own_mql, other_sdr):
    with pytest.raises(Conflict):
        lifecycle.claim(lead_id=own_mql.pk, by=other_sdr)
    assert reload(own_mql).owner.username == "sdr1"


def test_only_mqls_can_be_claimed(sdr):
    lead = LeadFactory(stage=Stage.KNOWN)
    with pytest.raises(Conflict):
        lifecycle.claim(lead_id=lead.pk, by=sdr)
    assert reload(lead).owner is None


def test_marketing_may_not_claim(pool_mql, marketing):
    with pytest.raises(NotPermitted):
        lifecycle.claim(lead_id=pool_mql.pk, by=marketing)


def test_manager_assigns_and_releases_and_the_new_owner_is_notified(
    pool_mql, manager, sdr, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.assign(lead_id=pool_mql.pk, owner_username="sdr1", by=manager)
    assert reload(pool_mql).owner == sdr
    assert sdr.notifications.count() == 1
    assert [message.to for message in mailoutbox] == [[sdr.email]]
    lifecycle.release(lead_id=pool_mql.pk, by=manager)
    assert reload(pool_mql).owner is None
    assert list(LeadTransition.objects.filter(lead=pool_mql).values_list("name", flat=True)) == [
        "assign", "release"]


def test_assign_refuses_an_unknown_or_non_sdr_owner(pool_mql, manager, marketing):
    for username in ("nobody", "marketing"):
        with pytest.raises(Invalid) as invalid:
            lifecycle.assign(lead_id=pool_mql.pk, owner_username=username, by=manager)
        assert "owner" in invalid.value.errors
    assert not LeadTransition.objects.filter(lead=pool_mql).exists()


def test_sdr_may_not_assign(pool_mql, sdr, other_sdr):
    with pytest.raises(NotPermitted):
        lifecycle.assign(lead_id=pool_mql.pk, owner_username="sdr2", by=sdr)
    assert reload(pool_mql).owner is None


def test_docs_lifecycle_is_generated_from_the_code():
    from pathlib import Path

    from django.conf import settings

    from leads.management.commands.lifecycle_doc import render

    assert (Path(settings.BASE_DIR) / "docs" / "lifecycle.md").read_text() == render()


MEDDIC = {"metrics": "-20% handling time", "economic_buyer": "CFO Dr. Weber", "decision_criteria": "ROI < 1 year",
          "decision_process": "IT review, then board", "identify_pain": "Leads lost in spreadsheets",
          "champion": "Head of Sales"}


def meddic_team_sdr(sdr):
    from routing.models import Rep, Team

    team = Team.objects.create(name="Enterprise", slug="enterprise", qualification_framework="meddic")
    Rep.objects.create(user=sdr, team=team, capacity=10)


def test_a_meddic_team_qualifies_with_meddic_not_bant(sdr):
    meddic_team_sdr(sdr)
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    ActivityFactory(lead=lead, kind="meeting", outcome="connected")
    refused = assert_refused(lead, "qualify", sdr, BANT, codes={f"{name}_missing" for name in MEDDIC})
    assert any("champion" in unmet.message.lower() for unmet in refused.unmet)
    lifecycle.fire(lead_id=lead.pk, name="qualify", by=sdr, inputs=MEDDIC)
    lead = reload(lead)
    assert (lead.stage, lead.champion) == (Stage.SQL, "Head of Sales")

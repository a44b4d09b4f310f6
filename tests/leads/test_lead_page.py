"""The lead page."""


import pytest
from django.urls import reverse

from core.vocabulary import Stage
from leads.models import LeadTransition
from routing.models import Rep, Team
from tests.factories import ActivityFactory, LeadFactory
from tests.pages import HTMX_PANEL, as_user, reload, text

pytestmark = pytest.mark.django_db


# --- the lead page --------------------------------------------------------------------------------------


def test_lead_page_shows_the_lead_its_transitions_and_timeline(client, sdr, own_mql):
    ActivityFactory(lead=own_mql, kind="demo_request", note="Wants a demo next week")
    page = text(as_user(client, sdr).get(reverse("leads:detail", args=[own_mql.pk])))
    assert own_mql.email in page
    assert own_mql.company in page
    assert 'data-transition="accept"' in page
    assert 'data-transition-open="reject"' in page
    assert "Wants a demo next week" in page
    assert 'data-action="assign"' not in page  # an SDR cannot assign


def test_lead_page_offers_a_pool_lead_to_claim(client, sdr, pool_mql):
    page = text(as_user(client, sdr).get(reverse("leads:detail", args=[pool_mql.pk])))
    assert 'data-action="claim"' in page


def test_lead_page_offers_assign_and_release_to_a_manager(client, manager, own_mql):
    page = text(as_user(client, manager).get(reverse("leads:detail", args=[own_mql.pk])))
    assert 'data-action="assign"' in page
    assert 'data-action="release"' in page


def test_marketing_sees_only_its_own_transitions(client, marketing):
    lead = LeadFactory(stage=Stage.KNOWN)
    page = text(as_user(client, marketing).get(reverse("leads:detail", args=[lead.pk])))
    assert 'data-transition="mark_mql"' in page
    assert 'data-transition-open="disqualify"' in page
    assert 'data-transition="accept"' not in page


def meddic_team(sdr):
    team = Team.objects.create(name="Enterprise", slug="enterprise", qualification_framework="meddic")
    Rep.objects.create(user=sdr, team=team)
    return team


def test_qualify_asks_bant_by_default(client, sdr):
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    page = text(as_user(client, sdr).get(reverse("leads:detail", args=[lead.pk])))
    assert 'name="qualify-budget"' in page and 'name="qualify-timeline"' in page
    assert 'name="qualify-metrics"' not in page


def test_qualify_asks_meddic_when_the_owners_team_uses_it(client, sdr):
    meddic_team(sdr)
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    page = text(as_user(client, sdr).get(reverse("leads:detail", args=[lead.pk])))
    for name in ("metrics", "economic_buyer", "decision_criteria", "decision_process", "identify_pain", "champion"):
        assert f'name="qualify-{name}"' in page
    assert 'name="qualify-budget"' not in page
    assert "MEDDIC" in page


def test_qualify_with_meddic_through_the_page(client, sdr):
    meddic_team(sdr)
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    ActivityFactory(lead=lead, kind="meeting", outcome="connected", created_by=sdr)
    answers = {"metrics": "Answer in 5 min", "economic_buyer": "CFO", "decision_criteria": "Speed",
               "decision_process": "Pilot, then board", "identify_pain": "Leads go cold", "champion": "Head of sales"}
    response = as_user(client, sdr).post(
        reverse("leads:transition", args=[lead.pk, "qualify"]),
        {f"qualify-{name}": value for name, value in answers.items()}, **HTMX_PANEL,
    )
    assert response.status_code == 200
    lead = reload(lead)
    assert lead.stage == Stage.SQL
    assert (lead.economic_buyer, lead.champion) == ("CFO", "Head of sales")
    assert "Pilot, then board" in text(response)  # the answers show on the page


def test_meddic_qualify_without_answers_lists_the_meddic_gaps(client, sdr):
    meddic_team(sdr)
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    response = as_user(client, sdr).post(reverse("leads:transition", args=[lead.pk, "qualify"]),
                                         {"qualify-metrics": "x"}, **HTMX_PANEL)
    assert response.status_code == 409
    page = text(response)
    assert 'data-code="champion_missing"' in page and 'data-code="budget_missing"' not in page
    assert reload(lead).stage == Stage.SAL
    assert not LeadTransition.objects.filter(lead=lead).exists()


def test_lead_page_shows_the_assignment_trace(client, manager):
    lead = LeadFactory(stage=Stage.MQL, owner=manager, assignment={
        "rule": "DACH enterprise", "method": "round_robin", "chosen_by": "round_robin", "owner": "manager",
        "reason": "rule 'DACH enterprise' matched: country DE; sdr2 at capacity (5/5); manager chosen by round-robin",
        "skipped": [["sdr2", "at capacity (5/5)"]], "at": "2026-11-03T09:15:00+00:00",
    })
    page = text(as_user(client, manager).get(reverse("leads:detail", args=[lead.pk])))
    assert 'data-testid="assignment"' in page
    assert "DACH enterprise" in page
    assert "round-robin" in page
    assert "<strong>sdr2</strong>: at capacity (5/5)" in page
    assert 'datetime="2026-11-03T' in page


def test_lead_page_marks_the_keyboard_shortcuts(client, sdr, own_mql):
    page = text(as_user(client, sdr).get(reverse("leads:detail", args=[own_mql.pk])))
    assert 'data-transition="accept" data-key="a"' in page
    assert 'data-testid="activity-form" data-key="l"' in page
    assert 'id="shortcut-help"' in page
    sal = LeadFactory(stage=Stage.SAL, owner=sdr)
    assert 'data-key="q"' in text(client.get(reverse("leads:detail", args=[sal.pk])))


def test_activity_form_offers_channels_and_outcomes(client, sdr, own_mql):
    form = as_user(client, sdr).get(reverse("leads:detail", args=[own_mql.pk])).context["activity_form"]
    assert [value for value, _label in form.fields["kind"].choices] == ["call", "email", "linkedin", "meeting", "note"]
    assert [value for value, _label in form.fields["outcome"].choices] == [
        "", "no_answer", "voicemail", "connected", "wrong_number", "bounced"
    ]
    assert form.fields["next_step_on"] and form.fields["note"]

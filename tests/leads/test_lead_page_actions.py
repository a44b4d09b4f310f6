"""Transitions, owners and activities through the lead page."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from core.vocabulary import Stage
from leads.models import Activity, LeadTransition
from tests.factories import LeadFactory
from tests.pages import HTMX_PANEL, as_user, reload, text

pytestmark = pytest.mark.django_db


# --- transitions through the page -----------------------------------------------------------------------


def test_owner_accepts_through_htmx_and_gets_the_panel_back(client, sdr, own_mql):
    response = as_user(client, sdr).post(reverse("leads:transition", args=[own_mql.pk, "accept"]), **HTMX_PANEL)
    assert response.status_code == 200
    page = text(response)
    assert page.lstrip().startswith('<div id="lead-panel"')
    assert "SAL" in page
    assert reload(own_mql).stage == Stage.SAL
    entry = LeadTransition.objects.get(lead=own_mql)
    assert (entry.name, entry.source, entry.target, entry.actor) == ("accept", "mql", "sal", sdr)


def test_accept_from_the_queue_returns_to_the_queue(client, sdr, own_mql):
    response = as_user(client, sdr).post(
        reverse("leads:transition", args=[own_mql.pk, "accept"]), {"next": reverse("leads:queue")}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("leads:queue")
    assert reload(own_mql).stage == Stage.SAL


def test_transition_without_htmx_redirects_to_the_lead(client, sdr, own_mql):
    response = as_user(client, sdr).post(reverse("leads:transition", args=[own_mql.pk, "accept"]))
    assert response.status_code == 302
    assert response["Location"] == reverse("leads:detail", args=[own_mql.pk])


def test_an_unsafe_next_is_ignored(client, sdr, own_mql):
    response = as_user(client, sdr).post(
        reverse("leads:transition", args=[own_mql.pk, "accept"]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("leads:detail", args=[own_mql.pk])


def test_qualify_is_refused_with_every_unmet_guard_and_changes_nothing(client, sdr):
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    response = as_user(client, sdr).post(
        reverse("leads:transition", args=[lead.pk, "qualify"]),
        {"qualify-budget": "50k", "qualify-need": "", "qualify-authority": "", "qualify-timeline": ""},
        **HTMX_PANEL,
    )
    assert response.status_code == 409
    page = text(response)
    assert 'data-testid="refusal"' in page
    for code in ("authority_missing", "need_missing", "timeline_missing", "no_conversation"):
        assert f'data-code="{code}"' in page
    assert 'data-code="budget_missing"' not in page
    assert "Need is not answered." in page
    assert 'value="50k"' in page  # the input is kept
    assert reload(lead).stage == Stage.SAL
    assert reload(lead).budget == ""
    assert not LeadTransition.objects.filter(lead=lead).exists()


def test_qualify_succeeds_after_a_connected_call(client, sdr):
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    client = as_user(client, sdr)
    client.post(
        reverse("leads:log_activity", args=[lead.pk]),
        {"activity-kind": "call", "activity-outcome": "connected", "activity-note": "Talked to the CFO"},
    )
    response = client.post(
        reverse("leads:transition", args=[lead.pk, "qualify"]),
        {"qualify-budget": "50k", "qualify-authority": "CFO", "qualify-need": "Routing", "qualify-timeline": "Q2"},
        **HTMX_PANEL,
    )
    assert response.status_code == 200
    lead = reload(lead)
    assert lead.stage == Stage.SQL
    assert (lead.budget, lead.authority) == ("50k", "CFO")


def test_refused_transition_without_htmx_renders_the_full_page_with_409(client, sdr, own_mql):
    response = as_user(client, sdr).post(reverse("leads:transition", args=[own_mql.pk, "reject"]))
    assert response.status_code == 409
    assert "<html" in text(response)
    assert 'data-code="reason_missing"' in text(response)
    assert reload(own_mql).stage == Stage.MQL
    assert not LeadTransition.objects.exists()


def test_open_opportunity_with_a_malformed_value_shows_field_errors(client, sdr):
    lead = LeadFactory(stage=Stage.SQL, owner=sdr)
    response = as_user(client, sdr).post(
        reverse("leads:transition", args=[lead.pk, "open_opportunity"]),
        {"open_opportunity-deal_value": "a lot", "open_opportunity-close_date": "next spring"},
        **HTMX_PANEL,
    )
    assert response.status_code == 400
    page = text(response)
    assert page.count('aria-invalid="true"') >= 2
    assert 'value="a lot"' in page
    assert reload(lead).stage == Stage.SQL
    assert not LeadTransition.objects.exists()


def test_open_opportunity_through_the_page(client, sdr):
    lead = LeadFactory(stage=Stage.SQL, owner=sdr)
    close = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    response = as_user(client, sdr).post(
        reverse("leads:transition", args=[lead.pk, "open_opportunity"]),
        {"open_opportunity-deal_value": "24000", "open_opportunity-close_date": close},
        **HTMX_PANEL,
    )
    assert response.status_code == 200
    lead = reload(lead)
    assert lead.stage == Stage.OPPORTUNITY
    assert str(lead.deal_value) == "24000.00"


@pytest.mark.parametrize("language, typed", [("de", "24.000,50 €"), ("en", "24,000.50")])
def test_deal_value_is_read_as_people_type_it_in_their_language(client, sdr, language, typed):
    lead = LeadFactory(stage=Stage.SQL, owner=sdr)
    client = as_user(client, sdr)
    client.cookies["django_language"] = language
    close = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    client.post(
        reverse("leads:transition", args=[lead.pk, "open_opportunity"]),
        {"open_opportunity-deal_value": typed, "open_opportunity-close_date": close},
    )
    assert str(reload(lead).deal_value) == "24000.50"


def test_sdr_may_not_fire_a_marketing_transition(client, sdr):
    lead = LeadFactory(stage=Stage.RECYCLED, owner=sdr, score=99)
    response = as_user(client, sdr).post(reverse("leads:transition", args=[lead.pk, "mark_mql"]), **HTMX_PANEL)
    assert response.status_code == 403
    assert reload(lead).stage == Stage.RECYCLED
    assert not LeadTransition.objects.exists()


def test_unknown_transition_is_404(client, sdr, own_mql):
    response = as_user(client, sdr).post(reverse("leads:transition", args=[own_mql.pk, "teleport"]))
    assert response.status_code == 404


def test_rejecting_takes_the_lead_out_of_the_sdrs_sight(client, sdr, own_mql):
    response = as_user(client, sdr).post(
        reverse("leads:transition", args=[own_mql.pk, "reject"]), {"reject-reason": "Student, no budget"},
        **HTMX_PANEL,
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("leads:queue")
    lead = reload(own_mql)
    assert lead.stage == Stage.RECYCLED and lead.owner is None
    assert lead.stage_reason == "Student, no budget"


# --- claim and assign -----------------------------------------------------------------------------------


def test_sdr_claims_from_the_pool_row(client, sdr, pool_mql):
    response = as_user(client, sdr).post(
        reverse("leads:claim", args=[pool_mql.pk]), HTTP_HX_REQUEST="true", HTTP_HX_TARGET=f"pool-row-{pool_mql.pk}"
    )
    assert response.status_code == 200
    page = text(response)
    assert page.lstrip().startswith(f'<tr id="pool-row-{pool_mql.pk}"')
    assert 'data-transition="accept"' in page
    assert reload(pool_mql).owner == sdr
    assert LeadTransition.objects.get(lead=pool_mql).name == "claim"


def test_claim_without_htmx_leads_to_the_lead_page(client, sdr, pool_mql):
    response = as_user(client, sdr).post(reverse("leads:claim", args=[pool_mql.pk]))
    assert response["Location"] == reverse("leads:detail", args=[pool_mql.pk])
    assert reload(pool_mql).owner == sdr


def test_claiming_a_lead_someone_else_claimed_is_a_404(client, sdr, other_sdr, pool_mql):
    """The lead left this SDR's sight when the other claimed it: 404, as for an id that never existed (the
    page's toast says it is no longer visible); nothing tells them who owns it now."""
    as_user(client, other_sdr).post(reverse("leads:claim", args=[pool_mql.pk]))
    response = as_user(client, sdr).post(
        reverse("leads:claim", args=[pool_mql.pk]), HTTP_HX_REQUEST="true", HTTP_HX_TARGET=f"pool-row-{pool_mql.pk}"
    )
    assert response.status_code == 404
    assert "Someone else" not in text(response)
    assert pool_mql.email not in text(response)
    assert reload(pool_mql).owner == other_sdr
    assert LeadTransition.objects.filter(lead=pool_mql).count() == 1


def test_claiming_a_lead_someone_else_claimed_without_htmx_is_a_404(client, sdr, other_sdr, pool_mql):
    as_user(client, other_sdr).post(reverse("leads:claim", args=[pool_mql.pk]))
    response = as_user(client, sdr).post(reverse("leads:claim", args=[pool_mql.pk]))
    assert response.status_code == 404
    assert reload(pool_mql).owner == other_sdr


def test_marketing_may_not_claim(client, marketing, pool_mql):
    response = as_user(client, marketing).post(reverse("leads:claim", args=[pool_mql.pk]))
    assert response.status_code == 403
    assert reload(pool_mql).owner is None


def test_manager_assigns_a_lead(client, manager, sdr, pool_mql):
    response = as_user(client, manager).post(reverse("leads:assign", args=[pool_mql.pk]), {"owner": "sdr1"},
                                             **HTMX_PANEL)
    assert response.status_code == 200
    assert reload(pool_mql).owner == sdr
    assert "is assigned to sdr1" in text(response)
    assert LeadTransition.objects.get(lead=pool_mql).name == "assign"


def test_manager_releases_a_lead_to_the_pool(client, manager, own_mql):
    response = as_user(client, manager).post(reverse("leads:assign", args=[own_mql.pk]), {"owner": ""})
    assert response.status_code == 302
    assert reload(own_mql).owner is None
    assert LeadTransition.objects.get(lead=own_mql).name == "release"


def test_assigning_an_unknown_user_shows_an_error_and_changes_nothing(client, manager, own_mql, sdr):
    response = as_user(client, manager).post(reverse("leads:assign", args=[own_mql.pk]), {"owner": "nobody"},
                                             **HTMX_PANEL)
    assert response.status_code == 400
    assert "No active SDR or manager has this username." in text(response)
    assert reload(own_mql).owner == sdr
    assert not LeadTransition.objects.exists()


def test_sdr_may_not_assign(client, sdr, other_sdr, own_mql):
    response = as_user(client, sdr).post(reverse("leads:assign", args=[own_mql.pk]), {"owner": "sdr2"})
    assert response.status_code == 403
    assert reload(own_mql).owner == sdr


# --- log activity ---------------------------------------------------------------------------------------


def test_owner_logs_a_call(client, sdr, own_mql):
    response = as_user(client, sdr).post(
        reverse("leads:log_activity", args=[own_mql.pk]),
        {"activity-kind": "call", "activity-outcome": "no_answer", "activity-note": "Mailbox full",
         "activity-next_step_on": (timezone.localdate() + dt.timedelta(days=2)).isoformat()},
        **HTMX_PANEL,
    )
    assert response.status_code == 200
    assert "Mailbox full" in text(response)
    activity = Activity.objects.get(lead=own_mql)
    assert (activity.kind, activity.outcome, activity.created_by) == ("call", "no_answer", sdr)
    assert reload(own_mql).contact_attempts == 1


def test_logging_an_activity_with_bad_input_shows_errors_and_writes_nothing(client, sdr, own_mql):
    response = as_user(client, sdr).post(
        reverse("leads:log_activity", args=[own_mql.pk]),
        {"activity-kind": "telepathy", "activity-next_step_on": "soon", "activity-note": "kept"},
        **HTMX_PANEL,
    )
    assert response.status_code == 400
    page = text(response)
    assert page.count('aria-invalid="true"') >= 2
    assert "kept" in page
    assert not Activity.objects.exists()
    assert reload(own_mql).contact_attempts == 0


def test_logging_an_activity_in_the_future_is_refused_by_the_service(client, sdr, own_mql):
    future = (timezone.localtime() + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    response = as_user(client, sdr).post(
        reverse("leads:log_activity", args=[own_mql.pk]),
        {"activity-kind": "call", "activity-occurred_at": future},
        **HTMX_PANEL,
    )
    assert response.status_code == 400
    assert "The time lies in the future." in text(response)
    assert not Activity.objects.exists()


def test_sdr_may_not_log_on_a_pool_lead(client, sdr, pool_mql):
    response = as_user(client, sdr).post(reverse("leads:log_activity", args=[pool_mql.pk]), {"activity-kind": "note"})
    assert response.status_code == 403
    assert not Activity.objects.exists()

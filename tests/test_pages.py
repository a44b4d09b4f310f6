"""The server-rendered pages: every page against every role, transitions, owners and activities through
the pages, manual entry, import, and the lead list's query budget."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.vocabulary import Stage
from leads.models import Activity, Lead, LeadTransition, SlaClock, Submission
from routing.models import Rep, SlaPolicy, Team
from tests.factories import ActivityFactory, CampaignFactory, LeadFactory

pytestmark = pytest.mark.django_db

HTMX_PANEL = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "lead-panel"}


def as_user(client, user):
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


def reload(lead):
    return Lead.objects.get(pk=lead.pk)


@pytest.fixture
def users(marketing, manager, sdr, other_sdr, admin_user):
    return {"marketing": marketing, "manager": manager, "sdr": sdr, "other_sdr": other_sdr, "admin": admin_user}


@pytest.fixture
def others_lead(other_sdr):
    return LeadFactory(stage=Stage.SAL, owner=other_sdr, first_name="Otto", last_name="Fremd")


# --- anonymous ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, args",
    [
        ("leads:home", []),
        ("leads:queue", []),
        ("leads:pool", []),
        ("leads:list", []),
        ("capture:create", []),
        ("capture:import", []),
        ("leads:detail", ["lead"]),
    ],
)
def test_anonymous_visitors_are_sent_to_the_login_page(client, own_mql, name, args):
    url = reverse(name, args=[own_mql.pk if arg == "lead" else arg for arg in args])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    "name, args",
    [
        ("leads:transition", ["accept"]),
        ("leads:claim", []),
        ("leads:assign", []),
        ("leads:log_activity", []),
    ],
)
def test_anonymous_posts_change_nothing(client, pool_mql, name, args):
    response = client.post(reverse(name, args=[pool_mql.pk, *args]), {"owner": "sdr1", "activity-kind": "call"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert reload(pool_mql).owner is None
    assert not LeadTransition.objects.exists()
    assert not Activity.objects.exists()


def test_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert 'name="password"' in text(response)


def test_login_leads_to_the_queue(client, sdr):
    response = client.post(reverse("login"), {"username": "sdr1", "password": "pw-for-tests-123"})
    assert response.status_code == 302
    assert response["Location"] == reverse("leads:queue")


# --- home -----------------------------------------------------------------------------------------------


def test_home_sends_an_sdr_to_the_queue(client, sdr):
    response = as_user(client, sdr).get(reverse("leads:home"))
    assert response["Location"] == reverse("leads:queue")


@pytest.mark.parametrize("role", ["marketing", "manager", "admin"])
def test_home_sends_staff_to_the_lead_list(client, users, role):
    response = as_user(client, users[role]).get(reverse("leads:home"))
    assert response["Location"] == reverse("leads:list")


# --- every page against every role ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, expected",
    [("marketing", 200), ("manager", 200), ("admin", 200), ("sdr", 200), ("other_sdr", 200)],
)
@pytest.mark.parametrize("name", ["leads:queue", "leads:pool", "leads:list"])
def test_work_pages_open_for_every_role(client, users, name, role, expected):
    response = as_user(client, users[role]).get(reverse(name))
    assert response.status_code == expected


@pytest.mark.parametrize(
    "role, expected",
    [("marketing", 200), ("manager", 200), ("admin", 200), ("sdr", 403), ("other_sdr", 403)],
)
@pytest.mark.parametrize("name", ["capture:create", "capture:import"])
def test_manual_entry_and_import_are_for_staff_only(client, users, name, role, expected):
    response = as_user(client, users[role]).get(reverse(name))
    assert response.status_code == expected


@pytest.mark.parametrize(
    "role, expected",
    [("marketing", 200), ("manager", 200), ("admin", 200), ("sdr", 200), ("other_sdr", 404)],
)
def test_lead_page_is_visible_to_staff_and_its_owner_only(client, users, own_mql, role, expected):
    response = as_user(client, users[role]).get(reverse("leads:detail", args=[own_mql.pk]))
    assert response.status_code == expected
    if expected == 404:
        assert own_mql.email not in text(response)


def test_pool_lead_page_is_visible_to_every_sdr(client, other_sdr, pool_mql):
    response = as_user(client, other_sdr).get(reverse("leads:detail", args=[pool_mql.pk]))
    assert response.status_code == 200


def test_unknown_lead_is_404(client, manager):
    assert as_user(client, manager).get(reverse("leads:detail", args=[999999])).status_code == 404


@pytest.mark.parametrize(
    "name, args, data",
    [
        ("leads:transition", ["recycle"], {"recycle-reason": "no budget"}),
        ("leads:log_activity", [], {"activity-kind": "call", "activity-outcome": "connected"}),
        ("leads:assign", [], {"owner": "sdr1"}),
    ],
)
def test_another_sdrs_lead_is_404_for_every_action(client, sdr, others_lead, name, args, data):
    response = as_user(client, sdr).post(reverse(name, args=[others_lead.pk, *args]), data)
    assert response.status_code == 404
    lead = reload(others_lead)
    assert lead.stage == Stage.SAL and lead.owner.username == "sdr2"
    assert not LeadTransition.objects.exists()
    assert not Activity.objects.exists()


def test_writes_refuse_get(client, sdr, own_mql):
    response = as_user(client, sdr).get(reverse("leads:transition", args=[own_mql.pk, "accept"]))
    assert response.status_code == 405
    assert reload(own_mql).stage == Stage.MQL


# --- lead list ------------------------------------------------------------------------------------------


def test_lead_list_shows_staff_every_lead(client, manager, own_mql, pool_mql, others_lead):
    page = text(as_user(client, manager).get(reverse("leads:list")))
    for lead in (own_mql, pool_mql, others_lead):
        assert lead.email in page


def test_lead_list_shows_an_sdr_own_leads_and_the_pool_only(client, sdr, own_mql, pool_mql, others_lead):
    page = text(as_user(client, sdr).get(reverse("leads:list")))
    assert own_mql.email in page
    assert pool_mql.email in page
    assert others_lead.email not in page


def test_lead_list_filters_by_stage_search_and_score(client, marketing):
    LeadFactory(stage=Stage.MQL, company="Alpha Maschinenbau", score=80, email="a@alpha.de")
    LeadFactory(stage=Stage.MQL, company="Beta Logistik", score=20, email="b@beta.de")
    LeadFactory(stage=Stage.KNOWN, company="Alpha Known", score=90, email="c@alpha-known.de")
    client = as_user(client, marketing)
    page = text(client.get(reverse("leads:list"), {"stage": "mql", "q": "alpha"}))
    assert "a@alpha.de" in page and "b@beta.de" not in page and "c@alpha-known.de" not in page
    page = text(client.get(reverse("leads:list"), {"score_min": "50"}))
    assert "a@alpha.de" in page and "c@alpha-known.de" in page and "b@beta.de" not in page


def test_lead_list_filters_by_owner_and_campaign(client, manager, sdr, own_mql, pool_mql):
    campaign = CampaignFactory(slug="fair-2026", name="Fair 2026")
    in_campaign = LeadFactory(campaign=campaign)
    client = as_user(client, manager)
    page = text(client.get(reverse("leads:list"), {"owner": "sdr1"}))
    assert own_mql.email in page and pool_mql.email not in page
    page = text(client.get(reverse("leads:list"), {"owner": "none", "stage": "mql"}))
    assert pool_mql.email in page and own_mql.email not in page
    page = text(client.get(reverse("leads:list"), {"campaign": "fair-2026"}))
    assert in_campaign.email in page and own_mql.email not in page


def test_lead_list_sorts_by_a_column(client, manager):
    LeadFactory(email="low@x.de", score=5)
    LeadFactory(email="high@x.de", score=95)
    client = as_user(client, manager)
    page = text(client.get(reverse("leads:list"), {"ordering": "-score"}))
    assert page.index("high@x.de") < page.index("low@x.de")
    page = text(client.get(reverse("leads:list"), {"ordering": "score"}))
    assert page.index("low@x.de") < page.index("high@x.de")


def test_lead_list_paginates_and_keeps_the_filters_in_the_links(client, manager, settings):
    settings.LEADS_PAGE_SIZE = 2
    for _ in range(5):
        LeadFactory(stage=Stage.MQL)
    response = as_user(client, manager).get(reverse("leads:list"), {"stage": "mql", "page": "2"})
    page = text(response)
    assert response.context["page"].number == 2
    assert len(response.context["page"].object_list) == 2
    assert "?stage=mql&amp;page=3" in page
    assert "?stage=mql&amp;page=1" in page


def test_lead_list_htmx_request_gets_only_the_table(client, manager, own_mql):
    response = as_user(client, manager).get(
        reverse("leads:list"), {"q": own_mql.last_name}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="lead-table"
    )
    page = text(response)
    assert response.status_code == 200
    assert page.lstrip().startswith('<div id="lead-table">')
    assert "<html" not in page
    assert own_mql.email in page


def test_lead_list_shows_filter_errors_instead_of_failing(client, manager):
    response = as_user(client, manager).get(reverse("leads:list"), {"score_min": "lots"})
    assert response.status_code == 200
    assert "score_min" in text(response)


def _list_queries(client, user) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("leads:list"), {"ordering": "-score"})
    assert response.status_code == 200
    return len(queries)


def test_lead_list_runs_a_fixed_number_of_queries_whatever_the_page_size(client, manager, sdr):
    campaign = CampaignFactory()
    LeadFactory.create_batch(5, owner=sdr, campaign=campaign, stage=Stage.SAL)
    client = as_user(client, manager)
    few = _list_queries(client, manager)
    LeadFactory.create_batch(35, owner=sdr, campaign=campaign, stage=Stage.SAL)
    many = _list_queries(client, manager)
    assert Lead.objects.count() == 40
    assert few == many
    assert many <= 10


def _queries(client, name: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse(name)).status_code == 200
    return len(queries)


def test_queue_and_pool_run_a_fixed_number_of_queries(client, sdr):
    campaign = CampaignFactory()
    for stage in (Stage.MQL, Stage.SAL, Stage.SQL):
        LeadFactory(owner=sdr, stage=stage, campaign=campaign)
    LeadFactory(stage=Stage.MQL, campaign=campaign)
    client = as_user(client, sdr)
    few = (_queries(client, "leads:queue"), _queries(client, "leads:pool"))
    for stage in (Stage.MQL, Stage.SAL, Stage.SQL):
        LeadFactory.create_batch(8, owner=sdr, stage=stage, campaign=campaign)
    LeadFactory.create_batch(8, stage=Stage.MQL, campaign=campaign)
    assert (_queries(client, "leads:queue"), _queries(client, "leads:pool")) == few


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


def test_claiming_a_lead_someone_else_claimed_is_a_409(client, sdr, other_sdr, pool_mql):
    as_user(client, other_sdr).post(reverse("leads:claim", args=[pool_mql.pk]))
    response = as_user(client, sdr).post(
        reverse("leads:claim", args=[pool_mql.pk]), HTTP_HX_REQUEST="true", HTTP_HX_TARGET=f"pool-row-{pool_mql.pk}"
    )
    assert response.status_code == 409
    assert "Someone else already owns this lead." in text(response)
    assert pool_mql.email not in text(response)  # no longer visible to this SDR
    assert reload(pool_mql).owner == other_sdr
    assert LeadTransition.objects.filter(lead=pool_mql).count() == 1


def test_claim_conflict_without_htmx_returns_to_the_pool_with_a_message(client, sdr, other_sdr, pool_mql):
    as_user(client, other_sdr).post(reverse("leads:claim", args=[pool_mql.pk]))
    client = as_user(client, sdr)
    response = client.post(reverse("leads:claim", args=[pool_mql.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("leads:pool")
    assert "Someone else already owns this lead." in text(response)


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


# --- queue and pool -------------------------------------------------------------------------------------


def test_queue_lists_waiting_mqls_oldest_first_with_their_age_and_the_sals(client, sdr, other_sdr):
    now = timezone.now()
    newer = LeadFactory(stage=Stage.MQL, owner=sdr, last_name="Neu", stage_entered_at=now - dt.timedelta(minutes=30))
    older = LeadFactory(stage=Stage.MQL, owner=sdr, last_name="Alt", stage_entered_at=now - dt.timedelta(hours=3))
    working = LeadFactory(stage=Stage.SAL, owner=sdr, last_name="Dran")
    others = LeadFactory(stage=Stage.MQL, owner=other_sdr, last_name="Fremd")
    response = as_user(client, sdr).get(reverse("leads:queue"))
    page = text(response)
    assert [lead.pk for lead in response.context["waiting"]] == [older.pk, newer.pk]
    assert [lead.pk for lead in response.context["working"]] == [working.pk]
    assert page.index("Alt") < page.index("Neu")
    assert "3 h" in page and "30 min" in page
    assert others.last_name not in page
    assert page.count('data-transition="accept"') == 2
    assert 'data-testid="count-waiting">2<' in page


def test_queue_puts_the_longest_waiting_first_then_the_highest_score(client, sdr):
    entered = timezone.now() - dt.timedelta(hours=2)
    low = LeadFactory(stage=Stage.MQL, owner=sdr, score=40, stage_entered_at=entered)
    high = LeadFactory(stage=Stage.MQL, owner=sdr, score=80, stage_entered_at=entered)
    oldest = LeadFactory(stage=Stage.MQL, owner=sdr, score=10, stage_entered_at=entered - dt.timedelta(hours=1))
    response = as_user(client, sdr).get(reverse("leads:queue"))
    assert [lead.pk for lead in response.context["waiting"]] == [oldest.pk, high.pk, low.pk]


def start_clock(lead, *, due_in: dt.timedelta) -> SlaClock:
    now = timezone.now()
    return SlaClock.objects.create(lead=lead, policy=SlaPolicy.objects.order_by("pk").first(), stage=lead.stage,
                                   owner=lead.owner, started_at=now - dt.timedelta(hours=1), due_at=now + due_in)


def test_queue_puts_the_sla_due_soonest_first(client, sdr):
    now = timezone.now()
    oldest = LeadFactory(stage=Stage.MQL, owner=sdr, score=90, stage_entered_at=now - dt.timedelta(hours=5))
    later = LeadFactory(stage=Stage.MQL, owner=sdr, stage_entered_at=now - dt.timedelta(minutes=5))
    sooner = LeadFactory(stage=Stage.MQL, owner=sdr, stage_entered_at=now - dt.timedelta(minutes=1))
    late = LeadFactory(stage=Stage.SAL, owner=sdr)
    start_clock(later, due_in=dt.timedelta(hours=3))
    start_clock(sooner, due_in=dt.timedelta(minutes=20))
    start_clock(late, due_in=-dt.timedelta(hours=2))
    response = as_user(client, sdr).get(reverse("leads:queue"))
    assert [lead.pk for lead in response.context["waiting"]] == [sooner.pk, later.pk, oldest.pk]
    page = text(response)
    assert "due in 20 min" in page or "due in 19 min" in page
    assert 'data-sla="breached"' in page and "2 h late" in page


def test_queue_counts_waiting_mqls_sals_to_contact_and_follow_ups_due_today(client, sdr, other_sdr):
    today = timezone.localdate()
    LeadFactory.create_batch(2, stage=Stage.MQL, owner=sdr)
    sal = LeadFactory(stage=Stage.SAL, owner=sdr, last_name="Heute")
    LeadFactory(stage=Stage.SAL, owner=sdr)
    ActivityFactory(lead=sal, kind="call", outcome="no_answer", created_by=sdr, next_step_on=today,
                    note="Call back after lunch")
    page = text(as_user(client, sdr).get(reverse("leads:queue")))
    assert 'data-testid="count-waiting">2<' in page
    assert 'data-testid="count-working">2<' in page
    assert 'data-testid="count-follow-ups">1<' in page
    assert "Call back after lunch" in page


def test_follow_ups_due_today_are_own_open_leads_whose_latest_next_step_is_due(client, sdr, other_sdr):
    today = timezone.localdate()
    due = LeadFactory(stage=Stage.SAL, owner=sdr, last_name="Faellig")
    overdue = LeadFactory(stage=Stage.SQL, owner=sdr, last_name="Ueberfaellig")
    later = LeadFactory(stage=Stage.SAL, owner=sdr, last_name="Spaeter")
    done = LeadFactory(stage=Stage.SAL, owner=sdr, last_name="Erledigt")
    closed = LeadFactory(stage=Stage.CUSTOMER, owner=sdr, last_name="Kunde")
    others = LeadFactory(stage=Stage.SAL, owner=other_sdr, last_name="Fremd")
    for lead, day in ((due, today), (overdue, today - dt.timedelta(days=2)), (later, today + dt.timedelta(days=1)),
                      (done, today), (closed, today), (others, today)):
        ActivityFactory(lead=lead, kind="call", created_by=lead.owner, next_step_on=day)
    ActivityFactory(lead=done, kind="call", outcome="connected", created_by=sdr)  # the call was made
    ActivityFactory(lead=later, kind="page_view")  # tracking changes no plan
    response = as_user(client, sdr).get(reverse("leads:queue"))
    assert [lead.pk for lead in response.context["follow_ups"]] == [overdue.pk, due.pk]
    page = text(response)
    assert "overdue since" in page


def test_queue_with_follow_ups_runs_a_fixed_number_of_queries(client, sdr):
    today = timezone.localdate()
    ActivityFactory(lead=LeadFactory(owner=sdr, stage=Stage.SAL), kind="call", created_by=sdr, next_step_on=today)
    client = as_user(client, sdr)
    few = _queries(client, "leads:queue")
    for _number in range(6):
        ActivityFactory(lead=LeadFactory(owner=sdr, stage=Stage.SAL), kind="call", created_by=sdr,
                        next_step_on=today)
    assert _queries(client, "leads:queue") == few


def test_pool_lists_unowned_mqls_with_a_claim_button(client, sdr, pool_mql, own_mql):
    page = text(as_user(client, sdr).get(reverse("leads:pool")))
    assert pool_mql.email in page or pool_mql.display_name in page
    assert own_mql.display_name not in page
    assert 'data-action="claim"' in page


def test_pool_has_no_claim_button_for_marketing(client, marketing, pool_mql):
    page = text(as_user(client, marketing).get(reverse("leads:pool")))
    assert pool_mql.display_name in page
    assert 'data-action="claim"' not in page


def test_header_shows_the_unread_notification_count(client, manager, sdr, pool_mql):
    as_user(client, manager).post(reverse("leads:assign", args=[pool_mql.pk]), {"owner": "sdr1"})
    page = text(as_user(client, sdr).get(reverse("leads:queue")))
    assert '<span class="count">1</span>' in page


# --- manual entry ---------------------------------------------------------------------------------------


def test_marketing_creates_a_lead_by_hand(client, marketing):
    CampaignFactory(slug="fair", name="Fair")
    response = as_user(client, marketing).post(
        reverse("capture:create"),
        {"email": "Jana.Berg@Example-Firma.de", "first_name": "Jana", "last_name": "Berg", "company": "Example",
         "phone": "089 123456", "country": "DE", "campaign": "fair", "source": "event"},
    )
    lead = Lead.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("leads:detail", args=[lead.pk])
    assert lead.email_normalized == "jana.berg@example-firma.de"
    assert lead.phone == "+4989123456"
    assert lead.source == "event" and lead.campaign.slug == "fair"
    submission = Submission.objects.get()
    assert submission.channel == "manual" and submission.submitted_by == marketing


def test_manual_entry_of_a_known_address_merges_and_says_so(client, manager):
    existing = LeadFactory(email="known@firma.de", email_normalized="known@firma.de", job_title="")
    response = as_user(client, manager).post(
        reverse("capture:create"), {"email": "KNOWN@firma.de", "job_title": "CTO"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("leads:detail", args=[existing.pk])
    assert "already belonged to a lead" in text(response)
    assert Lead.objects.count() == 1
    assert reload(existing).job_title == "CTO"


def test_manual_entry_with_bad_input_shows_errors_keeps_input_and_creates_nothing(client, marketing):
    response = as_user(client, marketing).post(
        reverse("capture:create"),
        {"email": "not-an-address", "first_name": "Kept", "phone": "12", "country": "Germany",
         "company_size": "many"},
    )
    assert response.status_code == 400
    page = text(response)
    assert page.count('aria-invalid="true"') == 4
    assert 'value="Kept"' in page and 'value="not-an-address"' in page
    assert not Lead.objects.exists()
    assert Submission.objects.get().outcome == "rejected"


def test_manual_entry_without_email_says_it_is_required(client, marketing):
    response = as_user(client, marketing).post(reverse("capture:create"), {"first_name": "Nomail"})
    assert response.status_code == 400
    assert "An e-mail address is required." in text(response)
    assert not Lead.objects.exists()


def test_sdr_cannot_post_manual_entry_or_import(client, sdr):
    client = as_user(client, sdr)
    assert client.post(reverse("capture:create"), {"email": "x@firma.de"}).status_code == 403
    assert client.post(reverse("capture:import"), {}).status_code == 403
    assert not Lead.objects.exists()


# --- import ---------------------------------------------------------------------------------------------

def _csv(content: str, name: str = "fair.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


def test_import_reports_counts_and_problems(client, marketing):
    LeadFactory(email="known@firma.de", email_normalized="known@firma.de")
    CampaignFactory(slug="fair-2026")
    content = "email,first_name,company\nnew@firma.de,Nina,Firma\nknown@firma.de,,\nbroken,Bert,\n"
    response = as_user(client, marketing).post(
        reverse("capture:import"), {"file": _csv(content), "source": "event", "campaign": "fair-2026"}
    )
    assert response.status_code == 200
    page = text(response)
    assert 'data-testid="total">3<' in page
    assert 'data-testid="created">1<' in page
    assert 'data-testid="merged">1<' in page
    assert 'data-testid="rejected">1<' in page
    assert "<td class=\"num\">4</td>" in page  # the bad row's line number
    assert Lead.objects.filter(email_normalized="new@firma.de", source="event").exists()


def test_import_of_an_unreadable_file_shows_the_reason(client, marketing):
    response = as_user(client, marketing).post(
        reverse("capture:import"), {"file": _csv("first_name,company\nNina,Firma\n"), "source": "event"}
    )
    assert response.status_code == 400
    assert 'aria-invalid="true"' in text(response)
    assert not Lead.objects.exists()


def test_the_lead_page_shows_consent_per_purpose_and_links_the_proof(client, marketing):
    from capture import submissions as capture
    from tests.factories import CaptureFormFactory

    form = CaptureFormFactory(consent_wording="Ja, Newsletter.", consent_purposes=["newsletter"])
    lead = capture.submit(channel="web_form", form=form, payload={"email": "c@firma.de", "consent": True}).lead
    client.force_login(marketing)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert f"/leads/{lead.pk}/consent/" in page
    assert "Newsletter:" in page and "consent-given" in page and "consent-none" in page


def test_a_huge_list_says_more_than_the_cap_instead_of_counting_everything(client, marketing, monkeypatch):
    from leads.pagination import CappedPaginator
    from tests.factories import LeadFactory

    monkeypatch.setattr(CappedPaginator, "CAP", 3)
    for _ in range(5):
        LeadFactory()
    client.force_login(marketing)
    page = client.get("/leads/").content.decode()
    assert "More than 3 leads" in page
    assert "5 leads" not in page


def test_the_created_date_filter_uses_local_day_bounds(client, marketing):
    import datetime as dt

    from django.utils import timezone

    from tests.factories import LeadFactory

    day = dt.date(2026, 11, 2)
    late = timezone.make_aware(dt.datetime(2026, 11, 2, 23, 30))  # Berlin time: still the 2nd
    LeadFactory(last_name="Spaet", created_at=late)
    LeadFactory(last_name="Frueh", created_at=late + dt.timedelta(hours=1))
    client.force_login(marketing)
    page = client.get("/leads/", {"created_after": day.isoformat(), "created_before": day.isoformat()})
    assert "Spaet" in page.content.decode() and "Frueh" not in page.content.decode()

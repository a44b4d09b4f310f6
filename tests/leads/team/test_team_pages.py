"""Manager pages and the routing dry run: the team board, one rep's presence and leads (reassign, release),
"Test routing", and the notifications page. Every page against anonymous, marketing, manager, SDR, admin;
lists against a fixed query budget; refusals and dry runs write nothing."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.vocabulary import Role, Stage
from leads import lifecycle
from leads.models import Account, Lead, LeadTransition, Notification, SlaClock
from routing.models import Rep, RotationState, RoutingRule, Team
from tests.factories import CampaignFactory, LeadFactory, UserFactory
from tests.sla_helpers import ACCEPT, policy

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def as_user(client, user):
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def users(marketing, manager, sdr, other_sdr, admin_user):
    return {"marketing": marketing, "manager": manager, "sdr": sdr, "other_sdr": other_sdr, "admin": admin_user}


@pytest.fixture
def team(manager, sdr, other_sdr):
    team = Team.objects.create(name="Inside Sales", slug="inside-sales", manager=manager)
    Rep.objects.create(user=sdr, team=team, capacity=5)
    Rep.objects.create(user=other_sdr, team=team, capacity=5)
    RoutingRule.objects.create(name="Everyone to inside sales", position=10, target_type="team", target_team=team,
                               method="round_robin")
    return team


def rep_of(user) -> Rep:
    return Rep.objects.get(user=user)


def queries(client, url: str, *, status: int = 200) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == status
    return len(captured)


# --- access ---------------------------------------------------------------------------------------------

MANAGER_PAGES = [("leads:team", []), ("leads:team_rep", ["sdr1"])]


@pytest.mark.parametrize("name, args", [*MANAGER_PAGES, ("leads:routing_test", []), ("leads:notifications", [])])
def test_anonymous_visitors_are_sent_to_the_login_page(client, team, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    "name, args",
    [
        ("leads:team_availability", ["sdr1"]),
        ("leads:team_presence", ["sdr1"]),
        ("leads:team_reassign", ["sdr1"]),
        ("leads:notifications_read", []),
    ],
)
def test_anonymous_posts_are_sent_to_the_login_page_and_change_nothing(client, team, name, args):
    response = client.post(reverse(name, args=args), {"available": "false", "capacity": "1"})
    assert response.status_code == 302
    assert rep_of_username("sdr1").is_available
    assert rep_of_username("sdr1").capacity == 5


def rep_of_username(username: str) -> Rep:
    return Rep.objects.get(user__username=username)


@pytest.mark.parametrize("name, args", MANAGER_PAGES)
@pytest.mark.parametrize("role, expected", [("marketing", 403), ("manager", 200), ("sdr", 403), ("admin", 200)])
def test_manager_pages_open_for_managers_and_admins_only(client, users, team, name, args, role, expected):
    assert as_user(client, users[role]).get(reverse(name, args=args)).status_code == expected


@pytest.mark.parametrize("role, expected", [("marketing", 200), ("manager", 200), ("sdr", 403), ("admin", 200)])
def test_routing_test_opens_for_managers_marketing_and_admins(client, users, team, role, expected):
    assert as_user(client, users[role]).get(reverse("leads:routing_test")).status_code == expected


@pytest.mark.parametrize("role", ["marketing", "manager", "sdr", "admin"])
def test_notifications_open_for_every_role(client, users, role):
    assert as_user(client, users[role]).get(reverse("leads:notifications")).status_code == 200


def test_unknown_rep_is_404(client, manager, team):
    assert as_user(client, manager).get(reverse("leads:team_rep", args=["nobody"])).status_code == 404


@pytest.mark.parametrize("role", ["sdr", "marketing"])
def test_an_sdr_or_marketing_cannot_toggle_availability(client, users, team, role):
    response = as_user(client, users[role]).post(reverse("leads:team_availability", args=["sdr2"]),
                                                 {"available": "false"})
    assert response.status_code == 403
    assert rep_of_username("sdr2").is_available


def test_an_sdr_cannot_move_another_sdrs_leads(client, sdr, other_sdr, team):
    lead = LeadFactory(stage=Stage.MQL, owner=other_sdr)
    response = as_user(client, sdr).post(reverse("leads:team_reassign", args=["sdr2"]),
                                         {"leads": [lead.pk], "target": "rep:sdr1"})
    assert response.status_code == 403
    assert Lead.objects.get(pk=lead.pk).owner == other_sdr
    assert not LeadTransition.objects.exists()


def test_an_sdr_cannot_change_presence(client, sdr, team):
    response = as_user(client, sdr).post(reverse("leads:team_presence", args=["sdr1"]),
                                         {"available": "on", "capacity": "500"})
    assert response.status_code == 403
    assert rep_of(sdr).capacity == 5


# --- the board ------------------------------------------------------------------------------------------


def test_board_shows_load_against_capacity_waiting_mqls_and_the_pool(client, manager, sdr, other_sdr, team):
    now = timezone.now()
    LeadFactory(stage=Stage.MQL, owner=sdr, stage_entered_at=now - dt.timedelta(hours=5))
    LeadFactory(stage=Stage.MQL, owner=sdr, stage_entered_at=now - dt.timedelta(minutes=20))
    LeadFactory(stage=Stage.SAL, owner=sdr)
    LeadFactory(stage=Stage.SQL, owner=sdr)  # not counted against capacity
    LeadFactory(stage=Stage.MQL, owner=None, stage_entered_at=now - dt.timedelta(hours=30))
    LeadFactory(stage=Stage.MQL, owner=None, stage_entered_at=now - dt.timedelta(hours=1))
    response = as_user(client, manager).get(reverse("leads:team"))
    rows = {row.rep.user.username: row for row in response.context["rows"]}
    assert (rows["sdr1"].load.open_load, rows["sdr1"].load.waiting) == (3, 2)
    assert rows["sdr1"].load_percent == 60
    assert (rows["sdr2"].load.open_load, rows["sdr2"].load.waiting) == (0, 0)
    page = text(response)
    assert ">3/5<" in page and ">0/5<" in page
    assert "oldest 5 h" in page
    assert 'data-testid="pool-size">2<' in page
    assert "oldest 30 h" in page
    assert "Inside Sales" in page


def test_board_shows_who_is_out_of_office_and_full(client, manager, sdr, other_sdr, team):
    today = timezone.localdate()
    Rep.objects.filter(user=sdr).update(out_of_office_until=today + dt.timedelta(days=3))
    Rep.objects.filter(user=other_sdr).update(capacity=1)
    LeadFactory(stage=Stage.SAL, owner=other_sdr)
    rows = {row.rep.user.username: row for row in as_user(client, manager).get(reverse("leads:team")).context["rows"]}
    assert rows["sdr1"].is_out_of_office and not rows["sdr1"].takes_leads
    assert rows["sdr2"].is_full and not rows["sdr2"].takes_leads


def test_board_runs_a_fixed_number_of_queries_whatever_the_number_of_reps_and_leads(client, manager, team):
    client = as_user(client, manager)
    late = LeadFactory.create_batch(2, stage=Stage.MQL, owner=rep_of_username("sdr1").user)[0]
    _breached_clock(late)  # the breach list on top of the board has something to show
    few = queries(client, reverse("leads:team"))
    other = Team.objects.create(name="Field", slug="field", manager=UserFactory(role=Role.MANAGER))
    for number in range(6):
        user = UserFactory(username=f"field{number}", role=Role.SDR)
        Rep.objects.create(user=user, team=other)
        LeadFactory.create_batch(3, stage=Stage.MQL, owner=user)
        LeadFactory(stage=Stage.SAL, owner=user)
    LeadFactory.create_batch(5, stage=Stage.MQL, owner=None)
    for lead in Lead.objects.filter(owner__username__startswith="field"):
        _breached_clock(lead)
    assert queries(client, reverse("leads:team")) == few
    assert few <= 14  # the board's 10, the breach list's 3 (its reps, clocks, their loads), the owner list


def _breached_clock(lead):
    now = timezone.now()
    SlaClock.objects.create(lead=lead, policy=policy(ACCEPT), stage=lead.stage, owner=lead.owner,
                            started_at=now - dt.timedelta(hours=5), due_at=now - dt.timedelta(hours=1))


def test_manager_toggles_availability_with_htmx_and_gets_the_row_back(client, manager, sdr, team):
    response = as_user(client, manager).post(reverse("leads:team_availability", args=["sdr1"]),
                                             {"available": "false"}, **HTMX)
    assert response.status_code == 200
    page = text(response)
    assert page.lstrip().startswith("<tr")
    assert 'aria-checked="false"' in page
    assert not rep_of(sdr).is_available
    response = client.post(reverse("leads:team_availability", args=["sdr1"]), {"available": "true"})
    assert response.status_code == 302
    assert rep_of(sdr).is_available


def test_availability_toggle_without_a_value_is_a_400_and_changes_nothing(client, manager, sdr, team):
    response = as_user(client, manager).post(reverse("leads:team_availability", args=["sdr1"]), {}, **HTMX)
    assert response.status_code == 400
    assert rep_of(sdr).is_available


def test_an_unavailable_rep_then_gets_no_new_leads(client, manager, sdr, other_sdr, team):
    as_user(client, manager).post(reverse("leads:team_availability", args=["sdr1"]), {"available": "false"})
    for number in range(3):
        lead = LeadFactory(score=90, email=f"buyer{number}@kunde{number}.de")
        lifecycle.fire(lead_id=lead.pk, name="mark_mql", by=None, parsed={})
    assert set(Lead.objects.filter(stage=Stage.MQL).values_list("owner__username", flat=True)) == {"sdr2"}


# --- one rep: presence ----------------------------------------------------------------------------------


def test_manager_sets_capacity_and_out_of_office(client, manager, sdr, team):
    response = as_user(client, manager).post(reverse("leads:team_presence", args=["sdr1"]), {
        "available": "on", "capacity": "12", "out_of_office_from": "2026-12-21", "out_of_office_until": "2027-01-02",
    })
    assert response.status_code == 302
    rep = rep_of(sdr)
    assert (rep.is_available, rep.capacity) == (True, 12)
    assert (rep.out_of_office_from, rep.out_of_office_until) == (dt.date(2026, 12, 21), dt.date(2027, 1, 2))


def test_presence_with_the_range_backwards_shows_the_error_and_changes_nothing(client, manager, sdr, team):
    response = as_user(client, manager).post(reverse("leads:team_presence", args=["sdr1"]), {
        "available": "on", "capacity": "12", "out_of_office_from": "2027-01-02", "out_of_office_until": "2026-12-21",
    })
    assert response.status_code == 400
    assert "must not be before the first" in text(response)
    rep = rep_of(sdr)
    assert (rep.capacity, rep.out_of_office_from) == (5, None)


def test_presence_with_a_capacity_of_zero_is_refused(client, manager, sdr, team):
    response = as_user(client, manager).post(reverse("leads:team_presence", args=["sdr1"]),
                                             {"available": "on", "capacity": "0"})
    assert response.status_code == 400
    assert rep_of(sdr).capacity == 5


# --- one rep: reassign and release ----------------------------------------------------------------------


def test_rep_page_lists_only_that_reps_open_leads(client, manager, sdr, other_sdr, team):
    waiting = LeadFactory(stage=Stage.MQL, owner=sdr, last_name="Wartend")
    working = LeadFactory(stage=Stage.SAL, owner=sdr, last_name="Arbeitend")
    later = LeadFactory(stage=Stage.SQL, owner=sdr, last_name="Spaeter")
    others = LeadFactory(stage=Stage.MQL, owner=other_sdr, last_name="Fremd")
    response = as_user(client, manager).get(reverse("leads:team_rep", args=["sdr1"]))
    assert [lead.pk for lead in response.context["leads"]] == [waiting.pk, working.pk]
    page = text(response)
    assert later.last_name not in page and others.last_name not in page
    assert [choice["user"].username for choice in response.context["owners"]] == ["manager", "sdr2"]


def test_rep_page_runs_a_fixed_number_of_queries_whatever_the_number_of_leads(client, manager, sdr, team):
    client = as_user(client, manager)
    campaign = CampaignFactory()
    LeadFactory(stage=Stage.MQL, owner=sdr, campaign=campaign)
    few = queries(client, reverse("leads:team_rep", args=["sdr1"]))
    LeadFactory.create_batch(6, stage=Stage.MQL, owner=sdr, campaign=campaign)
    LeadFactory.create_batch(6, stage=Stage.SAL, owner=sdr, campaign=campaign)
    for number in range(4):
        UserFactory(username=f"extra{number}", role=Role.SDR)
    assert queries(client, reverse("leads:team_rep", args=["sdr1"])) == few


def test_manager_moves_several_leads_in_one_request_and_sees_each_result(client, manager, sdr, other_sdr, team):
    first, second = LeadFactory(stage=Stage.MQL, owner=sdr), LeadFactory(stage=Stage.SAL, owner=sdr)
    kept = LeadFactory(stage=Stage.MQL, owner=sdr)
    response = as_user(client, manager).post(reverse("leads:team_reassign", args=["sdr1"]),
                                             {"leads": [first.pk, second.pk], "target": "rep:sdr2"},
                                             HTTP_HX_REQUEST="true", HTTP_HX_TARGET="rep-work")
    assert response.status_code == 200
    page = text(response)
    assert f'data-lead="{first.pk}" data-ok="true"' in page
    assert f'data-lead="{second.pk}" data-ok="true"' in page
    assert set(Lead.objects.filter(owner=other_sdr).values_list("pk", flat=True)) == {first.pk, second.pk}
    assert Lead.objects.get(pk=kept.pk).owner == sdr
    assert LeadTransition.objects.filter(name="assign", actor=manager).count() == 2
    assert page.lstrip().startswith('<div id="rep-work"')
    assert "2 of 2 leads moved." in page
    assert Notification.objects.filter(user=other_sdr, kind="assignment").count() == 2


def test_release_sends_mqls_to_the_pool_and_refuses_sals_one_by_one(client, manager, sdr, team):
    mql, sal = LeadFactory(stage=Stage.MQL, owner=sdr), LeadFactory(stage=Stage.SAL, owner=sdr)
    response = as_user(client, manager).post(reverse("leads:team_reassign", args=["sdr1"]),
                                             {"leads": [mql.pk, sal.pk], "target": "pool"})
    assert response.status_code == 200
    assert [(outcome.lead_id, outcome.ok) for outcome in response.context["outcomes"]] == [
        (mql.pk, True), (sal.pk, False)
    ]
    assert "Only MQLs can go back to the pool" in text(response)
    assert Lead.objects.get(pk=mql.pk).owner is None
    assert Lead.objects.get(pk=sal.pk).owner == sdr
    assert list(LeadTransition.objects.values_list("lead_id", "name")) == [(mql.pk, "release")]


def test_moving_to_an_unknown_owner_refuses_each_lead_and_changes_nothing(client, manager, sdr, team):
    lead = LeadFactory(stage=Stage.MQL, owner=sdr)
    response = as_user(client, manager).post(reverse("leads:team_reassign", args=["sdr1"]),
                                             {"leads": [lead.pk], "target": "rep:ghost"})
    assert response.status_code == 409
    assert "No active SDR or manager has this username." in text(response)
    assert Lead.objects.get(pk=lead.pk).owner == sdr
    assert not LeadTransition.objects.exists()


def test_moving_a_lead_that_is_not_the_reps_is_refused_and_changes_nothing(client, manager, sdr, other_sdr, team):
    others = LeadFactory(stage=Stage.MQL, owner=other_sdr)
    response = as_user(client, manager).post(reverse("leads:team_reassign", args=["sdr1"]),
                                             {"leads": [others.pk], "target": "rep:manager"})
    assert response.status_code == 400
    assert "is not among this rep&#x27;s open leads any more" in text(response)
    assert Lead.objects.get(pk=others.pk).owner == other_sdr
    assert not LeadTransition.objects.exists()


def test_moving_nothing_asks_for_a_lead(client, manager, sdr, team):
    LeadFactory(stage=Stage.MQL, owner=sdr)
    response = as_user(client, manager).post(reverse("leads:team_reassign", args=["sdr1"]), {"target": "rep:sdr2"})
    assert response.status_code == 400
    assert "Tick at least one lead." in text(response)


def test_moving_without_a_target_asks_for_one_and_changes_nothing(client, manager, sdr, team):
    lead = LeadFactory(stage=Stage.MQL, owner=sdr)
    response = as_user(client, manager).post(reverse("leads:team_reassign", args=["sdr1"]), {"leads": [lead.pk]})
    assert response.status_code == 400
    assert "Choose where the leads go." in text(response)
    assert Lead.objects.get(pk=lead.pk).owner == sdr
    assert not LeadTransition.objects.exists()


# --- routing dry run ------------------------------------------------------------------------------------


def rotation():
    return list(RotationState.objects.order_by("pk").values_list("rep_id", "assigned", "virtual_time"))


def test_routing_test_shows_the_decision_and_writes_nothing(client, marketing, sdr, team):
    lead = LeadFactory(stage=Stage.KNOWN, score=90, email="first@kunde.de")
    lifecycle.fire(lead_id=lead.pk, name="mark_mql", by=None, parsed={})  # sdr1 got one: sdr2 is next
    before = (rotation(), LeadTransition.objects.count(), Lead.objects.count(), Notification.objects.count())
    response = as_user(client, marketing).get(reverse("leads:routing_test"), {
        "email": "anna@beispiel.de", "country": "de", "company_size": "500", "score": "70", "source": "web_form",
    })
    assert response.status_code == 200
    decision = response.context["decision"]
    assert (decision.owner_username, decision.rule_name, decision.method) == (
        "sdr2", "Everyone to inside sales", "round_robin"
    )
    page = text(response)
    assert "sdr2 chosen by round-robin" in page
    assert 'data-testid="decision-owner">sdr2<' in page
    assert (rotation(), LeadTransition.objects.count(), Lead.objects.count(), Notification.objects.count()) == before


def test_routing_test_names_the_skipped_reps_and_why(client, manager, sdr, other_sdr, team):
    Rep.objects.filter(user=sdr).update(is_available=False)
    Rep.objects.filter(user=other_sdr).update(capacity=1)
    LeadFactory(stage=Stage.SAL, owner=other_sdr)
    response = as_user(client, manager).get(reverse("leads:routing_test"), {"email": "a@b.de"})
    decision = response.context["decision"]
    assert decision.to_pool
    assert dict(decision.skipped) == {"sdr1": "unavailable", "sdr2": "at capacity (1/1)"}
    page = text(response)
    assert "<strong>sdr1</strong>: unavailable" in page
    assert "<strong>sdr2</strong>: at capacity (1/1)" in page
    assert not LeadTransition.objects.exists()


def test_routing_test_matches_the_account_by_the_email_domain(client, manager, sdr, other_sdr, team):
    RoutingRule.objects.update(method="account_owner_first")
    Account.objects.create(domain="kunde.de", name="Kunde AG", owner=other_sdr)
    response = as_user(client, manager).get(reverse("leads:routing_test"), {"email": "einkauf@kunde.de"})
    decision = response.context["decision"]
    assert (decision.owner_username, decision.chosen_by) == ("sdr2", "account_owner")
    assert "Kunde AG" in text(response)


def test_routing_test_uses_rule_conditions_on_campaign_and_size(client, manager, sdr, other_sdr, team):
    campaign = CampaignFactory(slug="dmexco")
    RoutingRule.objects.create(name="Big fair leads", position=1, target_type="rep", target_rep=rep_of(other_sdr),
                               conditions={"campaign": ["dmexco"], "company_size_min": 200})
    client = as_user(client, manager)
    big = client.get(reverse("leads:routing_test"), {"campaign": campaign.slug, "company_size": "500"})
    small = client.get(reverse("leads:routing_test"), {"campaign": campaign.slug, "company_size": "20"})
    assert big.context["decision"].rule_name == "Big fair leads"
    assert small.context["decision"].rule_name == "Everyone to inside sales"


def test_routing_test_with_bad_fields_names_them_and_decides_nothing(client, manager, team):
    response = as_user(client, manager).get(reverse("leads:routing_test"), {
        "email": "not-an-address", "country": "XX", "company_size": "many",
    })
    assert response.status_code == 400
    assert response.context["decision"] is None
    errors = response.context["form"].errors
    assert {"email", "country", "company_size"} <= set(errors)


def test_routing_test_without_input_shows_the_empty_form(client, manager, team):
    response = as_user(client, manager).get(reverse("leads:routing_test"))
    assert response.status_code == 200
    assert response.context["decision"] is None
    assert 'data-testid="routing-test-form"' in text(response)


# --- notifications --------------------------------------------------------------------------------------


def notify(user, lead, number: int, *, read: bool = False) -> Notification:
    return Notification.objects.create(
        user=user, lead=lead, key=f"test:{user.pk}:{number}", message=f"Message {number}",
        created_at=timezone.now() - dt.timedelta(minutes=100 - number),
        read_at=timezone.now() if read else None,
    )


def test_notifications_list_own_newest_first_with_links_to_visible_leads(client, sdr, other_sdr):
    own = LeadFactory(stage=Stage.MQL, owner=sdr)
    gone = LeadFactory(stage=Stage.SAL, owner=other_sdr)  # reassigned since: no link
    older, newer = notify(sdr, own, 1), notify(sdr, gone, 2)
    notify(other_sdr, gone, 3)
    response = as_user(client, sdr).get(reverse("leads:notifications"))
    assert [note.pk for note in response.context["notifications"]] == [newer.pk, older.pk]
    page = text(response)
    assert reverse("leads:detail", args=[own.pk]) in page
    assert reverse("leads:detail", args=[gone.pk]) not in page
    assert "Message 3" not in page


def test_notifications_paginate(client, sdr, settings):
    settings.LEADS_PAGE_SIZE = 3
    for number in range(7):
        notify(sdr, None, number)
    client = as_user(client, sdr)
    assert len(client.get(reverse("leads:notifications")).context["notifications"]) == 3
    last = client.get(reverse("leads:notifications"), {"page": 3})
    assert [note.message for note in last.context["notifications"]] == ["Message 0"]


def test_notifications_run_a_fixed_number_of_queries(client, sdr):
    client = as_user(client, sdr)
    notify(sdr, LeadFactory(owner=sdr, stage=Stage.MQL), 1)
    few = queries(client, reverse("leads:notifications"))
    for number in range(2, 12):
        notify(sdr, LeadFactory(owner=sdr, stage=Stage.MQL), number)
    assert queries(client, reverse("leads:notifications")) == few


def test_marking_one_read_with_htmx_returns_the_list_and_the_badge(client, sdr):
    first, second = notify(sdr, None, 1), notify(sdr, None, 2)
    response = as_user(client, sdr).post(reverse("leads:notification_read", args=[first.pk]), **HTMX)
    assert response.status_code == 200
    page = text(response)
    assert 'id="notification-list"' in page
    assert 'hx-swap-oob="true"' in page and '<span class="count">1</span>' in page
    assert Notification.objects.get(pk=first.pk).read_at is not None
    assert Notification.objects.get(pk=second.pk).read_at is None


def test_marking_all_read_touches_only_own_notifications(client, sdr, other_sdr):
    notify(sdr, None, 1), notify(sdr, None, 2)
    others = notify(other_sdr, None, 3)
    response = as_user(client, sdr).post(reverse("leads:notifications_read"))
    assert response.status_code == 302
    assert not Notification.objects.filter(user=sdr, read_at__isnull=True).exists()
    assert Notification.objects.get(pk=others.pk).read_at is None


def test_marking_another_users_notification_is_404_and_changes_nothing(client, sdr, other_sdr):
    others = notify(other_sdr, None, 1)
    response = as_user(client, sdr).post(reverse("leads:notification_read", args=[others.pk]))
    assert response.status_code == 404
    assert Notification.objects.get(pk=others.pk).read_at is None


def test_the_header_badge_links_to_the_notifications(client, sdr):
    notify(sdr, None, 1)
    page = text(as_user(client, sdr).get(reverse("leads:queue")))
    assert f'href="{reverse("leads:notifications")}" id="notification-badge"' in page
    assert '<span class="count">1</span>' in page


def test_board_warns_when_free_capacity_will_not_cover_the_forecast_mqls(client, manager, team):
    client = as_user(client, manager)
    page = text(client.get(reverse("leads:team")))
    assert "Capacity for the coming week" in page and 'data-testid="capacity-warning"' not in page
    Rep.objects.update(capacity=2)
    now = timezone.now()
    for number in range(40):  # about 3 MQLs a day over the last two weeks
        lead = LeadFactory(stage=Stage.MQL)
        LeadTransition.objects.create(lead=lead, name="mark_mql", source="known", target="mql",
                                      at=now - dt.timedelta(days=1 + number % 13, hours=1))
    page = text(client.get(reverse("leads:team")))
    assert 'data-testid="capacity-warning"' in page and "Free capacity will not cover the expected MQLs" in page

"""The manager's breach list on the team board: breached and due-soon clocks of the manager's teams, with a
one-click reassign to the rep with the most free places."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from core.vocabulary import Role, Stage
from leads import selectors
from leads.models import Lead, LeadTransition, SlaClock
from routing.models import Rep, Team
from tests.factories import LeadFactory, UserFactory
from tests.pages import as_user, text
from tests.sla_helpers import ACCEPT, policy

pytestmark = pytest.mark.django_db


def clock(lead, *, due_in: dt.timedelta) -> SlaClock:
    now = timezone.now()
    return SlaClock.objects.create(lead=lead, policy=policy(ACCEPT), stage=lead.stage, owner=lead.owner,
                                   started_at=now - dt.timedelta(hours=4), due_at=now + due_in)


@pytest.fixture
def teams():
    manager = UserFactory(username="boss", first_name="Bea", last_name="Boss", role=Role.MANAGER)
    mine = Team.objects.create(name="Inside Sales", slug="inside", manager=manager)
    theirs = Team.objects.create(name="Field", slug="field")
    late, free, full = (UserFactory(username=name, first_name=name.title(), last_name="Rep", role=Role.SDR)
                        for name in ("late", "free", "full"))
    Rep.objects.create(user=late, team=mine, capacity=10)
    Rep.objects.create(user=free, team=mine, capacity=10)
    Rep.objects.create(user=full, team=mine, capacity=1)
    LeadFactory(stage=Stage.MQL, owner=full)  # full: not suggested
    elsewhere = UserFactory(username="elsewhere", role=Role.SDR)
    Rep.objects.create(user=elsewhere, team=theirs, capacity=10)
    return {"manager": manager, "late": late, "free": free, "elsewhere": elsewhere}


def test_the_board_lists_breached_and_due_soon_clocks_of_the_managers_teams_only(client, teams):
    breached = LeadFactory(stage=Stage.MQL, owner=teams["late"], first_name="Lena", last_name="Spät")
    soon = LeadFactory(stage=Stage.MQL, owner=teams["late"], first_name="Sina", last_name="Bald")
    later = LeadFactory(stage=Stage.MQL, owner=teams["late"])
    other_team = LeadFactory(stage=Stage.MQL, owner=teams["elsewhere"])
    clock(breached, due_in=-dt.timedelta(hours=2))
    clock(soon, due_in=dt.timedelta(minutes=20))
    clock(later, due_in=dt.timedelta(hours=5))
    clock(other_team, due_in=-dt.timedelta(hours=1))

    alerts = selectors.team_clock_alerts(teams["manager"])
    assert [(alert.clock.lead_id, alert.is_breached) for alert in alerts] == [(breached.pk, True), (soon.pk, False)]
    assert all(alert.suggested.user == teams["free"] for alert in alerts)

    page = text(as_user(client, teams["manager"]).get(reverse("leads:team")))
    assert "Lena Spät" in page and "Sina Bald" in page
    assert f'data-lead="{other_team.pk}"' not in page.split('id="breaches"')[1].split("</section>")[0]
    assert "Give to Free Rep" in page


def test_an_admin_sees_every_teams_clocks(client, teams, admin_user):
    lead = LeadFactory(stage=Stage.MQL, owner=teams["elsewhere"])
    clock(lead, due_in=-dt.timedelta(minutes=5))
    assert [alert.clock.lead_id for alert in selectors.team_clock_alerts(admin_user)] == [lead.pk]


def test_one_click_reassigns_the_lead_and_returns_to_the_board(client, teams):
    lead = LeadFactory(stage=Stage.MQL, owner=teams["late"])
    clock(lead, due_in=-dt.timedelta(hours=1))
    response = as_user(client, teams["manager"]).post(
        reverse("leads:assign", args=[lead.pk]), {"owner": "free", "next": reverse("leads:team")}
    )
    assert response.status_code == 302 and response["Location"] == reverse("leads:team")
    assert Lead.objects.get(pk=lead.pk).owner == teams["free"]
    assert LeadTransition.objects.filter(lead=lead, name="assign").exists()


def test_reassigning_to_an_unknown_user_names_the_field_and_changes_nothing(client, teams):
    lead = LeadFactory(stage=Stage.MQL, owner=teams["late"])
    response = as_user(client, teams["manager"]).post(
        reverse("leads:assign", args=[lead.pk]), {"owner": "nobody-here", "next": reverse("leads:team")}
    )
    assert response.status_code == 400
    assert Lead.objects.get(pk=lead.pk).owner == teams["late"]
    assert not LeadTransition.objects.filter(lead=lead).exists()


def test_a_board_without_alerts_says_so(client, teams):
    assert 'data-testid="no-breaches"' in text(as_user(client, teams["manager"]).get(reverse("leads:team")))

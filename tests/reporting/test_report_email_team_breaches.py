"""The manager's breach list in the report e-mail: breached and due-soon clocks of the manager's teams, with
a link to the team board where one click reassigns."""

import datetime as dt

import pytest
from django.utils import timezone

from core.vocabulary import Role, Stage
from leads.models import SlaClock
from reporting import email as report_email
from reporting.models import Frequency, Scope
from routing.models import Rep, Team
from tests.factories import LeadFactory, UserFactory
from tests.sla_helpers import ACCEPT, policy

pytestmark = pytest.mark.django_db


def report_for(user):
    today = timezone.localdate()
    period = report_email.Period(Frequency.DAILY, today, today)
    return report_email.build(user, frequency=Frequency.DAILY, scope=Scope.ALL, period=period)


@pytest.fixture
def breach():
    manager = UserFactory(username="boss", role=Role.MANAGER)
    team = Team.objects.create(name="Inside Sales", slug="inside", manager=manager)
    late = UserFactory(username="late", first_name="Lars", last_name="Late", role=Role.SDR)
    free = UserFactory(username="free", first_name="Frida", last_name="Free", role=Role.SDR)
    for user in (late, free):
        Rep.objects.create(user=user, team=team, capacity=10)
    lead = LeadFactory(stage=Stage.MQL, owner=late, first_name="Lena", last_name="Vogel")
    now = timezone.now()
    SlaClock.objects.create(lead=lead, policy=policy(ACCEPT), stage=Stage.MQL, owner=late,
                            started_at=now - dt.timedelta(hours=6), due_at=now - dt.timedelta(hours=2))
    return manager, lead


def test_the_managers_report_lists_the_teams_breaches_with_the_one_click_suggestion(breach):
    manager, lead = breach
    report = report_for(manager)
    html, text = report_email.html(report), report_email.text(report)
    section = html.split('data-section="team-breaches"')[1].split("</table>")[0]
    assert "Lena Vogel" in section and "Lars Late" in section and "breached" in section
    assert "Give to Frida Free" in section and "http://127.0.0.1:8000/team/#breaches" in section
    assert f"http://127.0.0.1:8000/leads/{lead.pk}/" in section
    assert "Lena Vogel (MQL accepted within 4 business hours, Lars Late, breached" in text
    assert "give to Frida Free" in text
    table = next(t for t in report.tables if t.key == "team_breaches")
    assert [row["lead"] for row in table.rows] == ["Lena Vogel"]


def test_a_report_for_someone_who_manages_nothing_has_no_team_section(breach, marketing):
    report = report_for(marketing)
    assert 'data-section="team-breaches"' not in report_email.html(report)
    assert "Your teams" not in report_email.text(report)
    assert all(t.key != "team_breaches" for t in report.tables)

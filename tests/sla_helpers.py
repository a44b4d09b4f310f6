"""Shared set-up for the SLA tests: the seeded policies, a Munich calendar, a routed team."""

import datetime as dt
from zoneinfo import ZoneInfo

from core.vocabulary import Role
from leads.models import SlaClock
from routing.models import BusinessCalendar, Rep, RoutingRule, SlaPolicy, Team
from tests.factories import UserFactory

BERLIN = ZoneInfo("Europe/Berlin")

SPEED = "Speed to lead: first contact within 5 minutes of assignment"
ACCEPT = "MQL accepted within 4 business hours"
SAL = "SAL qualified or recycled within 10 business days"
SQL = "SQL to opportunity within 6 weeks"
STALE = "Stale opportunity: 30 days past its close date"
POOL = "MQL in the pool picked up within 1 business hour"


def berlin(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


def policy(name: str) -> SlaPolicy:
    return SlaPolicy.objects.get(name=name)


def only_policies(*names: str) -> None:
    """Switch every seeded policy off except these."""
    SlaPolicy.objects.exclude(name__in=names).update(is_active=False)


def munich_business_hours() -> BusinessCalendar:
    """The seeded business calendar, set to Bavarian holidays (9-17 Mon-Fri, Europe/Berlin)."""
    calendar = BusinessCalendar.objects.get(name__startswith="Business hours")
    calendar.holiday_country, calendar.holiday_subdivision, calendar.time_zone = "DE", "BY", "Europe/Berlin"
    calendar.save()
    return calendar


def make_team(*, reps=2, manager=None):
    team = Team.objects.create(name="Inside Sales", slug="inside-sales", manager=manager)
    members = []
    for number in range(1, reps + 1):
        user = UserFactory(username=f"sdr{number}", role=Role.SDR)
        members.append(Rep.objects.create(user=user, team=team, capacity=50))
    RoutingRule.objects.create(name="Everyone to inside sales", position=10, target_type="team", target_team=team,
                               method="round_robin")
    return team, [rep.user for rep in members]


def clocks(lead, *, running=None):
    found = SlaClock.objects.filter(lead=lead).select_related("policy", "owner").order_by("id")
    if running is not None:
        found = found.filter(stopped_at__isnull=running)
    return list(found)


def clock_of(lead, name: str, *, running=True) -> SlaClock | None:
    return next((c for c in clocks(lead, running=running) if c.policy.name == name), None)


def running_names(lead) -> set[str]:
    return {clock.policy.name for clock in clocks(lead, running=True)}

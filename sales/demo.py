"""Demo data of the sales app: closing team "Closing DACH" with ae1 and ae2, the routing rule that sends
the demo SDR team's new SQLs to it, and opportunities (open and closed, with stakeholders) for the demo's
deals. Idempotent and deterministic (ids and positions only, no randomness)."""

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group

from core.vocabulary import Role, SalesOutcome, StakeholderRole
from leads.models import Lead, LeadTransition
from routing import policy
from routing.models import Rep, RoutingRule, Team
from sales import backfill, selectors, services
from sales.models import Opportunity, OpportunityStageChange, Pipeline, SalesStage, Stakeholder

AES = (("ae1", "Anna", "Abschluss"), ("ae2", "Bernd", "Vertrag"))


def ensure_closing_team(users: dict) -> list:
    """Closing DACH with ae1 and ae2 (DEMO_PASSWORD) and the rule that hands it new SQLs; returns the AEs."""
    password = make_password(settings.DEMO_PASSWORD)
    sellers = Group.objects.get(name=Role.SDR)  # account executives sell: the SDR role, on a closing team
    team, _created = Team.objects.update_or_create(
        slug="closing-dach",
        defaults={
            "name": "Closing DACH",
            "kind": policy.TEAM_CLOSING,
            "manager": users.get("manager"),
            "first_meeting_sla_hours": 48,
        },
    )
    aes = []
    for username, first_name, last_name in AES:
        user, _created = get_user_model().objects.get_or_create(username=username)
        user.first_name, user.last_name, user.email = first_name, last_name, f"{username}@leadwerk.example"
        user.password, user.is_active = password, True
        user.save()
        user.groups.set([sellers])
        Rep.objects.update_or_create(user=user, defaults={"team": team, "capacity": 40, "time_zone": "Europe/Berlin"})
        aes.append(user)
    RoutingRule.objects.update_or_create(
        name="New SQLs to Closing DACH",
        defaults={"position": 5, "target_type": policy.TARGET_TEAM, "target_team": team, "method": policy.ROUND_ROBIN},
    )
    return aes


def seed(now: dt.datetime, users: dict) -> None:
    """The closing team, and opportunities for the leads that have none yet (the hand-off made the rest)."""
    aes = ensure_closing_team(users)
    team = Team.objects.get(slug="closing-dach")
    backfill.backfill(
        Lead=Lead,
        LeadTransition=LeadTransition,
        Pipeline=Pipeline,
        SalesStage=SalesStage,
        Opportunity=Opportunity,
        OpportunityStageChange=OpportunityStageChange,
        currency=settings.SALES_CURRENCIES[0],
    )
    stages = selectors.stages_of(selectors.default_pipeline())
    roles = list(StakeholderRole.values)
    for index, opportunity in enumerate(Opportunity.objects.filter(team__isnull=True).order_by("pk")):
        opportunity.owner, opportunity.team = aes[index % len(aes)], team
        if opportunity.outcome == SalesOutcome.OPEN:
            opportunity.stage = stages[index % len(stages)]
            opportunity.next_step = "Follow-up call"
            opportunity.next_step_on = now.date() + dt.timedelta(days=3 + index % 10)
            if opportunity.close_date and index % 4 == 0:  # some deals slipped
                opportunity.close_date = opportunity.close_date + dt.timedelta(days=30)
        opportunity.save()
        contact = services.ensure_contact(opportunity.lead)
        if contact.account_id == opportunity.account_id:
            Stakeholder.objects.get_or_create(opportunity=opportunity, contact=contact, role=roles[index % len(roles)])

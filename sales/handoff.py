"""The SDR-to-AE hand-off: when an SDR team's lead is qualified (or its opportunity opened, as the team is
set), routing gives the opportunity to an account executive of a closing team.

The same engine as lead routing (`routing.rotation.route` -> the pure `routing.policy.choose_owner`) with
the rules that target closing teams: methods, capacity (open opportunities), availability and the "why
this owner" trace are lead routing's. Team rows are locked, so concurrent hand-offs rotate fairly and
never push an AE past capacity. The SDR keeps "sourced by" credit; SDR and AE are told at once (in-app
and e-mail on commit). No rule for a closing team: nothing happens, everything works as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from core.vocabulary import ActivityKind, EventType, NotificationKind, SalesOutcome
from leads import clocks, lifecycle
from leads.models import Activity, Lead
from routing import policy as routing_policy
from routing import rotation as routing_rotation
from routing import selectors as routing_selectors
from routing.models import Rep, Team
from sales import selectors, services
from sales.models import Opportunity


def open_opportunity_loads(user_ids: Collection[int]) -> dict[int, int]:
    """Open opportunities per account executive: their load against their rep capacity."""
    rows = (
        Opportunity.objects.filter(owner_id__in=list(user_ids), outcome=SalesOutcome.OPEN)
        .values("owner_id")
        .annotate(open=Count("id"))
        .values_list("owner_id", "open")
    )
    return dict(rows)


def should_hand_off(lead: Lead, transition: str) -> bool:
    """Is `transition` the moment this lead's SDR team hands off (qualify by default)?"""
    if transition not in ("qualify", "open_opportunity"):
        return False
    team = routing_selectors.team_of(lead.owner_id)
    if team is not None and team.kind == routing_policy.TEAM_CLOSING:
        return False
    return (team.hand_off_on if team is not None else "qualify") == transition


def on_transition(*, lead_id: int, transition: str, now: dt.datetime | None = None) -> Opportunity | None:
    """What the sales app does when it hears of a lead's transition (the outbox consumer calls this)."""
    lead = Lead.objects.filter(pk=lead_id).first()
    if lead is None:
        return None
    if transition == "qualify":
        services.ensure_contact(lead)
    if not should_hand_off(lead, transition):
        return None
    return hand_off(lead_id=lead_id, now=now)


@transaction.atomic
def hand_off(*, lead_id: int, now: dt.datetime | None = None) -> Opportunity | None:
    """Give the lead's opportunity to an AE. Idempotent: a lead already handed off keeps its opportunity.

    Returns the opportunity, or None when no routing rule targets a closing team for this lead.
    """
    now = now or timezone.now()
    lead = Lead.objects.select_for_update(of=("self",)).select_related("owner", "account", "campaign").get(pk=lead_id)
    existing = lead.opportunities.filter(outcome=SalesOutcome.OPEN, team__isnull=False).first()
    if existing is not None:
        return existing
    decision = routing_rotation.route(
        lifecycle.routing_facts(lead),
        open_loads=open_opportunity_loads,
        now=now,
        kind=routing_policy.TEAM_CLOSING,
    )
    if decision.rule_id is None:
        return None
    team = _team_of_decision(decision)
    pipeline = selectors.default_pipeline()
    contact = services.ensure_contact(lead)
    owner = get_user_model().objects.get(pk=decision.owner_user_id) if decision.owner_user_id else None
    opportunity = Opportunity.objects.create(
        name=lead.company or _("Opportunity of lead %(id)s") % {"id": lead.pk},
        account_id=lead.account_id,
        lead=lead,
        pipeline=pipeline,
        stage=selectors.stages_of(pipeline)[0],
        value=lead.deal_value,
        currency=services.currencies()[0],
        close_date=lead.close_date,
        first_close_date=lead.close_date,
        owner=owner,
        team=team,
        sourced_by=lead.owner,
        assignment=decision.as_trace(),
        created_at=now,
        first_meeting_due_at=(
            now + dt.timedelta(hours=team.first_meeting_sla_hours) if team and team.first_meeting_sla_hours else None
        ),
    )
    if owner is not None:
        # The AE's first-meeting clock (SLA policies that start on `ae_assigned`, on their business calendar):
        # its due replaces the team's plain hours; a meeting logged on the lead stops it, the sweep escalates.
        clock = clocks.on_ae_assigned(lead, ae_id=owner.pk, now=now)
        if clock is not None:
            opportunity.first_meeting_due_at = clock.due_at
            opportunity.save(update_fields=["first_meeting_due_at"])
    services._log(
        opportunity,
        name="assign",
        target=owner.get_username() if owner else "",
        reason=decision.reason,
        data={"rule": decision.rule_name, "method": decision.method, "contact": contact.pk},
        at=now,
    )
    _notify(opportunity, lead=lead, owner=owner, team=team, decision=decision)
    return opportunity


def _team_of_decision(decision: routing_policy.Decision) -> Team | None:
    if decision.owner_user_id is not None:
        rep = Rep.objects.filter(user_id=decision.owner_user_id).select_related("team").first()
        if rep is not None:
            return rep.team
    team_id = decision.notify_manager_of_team_id
    if team_id is None:
        rule = next(
            (r for r in routing_selectors.rule_specs(routing_policy.TEAM_CLOSING) if r.id == decision.rule_id), None
        )
        team_id = rule.target_team_id if rule else None
    return Team.objects.filter(pk=team_id).first() if team_id else None


def _notify(opportunity, *, lead, owner, team, decision) -> None:
    words = {"lead": lead.display_name, "opportunity": opportunity.name}
    if owner is not None:
        lifecycle.notify(
            user=owner,
            lead=lead,
            kind=NotificationKind.ASSIGNMENT,
            key=f"handoff:{opportunity.pk}:ae",
            message=_("New opportunity %(opportunity)s (%(lead)s) handed to you.") % words,
        )
    if lead.owner is not None:
        words["owner"] = (owner.get_full_name() or owner.get_username()) if owner else _("the closing team's pool")
        lifecycle.notify(
            user=lead.owner,
            lead=lead,
            kind=NotificationKind.ASSIGNMENT,
            key=f"handoff:{opportunity.pk}:sdr",
            message=_("%(lead)s was handed to %(owner)s; you keep the sourced-by credit.") % words,
        )
    if owner is None and team is not None and team.manager_id:
        lifecycle.notify(
            user=team.manager,
            lead=lead,
            kind=NotificationKind.POOL,
            key=f"handoff:{opportunity.pk}:pool",
            message=_("%(opportunity)s waits in the closing team's pool: no account executive was available.") % words,
        )


def first_meeting_overdue(now: dt.datetime | None = None):
    """Opportunities whose AE has not met the customer by the closing team's first-meeting SLA."""
    now = now or timezone.now()
    return Opportunity.objects.filter(
        outcome=SalesOutcome.OPEN, first_meeting_due_at__lt=now, first_meeting_at__isnull=True
    )


def note_meeting(*, lead_id: int, activity_id: int) -> int:
    """A meeting was logged on the lead: it is the first meeting of its open opportunities that had none.
    Idempotent (only empty `first_meeting_at` is set). Returns how many opportunities it met."""
    activity = Activity.objects.filter(pk=activity_id, lead_id=lead_id, kind=ActivityKind.MEETING).first()
    if activity is None:
        return 0
    return Opportunity.objects.filter(
        lead_id=lead_id, outcome=SalesOutcome.OPEN, first_meeting_at__isnull=True, created_at__lte=activity.occurred_at
    ).update(first_meeting_at=activity.occurred_at)


def consume(events) -> None:
    """The outbox consumer (registered in SalesConfig.ready): hand off on qualify / open_opportunity; note
    the first meeting of an opportunity when a meeting is logged on its lead.

    At least once and in id order: `hand_off` is idempotent per lead, `ensure_contact` and `note_meeting` too."""
    for event in events:
        payload = event.payload or {}
        transition = payload.get("transition")
        if event.lead_id and transition in ("qualify", "open_opportunity"):
            on_transition(lead_id=event.lead_id, transition=transition)
        elif event.lead_id and event.type == EventType.ACTIVITY_LOGGED and payload.get("kind") == ActivityKind.MEETING:
            note_meeting(lead_id=event.lead_id, activity_id=payload.get("activity"))

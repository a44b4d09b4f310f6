"""SLA clocks on leads: started and stopped inside the lifecycle's transaction, with the lead row locked, so a
clock never disagrees with the event that started or stopped it.

Routing owns the policies, calendars and the pure decisions (`routing.sla_policy`, `routing.calendar`); this
module applies them to the clocks of one lead:

- `on_transition` and `on_owner_change` (called by `leads.lifecycle`), `on_ae_assigned` (called by the sales
  hand-off: the AE's first-meeting clock), `on_contact_attempt` (called by
  `leads.activities.log_activity`, which then applies the recycling rule, `leads.sla.recycling`);
- the policies: few, read once per sweep (`load_policies`), and for starting clocks a per-process copy checked
  against a fingerprint of the configuration tables (`current_policies`);
- `backfill_speed_to_lead` and `backfill_clocks` for data written in bulk (the data migration, the demo data).

It fires no transition. What acts on leads through the lifecycle (the sweep, its escalation actions, the
recycling rule) is the `leads.sla` package, above the lifecycle. This module stays outside that package: the
acyclic-siblings check counts a package as one node, so the lifecycle calling into `leads.sla` while `leads.sla`
calls the lifecycle would be a cycle.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass

from django.db import connection
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone
from psycopg import sql

from core.vocabulary import ASSIGNMENTS, CLOSED_STAGES, CONTACT_KINDS, WORKED_STAGES, Stage, TransitionName
from leads.models import Activity, Lead, LeadTransition, SlaClock
from routing import calendar as routing_calendar
from routing import sla_policy
from routing.models import BusinessCalendar, CalendarClosure, EscalationStep, SlaPolicy

logger = logging.getLogger(__name__)


# --- starting and stopping (inside the lifecycle's transaction, lead locked) ----------------------------


def on_transition(lead: Lead, *, name: str, source: str, now: dt.datetime) -> None:
    """A transition fired: stop the clocks it ends, start the clocks the new stage begins."""
    running = _running(lead)
    decisions = sla_policy.stops_for_transition(
        [_running_spec(clock) for clock in running], name=name, source=source, target=lead.stage,
        owner_id=lead.owner_id,
    )
    _apply_stops(running, decisions, now=now)
    if lead.stage == source:
        return
    policies = current_policies()
    starting = policies.starting(starts_on=sla_policy.STAGE_ENTERED, stage=lead.stage)
    if lead.owner_id is not None:  # an owned lead entering the stage has had its owner there since entry
        starting += policies.starting(starts_on=sla_policy.OWNER_ASSIGNED, stage=lead.stage, any_stage=False)
    for policy in starting:
        start(lead, policy, now=now, owner_id=lead.owner_id, running=running)


def on_owner_change(lead: Lead, *, now: dt.datetime) -> None:
    """The lead's owner changed (route, assign, claim, release, reassign): the old owner's clocks end, the
    new owner's begin."""
    running = _running(lead)
    decisions = sla_policy.stops_for_owner_change(
        [_running_spec(clock) for clock in running], new_owner_id=lead.owner_id
    )
    _apply_stops(running, decisions, now=now)
    if lead.owner_id is None:
        if lead.stage == Stage.MQL:  # released back to the pool
            on_pool_entered(lead, now=now)
        return
    for policy in current_policies().starting(starts_on=sla_policy.OWNER_ASSIGNED, stage=lead.stage):
        start(lead, policy, now=now, owner_id=lead.owner_id, running=running)


def on_ae_assigned(lead: Lead, *, ae_id: int, now: dt.datetime) -> SlaClock | None:
    """The hand-off gave the lead's opportunity to an account executive (`sales.handoff`, lead locked): start
    the AE's clocks (policies that start on `ae_assigned`; they stop at the first meeting logged). The lead's
    owner stays the SDR; the clock's owner is the AE. Returns the clock due first, or None."""
    started = [
        clock for policy in current_policies().starting(starts_on=sla_policy.AE_ASSIGNED, stage=lead.stage)
        if (clock := start(lead, policy, now=now, owner_id=ae_id)) is not None
    ]
    return min(started, key=lambda clock: clock.due_at, default=None)


def on_pool_entered(lead: Lead, *, now: dt.datetime) -> None:
    """An MQL waits unowned in the pool (routing found nobody, or it was released): the pool policies'
    clocks start; getting an owner meets them (`sla_policy.stops_for_owner_change`)."""
    for policy in current_policies().starting(starts_on=sla_policy.POOL_ENTERED, stage=lead.stage):
        start(lead, policy, now=now, owner_id=None)


def on_contact_attempt(*, lead_id: int, activity: Activity, now: dt.datetime) -> Lead | None:
    """A call, e-mail, LinkedIn message or meeting was logged (inside `activities.log_activity`, lead locked):
    note the first contact and stop the clocks that wait for it. Returns the lead as it is now (for the
    recycling rule, which the caller applies next), or None when the activity is no contact attempt."""
    if activity.kind not in CONTACT_KINDS:
        return None
    lead = Lead.objects.get(pk=lead_id)
    if lead.first_contact_at is None and lead.stage not in CLOSED_STAGES:
        Lead.objects.filter(pk=lead.pk, first_contact_at__isnull=True).update(
            first_contact_at=activity.occurred_at, updated_at=timezone.now()
        )
    running = _running(lead)
    stops = sla_policy.stops_for_contact_attempt([_running_spec(clock) for clock in running], kind=activity.kind)
    by_id = {clock.pk: clock for clock in running}
    for decision in stops:
        clock = by_id[decision.clock_id]
        met_at = min(max(activity.occurred_at, clock.started_at), now)  # when it happened, within the clock
        stop(clock, now=now, met_at=met_at, reason=decision.reason)
    return lead


# --- policies and calendars: few, read once per sweep, cached per process for starting clocks ------------


@dataclass(frozen=True)
class PolicySet:
    """Every SLA policy (active or not) with its calendar, the calendar's closures and its steps loaded, and
    the pure spec of each."""

    policies: dict[int, SlaPolicy]
    specs: dict[int, sla_policy.PolicySpec]

    def starting(self, *, starts_on: str, stage: str, any_stage: bool = True) -> list[SlaPolicy]:
        """Active policies started by this event in this stage (owner-assigned ones without a stage too)."""
        if starts_on == sla_policy.OWNER_ASSIGNED and stage in CLOSED_STAGES:
            return []
        owner_kind = starts_on in (sla_policy.OWNER_ASSIGNED, sla_policy.AE_ASSIGNED)
        stages = {stage, ""} if owner_kind and any_stage else {stage}
        return [
            policy for _pk, policy in sorted(self.policies.items())
            if policy.is_active and policy.starts_on == starts_on and policy.stage in stages
        ]


def load_policies() -> PolicySet:
    """Read every policy with its calendar, closures and steps (three statements)."""
    policies = list(
        SlaPolicy.objects.select_related("calendar").prefetch_related("calendar__closures", "steps").order_by("pk")
    )
    return PolicySet(policies={policy.pk: policy for policy in policies},
                     specs={policy.pk: policy.as_spec() for policy in policies})


# The row versions of the four configuration tables in one value: the ORM cannot read the system columns
# `xmin` and `ctid`. Any insert, update (also QuerySet.update(), which sends no signal), delete or rolled-back
# change gives another fingerprint: a new row version always gets a new (xmin, ctid), also when the same
# transaction changes a row twice.
_FINGERPRINT_SQL = sql.SQL("""
    SELECT md5(coalesce(string_agg(version, ',' ORDER BY version), '')) FROM (
        SELECT 'p' || xmin || ctid AS version FROM {policy}
        UNION ALL SELECT 's' || xmin || ctid FROM {step}
        UNION ALL SELECT 'c' || xmin || ctid FROM {calendar}
        UNION ALL SELECT 'x' || xmin || ctid FROM {closure}
    ) AS versions
""").format(
    policy=sql.Identifier(SlaPolicy._meta.db_table), step=sql.Identifier(EscalationStep._meta.db_table),
    calendar=sql.Identifier(BusinessCalendar._meta.db_table), closure=sql.Identifier(CalendarClosure._meta.db_table),
)
_cached_policies: tuple[str, PolicySet] | None = None


def current_policies() -> PolicySet:
    """The policies for starting clocks, cached per process: one cheap statement (the fingerprint of the
    configuration tables) instead of reading policies and calendars on every transition and assignment.
    An edit anywhere (admin, shell, another process, a data migration) is seen at the next call."""
    global _cached_policies

    with connection.cursor() as cursor:
        cursor.execute(_FINGERPRINT_SQL)
        fingerprint = cursor.fetchone()[0]
    cached = _cached_policies
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    # Read after the fingerprint: a change committed in between is newer than the fingerprint it is stored
    # under, so the next call reads again (never the other way round).
    loaded = load_policies()
    _cached_policies = (fingerprint, loaded)
    return loaded


# --- one clock ------------------------------------------------------------------------------------------


def start(
    lead: Lead, policy: SlaPolicy, *, now: dt.datetime, owner_id: int | None, running: list[SlaClock] | None = None
) -> SlaClock | None:
    """Start a clock of `policy` (cancelling its running one). `running`: the lead's running clocks when the
    caller has just read them (inside its transaction, lead locked), so they are not read again."""
    spec = policy.as_spec(steps=())  # steps are read by the sweep when they are due
    try:
        due_at = sla_policy.due(spec, event_at=now, close_date=lead.close_date)
    except routing_calendar.CalendarNeverOpen:
        logger.warning("SLA policy %s: calendar %s is never open; counting plain time", policy.pk, policy.calendar_id)
        around_the_clock = routing_calendar.CalendarSpec.build(time_zone=spec.calendar.time_zone, always_open=True)
        due_at = sla_policy.due(
            dataclasses.replace(spec, calendar=around_the_clock), event_at=now, close_date=lead.close_date
        )
    if due_at is None:
        return None  # counts from a close date the lead does not have
    if running is None:
        running = list(SlaClock.objects.filter(lead=lead, policy=policy, stopped_at__isnull=True))
    for clock in running:
        if clock.policy_id == policy.pk and clock.stopped_at is None:
            stop(clock, now=now, met_at=None, reason=sla_policy.CANCEL_RESTARTED)
    return SlaClock.objects.create(
        lead=lead, policy=policy, stage=lead.stage, owner_id=owner_id, started_at=now, due_at=due_at,
        next_step_at=due_at,
    )


def stop(clock: SlaClock, *, now: dt.datetime, met_at: dt.datetime | None, reason: str) -> None:
    """Stop a running clock: met at `met_at`, or cancelled (None) for `reason`."""
    clock.stopped_at = now
    clock.met_at = met_at
    clock.stop_reason = reason[:64]
    clock.next_step_at = None
    clock.breached = clock.breached or (met_at or now) > clock.due_at
    clock.save(update_fields=["stopped_at", "met_at", "stop_reason", "next_step_at", "breached"])


def _running(lead: Lead) -> list[SlaClock]:
    return list(SlaClock.objects.filter(lead_id=lead.pk, stopped_at__isnull=True).select_related("policy"))


def _running_spec(clock: SlaClock) -> sla_policy.RunningClock:
    return sla_policy.RunningClock(
        id=clock.pk, policy_id=clock.policy_id, stage=clock.stage, owner_id=clock.owner_id,
        starts_on=clock.policy.starts_on, stops_on=clock.policy.stops_on,
    )


def _apply_stops(running: list[SlaClock], decisions: list[sla_policy.Stop], *, now: dt.datetime) -> None:
    by_id = {clock.pk: clock for clock in running}
    for decision in decisions:
        stop(by_id[decision.clock_id], now=now, met_at=now if decision.met else None, reason=decision.reason)


# --- backfills (data written in bulk) -------------------------------------------------------------------


def backfill_speed_to_lead(*, lead_model=Lead, transition_model=LeadTransition, activity_model=Activity) -> int:
    """Fill `became_mql_at`, `mql_assigned_at` and `first_contact_at` from the history of leads that have
    none yet (data written before they existed, or bulk-written demo data). Three UPDATEs; returns how many
    leads got `became_mql_at`. Takes the models so the data migration can pass its historical ones."""
    latest_mql = transition_model.objects.filter(
        lead=OuterRef("pk"), name=TransitionName.MARK_MQL
    ).order_by("-at", "-id")
    count = lead_model.objects.filter(became_mql_at__isnull=True).filter(Exists(latest_mql)).update(
        became_mql_at=Subquery(latest_mql.values("at")[:1])
    )
    first_owner = transition_model.objects.filter(
        lead=OuterRef("pk"), name__in=list(ASSIGNMENTS), at__gte=OuterRef("became_mql_at")
    ).exclude(data__to_owner=None).order_by("at", "id")
    lead_model.objects.filter(became_mql_at__isnull=False, mql_assigned_at__isnull=True).filter(
        Exists(first_owner)
    ).update(mql_assigned_at=Subquery(first_owner.values("at")[:1]))
    first_contact = activity_model.objects.filter(
        lead=OuterRef("pk"), kind__in=list(CONTACT_KINDS), occurred_at__gte=OuterRef("became_mql_at")
    ).order_by("occurred_at", "id")
    lead_model.objects.filter(became_mql_at__isnull=False, first_contact_at__isnull=True).filter(
        Exists(first_contact)
    ).update(first_contact_at=Subquery(first_contact.values("occurred_at")[:1]))
    return count


def backfill_clocks(*, now: dt.datetime | None = None) -> int:
    """Start the clocks open leads would have had, from when their stage and owner began (for leads written
    in bulk, e.g. the demo data). Escalation steps whose time has already passed are recorded as done, not
    run: backfilling history must not flood owners and managers with old warnings or reassign leads."""
    now = now or timezone.now()
    started = 0
    open_leads = Lead.objects.filter(
        stage__in=WORKED_STAGES
    ).exclude(sla_clocks__isnull=False)
    policies = load_policies()
    for lead in open_leads.iterator():
        events = [
            (policy, lead.stage_entered_at)
            for policy in policies.starting(starts_on=sla_policy.STAGE_ENTERED, stage=lead.stage)
        ]
        if lead.owner_id is not None:
            for policy in policies.starting(starts_on=sla_policy.OWNER_ASSIGNED, stage=lead.stage):
                events.append((policy, max(lead.assigned_at or lead.stage_entered_at, lead.stage_entered_at)))
        elif lead.stage == Stage.MQL:  # waiting in the pool since it became an MQL
            events += [(policy, lead.stage_entered_at)
                       for policy in policies.starting(starts_on=sla_policy.POOL_ENTERED, stage=lead.stage)]
        for policy, began in events:
            clock = start(lead, policy, now=began, owner_id=lead.owner_id)
            if clock is None:
                continue
            started += 1
            if clock.due_at <= now:
                spec = policies.specs[policy.pk]
                done = 0
                while (step_at := sla_policy.step_time(spec, due_at=clock.due_at, number=done + 1)) and step_at <= now:
                    done += 1
                SlaClock.objects.filter(pk=clock.pk).update(
                    breached=True, step=done,
                    next_step_at=sla_policy.step_time(spec, due_at=clock.due_at, number=done + 1),
                )
    return started

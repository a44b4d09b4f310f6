"""SLA clocks on leads: started and stopped with the lifecycle, escalated by the sweep, read by lists.

Routing owns the policies, calendars and the pure decisions (`routing.sla_policy`, `routing.calendar`);
this module applies them to leads:

- `on_transition`, `on_owner_change` (called by `leads.lifecycle`) and `on_contact_attempt` (called by
  `leads.activities.log_activity`) start and stop clocks inside the caller's transaction, with the lead
  row locked, so a clock never disagrees with the event that started or stopped it.
- `sweep()` runs every minute (`leads.tasks.sla_sweep`). It finds clocks whose next look is due through
  a partial index, records the breach, and runs each escalation step exactly once, set-based: a batch of
  clocks per transaction, clocks and leads locked with SKIP LOCKED (a second worker skips them), the steps
  claimed with one conditional UPDATE ... WHERE step = k, logged as `SlaEscalation` rows whose
  (clock, step) is unique, and committed together with the steps' notifications. Steps that change the
  lead (reassign, release, recycle) run one per transaction through the lifecycle (`advance`). A worker
  that dies before the commit leaves nothing, so the redelivered task (or the next minute's sweep) does
  the step once. After an outage every overdue step runs once, not once per missed minute.
- Policies and calendars are few: the sweep reads them once per run, and clock starts use a per-process
  copy checked against a fingerprint of the configuration tables (`current_policies`).
- `annotate()`, `stalled_q()` and friends are the reads that lists, the queue and the API share.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import time
from dataclasses import dataclass
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import (
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from core.vocabulary import CLOSED_STAGES, CONTACT_KINDS, WORKED_STAGES, Outcome, Role, Stage
from leads.models import Activity, JobRun, Lead, Notification, SlaClock, SlaEscalation
from routing import calendar as routing_calendar
from routing import sla_policy
from routing.models import RecyclingRule, Rep, SlaPolicy, StallThreshold

logger = logging.getLogger(__name__)

SWEEP_JOB = "sla_sweep"
SWEEP_BATCH = 5000  # clocks per transaction (a few statements each)
SWEEP_BUDGET_SECONDS = 45  # below the queue's timeout (60 s): the next minute's sweep takes the rest
HEALTHY_SWEEP_AGE = dt.timedelta(minutes=3)


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
        _start(lead, policy, now=now, owner_id=lead.owner_id, running=running)


def on_owner_change(lead: Lead, *, now: dt.datetime) -> None:
    """The lead's owner changed (route, assign, claim, release, reassign): the old owner's clocks end, the
    new owner's begin."""
    running = _running(lead)
    decisions = sla_policy.stops_for_owner_change(
        [_running_spec(clock) for clock in running], new_owner_id=lead.owner_id
    )
    _apply_stops(running, decisions, now=now)
    if lead.owner_id is None:
        return
    for policy in current_policies().starting(starts_on=sla_policy.OWNER_ASSIGNED, stage=lead.stage):
        _start(lead, policy, now=now, owner_id=lead.owner_id, running=running)


def on_contact_attempt(*, lead_id: int, activity: Activity) -> None:
    """A call, e-mail, LinkedIn message or meeting was logged (inside `activities.log_activity`, lead locked):
    note the first contact, stop the clocks that wait for it, and apply the recycling rule to a SAL."""
    if activity.kind not in CONTACT_KINDS:
        return
    now = timezone.now()
    lead = Lead.objects.get(pk=lead_id)
    if lead.first_contact_at is None and lead.stage not in CLOSED_STAGES:
        Lead.objects.filter(pk=lead.pk, first_contact_at__isnull=True).update(first_contact_at=activity.occurred_at)
    running = _running(lead)
    stops = sla_policy.stops_for_contact_attempt([_running_spec(clock) for clock in running])
    by_id = {clock.pk: clock for clock in running}
    for stop in stops:
        clock = by_id[stop.clock_id]
        met_at = min(max(activity.occurred_at, clock.started_at), now)  # when it happened, within the clock
        _stop(clock, now=now, met_at=met_at, reason=stop.reason)
    if lead.stage == Stage.SAL:
        apply_recycling_rule(lead=lead, now=now)


def apply_recycling_rule(*, lead: Lead, now: dt.datetime) -> bool:
    """Recycle a SAL after N contact attempts without a connection within M days; the reason is written out."""
    rule = RecyclingRule.objects.filter(is_enabled=True).order_by("id").first()
    if rule is None:
        return False
    since = lead.stage_entered_at
    attempts = [
        sla_policy.Attempt(at=occurred_at, connected=outcome == Outcome.CONNECTED)
        for occurred_at, outcome in Activity.objects.filter(
            lead_id=lead.pk, kind__in=CONTACT_KINDS, occurred_at__gte=max(since, now - dt.timedelta(days=rule.days))
        ).values_list("occurred_at", "outcome")
    ]
    decision = sla_policy.recycling_decision(rule.as_spec(), attempts, since=since, now=now)
    if decision is None:
        return False
    from leads import lifecycle

    reason = _("No contact after %(attempts)s attempts in %(days)s days") % {
        "attempts": decision.attempts, "days": decision.days
    }
    lifecycle.fire(lead_id=lead.pk, name="recycle", by=None, parsed={"reason": reason})
    return True


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
        stages = {stage, ""} if starts_on == sla_policy.OWNER_ASSIGNED and any_stage else {stage}
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


# Row versions of the four configuration tables: any insert, update (also QuerySet.update(), which sends no
# signal), delete or rolled-back change gives another fingerprint. A new row version always gets a new
# (xmin, ctid), also when the same transaction changes a row twice.
_FINGERPRINT_SQL = """
    SELECT md5(coalesce(string_agg(version, ',' ORDER BY version), '')) FROM (
        SELECT 'p' || xmin || ctid AS version FROM {policy}
        UNION ALL SELECT 's' || xmin || ctid FROM {step}
        UNION ALL SELECT 'c' || xmin || ctid FROM {calendar}
        UNION ALL SELECT 'x' || xmin || ctid FROM {closure}
    ) AS versions
"""
_cached_policies: tuple[str, PolicySet] | None = None


def current_policies() -> PolicySet:
    """The policies for starting clocks, cached per process: one cheap statement (the fingerprint of the
    configuration tables) instead of reading policies and calendars on every transition and assignment.
    An edit anywhere (admin, shell, another process, a data migration) is seen at the next call."""
    global _cached_policies
    from routing.models import BusinessCalendar, CalendarClosure, EscalationStep

    with connection.cursor() as cursor:
        cursor.execute(_FINGERPRINT_SQL.format(
            policy=SlaPolicy._meta.db_table, step=EscalationStep._meta.db_table,
            calendar=BusinessCalendar._meta.db_table, closure=CalendarClosure._meta.db_table,
        ))
        fingerprint = cursor.fetchone()[0]
    cached = _cached_policies
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    # Read after the fingerprint: a change committed in between is newer than the fingerprint it is stored
    # under, so the next call reads again (never the other way round).
    loaded = load_policies()
    _cached_policies = (fingerprint, loaded)
    return loaded


def _start(
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
            _stop(clock, now=now, met_at=None, reason=sla_policy.CANCEL_RESTARTED)
    return SlaClock.objects.create(
        lead=lead, policy=policy, stage=lead.stage, owner_id=owner_id, started_at=now, due_at=due_at,
        next_step_at=due_at,
    )


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
        _stop(by_id[decision.clock_id], now=now, met_at=now if decision.met else None, reason=decision.reason)


def _stop(clock: SlaClock, *, now: dt.datetime, met_at: dt.datetime | None, reason: str) -> None:
    clock.stopped_at = now
    clock.met_at = met_at
    clock.stop_reason = reason[:64]
    clock.next_step_at = None
    clock.breached = clock.breached or (met_at or now) > clock.due_at
    clock.save(update_fields=["stopped_at", "met_at", "stop_reason", "next_step_at", "breached"])


def backfill_speed_to_lead(*, lead_model=Lead, transition_model=None, activity_model=Activity) -> int:
    """Fill `became_mql_at`, `mql_assigned_at` and `first_contact_at` from the history of leads that have
    none yet (data written before they existed, or bulk-written demo data). Three UPDATEs; returns how many
    leads got `became_mql_at`. Takes the models so the data migration can pass its historical ones."""
    from leads.models import LeadTransition

    transition_model = transition_model or LeadTransition
    latest_mql = transition_model.objects.filter(lead=OuterRef("pk"), name="mark_mql").order_by("-at", "-id")
    count = lead_model.objects.filter(became_mql_at__isnull=True).filter(Exists(latest_mql)).update(
        became_mql_at=Subquery(latest_mql.values("at")[:1])
    )
    first_owner = transition_model.objects.filter(
        lead=OuterRef("pk"), name__in=["assign", "claim"], at__gte=OuterRef("became_mql_at")
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
        for policy, began in events:
            clock = _start(lead, policy, now=began, owner_id=lead.owner_id)
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


# --- the sweep ------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    steps: int = 0
    breaches: int = 0
    skipped: int = 0
    failed: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    def add(self, other: SweepResult) -> None:
        for name, value in other.__dict__.items():
            setattr(self, name, getattr(self, name) + value)


# Steps whose only effect is a notification run set-based, a batch of clocks per statement; the steps that
# change the lead (reassign, release, recycle) go through the lifecycle one lead at a time (`advance`).
BULK_ACTIONS = frozenset({sla_policy.WARN_OWNER, sla_policy.NOTIFY_MANAGER})


def sweep(*, now: dt.datetime | None = None) -> SweepResult:
    """Every minute: record breaches and run due escalation steps, each exactly once. Safe to run twice
    at the same time, and again after a crash. Records its run for `manage.py health` and the admin.

    Set-based: a batch of due clocks (`SWEEP_BATCH`) is one transaction of a few statements: lock the clocks
    and their leads with SKIP LOCKED, then one statement that records the breaches, claims the due steps
    (`step = k+1 WHERE step = k`), sets the next looks and writes the claimed steps' escalation rows and
    notifications; their e-mails go out in one task per batch after the commit. Policies and calendars are
    read once per run. Only steps that change the lead (reassign, release, recycle) run one lead at a time
    (`advance`). A batch that fails is split until the failing clock is found."""
    started = timezone.now()
    JobRun.objects.update_or_create(name=SWEEP_JOB, defaults={"last_started_at": started})
    run = _SweepRun()
    deadline = time.monotonic() + SWEEP_BUDGET_SECONDS
    while time.monotonic() < deadline:
        moment = now or timezone.now()
        batch = _due_batch(moment, exclude=run.passed)
        if not batch:
            break
        run.sweep_batch(batch, now=moment)
    finished = timezone.now()
    JobRun.objects.filter(name=SWEEP_JOB).update(
        last_finished_at=finished, last_duration_ms=int((finished - started).total_seconds() * 1000),
        last_result=run.result.as_dict(), runs=F("runs") + 1,
    )
    return run.result


def _due_batch(moment: dt.datetime, *, exclude: set[int]) -> list[int]:
    """The next clocks to look at, oldest first, through the partial index `sla_clock_sweep`."""
    with connection.cursor() as cursor:
        cursor.execute(_DUE_SQL.format(**_tables()), [moment, _id_array(exclude), SWEEP_BATCH])
        return [row[0] for row in cursor.fetchall()]


# Table names are the models' own (`_tables()`); every value is a parameter. Batches travel as one JSON
# parameter or an array literal (`_id_array`): quoting thousands of array elements one by one in the driver
# costs more than the statement.
_DUE_SQL = """
    SELECT id FROM {clock} WHERE stopped_at IS NULL AND next_step_at <= %s AND NOT (id = ANY(%s::bigint[]))
    ORDER BY next_step_at, id LIMIT %s
"""
_STILL_DUE_SQL = "SELECT id FROM {clock} WHERE id = ANY(%s::bigint[]) AND stopped_at IS NULL AND next_step_at <= %s"
_LOCK_SQL = """
    SELECT c.id, c.lead_id, c.policy_id, c.due_at::text, c.step, c.breached,
           l.owner_id, l.first_name, l.last_name, l.email
    FROM {clock} c JOIN {lead} l ON l.id = c.lead_id
    WHERE c.id = ANY(%s::bigint[]) AND c.stopped_at IS NULL AND c.next_step_at <= %s
    FOR NO KEY UPDATE OF c, l SKIP LOCKED
"""
# One statement for the whole batch. Every row records its breach and its next look; a row with an action
# claims its step (only where the step is still the one read under the lock) and, only when claimed, writes
# its escalation row and its notifications. The notification key (`sla:<clock>:<step>:<user>`) is unique,
# so a notification that exists is not written twice.
_ADVANCE_SQL = """
    WITH v AS (
        SELECT * FROM json_to_recordset(%s::json) AS v(
            id bigint, done int, step int, next_at timestamptz, lead_id bigint, action text, outcome text,
            kind text, message text, users bigint[])
    ), claimed AS (
        UPDATE {clock} c SET breached = true, step = v.step, next_step_at = v.next_at
        FROM v WHERE c.id = v.id AND c.step = v.done AND c.stopped_at IS NULL
        RETURNING c.id
    ), ran AS (
        SELECT v.* FROM v JOIN claimed ON claimed.id = v.id WHERE v.action IS NOT NULL
    ), escalations AS (
        INSERT INTO {escalation} (clock_id, step, action, at, outcome)
        SELECT id, step, action, %s, outcome FROM ran
        RETURNING clock_id
    ), notes AS (
        INSERT INTO {notification} (user_id, lead_id, key, kind, message, created_at)
        SELECT u.user_id, ran.lead_id, 'sla:' || ran.id || ':' || ran.step || ':' || u.user_id, ran.kind,
               ran.message, %s
        FROM ran CROSS JOIN LATERAL unnest(ran.users) WITH ORDINALITY AS u(user_id, position)
        ORDER BY ran.id, u.position
        ON CONFLICT (key) DO NOTHING
        RETURNING id
    )
    SELECT (SELECT count(*) FROM escalations), (SELECT array_agg(id ORDER BY id) FROM notes)
"""
_STOP_SQL = """
    UPDATE {clock} SET stopped_at = %s, met_at = NULL, stop_reason = %s, next_step_at = NULL,
           breached = breached OR %s > due_at
    WHERE id = ANY(%s::bigint[]) AND stopped_at IS NULL
"""


class _SweepRun:
    """One run of the sweep: policies read once, people read as needed, what was done, and the clocks it
    leaves to the next run (held by someone else, or failed)."""

    def __init__(self):
        self._policies: PolicySet | None = None  # read with the first batch: an idle run reads nothing
        self.people = _People()
        self.result = SweepResult()
        self.passed: set[int] = set()

    def sweep_batch(self, batch: list[int], *, now: dt.datetime) -> None:
        outcome = self._isolating(batch, now=now)
        self.result.add(outcome.result)
        self.passed |= outcome.passed
        for clock_id in outcome.per_lead:  # after the batch's commit: these lock their lead themselves
            _advance_until_idle(clock_id, now=now, result=self.result)
            self.passed.add(clock_id)

    def _isolating(self, batch: list[int], *, now: dt.datetime) -> _BatchOutcome:
        """The batch in one transaction; if it fails, each half in its own, down to the clock that fails
        (counted, logged and left to the next run), so one broken clock cannot hold up the others."""
        try:
            return self._batch(batch, now=now)
        except Exception:
            if len(batch) == 1:
                logger.exception("SLA sweep: clock %s failed; the next sweep tries again", batch[0])
                return _BatchOutcome(result=SweepResult(failed=1), passed=set(batch))
            logger.warning("SLA sweep: a batch of %s clocks failed; trying each half on its own", len(batch))
            half = len(batch) // 2
            outcome = self._isolating(batch[:half], now=now)
            outcome.add(self._isolating(batch[half:], now=now))
            return outcome

    @transaction.atomic
    def _batch(self, batch: list[int], *, now: dt.datetime) -> _BatchOutcome:
        outcome = _BatchOutcome()
        tables = _tables()
        with connection.cursor() as cursor:
            # The lead before its clocks is the lifecycle's order; SKIP LOCKED never waits, so a lead or clock
            # another worker or a user holds is skipped (the next run comes back) and nothing deadlocks.
            cursor.execute(_LOCK_SQL.format(**tables), [_id_array(batch), now])
            # The due as text, parsed by `datetime.fromisoformat`: the driver's aware-datetime loader costs
            # more than the rest of the row.
            rows = [_DueClock(pk, lead_id, policy_id, dt.datetime.fromisoformat(due_at), *rest)
                    for pk, lead_id, policy_id, due_at, *rest in cursor.fetchall()]
            locked = {row.id for row in rows}
            missing = [clock_id for clock_id in batch if clock_id not in locked]
            if missing:  # still due but not locked: held by someone else
                cursor.execute(_STILL_DUE_SQL.format(**tables), [_id_array(missing), now])
                held = [row[0] for row in cursor.fetchall()]
                outcome.result.skipped += len(held)
                outcome.passed.update(held)
        if self._policies is None or any(row.policy_id not in self._policies.policies for row in rows):
            self._policies = load_policies()  # once per run (again only for a policy created since)
        policies = self._policies
        texts = _Texts(self.people, rows)
        advances, stops = [], []
        for row in rows:
            policy = policies.policies[row.policy_id]
            if not policy.is_active:
                stops.append(row.id)
                continue
            spec = policies.specs[row.policy_id]
            if not row.breached:
                outcome.result.breaches += 1
            step = sla_policy.next_step(spec, steps_done=row.step)
            step_at = sla_policy.step_time(spec, due_at=row.due_at, number=row.step + 1)
            if step is None or step_at is None:
                advances.append({"id": row.id, "done": row.step, "step": row.step, "next_at": None})
            elif step_at > now:
                advances.append({"id": row.id, "done": row.step, "step": row.step, "next_at": step_at})
            elif step.action in BULK_ACTIONS:
                next_at = sla_policy.step_time(spec, due_at=row.due_at, number=step.number + 1)
                advances.append({"id": row.id, "done": row.step, "step": step.number, "next_at": next_at,
                                 "lead_id": row.lead_id, "action": step.action, **texts.of(row, policy, step)})
            else:
                if not row.breached:  # record the breach; the next look stays (the due: it was not breached)
                    advances.append({"id": row.id, "done": row.step, "step": row.step, "next_at": row.due_at})
                outcome.per_lead.append(row.id)
        with connection.cursor() as cursor:
            if stops:
                cursor.execute(_STOP_SQL.format(**tables), [now, sla_policy.CANCEL_POLICY_OFF, now, _id_array(stops)])
            if advances:
                steps, created = self._write(cursor, advances, tables=tables, now=now)
                outcome.result.steps += steps
                if created:
                    transaction.on_commit(lambda: _enqueue_emails(created))
        return outcome

    def _write(self, cursor, advances: list[dict], *, tables: dict, now: dt.datetime) -> tuple[int, list[int]]:
        """One statement: record the breaches, claim the steps, set the next looks, and for each claimed step
        its escalation row and notifications. Returns the steps run and the notifications written."""
        cursor.execute(_ADVANCE_SQL.format(**tables), [json.dumps(advances, default=_iso), now, timezone.now()])
        steps, created = cursor.fetchone()
        return steps, created or []


class _Texts:
    """Who is told what for a warn-owner / notify-manager step: `_run_step`'s texts, translated once per
    batch, the people read once per sweep."""

    def __init__(self, people: _People, rows: list[_DueClock]):
        people.prepare({row.owner_id for row in rows if row.owner_id is not None})
        self.people = people
        self.warning = _("%(lead)s: “%(policy)s” was due at %(due)s.")
        self.missed = _("%(lead)s missed “%(policy)s” (owner: %(owner)s).")
        self.warned, self.told, self.pool = _("warned %(users)s"), _("told %(users)s"), _("nobody (pool)")
        self.zone = timezone.get_current_timezone()
        self._due: dict[dt.datetime, str] = {}
        self._known: dict[tuple[str, int | None], tuple[list[int], str, str]] = {}

    def of(self, row: _DueClock, policy: SlaPolicy, step: sla_policy.StepSpec) -> dict:
        users, outcome, owner = self._recipients(step.action, row.owner_id)
        due = self._due.get(row.due_at)
        if due is None:
            due = self._due[row.due_at] = f"{row.due_at.astimezone(self.zone):%Y-%m-%d %H:%M}"
        words = {"lead": Lead.display_name.fget(row), "policy": policy.name, "due": due, "owner": owner}
        if step.action == sla_policy.WARN_OWNER:
            kind, message = "sla_warning", self.warning % words
        else:
            kind, message = "sla_escalation", self.missed % words
        return {"kind": kind, "message": message[:300], "outcome": outcome, "users": users}

    def _recipients(self, action: str, owner_id: int | None) -> tuple[list[int], str, str]:
        """(user ids, the escalation's outcome, the owner's name) for an action on a lead of this owner."""
        key = (action, owner_id)
        if key not in self._known:
            if action == sla_policy.WARN_OWNER:
                users = [(owner_id, self.people.username(owner_id))] if owner_id else self.people.managers_of(None)
                outcome = self.warned % {"users": _names_of(users)}
            else:
                users = self.people.managers_of(owner_id)
                outcome = self.told % {"users": _names_of(users)}
            owner = self.people.username(owner_id) if owner_id else self.pool
            self._known[key] = ([pk for pk, _name in users], outcome, owner)
        return self._known[key]


class _DueClock(NamedTuple):
    """A due clock and what the notifications need of its lead (read under the lock)."""

    id: int
    lead_id: int
    policy_id: int
    due_at: dt.datetime
    step: int
    breached: bool
    owner_id: int | None
    first_name: str
    last_name: str
    email: str


@dataclass
class _BatchOutcome:
    result: SweepResult = dataclasses.field(default_factory=SweepResult)
    passed: set[int] = dataclasses.field(default_factory=set)
    per_lead: list[int] = dataclasses.field(default_factory=list)

    def add(self, other: _BatchOutcome) -> None:
        self.result.add(other.result)
        self.passed |= other.passed
        self.per_lead += other.per_lead


class _People:
    """Who gets told, read once per sweep: owners' usernames, their team managers, every active manager."""

    def __init__(self):
        self._usernames: dict[int, str] = {}
        self._team_manager: dict[int, tuple[int, str] | None] = {}
        self._all_managers: list[tuple[int, str]] | None = None

    def prepare(self, owner_ids: set[int]) -> None:
        new = owner_ids - self._team_manager.keys()
        if not new:
            return
        User = get_user_model()
        manager_of = dict(Rep.objects.filter(user_id__in=new).values_list("user_id", "team__manager_id"))
        wanted = new | {pk for pk in manager_of.values() if pk is not None}
        active = set()
        for pk, username, is_active in User.objects.filter(pk__in=wanted).values_list(
            "pk", User.USERNAME_FIELD, "is_active"
        ):
            self._usernames[pk] = username
            if is_active:
                active.add(pk)
        for owner_id in new:
            manager_id = manager_of.get(owner_id)
            self._team_manager[owner_id] = (
                (manager_id, self._usernames[manager_id]) if manager_id in active else None
            )

    def username(self, user_id: int) -> str:
        return self._usernames[user_id]

    def managers_of(self, owner_id: int | None) -> list[tuple[int, str]]:
        """The owner's team manager; else every active manager (the pool has no team), as `_managers_of`."""
        if owner_id is not None and self._team_manager.get(owner_id) is not None:
            return [self._team_manager[owner_id]]
        if self._all_managers is None:
            User = get_user_model()
            self._all_managers = list(
                User.objects.filter(is_active=True, groups__name=Role.MANAGER).distinct()
                .order_by(User.USERNAME_FIELD).values_list("pk", User.USERNAME_FIELD)
            )
        return self._all_managers


def _names_of(users: list[tuple[int, str]]) -> str:
    return ", ".join(name for _pk, name in users) or _("nobody")


def _iso(value):
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _id_array(ids) -> str:
    """Integer ids -> a PostgreSQL array literal ("{1,2,3}") for `= ANY(%s::bigint[])`."""
    return "{" + ",".join(str(int(pk)) for pk in ids) + "}"


def _tables() -> dict[str, str]:
    return {
        "clock": SlaClock._meta.db_table, "lead": Lead._meta.db_table, "escalation": SlaEscalation._meta.db_table,
        "notification": Notification._meta.db_table,
    }


EMAIL_TASK_BUDGET_SECONDS = 30  # below the queue's timeout (60 s): the rest goes on in a new task


def _enqueue_emails(notification_ids: list[int]) -> None:
    from django_q.tasks import async_task

    async_task("leads.sla.email_notifications", notification_ids)


def email_notifications(notification_ids: list[int]) -> int:
    """The task for a batch of the sweep's notifications: e-mail each once (`tasks.email_notification`
    claims it), for at most EMAIL_TASK_BUDGET_SECONDS, then hand the rest to a new task. A failed send is
    logged and the task raises at the end, so the queue retries it (the ones sent are not sent again)."""
    from leads import tasks

    deadline = time.monotonic() + EMAIL_TASK_BUDGET_SECONDS
    sent, failures = 0, []
    for index, notification_id in enumerate(notification_ids):
        if index and time.monotonic() > deadline:  # at least one per task, so the hand-over always ends
            _enqueue_emails(notification_ids[index:])
            break
        try:
            sent += bool(tasks.email_notification(notification_id))
        except Exception as error:  # noqa: BLE001 - raised below once the others are sent
            logger.exception("SLA e-mail for notification %s failed", notification_id)
            failures.append(error)
    if failures:
        raise failures[0]
    return sent


def _advance_until_idle(clock_id: int, *, now: dt.datetime, result: SweepResult) -> None:
    """Run every step of one clock that is due by `now`, one transaction each (a failure keeps the earlier
    steps and is retried by the next sweep)."""
    for _guard in range(50):
        try:
            outcome = advance(clock_id=clock_id, now=now)
        except Exception:
            logger.exception("SLA sweep: clock %s failed; the next sweep tries again", clock_id)
            result.failed += 1
            return
        if outcome == "skipped":
            result.skipped += 1
            return
        if outcome == "breach":
            result.breaches += 1
        elif outcome == "step":
            result.steps += 1
        else:
            return


@transaction.atomic
def advance(*, clock_id: int, now: dt.datetime) -> str:
    """Look at one clock once: "breach" (recorded), "step" (one step run), "skipped" (the lead is locked by
    someone else: the next sweep comes back), or "idle" (nothing due)."""
    lead_id = SlaClock.objects.filter(pk=clock_id).values_list("lead_id", flat=True).first()
    if lead_id is None:
        return "idle"
    # The lifecycle locks the lead before its clocks: same order here, so the two never deadlock.
    lead = Lead.objects.select_for_update(skip_locked=True).filter(pk=lead_id).first()
    if lead is None:
        return "skipped"
    clock = (
        SlaClock.objects.select_for_update(of=("self",)).select_related("policy__calendar")
        .filter(pk=clock_id, stopped_at__isnull=True, next_step_at__lte=now).first()
    )
    if clock is None:
        return "idle"
    policy = clock.policy
    spec = policy.as_spec()
    if not policy.is_active:
        _stop(clock, now=now, met_at=None, reason=sla_policy.CANCEL_POLICY_OFF)
        return "idle"
    if not clock.breached:
        clock.breached = True
        clock.next_step_at = sla_policy.next_sweep_point(
            spec, due_at=clock.due_at, steps_done=clock.step, breach_recorded=True
        )
        clock.save(update_fields=["breached", "next_step_at"])
        return "breach"
    step = sla_policy.next_step(spec, steps_done=clock.step)
    step_at = sla_policy.step_time(spec, due_at=clock.due_at, number=clock.step + 1)
    if step is None or step_at is None:
        SlaClock.objects.filter(pk=clock.pk).update(next_step_at=None)
        return "idle"
    if step_at > now:
        SlaClock.objects.filter(pk=clock.pk).update(next_step_at=step_at)
        return "idle"
    # Claim step k+1: only one transaction can move the step from k (the row lock already serialises;
    # the condition and the unique escalation row make a second run impossible even without it).
    claimed = SlaClock.objects.filter(pk=clock.pk, step=clock.step, stopped_at__isnull=True).update(
        step=step.number, next_step_at=None
    )
    if not claimed:
        return "idle"
    escalation = SlaEscalation.objects.create(clock=clock, step=step.number, action=step.action, at=now)
    escalation.outcome = _run_step(step, clock=clock, lead=lead, policy=policy, now=now)
    escalation.save(update_fields=["outcome"])
    clock.refresh_from_db(fields=["stopped_at", "step"])
    if clock.stopped_at is None:
        SlaClock.objects.filter(pk=clock.pk).update(
            next_step_at=sla_policy.step_time(spec, due_at=clock.due_at, number=step.number + 1)
        )
    return "step"


def _run_step(step: sla_policy.StepSpec, *, clock: SlaClock, lead: Lead, policy: SlaPolicy, now) -> str:
    """Do one escalation step (inside `advance`'s transaction); return what happened, in words."""
    from leads import lifecycle

    words = {
        "lead": lead.display_name, "policy": policy.name, "due": f"{timezone.localtime(clock.due_at):%Y-%m-%d %H:%M}"
    }
    key = f"sla:{clock.pk}:{step.number}"
    if step.action == sla_policy.WARN_OWNER:
        users = [lead.owner] if lead.owner_id else _managers_of(None)
        message = _("%(lead)s: “%(policy)s” was due at %(due)s.") % words
        for user in users:
            lifecycle.notify(user=user, lead=lead, kind="sla_warning", key=f"{key}:{user.pk}", message=message)
        return _("warned %(users)s") % {"users": _names(users)}
    if step.action == sla_policy.NOTIFY_MANAGER:
        users = _managers_of(lead.owner_id)
        owner = lead.owner.get_username() if lead.owner_id else _("nobody (pool)")
        message = _("%(lead)s missed “%(policy)s” (owner: %(owner)s).") % {**words, "owner": owner}
        for user in users:
            lifecycle.notify(user=user, lead=lead, kind="sla_escalation", key=f"{key}:{user.pk}", message=message)
        return _("told %(users)s") % {"users": _names(users)}
    if step.action == sla_policy.REASSIGN:
        before = lead.owner.get_username() if lead.owner_id else None
        reason = _("SLA “%(policy)s” missed: reassigned by routing") % words
        after = lifecycle.reassign(lead_id=lead.pk, reason=reason, now=now)
        return _("reassigned from %(before)s to %(after)s") % {
            "before": before or _("the pool"), "after": after or _("the pool")
        }
    if step.action == sla_policy.RELEASE:
        if lead.stage != Stage.MQL or lead.owner_id is None:
            return _("not released: only an owned MQL can go back to the pool")
        reason = _("SLA “%(policy)s” missed: released to the pool") % words
        lifecycle.release_by_system(lead_id=lead.pk, reason=reason, now=now)
        return _("released to the pool")
    if step.action == sla_policy.RECYCLE:
        name = sla_policy.RECYCLE_TRANSITION.get(lead.stage)
        if name is None:
            return _("not recycled: a %(stage)s lead cannot be recycled") % {"stage": lead.get_stage_display()}
        reason = step.reason or _("SLA “%(policy)s” missed") % words
        try:
            lifecycle.fire(lead_id=lead.pk, name=name, by=None, parsed={"reason": reason})
        except lifecycle.TransitionRefused as refused:
            return _("not recycled: %(why)s") % {"why": refused.detail}
        return _("recycled: %(reason)s") % {"reason": reason}
    return _("unknown action %(action)s: nothing done") % {"action": step.action}


def _managers_of(owner_id: int | None) -> list:
    """The owner's team manager; else every active manager (the pool has no team)."""
    User = get_user_model()
    if owner_id is not None:
        manager_id = Rep.objects.filter(user_id=owner_id).values_list("team__manager_id", flat=True).first()
        if manager_id is not None:
            manager = User.objects.filter(pk=manager_id, is_active=True).first()
            if manager is not None:
                return [manager]
    return list(User.objects.filter(is_active=True, groups__name=Role.MANAGER).distinct().order_by("username"))


def _names(users) -> str:
    return ", ".join(user.get_username() for user in users) or _("nobody")


# --- health ---------------------------------------------------------------------------------------------


def last_sweep() -> JobRun | None:
    return JobRun.objects.filter(name=SWEEP_JOB).first()


def sweep_problem(*, now: dt.datetime | None = None, max_age: dt.timedelta = HEALTHY_SWEEP_AGE) -> str | None:
    """Why the sweep looks unhealthy (never ran, or not for `max_age`), or None."""
    now = now or timezone.now()
    run = last_sweep()
    if run is None or run.last_finished_at is None:
        return _("The SLA sweep has never run: is the worker (manage.py qcluster) running, and setup_schedules done?")
    age = now - run.last_finished_at
    if age > max_age:
        return _("The SLA sweep last ran %(minutes)s minutes ago (at %(at)s): is the worker running?") % {
            "minutes": int(age.total_seconds() // 60),
            "at": f"{timezone.localtime(run.last_finished_at):%Y-%m-%d %H:%M}",
        }
    return None


# --- reads for lists, the queue, the lead page and the API ----------------------------------------------


def running_clocks() -> QuerySet[SlaClock]:
    return SlaClock.objects.filter(stopped_at__isnull=True)


def annotate(queryset: QuerySet[Lead], *, now: dt.datetime | None = None) -> QuerySet[Lead]:
    """Add to each lead, in the same query: `sla_due_at` (the earliest due of its running clocks, None when
    none runs), `sla_breached` (a running clock is past its due) and `is_stalled`."""
    now = now or timezone.now()
    running = running_clocks().filter(lead=OuterRef("pk"))
    return queryset.annotate(
        sla_due_at=Subquery(running.order_by("due_at").values("due_at")[:1], output_field=DateTimeField()),
        sla_breached=Exists(running.filter(due_at__lte=now)),
        is_stalled=stalled_condition(now=now),
    )


def stalled_condition(*, now: dt.datetime | None = None) -> Exists:
    """True for a lead in its stage longer than the stage's threshold (an expression for annotate/filter)."""
    now = now or timezone.now()
    limit = ExpressionWrapper(Value(now) - F("days") * Value(dt.timedelta(days=1)), output_field=DateTimeField())
    return Exists(
        StallThreshold.objects.filter(stage=OuterRef("stage")).annotate(limit=limit)
        .filter(limit__gt=OuterRef("stage_entered_at"))
    )


def stalled_q(*, now: dt.datetime | None = None) -> Q:
    """`Lead.objects.filter(sla.stalled_q())`: leads over their stage's threshold."""
    return Q(stalled_condition(now=now))


def breached_q(*, now: dt.datetime | None = None) -> Q:
    """Leads with a running clock past its due."""
    return Q(Exists(running_clocks().filter(lead=OuterRef("pk"), due_at__lte=now or timezone.now())))


def running_q() -> Q:
    """Leads with at least one running clock."""
    return Q(Exists(running_clocks().filter(lead=OuterRef("pk"))))


def stall_thresholds() -> dict[str, int]:
    return dict(StallThreshold.objects.values_list("stage", "days"))


def is_stalled(lead: Lead, *, thresholds: dict[str, int] | None = None, now: dt.datetime | None = None) -> bool:
    """`lead.is_stalled` when annotated; else computed (pass the thresholds to read them once per page)."""
    if hasattr(lead, "is_stalled"):
        return bool(lead.is_stalled)
    thresholds = stall_thresholds() if thresholds is None else thresholds
    return sla_policy.is_stalled(lead.stage, lead.stage_entered_at, thresholds, now or timezone.now())


def clocks_of(lead: Lead, *, limit: int = 20) -> list[SlaClock]:
    """The lead's latest clocks (running and finished), newest first, with their policies."""
    return list(
        SlaClock.objects.filter(lead_id=lead.pk).select_related("policy").order_by("-started_at", "-id")[:limit]
    )


def current(clocks: list[SlaClock]) -> SlaClock | None:
    """The clock to show: the running one due first; else the one that stopped last."""
    running = [clock for clock in clocks if clock.stopped_at is None]
    if running:
        return min(running, key=lambda clock: (clock.due_at, clock.pk))
    finished = [clock for clock in clocks if clock.stopped_at is not None]
    return max(finished, key=lambda clock: (clock.stopped_at, clock.pk)) if finished else None


def as_dict(clock: SlaClock, *, now: dt.datetime | None = None) -> dict:
    """The API's `sla` object (and what the lead page shows)."""
    return {
        "policy": clock.policy.name,
        "stage": clock.stage,
        "started_at": clock.started_at,
        "due_at": clock.due_at,
        "met_at": clock.met_at,
        "stopped_at": clock.stopped_at,
        "running": clock.stopped_at is None,
        "breached": clock.is_breached(now),
        "step": clock.step,
        "next_step_at": clock.next_step_at,
    }


def speed_to_lead(lead: Lead) -> dict:
    """Capture to MQL, MQL to owner, owner to first contact attempt (timedelta or None each)."""

    def between(start, end):
        return end - start if start and end and end >= start else None

    return {
        "capture_to_mql": between(lead.created_at, lead.became_mql_at),
        "mql_to_owner": between(lead.became_mql_at, lead.mql_assigned_at),
        "owner_to_first_contact": between(lead.mql_assigned_at, lead.first_contact_at),
    }

"""The SLA sweep: every minute (`leads.tasks.sla_sweep`) it records breaches and runs each due escalation step
exactly once. Safe to run twice at the same time, and again after a crash; after an outage every overdue
step runs once, not once per missed minute.

Two paths, one table of actions (`escalation.ACTIONS`):

- set-based (`run`, `_SweepRun`): the clocks whose next look is due, found through the partial index
  `sla_clock_sweep`, a batch per transaction: clocks and leads locked with SKIP LOCKED (a second worker
  skips them), then one statement records the breaches, claims the due steps (`step = k+1 WHERE step = k`),
  sets the next looks and writes the claimed steps' `SlaEscalation` rows (unique per clock and step) and
  notifications. Actions whose only effect is a notification run this way; their e-mails go out in one task
  per batch after the commit (`leads.tasks.email_notifications`).
- per lead (`advance`): a step that changes the lead (reassign, release, recycle) runs through the lifecycle
  one lead per transaction, after the batch's commit.

A worker that dies before the commit leaves nothing, so the redelivered task (or the next minute's sweep)
does the step once. Policies and calendars are read once per run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import time
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from psycopg import sql

from core.tasks import enqueue_on_commit, time_budget
from core.vocabulary import EventType
from leads import clocks
from leads.models import JobRun, Lead, Notification, SlaClock, SlaEscalation
from leads.sla import escalation, health
from outbox import events as outbox_events
from routing import sla_policy

logger = logging.getLogger(__name__)

SWEEP_BATCH = 5000  # clocks per transaction (a few statements each)
# Seconds one run works: three quarters of the queue's timeout, so a run ends before the queue kills it; the
# next minute's sweep takes the rest.
SWEEP_BUDGET_SECONDS = time_budget(0.75)
EMAIL_TASK = "leads.tasks.email_notifications"


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


def run(*, now: dt.datetime | None = None) -> SweepResult:
    """Every minute: record breaches and run due escalation steps, each exactly once. Safe to run twice
    at the same time, and again after a crash. Records its run for `manage.py health` and the admin.

    Set-based: a batch of due clocks (`SWEEP_BATCH`) is one transaction of a few statements: lock the clocks
    and their leads with SKIP LOCKED, then one statement that records the breaches, claims the due steps
    (`step = k+1 WHERE step = k`), sets the next looks and writes the claimed steps' escalation rows and
    notifications; their e-mails go out in one task per batch after the commit. Policies and calendars are
    read once per run. Only steps that change the lead (reassign, release, recycle) run one lead at a time
    (`advance`). A batch that fails is split until the failing clock is found."""
    started = timezone.now()
    JobRun.objects.update_or_create(name=health.SWEEP_JOB, defaults={"last_started_at": started})
    sweeping = _SweepRun()
    deadline = time.monotonic() + SWEEP_BUDGET_SECONDS
    while time.monotonic() < deadline:
        moment = now or timezone.now()
        batch = _due_batch(moment, exclude=sweeping.passed)
        if not batch:
            break
        sweeping.sweep_batch(batch, now=moment)
    finished = timezone.now()
    JobRun.objects.filter(name=health.SWEEP_JOB).update(
        last_finished_at=finished, last_duration_ms=int((finished - started).total_seconds() * 1000),
        last_result=sweeping.result.as_dict(), runs=F("runs") + 1,
    )
    return sweeping.result


# --- the statements -------------------------------------------------------------------------------------
# Table and column names are the models' own; every value is a parameter. Batches travel as one JSON parameter
# or an array literal (`_id_array`): the ORM's `__in` sends one placeholder per id, and quoting thousands of
# array elements one by one in the driver costs more than the statement.


def _names(prefix: str, model, *fields: str) -> dict[str, sql.Identifier]:
    """`{prefix}` -> the model's table, `{prefix}_{field}` -> the field's column."""
    return {prefix: sql.Identifier(model._meta.db_table)} | {
        f"{prefix}_{field}": sql.Identifier(model._meta.get_field(field).column) for field in fields
    }


_NAMES = (
    _names("clock", SlaClock, "id", "lead", "policy", "due_at", "step", "breached", "stopped_at", "met_at",
           "stop_reason", "next_step_at", "owner")
    | _names("lead", Lead, "id", "owner", "first_name", "last_name", "email")
    | _names("escalation", SlaEscalation, "clock", "step", "action", "at", "outcome")
    | _names("notification", Notification, "id", "user", "lead", "key", "kind", "message", "created_at")
)

# The next clocks to look at, oldest first, through the partial index `sla_clock_sweep`; the clocks this run
# has passed (held by someone else, or failed) as one array parameter.
_DUE_SQL = sql.SQL("""
    SELECT {clock_id} FROM {clock}
    WHERE {clock_stopped_at} IS NULL AND {clock_next_step_at} <= %s AND NOT ({clock_id} = ANY(%s::bigint[]))
    ORDER BY {clock_next_step_at}, {clock_id} LIMIT %s
""").format(**_NAMES)
# Which of the clocks the lock skipped are still due (held by someone else): one array parameter.
_STILL_DUE_SQL = sql.SQL("""
    SELECT {clock_id} FROM {clock}
    WHERE {clock_id} = ANY(%s::bigint[]) AND {clock_stopped_at} IS NULL AND {clock_next_step_at} <= %s
""").format(**_NAMES)
# Lock a batch's clocks and leads (FOR NO KEY UPDATE of both, SKIP LOCKED) and read what the steps need; the
# due as text, parsed by `datetime.fromisoformat`: the driver's aware-datetime loader costs more than the rest
# of the row.
_LOCK_SQL = sql.SQL("""
    SELECT c.{clock_id}, c.{clock_lead}, c.{clock_policy}, c.{clock_due_at}::text, c.{clock_step}, c.{clock_breached},
           l.{lead_owner}, l.{lead_first_name}, l.{lead_last_name}, l.{lead_email}, c.{clock_owner}
    FROM {clock} c JOIN {lead} l ON l.{lead_id} = c.{clock_lead}
    WHERE c.{clock_id} = ANY(%s::bigint[]) AND c.{clock_stopped_at} IS NULL AND c.{clock_next_step_at} <= %s
    FOR NO KEY UPDATE OF c, l SKIP LOCKED
""").format(**_NAMES)
# One statement for the whole batch, which the ORM cannot write: every row records its breach and its next
# look; a row with an action claims its step (only where the step is still the one read under the lock) and,
# only when claimed, writes its escalation row and its notifications. The notification keys are unique
# (`escalation.NOTIFICATION_KEY`, a parameter), so a notification that exists is not written twice.
_ADVANCE_SQL = sql.SQL("""
    WITH v AS (
        SELECT * FROM json_to_recordset(%s::json) AS v(
            id bigint, done int, step int, next_at timestamptz, lead_id bigint, action text, outcome text,
            kind text, message text, users bigint[])
    ), claimed AS (
        UPDATE {clock} c SET {clock_breached} = true, {clock_step} = v.step, {clock_next_step_at} = v.next_at
        FROM v WHERE c.{clock_id} = v.id AND c.{clock_step} = v.done AND c.{clock_stopped_at} IS NULL
        RETURNING c.{clock_id} AS id
    ), ran AS (
        SELECT v.* FROM v JOIN claimed ON claimed.id = v.id WHERE v.action IS NOT NULL
    ), escalations AS (
        INSERT INTO {escalation} ({escalation_clock}, {escalation_step}, {escalation_action}, {escalation_at},
                                  {escalation_outcome})
        SELECT id, step, action, %s, outcome FROM ran
        RETURNING {escalation_clock}
    ), notes AS (
        INSERT INTO {notification} ({notification_user}, {notification_lead}, {notification_key}, {notification_kind},
                                    {notification_message}, {notification_created_at})
        SELECT u.user_id, ran.lead_id, format(%s, ran.id, ran.step, u.user_id), ran.kind, ran.message, %s
        FROM ran CROSS JOIN LATERAL unnest(ran.users) WITH ORDINALITY AS u(user_id, position)
        ORDER BY ran.id, u.position
        ON CONFLICT ({notification_key}) DO NOTHING
        RETURNING {notification_id} AS id
    )
    SELECT (SELECT count(*) FROM escalations), (SELECT array_agg(id ORDER BY id) FROM notes)
""").format(**_NAMES)
# Stop the clocks of switched-off policies (not met) as `clocks.stop` does one clock: one array parameter.
_STOP_SQL = sql.SQL("""
    UPDATE {clock} SET {clock_stopped_at} = %s, {clock_met_at} = NULL, {clock_stop_reason} = %s,
           {clock_next_step_at} = NULL, {clock_breached} = {clock_breached} OR %s > {clock_due_at}
    WHERE {clock_id} = ANY(%s::bigint[]) AND {clock_stopped_at} IS NULL
""").format(**_NAMES)


def _id_array(ids) -> str:
    """Integer ids -> a PostgreSQL array literal ("{1,2,3}") for `= ANY(%s::bigint[])`."""
    return "{" + ",".join(str(int(pk)) for pk in ids) + "}"


def _iso(value):
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _due_batch(moment: dt.datetime, *, exclude: set[int]) -> list[int]:
    """The next clocks to look at, oldest first, through the partial index `sla_clock_sweep`."""
    with connection.cursor() as cursor:
        cursor.execute(_DUE_SQL, [moment, _id_array(exclude), SWEEP_BATCH])
        return [row[0] for row in cursor.fetchall()]


# --- set-based: a batch of clocks per transaction -------------------------------------------------------


class _SweepRun:
    """One run of the sweep: policies read once, people read as needed, what was done, and the clocks it
    leaves to the next run (held by someone else, or failed)."""

    def __init__(self):
        self._policies: clocks.PolicySet | None = None  # read with the first batch: an idle run reads nothing
        self.recipients = escalation.Recipients()
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
        with connection.cursor() as cursor:
            # The lead before its clocks is the lifecycle's order; SKIP LOCKED never waits, so a lead or clock
            # another worker or a user holds is skipped (the next run comes back) and nothing deadlocks.
            cursor.execute(_LOCK_SQL, [_id_array(batch), now])
            rows = [_DueClock(pk, lead_id, policy_id, dt.datetime.fromisoformat(due_at), *rest)
                    for pk, lead_id, policy_id, due_at, *rest in cursor.fetchall()]
            locked = {row.id for row in rows}
            missing = [clock_id for clock_id in batch if clock_id not in locked]
            if missing:  # still due but not locked: held by someone else
                cursor.execute(_STILL_DUE_SQL, [_id_array(missing), now])
                held = [row[0] for row in cursor.fetchall()]
                outcome.result.skipped += len(held)
                outcome.passed.update(held)
        if self._policies is None or any(row.policy_id not in self._policies.policies for row in rows):
            self._policies = clocks.load_policies()  # once per run (again only for a policy created since)
        policies = self._policies
        owners = {
            row.id: sla_policy.warned_owner(starts_on=policies.policies[row.policy_id].starts_on,
                                            lead_owner_id=row.owner_id, clock_owner_id=row.clock_owner_id)
            for row in rows
        }
        notices = escalation.Notices(self.recipients, set(owners.values()))
        advances, stops = [], []
        set_based = escalation.SET_BASED_ACTIONS
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
            elif step.action in set_based:
                next_at = sla_policy.step_time(spec, due_at=row.due_at, number=step.number + 1)
                advances.append({
                    "id": row.id, "done": row.step, "step": step.number, "next_at": next_at, "lead_id": row.lead_id,
                    "action": step.action, **notices.of(step.action, owner_id=owners[row.id], policy_name=policy.name,
                                                        lead_name=Lead.display_name.fget(row), due_at=row.due_at),
                })
            else:
                if not row.breached:  # record the breach; the next look stays (the due: it was not breached)
                    advances.append({"id": row.id, "done": row.step, "step": row.step, "next_at": row.due_at})
                outcome.per_lead.append(row.id)
        outbox_events.record_many(
            {"type": EventType.SLA_BREACHED, "lead_id": row.lead_id,
             "payload": {"clock": row.id, "policy": row.policy_id, "due_at": row.due_at.isoformat()}}
            for row in rows
            if not row.breached and row.id not in stops
        )
        with connection.cursor() as cursor:
            if stops:
                cursor.execute(_STOP_SQL, [now, sla_policy.CANCEL_POLICY_OFF, now, _id_array(stops)])
            if advances:
                steps, created = self._write(cursor, advances, now=now)
                outcome.result.steps += steps
                if created:
                    enqueue_on_commit(EMAIL_TASK, created)
        return outcome

    def _write(self, cursor, advances: list[dict], *, now: dt.datetime) -> tuple[int, list[int]]:
        """One statement: record the breaches, claim the steps, set the next looks, and for each claimed step
        its escalation row and notifications. Returns the steps run and the notifications written."""
        cursor.execute(_ADVANCE_SQL, [json.dumps(advances, default=_iso), now, escalation.NOTIFICATION_KEY,
                                      timezone.now()])
        steps, created = cursor.fetchone()
        return steps, created or []


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
    clock_owner_id: int | None  # the owner it started for (an AE clock warns them: sla_policy.warned_owner)


@dataclass
class _BatchOutcome:
    result: SweepResult = dataclasses.field(default_factory=SweepResult)
    passed: set[int] = dataclasses.field(default_factory=set)
    per_lead: list[int] = dataclasses.field(default_factory=list)

    def add(self, other: _BatchOutcome) -> None:
        self.result.add(other.result)
        self.passed |= other.passed
        self.per_lead += other.per_lead


# --- per lead: one clock, one step per transaction ------------------------------------------------------


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
        clocks.stop(clock, now=now, met_at=None, reason=sla_policy.CANCEL_POLICY_OFF)
        return "idle"
    if not clock.breached:
        clock.breached = True
        clock.next_step_at = sla_policy.next_sweep_point(
            spec, due_at=clock.due_at, steps_done=clock.step, breach_recorded=True
        )
        clock.save(update_fields=["breached", "next_step_at"])
        outbox_events.record(
            EventType.SLA_BREACHED, lead_id=clock.lead_id,
            payload={"clock": clock.pk, "policy": clock.policy_id, "due_at": clock.due_at.isoformat()},
        )
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
    row = SlaEscalation.objects.create(clock=clock, step=step.number, action=step.action, at=now)
    row.outcome = escalation.run_step(step, clock=clock, lead=lead, policy=policy, now=now)
    row.save(update_fields=["outcome"])
    clock.refresh_from_db(fields=["stopped_at", "step"])
    if clock.stopped_at is None:
        SlaClock.objects.filter(pk=clock.pk).update(
            next_step_at=sla_policy.step_time(spec, due_at=clock.due_at, number=step.number + 1)
        )
    return "step"

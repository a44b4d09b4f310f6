"""SLA decisions: which clocks an event starts or stops, when they are due, which escalation step is next,
when the recycling rule recycles and when a lead is stalled. Pure: no database, no leads.

The leads app describes an event (a stage change, an owner change, a logged contact attempt) and its
running clocks in the small dataclasses below, asks these functions, and writes what they decide.
Stage values and their groups come from `core.vocabulary`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from core.vocabulary import CLOSED_STAGES, ActivityKind, Stage, TransitionName
from routing import calendar

# --- vocabulary -----------------------------------------------------------------------------------------

# What starts a clock
STAGE_ENTERED = "stage_entered"  # the lead enters the policy's stage
OWNER_ASSIGNED = "owner_assigned"  # the lead gets an owner (route, assign, claim, reassign) in the stage
AE_ASSIGNED = "ae_assigned"  # the hand-off gives the lead's opportunity to an account executive (sales)
POOL_ENTERED = "pool_entered"  # an MQL waits unowned in the pool (routing found nobody, or it was released)
STARTS = (STAGE_ENTERED, OWNER_ASSIGNED, AE_ASSIGNED, POOL_ENTERED)

# What stops it (met)
STAGE_EXIT = "stage_exit"  # any transition out of the stage the clock started in
CONTACT_ATTEMPT = "contact_attempt"  # the first logged call, e-mail, LinkedIn message or meeting
FIRST_MEETING = "first_meeting"  # the first meeting logged on the lead after the clock started
STOPS = (STAGE_EXIT, CONTACT_ATTEMPT, FIRST_MEETING)
# The clocks whose owner is not the lead's (the AE's first meeting: the SDR keeps the lead): their
# escalation steps warn the owner the clock started for, and only warn or tell a manager.
CLOCK_OWNER_STARTS = frozenset({AE_ASSIGNED})

# What the duration counts from
FROM_EVENT = "event"
FROM_CLOSE_DATE = "close_date"  # the end of the lead's forecast close date (deal ageing)
COUNTS_FROM = (FROM_EVENT, FROM_CLOSE_DATE)

# Escalation actions
WARN_OWNER = "warn_owner"
NOTIFY_MANAGER = "notify_manager"
REASSIGN = "reassign"
RELEASE = "release"
RECYCLE = "recycle"
ACTIONS = (WARN_OWNER, NOTIFY_MANAGER, REASSIGN, RELEASE, RECYCLE)

# Which transition recycles a lead from a stage (an MQL is rejected back to marketing)
RECYCLE_TRANSITION = {
    Stage.MQL: TransitionName.REJECT, Stage.SAL: TransitionName.RECYCLE, Stage.SQL: TransitionName.RECYCLE,
    Stage.OPPORTUNITY: TransitionName.RECYCLE,
}

# Why a running clock stopped without being met
CANCEL_OWNER_CHANGED = "owner_changed"
CANCEL_OWNER_REMOVED = "owner_removed"
CANCEL_CLOSED = "lead_closed"
CANCEL_RESTARTED = "restarted"
CANCEL_POLICY_OFF = "policy_off"


# --- input and output -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepSpec:
    number: int  # 1, 2, ... in the order they run
    after: calendar.Duration  # after the due, counted on the policy's calendar
    action: str
    reason: str = ""  # written on the lead when the action recycles it


@dataclass(frozen=True)
class PolicySpec:
    id: int | None
    name: str
    stage: str  # "" with OWNER_ASSIGNED: an assignment in any open stage
    starts_on: str
    stops_on: str
    duration: calendar.Duration
    calendar: calendar.CalendarSpec = field(default_factory=calendar.CalendarSpec)
    counts_from: str = FROM_EVENT
    steps: tuple[StepSpec, ...] = ()
    is_active: bool = True


@dataclass(frozen=True)
class RunningClock:
    """What a stop decision needs to know about a running clock."""

    id: int
    policy_id: int
    stage: str  # the lead's stage when the clock started
    owner_id: int | None  # the owner it started for (owner-assigned clocks)
    starts_on: str
    stops_on: str


@dataclass(frozen=True)
class Stop:
    clock_id: int
    met: bool
    reason: str  # met: the transition name or "contact_attempt"; else one of the CANCEL_* words


@dataclass(frozen=True)
class RecyclingSpec:
    attempts: int = 6
    days: int = 14
    is_enabled: bool = True


@dataclass(frozen=True)
class Attempt:
    at: dt.datetime
    connected: bool


@dataclass(frozen=True)
class RecycleDecision:
    attempts: int
    days: int


# --- starting -------------------------------------------------------------------------------------------


def base_time(policy: PolicySpec, *, event_at: dt.datetime, close_date: dt.date | None) -> dt.datetime | None:
    """What the duration counts from: the event, or the end of the close date (None when there is none)."""
    if policy.counts_from == FROM_CLOSE_DATE:
        if close_date is None:
            return None
        zone = ZoneInfo(policy.calendar.time_zone)
        return dt.datetime.combine(close_date + dt.timedelta(days=1), dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    return event_at


def due(policy: PolicySpec, *, event_at: dt.datetime, close_date: dt.date | None = None) -> dt.datetime | None:
    """When a clock of this policy started at `event_at` is due (None: it cannot start, no close date)."""
    base = base_time(policy, event_at=event_at, close_date=close_date)
    if base is None:
        return None
    return calendar.due_at(base, policy.duration, policy.calendar)


# --- stopping -------------------------------------------------------------------------------------------


def stops_for_transition(
    clocks: Iterable[RunningClock], *, name: str, source: str, target: str, owner_id: int | None
) -> list[Stop]:
    """The clocks a transition `name` from `source` to `target` stops (the lead's owner after it: owner_id)."""
    stops = []
    for clock in clocks:
        if clock.stops_on == STAGE_EXIT and clock.stage == source and target != source:
            stops.append(Stop(clock.id, True, name))
        elif target in CLOSED_STAGES:
            stops.append(Stop(clock.id, False, CANCEL_CLOSED))
        elif clock.starts_on == OWNER_ASSIGNED and owner_id != clock.owner_id:
            stops.append(Stop(clock.id, False, CANCEL_OWNER_REMOVED if owner_id is None else CANCEL_OWNER_CHANGED))
    return stops


def stops_for_owner_change(clocks: Iterable[RunningClock], *, new_owner_id: int | None) -> list[Stop]:
    """An owner-assigned clock belongs to the owner it started for: a new owner (or none) ends it. A pool
    clock is met when the lead gets an owner (claimed, assigned or routed)."""
    stops = [
        Stop(clock.id, False, CANCEL_OWNER_REMOVED if new_owner_id is None else CANCEL_OWNER_CHANGED)
        for clock in clocks
        if clock.starts_on == OWNER_ASSIGNED and clock.owner_id != new_owner_id
    ]
    if new_owner_id is not None:
        stops += [Stop(clock.id, True, OWNER_ASSIGNED) for clock in clocks if clock.starts_on == POOL_ENTERED]
    return stops


def stops_for_contact_attempt(clocks: Iterable[RunningClock], *, kind: str = "") -> list[Stop]:
    """The clocks a logged contact attempt of `kind` meets: every contact-attempt clock, and the
    first-meeting clocks when it is a meeting."""
    return [
        Stop(clock.id, True, clock.stops_on)
        for clock in clocks
        if clock.stops_on == CONTACT_ATTEMPT or (clock.stops_on == FIRST_MEETING and kind == ActivityKind.MEETING)
    ]


def warned_owner(*, starts_on: str, lead_owner_id: int | None, clock_owner_id: int | None) -> int | None:
    """Whom an escalation step counts as the owner: the clock's for an AE clock, else the lead's (now)."""
    return clock_owner_id if starts_on in CLOCK_OWNER_STARTS else lead_owner_id


# --- escalation -----------------------------------------------------------------------------------------


def step_time(policy: PolicySpec, *, due_at: dt.datetime, number: int) -> dt.datetime | None:
    """When step `number` (1-based) runs: the due plus the step's offset, never before an earlier step."""
    if number < 1 or number > len(policy.steps):
        return None
    moment = due_at
    for step in policy.steps[:number]:
        if step.after.amount == 0 and step.after.unit != calendar.DAYS:
            continue  # no open time after the due is the due itself (0 working days may move it to an opening)
        moment = max(moment, calendar.due_at(due_at, step.after, policy.calendar))
    return moment


def next_sweep_point(
    policy: PolicySpec, *, due_at: dt.datetime, steps_done: int, breach_recorded: bool
) -> dt.datetime | None:
    """When the sweep must look at a running clock next: its due (to record the breach), then each step."""
    if not breach_recorded:
        return due_at
    return step_time(policy, due_at=due_at, number=steps_done + 1)


def next_step(policy: PolicySpec, *, steps_done: int) -> StepSpec | None:
    return policy.steps[steps_done] if steps_done < len(policy.steps) else None


def ordered_steps(steps: Iterable[StepSpec]) -> tuple[StepSpec, ...]:
    """Number steps 1, 2, ... in the order given (the admin's position order)."""
    return tuple(
        StepSpec(number=index, after=step.after, action=step.action, reason=step.reason)
        for index, step in enumerate(steps, start=1)
    )


# --- recycling and stalls -------------------------------------------------------------------------------


def recycling_decision(
    rule: RecyclingSpec, attempts: Sequence[Attempt], *, since: dt.datetime, now: dt.datetime
) -> RecycleDecision | None:
    """Recycle when, within the last `days` (and since `since`, when the lead became SAL), at least
    `attempts` contact attempts were logged and none of them connected."""
    if not rule.is_enabled:
        return None
    window_start = max(since, now - dt.timedelta(days=rule.days))
    recent = [attempt for attempt in attempts if window_start <= attempt.at <= now]
    if any(attempt.connected for attempt in recent) or len(recent) < rule.attempts:
        return None
    return RecycleDecision(attempts=len(recent), days=rule.days)


def is_stalled(stage: str, entered_at: dt.datetime, thresholds: Mapping[str, int], now: dt.datetime) -> bool:
    """In `stage` for longer than its threshold in days (stages without a threshold never stall)."""
    days = thresholds.get(stage)
    return days is not None and entered_at < now - dt.timedelta(days=days)


# --- validating configuration (the models' clean()) -----------------------------------------------------


def policy_problems(
    *, stage: str, starts_on: str, stops_on: str, counts_from: str, actions: Sequence[str]
) -> dict[str, str]:
    """Field -> sentence for a policy that cannot work as configured (empty when it can)."""
    problems: dict[str, str] = {}
    if starts_on == STAGE_ENTERED and not stage:
        problems["stage"] = "Choose the stage whose entry starts the clock."
    if starts_on == POOL_ENTERED and stage != Stage.MQL:
        problems["stage"] = "Only MQLs wait in the pool: set the stage to MQL."
    if stage in CLOSED_STAGES:
        problems["stage"] = "Choose a stage a lead works through (known, MQL, SAL, SQL or opportunity)."
    if counts_from == FROM_CLOSE_DATE and (stage != "opportunity" or starts_on != STAGE_ENTERED):
        problems["counts_from"] = "Only a policy that starts when a lead becomes an opportunity has a close date."
    if RELEASE in actions and stage != Stage.MQL:
        problems["steps"] = "Only an MQL can be released to the pool: set the stage to MQL or remove the step."
    if RECYCLE in actions and stage not in RECYCLE_TRANSITION:
        problems["steps"] = "Only MQL, SAL, SQL and opportunity policies can recycle: set one or remove the step."
    if (starts_on == AE_ASSIGNED) != (stops_on == FIRST_MEETING):
        problems["stops_on"] = "The AE's clock (started by the hand-off) stops at the first meeting, and only it does."
    if starts_on == AE_ASSIGNED and set(actions) - {WARN_OWNER, NOTIFY_MANAGER}:
        problems["steps"] = "The AE's first-meeting clock can warn the AE or tell a manager, nothing else."
    if REASSIGN in actions and stage == Stage.KNOWN:
        problems["steps"] = "Known leads are not routed: a reassigning step needs MQL, SAL, SQL or opportunity."
    return problems

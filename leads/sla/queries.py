"""Reads of SLA clocks and stalls that lists, the queue, the lead page and the API share: `annotate` (in the
same query as the leads), `Q` filters, a lead's clocks as the API shows them, speed to lead."""

from __future__ import annotations

import datetime as dt

from django.db.models import DateTimeField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery, Value
from django.utils import timezone

from leads.models import Lead, SlaClock
from routing import sla_policy
from routing.models import StallThreshold

# "Due soon": a running clock due within this window (the lead list's SLA filter, the manager's breach list).
DUE_SOON = dt.timedelta(hours=1)


def running_clocks() -> QuerySet[SlaClock]:
    return SlaClock.objects.filter(stopped_at__isnull=True)


def due_soon_condition(*, now: dt.datetime | None = None) -> Q:
    """Leads with a running clock due within DUE_SOON and none past its due yet."""
    now = now or timezone.now()
    running = running_clocks().filter(lead=OuterRef("pk"))
    return Q(Exists(running.filter(due_at__gt=now, due_at__lte=now + DUE_SOON))) & ~Q(
        Exists(running.filter(due_at__lte=now))
    )


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
    """`Lead.objects.filter(queries.stalled_q())`: leads over their stage's threshold."""
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

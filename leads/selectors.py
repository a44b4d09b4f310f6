"""Reads shared by pages, API and reports. Visibility is decided here, once."""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, DateField, Exists, F, Min, OuterRef, Q, QuerySet, Subquery, TextField
from django.db.models.functions import TruncDate
from django.utils import timezone

from core.vocabulary import CAPACITY_STAGES, CONTENT_KINDS, WORKED_STAGES, ActivityKind, Stage, TransitionName
from leads import extensions, roles
from leads import history as history_module
from leads.models import Activity, Lead, LeadTransition, Notification, Submission
from leads.sla import queries as sla_queries
from routing import capacity as routing_capacity
from routing import policy as routing_policy
from routing.models import Rep
from scoring.models import ScoringModel


def visible_leads(user) -> QuerySet[Lead]:
    """Marketing, managers and admins see all leads; an SDR sees own leads and the pool; others nothing."""
    leads = Lead.objects.select_related("owner", "campaign", "prediction")
    if roles.is_staff_role(user):
        return leads
    if roles.is_sdr(user):
        return leads.filter(Q(owner=user) | Q(owner__isnull=True, stage=Stage.MQL))
    return leads.none()


def get_visible_lead(user, lead_id) -> Lead | None:
    try:
        return visible_leads(user).select_related("score_details").get(pk=lead_id)
    except (Lead.DoesNotExist, ValueError, TypeError):
        return None


def pool(user) -> QuerySet[Lead]:
    """Unowned MQLs, oldest first."""
    return visible_leads(user).filter(owner__isnull=True, stage=Stage.MQL).order_by("stage_entered_at", "id")


def queue_for(user) -> dict[str, QuerySet[Lead]]:
    """An SDR's own work: MQLs waiting for acceptance (oldest first) and SALs to work."""
    own = Lead.objects.select_related("campaign").filter(owner=user)
    return {
        "waiting": own.filter(stage=Stage.MQL).order_by("stage_entered_at", "id"),
        "working": own.filter(stage=Stage.SAL).order_by("stage_entered_at", "id"),
        "later": own.filter(stage__in=[Stage.SQL, Stage.OPPORTUNITY]).order_by("stage_entered_at", "id"),
    }


def history(lead: Lead) -> QuerySet[LeadTransition]:
    return lead.transitions.select_related("actor").order_by("at", "id")


def timeline(lead: Lead) -> list[dict]:
    """Activities, transitions and what the apps above add (consent, messages, ...) in time order (newest
    first)."""
    entries = []
    for activity in lead.activities.select_related("created_by").order_by("-occurred_at")[:200]:
        entries.append({"type": "activity", "at": activity.occurred_at, "item": activity})
    for change in history(lead):
        entries.append({"type": "transition", "at": change.at, "item": change})
    for change in history_module.changes_of(lead):
        entries.append({"type": "field_change", "at": change.at, "item": change,
                        "template": "leads/_timeline_field_change.html"})
    for entry in extensions.timeline_entries(lead):
        entries.append({"type": entry.type, "at": entry.at, "item": entry.item, "template": entry.template})
    entries.sort(key=lambda entry: entry["at"], reverse=True)
    return entries


def unread_notifications(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user, read_at__isnull=True)


def activities_of(lead: Lead) -> QuerySet[Activity]:
    return lead.activities.order_by("-occurred_at", "-id")


# --- the SDR's queue, by urgency ------------------------------------------------------------------------

# Kinds people log by hand; the latest of them says what the next step is.
_WORK_KINDS = (ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.LINKEDIN, ActivityKind.MEETING, ActivityKind.NOTE)
# Most urgent first: the SLA clock due soonest (leads without a running clock after those with one), then
# the longest wait in the stage, then the highest score.
URGENCY = (F("sla_due_at").asc(nulls_last=True), "stage_entered_at", "-score", "id")


def _latest_work(field: str, output_field):
    latest = (
        Activity.objects.filter(lead=OuterRef("pk"), kind__in=_WORK_KINDS, created_by__isnull=False)
        .order_by("-created_at", "-id")
        .values(field)[:1]
    )
    return Subquery(latest, output_field=output_field)


def next_step_on():
    """The next step the owner planned: `next_step_on` of the lead's most recently logged work activity.

    A later call, e-mail or note without a next step means nothing is planned any more."""
    return _latest_work("next_step_on", DateField())


def work_queue(user, *, today: dt.date | None = None, now: dt.datetime | None = None) -> dict[str, QuerySet[Lead]]:
    """An SDR's own work by urgency: MQLs to accept, SALs to contact, SQLs and opportunities, and the
    follow-ups due today (planned for today or earlier and not yet replaced by a newer activity).

    Each lead carries `sla_due_at` / `sla_breached` (its running SLA clocks, see `leads.sla.queries.annotate`),
    `follow_up_on` and `follow_up_note`; one query per section whatever the number of leads."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    own = sla_queries.annotate(Lead.objects.select_related("campaign").filter(owner=user), now=now).annotate(
        follow_up_on=next_step_on(), follow_up_note=_latest_work("note", TextField())
    )
    return {
        "waiting": own.filter(stage=Stage.MQL).order_by(*URGENCY),
        "working": own.filter(stage=Stage.SAL).order_by(*URGENCY),
        "later": own.filter(stage__in=[Stage.SQL, Stage.OPPORTUNITY]).order_by(*URGENCY),
        "follow_ups": own.filter(stage__in=WORKED_STAGES, follow_up_on__lte=today).order_by(
            "follow_up_on", "-score", "id"
        ),
    }


# --- notifications --------------------------------------------------------------------------------------


def notifications_for(user) -> QuerySet[Notification]:
    """The user's own notifications, newest first."""
    return Notification.objects.filter(user=user).select_related("lead").order_by("-created_at", "-id")


def visible_lead_ids(user, lead_ids) -> set[int]:
    """Which of these leads the user may open (one query)."""
    ids = [pk for pk in lead_ids if pk is not None]
    if not ids:
        return set()
    return set(visible_leads(user).filter(pk__in=ids).values_list("pk", flat=True))


# --- reps and the manager board -------------------------------------------------------------------------


@dataclass(frozen=True)
class RepLoad:
    """One owner's open work: open MQL + SAL (against capacity), waiting MQLs and the oldest wait."""

    open_load: int = 0
    waiting: int = 0
    oldest_waiting_since: dt.datetime | None = None


def rep_loads(user_ids) -> dict[int, RepLoad]:
    """Open load, waiting MQLs and the oldest waiting MQL per owner, in one query."""
    rows = (
        Lead.objects.filter(owner_id__in=list(user_ids), stage__in=CAPACITY_STAGES)
        .values("owner_id")
        .annotate(
            open_load=Count("id"),
            waiting=Count("id", filter=Q(stage=Stage.MQL)),
            oldest=Min("stage_entered_at", filter=Q(stage=Stage.MQL)),
        )
    )
    return {row["owner_id"]: RepLoad(row["open_load"], row["waiting"], row["oldest"]) for row in rows}


@dataclass(frozen=True)
class BoardRow:
    rep: Rep
    load: RepLoad
    is_out_of_office: bool

    @property
    def load_percent(self) -> int:
        return min(100, round(100 * self.load.open_load / max(self.rep.capacity, 1)))

    @property
    def is_full(self) -> bool:
        return self.load.open_load >= self.rep.capacity

    @property
    def takes_leads(self) -> bool:
        """Whether routing may give this rep a lead now (shifts aside)."""
        return self.rep.is_available and self.rep.user.is_active and not self.is_out_of_office and not self.is_full


def reps() -> QuerySet[Rep]:
    """Every rep by team and username, with user, team and its manager (one query)."""
    return Rep.objects.select_related("user", "team", "team__manager").order_by(
        "team__name", "team_id", "user__username"
    )


@dataclass(frozen=True)
class ClockAlert:
    """A running clock of a manager's team: breached or due soon, and the rep it could go to in one click."""

    clock: object  # SlaClock, with lead, its owner and the policy
    is_breached: bool
    suggested: Rep | None


def team_clock_alerts(user, *, now: dt.datetime | None = None, limit: int = 50) -> list[ClockAlert]:
    """The manager's breach list: running SLA clocks past their due or due within `sla_queries.DUE_SOON`, of
    leads owned by reps of the teams `user` manages (every team for an admin), the most overdue first. Each
    with a suggestion: the rep of the same team with the most free places who takes leads now (not the owner).
    Three queries."""
    now = now or timezone.now()
    team_reps = reps() if user.is_superuser else reps().filter(team__manager=user)
    team_reps = list(team_reps)
    team_of = {rep.user_id: rep.team_id for rep in team_reps}
    clocks = list(
        sla_queries.running_clocks()
        .filter(due_at__lte=now + sla_queries.DUE_SOON, lead__owner_id__in=list(team_of))
        .select_related("lead", "lead__owner", "policy")
        .order_by("due_at", "id")[:limit]
    )
    if not clocks:
        return []
    rows = [row for row in board_rows(team_reps, now=now) if row.takes_leads]
    alerts = []
    for clock in clocks:
        candidates = [row for row in rows if row.rep.team_id == team_of.get(clock.lead.owner_id)
                      and row.rep.user_id != clock.lead.owner_id]
        best = max(candidates, key=lambda row: (row.rep.capacity - row.load.open_load, -row.rep.pk), default=None)
        alerts.append(ClockAlert(clock=clock, is_breached=clock.due_at <= now, suggested=best.rep if best else None))
    return alerts


def rep_by_username(username: str) -> Rep | None:
    return reps().filter(user__username=username).first()


def board_rows(rep_list, *, now: dt.datetime | None = None) -> list[BoardRow]:
    """Board rows for these reps: two queries whatever their number (the reps, their loads)."""
    now = now or timezone.now()
    rep_list = list(rep_list)
    loads = rep_loads([rep.user_id for rep in rep_list])
    return [
        BoardRow(
            rep=rep,
            load=loads.get(rep.user_id, RepLoad()),
            is_out_of_office=routing_policy.is_out_of_office(
                rep.out_of_office_from, rep.out_of_office_until, _local_day(now, rep.time_zone)
            ),
        )
        for rep in rep_list
    ]


def pool_summary() -> dict:
    """How many MQLs wait in the pool, and since when the oldest."""
    return Lead.objects.filter(owner__isnull=True, stage=Stage.MQL).aggregate(
        size=Count("id"), oldest_since=Min("stage_entered_at")
    )


def open_leads_of(user) -> QuerySet[Lead]:
    """A rep's leads that count against capacity (MQL, SAL), the waiting MQLs first, oldest first."""
    return (
        Lead.objects.select_related("campaign")
        .filter(owner=user, stage__in=CAPACITY_STAGES)
        .order_by("stage", "stage_entered_at", "id")  # "mql" < "sal": the waiting MQLs come first
    )


def _local_day(now: dt.datetime, time_zone: str) -> dt.date:
    try:
        return now.astimezone(ZoneInfo(time_zone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.localdate(now)


def with_lead_type(queryset: QuerySet[Lead]) -> QuerySet[Lead]:
    """Annotate `consumed_content` and the active scoring model's `mal_threshold` so `Lead.lead_type` needs
    no query per lead."""
    return queryset.annotate(
        consumed_content=Exists(Activity.objects.filter(lead=OuterRef("pk"), kind__in=CONTENT_KINDS)),
        mal_threshold=Subquery(ScoringModel.objects.filter(is_active=True).values("mal_fit_threshold")[:1]),
    )


# --- operations (config.health, config.metrics) ----------------------------------------------------------


def operational_figures(*, now: dt.datetime | None = None) -> dict[str, int]:
    """What an operator watches, each an indexed count: MQLs waiting in the pool and in total, running SLA
    clocks past their due, submissions not finished (still `received`), notifications not yet e-mailed."""
    now = now or timezone.now()
    mqls = Lead.objects.filter(stage=Stage.MQL)
    return {
        "pool_size": mqls.filter(owner__isnull=True).count(),
        "mqls_waiting": mqls.count(),
        "breached_clocks": sla_queries.running_clocks().filter(due_at__lte=now).count(),
        "submissions_unfinished": Submission.objects.filter(outcome=Submission.Outcome.RECEIVED).count(),
        "notifications_unmailed": Notification.objects.filter(emailed_at__isnull=True).count(),
    }


def capacity_forecast(rows, *, now: dt.datetime | None = None) -> routing_capacity.Forecast:
    """The team board's forecast: MQL inflow per day (from `mark_mql` transitions), leads leaving MQL/SAL per
    day, and the free places of the reps who take leads now (`rows`: the board rows). Two queries."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    since = now - dt.timedelta(days=routing_capacity.PATTERN_DAYS + 1)
    inflow = dict(LeadTransition.objects.filter(name=TransitionName.MARK_MQL, at__gte=since)
                  .annotate(day=TruncDate("at")).values("day").annotate(count=Count("id"))
                  .values_list("day", "count"))
    released = dict(LeadTransition.objects.filter(source__in=CAPACITY_STAGES, at__gte=since)
                    .exclude(target__in=CAPACITY_STAGES).annotate(day=TruncDate("at")).values("day")
                    .annotate(count=Count("id")).values_list("day", "count"))
    free_now = sum(max(0, row.rep.capacity - row.load.open_load) for row in rows if row.takes_leads)
    return routing_capacity.forecast(inflow, today=today, free_now=free_now, released=released)

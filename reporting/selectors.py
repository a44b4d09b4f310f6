"""Every figure of the reports, aggregated in PostgreSQL.

Pages, the JSON API and the e-mail report call these functions with the same `Filters`, so they show the
same numbers. Nothing here loops over leads in Python: counts, medians and percentiles come back from SQL
(`percentile_cont` over window functions on the transition log). Python only shapes the few result rows.

What the filters mean (docs/reports.md says the same for users):
- The date range selects leads created in it (cohort funnel, speed-to-lead, sources), or events that
  happened in it (flow funnel, velocity, acceptance and reasons). Stalls are a snapshot of now.
- Rep and team select the leads the rep (or a rep of the team) owns now or owned at any time (assign and
  claim in the log), so an SDR's rejects and recycles stay in their figures; lists of leads (stalled, waiting
  MQLs) use the current owner.
"""

import datetime as dt
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import connections, transaction
from django.db.models import (
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone
from django.utils.translation import gettext as _

from core import replica, vocabulary
from core.vocabulary import CONTACT_KINDS, FUNNEL, Channel, Stage
from leads.models import Activity, Campaign, Lead, LeadTransition, SlaClock, Visitor
from reporting import benchmarks
from reporting.filters import Filters, day_start
from reporting.models import StageBenchmark
from routing.models import Rep, StallThreshold, Team

OWNER_CHANGES = [name.value for name in vocabulary.OWNER_CHANGES]
ASSIGNMENTS = [name.value for name in vocabulary.ASSIGNMENTS]
FUNNEL_STAGES = FUNNEL
# How far along the main path a stage is; lost leads were opportunities.
RANK = {
    Stage.KNOWN: 0, Stage.MQL: 1, Stage.SAL: 2, Stage.SQL: 3, Stage.OPPORTUNITY: 4, Stage.LOST: 4, Stage.CUSTOMER: 5,
}
HANDED_OVER = [s for s, r in RANK.items() if r >= 1]  # stages that mean sales got the lead
REASON_KINDS = [name.value for name in vocabulary.REASON_TRANSITIONS]
TOP_REASONS = 15
CENT = Decimal("0.01")

T_LEAD = Lead._meta.db_table
T_TRANSITION = LeadTransition._meta.db_table
T_ACTIVITY = Activity._meta.db_table
T_CAMPAIGN = Campaign._meta.db_table
T_USER = get_user_model()._meta.db_table
T_REP = Rep._meta.db_table
T_TEAM = Team._meta.db_table


def _rank_sql(column: str) -> str:
    """SQL CASE giving the funnel rank of a stage column (stage values are constants, never input)."""
    whens = " ".join(f"WHEN '{stage}' THEN {rank}" for stage, rank in RANK.items())
    return f"(CASE {column} {whens} ELSE 0 END)"


REPORT_WORK_MEM = "64MB"  # sorts for percentiles and windows stay in memory on large data


def _rows(sql: str, params: list) -> list[dict]:
    alias = replica.read_alias()  # the report replica inside reads_from_replica(), else the primary
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _percent(part, whole) -> float | None:
    return round(100.0 * float(part) / float(whole), 1) if whole else None


def _days(value) -> float | None:
    return round(float(value), 2) if value is not None else None


def _minutes(seconds) -> float | None:
    return round(float(seconds) / 60.0, 1) if seconds is not None else None


def _money(value) -> Decimal | None:
    return Decimal(value).quantize(CENT, ROUND_HALF_UP) if value is not None else None


def _ratio(cost: Decimal | None, count: int) -> Decimal | None:
    return _money(cost / count) if cost and count else None  # no cost recorded: no ratio


# --- benchmark bands ---------------------------------------------------------------------------------


def current_bands() -> dict[str, benchmarks.Band]:
    """The benchmark defaults with the admin's rows and the stall thresholds applied (two queries)."""
    bands = dict(benchmarks.DEFAULTS)
    for row in StageBenchmark.objects.all():
        base = bands.get(row.stage)
        if base is None:
            continue
        bands[row.stage] = replace(
            base,
            conversion_min=benchmarks.number_or(row.conversion_min, base.conversion_min),
            conversion_max=benchmarks.number_or(row.conversion_max, base.conversion_max),
            days_min=benchmarks.number_or(row.days_min, base.days_min),
            days_max=benchmarks.number_or(row.days_max, base.days_max),
        )
    for stage, days in _stall_thresholds().items():
        if stage in bands:
            bands[stage] = replace(bands[stage], stall_days=float(days))
    return bands


def _stall_thresholds() -> dict[str, int]:
    """routing.StallThreshold rows (stage -> days): the queue and the reports flag the same leads."""
    return dict(StallThreshold.objects.values_list("stage", "days"))


# --- which leads count ----------------------------------------------------------------------------------


def leads_in_scope(f: Filters, *, created_in_range: bool = False, current_owner: bool = False) -> QuerySet[Lead]:
    """The leads the filters select (see the module doc for rep and team)."""
    leads = Lead.objects.all()
    if created_in_range:
        leads = leads.filter(created_at__gte=f.start_at, created_at__lt=f.end_at)
    if f.source:
        leads = leads.filter(source=f.source)
    if f.campaign_id:
        leads = leads.filter(campaign_id=f.campaign_id)
    if f.by_owner:
        owned = Q(owner_id__in=f.owner_ids)
        if not current_owner and f.owner_names:
            owned |= Q(pk__in=_assigned_to(f.owner_names))
        leads = leads.filter(owned)
    return leads


def _assigned_to(names) -> QuerySet[LeadTransition]:
    """Ids of the leads ever assigned to or claimed by these users, through the partial index on
    `data->>'to_owner'` (reporting migration 0002): a rep's few thousand assignments, not every one."""
    return (
        LeadTransition.objects.annotate(to_owner=KeyTextTransform("to_owner", "data"))
        .filter(name__in=ASSIGNMENTS, to_owner__in=names).values("lead_id")
    )


def _scope_sql(queryset: QuerySet, *fields: str) -> tuple[str, list]:
    """A queryset as SQL text and parameters, to use as a CTE or an IN (...) list."""
    try:
        sql, params = queryset.values(*fields).query.sql_with_params()
    except EmptyResultSet:  # e.g. a team without reps: nothing matches
        sql, params = Lead.objects.filter(pk__isnull=True).values(*fields).query.sql_with_params()
    return sql, list(params)


def _lead_condition(f: Filters, column: str) -> tuple[str, list]:
    """`AND column IN (leads in scope)` when lead filters are set; nothing otherwise (fast path)."""
    if not f.filters_leads:
        return "", []
    condition, params = "", []
    if f.source or f.campaign_id:
        sql, params = _scope_sql(leads_in_scope(replace(f, owner_ids=None, owner_names=())), "id")
        condition = f" AND {column} IN ({sql})"
    if f.by_owner:
        owned, owned_params = _owned_sql(f)
        condition += f" AND {column} IN ({owned})"
        params += owned_params
    return condition, params


def _owned_sql(f: Filters) -> tuple[str, list]:
    """Ids of the leads the filter's reps own now or owned before, as SQL (a rep's few thousand).

    The leads owned now and those ever assigned are two indexed lists joined with UNION ALL, which
    PostgreSQL hashes once; the same test as an OR would be checked lead by lead.
    """
    sql = f"SELECT o.id FROM {T_LEAD} o WHERE o.owner_id = ANY(%s)"  # noqa: S608 - constants only
    params = [list(f.owner_ids or ())]
    if f.owner_names:
        sql += (
            f" UNION ALL SELECT a.lead_id FROM {T_TRANSITION} a"  # noqa: S608 - constants only
            " WHERE a.name = ANY(%s) AND a.data ->> 'to_owner' = ANY(%s)"
        )
        params += [ASSIGNMENTS, list(f.owner_names)]
    return sql, params


# --- funnel ---------------------------------------------------------------------------------------------


def _visitors(f: Filters) -> dict:
    """Anonymous visitors first seen in the range and how many identified themselves (none per rep/team)."""
    if f.by_owner:
        return {"total": None, "identified": None}
    visitors = Visitor.objects.filter(first_seen_at__gte=f.start_at, first_seen_at__lt=f.end_at)
    if f.source:
        visitors = visitors.filter(capture_form__source=f.source)
    if f.campaign_id:
        visitors = visitors.filter(capture_form__campaign_id=f.campaign_id)
    return visitors.aggregate(total=Count("id"), identified=Count("lead_id"))


def _reached_columns(prefix: str = "") -> str:
    """SQL: per funnel stage, how many rows of `reached` (column `r`) got that far."""
    return ", ".join(f"COUNT(*) FILTER (WHERE r >= {RANK[stage]}) AS {prefix}{stage}" for stage in FUNNEL_STAGES)


def _cohort_counts(f: Filters) -> dict[str, int]:
    """Of the leads created in the range, how many ever reached each funnel stage (or a later one)."""
    scope, params = _scope_sql(leads_in_scope(f, created_in_range=True), "id", "stage")
    reached = _reached_columns()
    sql = f"""
        WITH scope AS ({scope}),
        reached AS MATERIALIZED (
            SELECT s.id, GREATEST({_rank_sql("s.stage")}, COALESCE(m.r, 0)) AS r
            FROM scope s {_furthest_join(f, "s.id")}
        )
        SELECT {reached} FROM reached
    """  # noqa: S608 - constants and generated SQL only; values are parameters
    return _rows(sql, [*params, OWNER_CHANGES])[0]


# A cohort of leads created over more days than this (and not narrowed to a rep's or team's leads) is joined
# to the transition log grouped once by lead, not looked up lead by lead (see `_furthest_join`).
LARGE_RANGE_DAYS = 400


def _is_large(f: Filters) -> bool:
    """Whether the range holds so many leads that one pass over the transition log beats a lookup per lead.

    Measured at a million leads over two years (1.1 million stage changes): the lookups cost about a
    microsecond per lead of the cohort, the single pass (the whole log grouped by lead, then hash-joined) a
    fixed half second plus less per lead. A year (half a million leads) is a draw; the full history is a
    fifth faster in one pass; 30 days (40,000 leads) take 60 ms with the lookups, far below the pass's fixed
    cost. A rep or team selects a few thousand leads over any range, so their figures keep the lookups. Both
    paths give the same figures (tests check it).
    """
    return (f.end - f.start).days + 1 > LARGE_RANGE_DAYS and not f.by_owner


def _furthest_join(f: Filters, lead_column: str) -> str:
    """`LEFT JOIN ... m` giving each lead its furthest rank in its stage-change log (`m.r`) and when it first
    became an MQL (`m.mql_at`); one parameter: the owner changes to leave out.

    Small cohorts: a LATERAL subquery per lead reads that lead's few transitions through the lead index
    (grouping the whole log would hash millions of rows for a few thousand leads). Large cohorts (`_is_large`):
    the log is grouped by lead in one pass (a sequential scan and a hash aggregate) and hash-joined.
    MATERIALIZED on the callers' CTE keeps either from being repeated for every aggregate that reads it.
    """
    furthest = f"MAX({_rank_sql('t.target')}) AS r, MIN(t.at) FILTER (WHERE t.target = '{str(Stage.MQL)}') AS mql_at"
    if _is_large(f):
        return f"""LEFT JOIN (
            SELECT t.lead_id, {furthest} FROM {T_TRANSITION} t WHERE t.name <> ALL(%s) GROUP BY t.lead_id
        ) m ON m.lead_id = {lead_column}"""  # noqa: S608 - constants only
    return f"""LEFT JOIN LATERAL (
            SELECT {furthest} FROM {T_TRANSITION} t WHERE t.lead_id = {lead_column} AND t.name <> ALL(%s)
        ) m ON TRUE"""  # noqa: S608 - constants only


def _flow_counts(f: Filters) -> dict[str, int]:
    """Entries into each stage in the range (transitions; captures for known leads)."""
    condition, params = _lead_condition(f, "t.lead_id")
    sql = f"""
        SELECT t.target AS stage, COUNT(*) AS n FROM {T_TRANSITION} t
        WHERE t.at >= %s AND t.at < %s AND t.name <> ALL(%s) AND t.target = ANY(%s){condition}
        GROUP BY t.target
    """  # noqa: S608
    rows = _rows(sql, [f.start_at, f.end_at, OWNER_CHANGES, [str(s) for s in FUNNEL_STAGES[1:]], *params])
    counts = {str(stage): 0 for stage in FUNNEL_STAGES}
    counts.update({row["stage"]: row["n"] for row in rows})
    counts[Stage.KNOWN] = leads_in_scope(f, created_in_range=True).count()
    return counts


def funnel(f: Filters, *, view: str = "cohort", bands: dict | None = None, reached: dict | None = None) -> dict:
    """Visitors -> known -> MQL -> SAL -> SQL -> opportunity -> customer, with stage-to-stage conversion.

    cohort: of the leads created in the range, how many ever reached each stage; flow: how many entered
    each stage in the range. Conversion is the next stage's count over this stage's, next to the band.
    `reached`: the cohort counts `sources(f)` computed already for the same filters (the overview shows
    both), so the cohort is not read a second time.
    """
    bands = bands if bands is not None else current_bands()
    if view == "cohort":
        counts = reached if reached is not None else _cohort_counts(f)
    else:
        counts = _flow_counts(f)
    visitors = _visitors(f)
    stages = [{"stage": "visitors", "label": _("Visitors"), "count": visitors["total"]}]
    stages += [{"stage": str(s), "label": str(s.label), "count": counts[str(s)]} for s in FUNNEL_STAGES]
    conversions = [{
        "source": "visitors", "target": str(Stage.KNOWN), "label": _("Visitor → known (identified)"),
        "rate": _percent(visitors["identified"], visitors["total"]) if visitors["total"] is not None else None,
        "band_min": None, "band_max": None, "flag": "",
    }]
    for here, there in zip(FUNNEL_STAGES, FUNNEL_STAGES[1:], strict=False):
        band = bands.get(here)
        rate = _percent(counts[str(there)], counts[str(here)])
        conversions.append({
            "source": str(here), "target": str(there), "label": f"{here.label} → {there.label}",
            "rate": rate,
            "band_min": band.conversion_min if band else None,
            "band_max": band.conversion_max if band else None,
            "flag": band.conversion_flag(rate) if band else "",
        })
    return {"view": view, "stages": stages, "conversions": conversions}


# --- velocity -------------------------------------------------------------------------------------------


def _stage_times(f: Filters) -> dict[str, dict]:
    """Days in each stage for stays that ended in the range.

    Each stage change ends a stay in its source stage; the stay began at the lead's previous stage change
    (LAG over the lead's transitions) or, for the lead's first, at its capture. The window runs over the
    changes in the range plus, per lead, the last change before it (found through the (lead, at) index),
    not over the whole log.
    """
    condition, params = _lead_condition(f, "t.lead_id")
    sql = f"""
        WITH moved AS (
            SELECT t.id, t.lead_id, t.source, t.at FROM {T_TRANSITION} t
            WHERE t.at >= %s AND t.at < %s AND t.name <> ALL(%s){condition}
        ),
        earlier AS (
            SELECT p.id, p.lead_id, p.at
            FROM (SELECT DISTINCT lead_id FROM moved) m
            CROSS JOIN LATERAL (
                SELECT p.id, p.lead_id, p.at FROM {T_TRANSITION} p
                WHERE p.lead_id = m.lead_id AND p.at < %s AND p.name <> ALL(%s)
                ORDER BY p.at DESC LIMIT 1  -- only its time counts, and it is earlier than every change in range
            ) p
        ),
        steps AS (
            SELECT id, lead_id, source AS stage, at, TRUE AS in_range FROM moved
            UNION ALL
            SELECT id, lead_id, NULL, at, FALSE FROM earlier
        ),
        stays AS (
            SELECT lead_id, stage, at, in_range,
                   LAG(at) OVER (PARTITION BY lead_id ORDER BY at, id) AS entered_at
            FROM steps
        ),
        days AS MATERIALIZED (
            SELECT stage, GREATEST(EXTRACT(EPOCH FROM at - COALESCE(
                       entered_at, (SELECT l.created_at FROM {T_LEAD} l WHERE l.id = stays.lead_id)
                   )) / 86400.0, 0) AS days
            FROM stays WHERE in_range
        )
        SELECT stage, COUNT(*) AS n, AVG(days) AS mean,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY days) AS median,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY days) AS p90
        FROM days GROUP BY stage
    """  # noqa: S608
    rows = _rows(sql, [f.start_at, f.end_at, OWNER_CHANGES, *params, f.start_at, OWNER_CHANGES])
    return {row["stage"]: row for row in rows}


def _time_to_won(f: Filters) -> list[dict]:
    """First touch to closed-won for deals won in the range, by source, campaign and industry."""
    condition, params = _lead_condition(f, "l.id")
    sql = f"""
        WITH won AS (
            SELECT l.source, l.campaign_id, c.name AS campaign_name, l.industry,
                   GREATEST(EXTRACT(EPOCH FROM t.at - l.first_touch_at) / 86400.0, 0) AS days
            FROM {T_TRANSITION} t
            JOIN {T_LEAD} l ON l.id = t.lead_id
            LEFT JOIN {T_CAMPAIGN} c ON c.id = l.campaign_id
            WHERE t.target = %s AND t.name <> ALL(%s) AND t.at >= %s AND t.at < %s{condition}
        )
        SELECT GROUPING(source) AS g_source, GROUPING(campaign_id) AS g_campaign,
               source, campaign_id, campaign_name, industry,
               COUNT(*) AS n, AVG(days) AS mean,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY days) AS median,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY days) AS p90
        FROM won
        GROUP BY GROUPING SETS ((source), (campaign_id, campaign_name), (industry))
        ORDER BY 1, 2, n DESC
    """  # noqa: S608
    rows = _rows(sql, [str(Stage.CUSTOMER), OWNER_CHANGES, f.start_at, f.end_at, *params])
    out = []
    for row in rows:
        if row["g_source"] == 0:
            dimension, key, label = "source", row["source"], _channel_label(row["source"])
        elif row["g_campaign"] == 0:
            dimension, key = "campaign", row["campaign_id"]
            label = row["campaign_name"] or _("(no campaign)")
        else:
            dimension, key, label = "industry", row["industry"], row["industry"] or _("(unknown)")
        out.append({
            "dimension": dimension, "key": key, "label": label, "won": row["n"],
            "median_days": _days(row["median"]), "mean_days": _days(row["mean"]), "p90_days": _days(row["p90"]),
        })
    order = {"source": 0, "campaign": 1, "industry": 2}
    out.sort(key=lambda r: (order[r["dimension"]], -r["won"], str(r["label"])))
    return out


def velocity(f: Filters, *, bands: dict | None = None) -> dict:
    """Median, mean and 90th percentile days in each stage against the benchmark; first touch to won."""
    bands = bands if bands is not None else current_bands()
    times = _stage_times(f)
    stages = []
    for stage in benchmarks.STAGES:
        row = times.get(str(stage), {})
        band = bands[stage]
        median = _days(row.get("median"))
        stages.append({
            "stage": str(stage), "label": str(Stage(stage).label), "stays": row.get("n", 0),
            "median_days": median, "mean_days": _days(row.get("mean")), "p90_days": _days(row.get("p90")),
            "benchmark_days_min": band.days_min, "benchmark_days_max": band.days_max,
            "flag": band.days_flag(median),
        })
    return {"stages": stages, "to_won": _time_to_won(f)}


# --- stalls (a snapshot of now) -------------------------------------------------------------------------


def _stall_cutoffs(bands: dict, now: dt.datetime) -> dict[str, dt.datetime]:
    return {
        str(stage): now - dt.timedelta(days=band.stall_days)
        for stage, band in bands.items() if band.stall_days is not None
    }


def _stalled_condition(cutoffs: dict[str, dt.datetime]) -> Q:
    condition = Q(pk__in=[])
    for stage, cutoff in cutoffs.items():
        condition |= Q(stage=stage, stage_entered_at__lt=cutoff)
    return condition


def stalls(f: Filters, *, now: dt.datetime | None = None, bands: dict | None = None) -> dict:
    """Per stage: leads in it now, how many longer than the stall threshold, and the share.

    Counts read only `stage` and `stage_entered_at`, so without lead filters PostgreSQL answers from the
    (stage, stage_entered_at) index alone instead of reading every lead row.
    """
    bands = bands if bands is not None else current_bands()
    now = now or timezone.now()
    cutoffs = _stall_cutoffs(bands, now)
    rows = (
        leads_in_scope(f, current_owner=True).filter(stage__in=list(bands))
        .values("stage")
        .annotate(
            total=Count("stage_entered_at"), stalled=Count("stage_entered_at", filter=_stalled_condition(cutoffs))
        )
        .order_by()
    )
    found = {row["stage"]: row for row in rows}
    stages = []
    for stage in benchmarks.STAGES:
        row = found.get(str(stage), {"total": 0, "stalled": 0})
        stages.append({
            "stage": str(stage), "label": str(Stage(stage).label), "in_stage": row["total"],
            "stalled": row["stalled"], "rate": _percent(row["stalled"], row["total"]),
            "threshold_days": bands[stage].stall_days,
        })
    return {"stages": stages, "as_of": now}


class StalledLeads:
    """Leads longer in their stage than its threshold, the furthest over first, then by id.

    Behaves like a sliced queryset for `Paginator` and `[:n]`: `count()` and slicing. The order (how far
    past its stage's cutoff a lead is) differs per stage, so one ORDER BY over all stalled leads sorts every
    one of them (hundreds of thousands on a large history). Within one stage "furthest over" is simply
    "oldest `stage_entered_at`", which the (stage, stage_entered_at) index delivers in order: each stage
    contributes its first `stop` leads, and only those are merged and cut to the page.

    That walk is quick while most leads of a stage are in scope. When filters select a few of them (a rep's
    own leads), walking a stage's index in order could pass hundreds of thousands of other leads before it
    finds a page; then the leads in scope are found through their own index and sorted (`narrow`).
    """

    def __init__(
        self, leads: QuerySet[Lead], cutoffs: dict[str, dt.datetime], *, count: int | None = None,
        narrow: bool = False,
    ):
        self.leads = leads  # the leads in scope, unordered
        self.cutoffs = cutoffs
        self._count = count  # known already (the sum of `stalls`): no second count
        self.narrow = narrow

    def count(self) -> int:
        if self._count is None:
            # the same shape as `stalls` (filter per stage inside the count), which the index answers alone
            self._count = self.leads.filter(stage__in=list(self.cutoffs)).aggregate(
                n=Count("stage_entered_at", filter=_stalled_condition(self.cutoffs))
            )["n"]
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __iter__(self):
        return iter(self[:self.count()])

    def __getitem__(self, item: slice) -> list[Lead]:
        if not isinstance(item, slice) or item.step is not None:
            raise TypeError("StalledLeads supports slices only, e.g. [0:50]")
        start = item.start or 0
        stop = item.stop if item.stop is not None else self.count()
        if stop <= start or not self.cutoffs:
            return []
        if self.narrow:
            over_by = Case(*[When(stage=stage, then=Value(cutoff)) for stage, cutoff in self.cutoffs.items()])
            merged = (
                self.leads.filter(_stalled_condition(self.cutoffs))
                .annotate(over_by=_duration(over_by - F("stage_entered_at")))
                .order_by("-over_by", "id").values("id", "over_by")[start:stop]
            )
            return self._leads(merged)
        per_stage = [
            self.leads.filter(stage=stage, stage_entered_at__lt=cutoff)
            .annotate(over_by=_duration(Value(cutoff) - F("stage_entered_at")))
            .order_by("stage_entered_at", "id").values("id", "over_by")
            for stage, cutoff in self.cutoffs.items()
        ]
        if len(per_stage) == 1:
            merged = per_stage[0][start:stop]
        else:
            firsts = [leads[:stop] for leads in per_stage]
            merged = firsts[0].union(*firsts[1:], all=True).order_by("-over_by", "id")[start:stop]
        return self._leads(merged)

    @staticmethod
    def _leads(rows) -> list[Lead]:
        order = [(row["id"], row["over_by"]) for row in rows]
        found = Lead.objects.select_related("owner", "campaign").in_bulk([pk for pk, _over in order])
        page = []
        for pk, over_by in order:
            lead = found.get(pk)
            if lead is not None:  # deleted between the two queries
                lead.over_by = over_by
                page.append(lead)
        return page


def stalled_leads(
    f: Filters, *, now: dt.datetime | None = None, bands: dict | None = None, within: QuerySet[Lead] | None = None,
    stall_data: dict | None = None,
) -> StalledLeads:
    """Leads longer in their stage than its threshold, the furthest over first (current owner).

    `within` narrows them further (e.g. to the leads a user may open); `stall_data`, the result of `stalls`
    for the same filters, `now` and bands, saves counting them again.
    """
    bands = bands if bands is not None else current_bands()
    now = now or timezone.now()
    leads = leads_in_scope(f, current_owner=True)
    count = None
    if within is not None:
        leads = leads.filter(pk__in=within.values("pk"))
    elif stall_data is not None and stall_data["as_of"] == now:
        count = sum(stage["stalled"] for stage in stall_data["stages"])
    narrow = f.by_owner or within is not None  # a rep's or team's leads, an SDR's view
    return StalledLeads(leads, _stall_cutoffs(bands, now), count=count, narrow=narrow)


def _duration(expression):
    return ExpressionWrapper(expression, output_field=DurationField())


def waiting_mqls(f: Filters) -> QuerySet[Lead]:
    """MQLs waiting for acceptance, oldest first: the scope's own and the pool."""
    leads = Lead.objects.filter(stage=Stage.MQL)
    if f.source:
        leads = leads.filter(source=f.source)
    if f.campaign_id:
        leads = leads.filter(campaign_id=f.campaign_id)
    if f.by_owner:
        leads = leads.filter(Q(owner_id__in=f.owner_ids) | Q(owner__isnull=True))
    return leads.select_related("owner", "campaign").order_by("stage_entered_at", "id")


# --- speed-to-lead --------------------------------------------------------------------------------------


def speed_to_lead(f: Filters) -> dict:
    """Capture to first touch and assignment to first touch, per rep and team.

    Leads: created in the range and handed to sales (reached MQL or got an owner). First touch: the first
    call, e-mail, LinkedIn message or meeting logged by a person at or after capture (or assignment).
    Assignment: the first assign or claim; its rep is the one per-rep rows count the lead for.
    """
    scope, params = _scope_sql(leads_in_scope(f, created_in_range=True), "id", "created_at", "stage")
    if _is_large(f):  # one pass over the log, hashed (see `_is_large`)
        handed_in_log = f"""s.id IN (
                SELECT t.lead_id FROM {T_TRANSITION} t WHERE t.target = ANY(%s) OR t.name = ANY(%s)
            )"""  # noqa: S608 - constants only
        first_assignment = f"""LEFT JOIN (
                SELECT DISTINCT ON (t.lead_id) t.lead_id, t.at, t.data ->> 'to_owner' AS owner_name
                FROM {T_TRANSITION} t WHERE t.name = ANY(%s) ORDER BY t.lead_id, t.at, t.id
            ) a ON a.lead_id = h.id"""  # noqa: S608 - constants only
    else:  # each lead's log through the lead index
        handed_in_log = f"""EXISTS (
                SELECT 1 FROM {T_TRANSITION} t
                WHERE t.lead_id = s.id AND (t.target = ANY(%s) OR t.name = ANY(%s))
                OFFSET 0  -- look up each lead's log by its index; without this the whole log is hashed
            )"""  # noqa: S608 - constants only
        first_assignment = f"""LEFT JOIN LATERAL (
                SELECT t.at, t.data ->> 'to_owner' AS owner_name FROM {T_TRANSITION} t
                WHERE t.lead_id = h.id AND t.name = ANY(%s)
                ORDER BY t.at, t.id LIMIT 1
            ) a ON TRUE"""  # noqa: S608 - constants only
    sql = f"""
        WITH scope AS ({scope}),
        handed AS MATERIALIZED (
            SELECT s.id, s.created_at FROM scope s
            WHERE s.stage = ANY(%s) OR {handed_in_log}
        ),
        touches AS MATERIALIZED (
            SELECT h.id, h.created_at, a.at AS assigned_at, a.owner_name,
                   x.touched_at, x.touched_after_assignment_at
            FROM handed h
            {first_assignment}
            LEFT JOIN LATERAL (
                SELECT MIN(x.occurred_at) FILTER (WHERE x.occurred_at >= h.created_at) AS touched_at,
                       MIN(x.occurred_at) FILTER (WHERE x.occurred_at >= a.at) AS touched_after_assignment_at
                FROM {T_ACTIVITY} x
                WHERE x.lead_id = h.id AND x.kind = ANY(%s) AND x.created_by_id IS NOT NULL
            ) x ON TRUE
        ),
        measured AS (
            SELECT m.owner_name, m.assigned_at IS NOT NULL AS is_assigned,
                   EXTRACT(EPOCH FROM m.touched_at - m.created_at) AS capture_s,
                   EXTRACT(EPOCH FROM m.touched_after_assignment_at - m.assigned_at) AS assign_s,
                   tm.id AS team_id, tm.name AS team_name
            FROM touches m
            LEFT JOIN {T_USER} u ON u.username = m.owner_name
            LEFT JOIN {T_REP} r ON r.user_id = u.id
            LEFT JOIN {T_TEAM} tm ON tm.id = r.team_id
        )
        SELECT GROUPING(owner_name) AS g_rep, GROUPING(team_id) AS g_team, owner_name, team_id, team_name,
               COUNT(*) AS leads,
               COUNT(capture_s) AS touched,
               AVG(capture_s) AS capture_mean,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY capture_s) AS capture_median,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY capture_s) AS capture_p90,
               COUNT(*) FILTER (WHERE capture_s <= %s) AS capture_fast,
               COUNT(*) FILTER (WHERE is_assigned) AS assigned,
               COUNT(assign_s) AS assigned_touched,
               AVG(assign_s) AS assign_mean,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY assign_s) AS assign_median,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY assign_s) AS assign_p90,
               COUNT(*) FILTER (WHERE assign_s <= %s) AS assign_fast
        FROM measured
        GROUP BY GROUPING SETS ((), (owner_name), (team_id, team_name))
    """  # noqa: S608
    contact = [str(k) for k in CONTACT_KINDS]
    limit = benchmarks.FIRST_TOUCH_SECONDS
    rows = _rows(sql, [
        *params, [str(s) for s in HANDED_OVER], [str(s) for s in HANDED_OVER], ASSIGNMENTS, ASSIGNMENTS,
        contact, limit, limit,
    ])
    overall, by_rep, by_team = _speed_row(None, ""), [], []
    for row in rows:
        if row["g_rep"] and row["g_team"]:
            overall = _speed_row(row, _("All"))
        elif not row["g_rep"]:
            by_rep.append(_speed_row(row, row["owner_name"] or _("(not assigned)"), key=row["owner_name"]))
        else:
            by_team.append(_speed_row(row, row["team_name"] or _("(no team)"), key=row["team_id"]))
    by_rep.sort(key=lambda r: (r["key"] is None, str(r["label"])))
    by_team.sort(key=lambda r: (r["key"] is None, str(r["label"])))
    return {
        "threshold_minutes": benchmarks.FIRST_TOUCH_SECONDS / 60, "share_min": benchmarks.FIRST_TOUCH_SHARE_MIN,
        "overall": overall, "by_rep": by_rep, "by_team": by_team,
    }


def _speed_row(row: dict | None, label, key=None) -> dict:
    row = row or {}
    leads, assigned = row.get("leads", 0), row.get("assigned", 0)
    capture_share = _percent(row.get("capture_fast", 0), leads)
    assign_share = _percent(row.get("assign_fast", 0), assigned)
    floor = benchmarks.FIRST_TOUCH_SHARE_MIN
    return {
        "key": key, "label": label, "leads": leads, "touched": row.get("touched", 0),
        "capture_median_minutes": _minutes(row.get("capture_median")),
        "capture_mean_minutes": _minutes(row.get("capture_mean")),
        "capture_p90_minutes": _minutes(row.get("capture_p90")),
        "capture_within_share": capture_share,
        "capture_flag": "below" if capture_share is not None and capture_share < floor else "",
        "assigned": assigned, "assigned_touched": row.get("assigned_touched", 0),
        "assignment_median_minutes": _minutes(row.get("assign_median")),
        "assignment_mean_minutes": _minutes(row.get("assign_mean")),
        "assignment_p90_minutes": _minutes(row.get("assign_p90")),
        "assignment_within_share": assign_share,
        "assignment_flag": "below" if assign_share is not None and assign_share < floor else "",
    }


# --- acceptance and reasons -----------------------------------------------------------------------------


DECISIONS = ["accept", "reject"]


def acceptance(f: Filters) -> dict:
    """Accepted vs rejected MQLs in the range (per deciding user), and the reasons for setbacks.

    One statement: the range's decisions and setbacks are read once (the lead filters applied once), then
    counted per deciding user and ranked per reason; a reason's share is of all setbacks of its kind.
    """
    condition, params = _lead_condition(f, "t.lead_id")
    sql = f"""
        WITH changes AS MATERIALIZED (
            SELECT t.name, t.source, t.actor_id, t.reason FROM {T_TRANSITION} t
            WHERE t.at >= %s AND t.at < %s AND t.name = ANY(%s){condition}
        ),
        reasons AS (
            SELECT name, TRIM(reason) AS text, COUNT(*) AS n FROM changes WHERE name = ANY(%s) GROUP BY 1, 2
        ),
        ranked AS (
            SELECT name, text, n, (SUM(n) OVER (PARTITION BY name))::bigint AS total,
                   ROW_NUMBER() OVER (PARTITION BY name ORDER BY n DESC, text ASC) AS position
            FROM reasons
        )
        SELECT 1 AS part, name, text, n, total, position, NULL AS username, 0 AS accepted, 0 AS rejected
        FROM ranked WHERE position <= %s
        UNION ALL
        SELECT 0, NULL, NULL, 0, 0, 0, u.username,
               COUNT(*) FILTER (WHERE c.name = 'accept'), COUNT(*) FILTER (WHERE c.name = 'reject')
        FROM changes c LEFT JOIN {T_USER} u ON u.id = c.actor_id
        WHERE c.name = ANY(%s) AND c.source = %s
        GROUP BY u.username
        ORDER BY part, name, position, username
    """  # noqa: S608 - constants and generated SQL only; values are parameters
    rows = _rows(sql, [
        f.start_at, f.end_at, DECISIONS + REASON_KINDS, *params, REASON_KINDS, TOP_REASONS, DECISIONS,
        str(Stage.MQL),
    ])
    by_rep, reasons, totals = [], {kind: [] for kind in REASON_KINDS}, {}
    for row in rows:
        if row["part"] == 0:
            by_rep.append({
                "key": row["username"], "label": row["username"] or _("(system)"),
                "accepted": row["accepted"], "rejected": row["rejected"],
                "rate": _percent(row["accepted"], row["accepted"] + row["rejected"]),
            })
        else:
            totals[row["name"]] = row["total"]
            reasons[row["name"]].append({
                "reason": row["text"] or _("(no reason given)"), "count": row["n"],
                "share": _percent(row["n"], row["total"]),
            })
    accepted = sum(row["accepted"] for row in by_rep)
    rejected = sum(row["rejected"] for row in by_rep)
    return {
        "accepted": accepted, "rejected": rejected, "rate": _percent(accepted, accepted + rejected),
        "by_rep": by_rep, "reasons": reasons, "reason_totals": {kind: totals.get(kind, 0) for kind in REASON_KINDS},
    }


# --- sources and campaigns: ROI and attribution ---------------------------------------------------------


def campaign_costs(f: Filters, *, today: dt.date | None = None) -> dict[int, dict]:
    """Each campaign's cost share in the range: its cost spread evenly over its run (start to end, a running
    campaign up to today, no start date: from its creation)."""
    today = today or timezone.localdate()
    campaigns = Campaign.objects.all()
    if f.campaign_id:
        campaigns = campaigns.filter(pk=f.campaign_id)
    if f.source:
        campaigns = campaigns.filter(channel=f.source)
    out = {}
    for campaign in campaigns.values("id", "name", "channel", "cost", "starts_on", "ends_on", "created_at"):
        first = campaign["starts_on"] or timezone.localtime(campaign["created_at"]).date()
        last = campaign["ends_on"] or max(today, first)
        run_days = (last - first).days + 1
        overlap = (min(last, f.end) - max(first, f.start)).days + 1
        share = Decimal(campaign["cost"]) * max(overlap, 0) / run_days if run_days > 0 else Decimal(0)
        out[campaign["id"]] = {**campaign, "cost_in_range": share}
    return out


def sources(f: Filters, *, attribution: str = "first", today: dt.date | None = None) -> dict:
    """Closed loop per source and campaign for leads created in the range.

    first touch: the lead's own source and campaign. last touch: the source and campaign of the last
    touchpoint (an activity carrying a source, as capture records them) at or before the lead became an
    MQL, or before now if it never did; the lead's own when there is none. Cost: campaign cost in the
    range (per source: campaigns of that channel); per rep or team no cost is shown.
    """
    scope, params = _scope_sql(
        leads_in_scope(f, created_in_range=True), "id", "stage", "source", "campaign_id", "deal_value"
    )
    if attribution == "last":
        attributed = f"""
            SELECT r.*, COALESCE(lt.source, r.source) AS a_source,
                   CASE WHEN lt.source IS NULL THEN r.campaign_id ELSE lt.campaign_id END AS a_campaign
            FROM reached r LEFT JOIN LATERAL (
                SELECT a.data ->> 'source' AS source, c.id AS campaign_id
                FROM {T_ACTIVITY} a LEFT JOIN {T_CAMPAIGN} c ON c.slug = a.data ->> 'campaign'
                WHERE a.lead_id = r.id AND a.data ->> 'source' IS NOT NULL
                  AND a.occurred_at <= COALESCE(r.mql_at, 'infinity'::timestamptz)
                ORDER BY a.occurred_at DESC, a.id DESC LIMIT 1
            ) lt ON TRUE
        """  # noqa: S608
    else:
        attributed = "SELECT r.*, r.source AS a_source, r.campaign_id AS a_campaign FROM reached r"
    sql = f"""
        WITH scope AS ({scope}),
        reached AS MATERIALIZED (
            SELECT s.id, s.stage, s.source, s.campaign_id, s.deal_value,
                   GREATEST({_rank_sql("s.stage")}, COALESCE(m.r, 0)) AS r, m.mql_at
            FROM scope s {_furthest_join(f, "s.id")}
        ),
        attributed AS ({attributed})
        SELECT GROUPING(a_source) AS g_source, GROUPING(a_campaign) AS g_campaign, a_source, a_campaign,
               COUNT(*) AS leads,
               COUNT(*) FILTER (WHERE r >= 1) AS mqls,
               COUNT(*) FILTER (WHERE r >= 3) AS sqls,
               COUNT(*) FILTER (WHERE r >= 4) AS opportunities,
               COUNT(*) FILTER (WHERE stage = %s) AS customers,
               COALESCE(SUM(deal_value) FILTER (WHERE stage = %s), 0) AS revenue,
               {_reached_columns("reached_")}
        FROM attributed
        GROUP BY GROUPING SETS ((), (a_source), (a_campaign))
    """  # noqa: S608
    rows = _rows(sql, [*params, OWNER_CHANGES, str(Stage.CUSTOMER), str(Stage.CUSTOMER)])
    costs = None if f.by_owner else campaign_costs(f, today=today)
    names = dict(Campaign.objects.values_list("id", "name")) if costs is None else {
        pk: c["name"] for pk, c in costs.items()
    }
    total, by_source, by_campaign = None, {}, {}
    for row in rows:
        if row["g_source"] and row["g_campaign"]:
            total = row
        elif not row["g_source"]:
            by_source[row["a_source"]] = row
        else:
            by_campaign[row["a_campaign"]] = row
    empty = {"leads": 0, "mqls": 0, "sqls": 0, "opportunities": 0, "customers": 0, "revenue": Decimal(0)}
    source_rows, campaign_rows = [], []
    source_costs: dict[str, Decimal] = {}
    if costs is not None:
        for campaign in costs.values():
            source_costs[campaign["channel"]] = source_costs.get(campaign["channel"], Decimal(0)) + campaign[
                "cost_in_range"
            ]
    for key in sorted(set(by_source) | set(source_costs), key=lambda k: _channel_label(k)):
        cost = source_costs.get(key, Decimal(0)) if costs is not None else None
        source_rows.append(_roi_row(by_source.get(key, empty), key=key, label=_channel_label(key), cost=cost))
    campaign_keys = set(by_campaign) | set(costs or ())
    for key in sorted(campaign_keys, key=lambda k: (k is None, str(names.get(k, "")))):
        if costs is None:
            cost = None
        else:
            cost = costs[key]["cost_in_range"] if key in costs else Decimal(0)
        label = names.get(key) if key is not None else _("(no campaign)")
        campaign_rows.append(_roi_row(by_campaign.get(key, empty), key=key, label=label or str(key), cost=cost))
    total_cost = sum((c["cost_in_range"] for c in costs.values()), Decimal(0)) if costs is not None else None
    return {
        "attribution": attribution,
        "costs_shown": costs is not None,
        "by_source": source_rows,
        "by_campaign": campaign_rows,
        "total": _roi_row(total or empty, key=None, label=_("Total"), cost=total_cost),
        # the cohort funnel of the same leads (`funnel(f, reached=...)`): how many reached each stage
        "reached": {str(stage): (total or {}).get(f"reached_{stage}", 0) for stage in FUNNEL_STAGES},
    }


def _roi_row(row: dict, *, key, label, cost: Decimal | None) -> dict:
    revenue = _money(row["revenue"]) or Decimal("0.00")
    cost = _money(cost)
    return {
        "key": key, "label": label, "leads": row["leads"], "mqls": row["mqls"], "sqls": row["sqls"],
        "opportunities": row["opportunities"], "customers": row["customers"], "revenue": revenue,
        "cost": cost,
        "cost_per_lead": _ratio(cost, row["leads"]),
        "cost_per_mql": _ratio(cost, row["mqls"]),
        "cost_per_sql": _ratio(cost, row["sqls"]),
        "cac": _ratio(cost, row["customers"]),
        "roi": _percent(revenue - cost, cost) if cost else None,
    }


def _channel_label(value) -> str:
    try:
        return str(Channel(value).label)
    except ValueError:
        return value or _("(unknown)")


# --- key figures per day (the e-mail report) ------------------------------------------------------------

FIGURES = ["leads", "mqls", "accepted", "rejected", "sqls", "opportunities", "won", "revenue"]
FIGURE_TARGETS = {Stage.MQL: "mqls", Stage.SAL: "accepted", Stage.SQL: "sqls", Stage.OPPORTUNITY: "opportunities",
                  Stage.CUSTOMER: "won"}


def daily_figures(f: Filters) -> list[dict]:
    """New leads and stage entries per local day of the range (one row per day, zeros included)."""
    tz = timezone.get_current_timezone_name()
    condition, params = _lead_condition(f, "t.lead_id")
    sql = f"""
        SELECT (t.at AT TIME ZONE %s)::date AS day, t.name, t.target, COUNT(*) AS n,
               COALESCE(SUM(l.deal_value) FILTER (WHERE t.target = %s), 0) AS revenue
        FROM {T_TRANSITION} t JOIN {T_LEAD} l ON l.id = t.lead_id
        WHERE t.at >= %s AND t.at < %s AND t.name <> ALL(%s){condition}
        GROUP BY 1, 2, 3
    """  # noqa: S608
    rows = _rows(sql, [tz, str(Stage.CUSTOMER), f.start_at, f.end_at, OWNER_CHANGES, *params])
    created, created_params = _scope_sql(leads_in_scope(f, created_in_range=True), "created_at")
    lead_rows = _rows(
        f"SELECT (s.created_at AT TIME ZONE %s)::date AS day, COUNT(*) AS n FROM ({created}) s GROUP BY 1",  # noqa: S608
        [tz, *created_params],
    )
    days = {}
    day = f.start
    while day <= f.end:
        days[day] = {"day": day, **{name: 0 for name in FIGURES}, "revenue": Decimal("0.00")}
        day += dt.timedelta(days=1)
    for row in lead_rows:
        if row["day"] in days:
            days[row["day"]]["leads"] += row["n"]
    for row in rows:
        figures = days.get(row["day"])
        if figures is None:
            continue
        if row["name"] == "reject":
            figures["rejected"] += row["n"]
        key = FIGURE_TARGETS.get(row["target"])
        if key:
            figures[key] += row["n"]
        if row["target"] == Stage.CUSTOMER:
            figures["revenue"] += _money(row["revenue"])
    return list(days.values())


# --- SLA compliance -------------------------------------------------------------------------------------


def _sla_conditions(now: dt.datetime) -> dict[str, Q]:
    """met in time; breached (recorded, met late, or running past due); running and not yet due; cancelled."""
    met = Q(met_at__isnull=False, met_at__lte=F("due_at"))
    breached = (
        Q(breached=True) | Q(met_at__gt=F("due_at")) | Q(met_at__isnull=True, stopped_at__isnull=True, due_at__lte=now)
    ) & ~met
    running = Q(stopped_at__isnull=True, met_at__isnull=True, due_at__gt=now, breached=False)
    cancelled = Q(stopped_at__isnull=False, met_at__isnull=True, breached=False)
    return {"met": met, "breached": breached, "open": running, "cancelled": cancelled}


def _clocks(f: Filters):
    """Clocks due in the range; per rep or team: those of leads the rep owned when the clock started."""
    clocks = SlaClock.objects.filter(due_at__gte=f.start_at, due_at__lt=f.end_at)
    if f.source:
        clocks = clocks.filter(lead__source=f.source)
    if f.campaign_id:
        clocks = clocks.filter(lead__campaign_id=f.campaign_id)
    if f.by_owner:
        clocks = clocks.filter(owner_id__in=f.owner_ids)
    return clocks


def sla_compliance(f: Filters, *, now: dt.datetime | None = None) -> dict:
    """Per SLA policy, rep (owner when the clock started) and team: clocks due in the range, met in time,
    breached, still running, and compliance = met / (met + breached)."""
    conditions = _sla_conditions(now or timezone.now())
    # n_ prefixes: an aggregate may not take the name of a field its filters use (breached)
    aggregates = {"n_total": Count("id"), **{f"n_{key}": Count("id", filter=q) for key, q in conditions.items()}}
    clocks = _clocks(f)

    def grouped(key_field, label_field, none_label):
        rows = clocks.values(key_field, label_field).annotate(**aggregates).order_by(label_field)
        return [{"key": row[key_field], "label": row[label_field] or none_label, **_compliance(row)} for row in rows]

    return {
        "overall": _compliance(clocks.aggregate(**aggregates)),
        "by_policy": grouped("policy_id", "policy__name", _("(none)")),
        "by_rep": grouped("owner_id", "owner__username", _("(pool)")),
        "by_team": grouped("owner__rep__team_id", "owner__rep__team__name", _("(no team)")),
    }


def _compliance(row: dict) -> dict:
    figures = {key: row[f"n_{key}"] for key in ("total", "met", "breached", "open", "cancelled")}
    return {**figures, "compliance": _percent(figures["met"], figures["met"] + figures["breached"])}


def sla_breaches(f: Filters, *, now: dt.datetime | None = None, limit: int = 20) -> list:
    """Clocks that became due in the range and were breached, latest first."""
    breached = _sla_conditions(now or timezone.now())["breached"]
    return list(
        _clocks(f).filter(breached).select_related("lead", "policy", "owner").order_by("-due_at", "-id")[:limit]
    )


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return day_start(day), day_start(day + dt.timedelta(days=1))

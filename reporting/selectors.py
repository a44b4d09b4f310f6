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

Raw SQL (the project's convention): where the ORM serves, the ORM; each raw statement is a named constant or
a small named function saying why the ORM does not serve. Table and column names come from the models'
`_meta` (`NAMES`), composed with `psycopg.sql`; stage values, transition names, JSON keys, ranks and every
other value are parameters (`%s`, in the order they appear in the text). The leads a filter selects are ORM
querysets, composed into a statement as the ORM writes them (`_sql_of`).
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
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg import sql

from core import replica, vocabulary
from core.vocabulary import CONTACT_KINDS, FUNNEL, Channel, Stage, TransitionName
from definitions import rules as reason_rules
from definitions.models import REASON_OTHER
from leads.models import Activity, Campaign, Lead, LeadTransition, SlaClock, Visitor
from reporting import benchmarks
from reporting.filters import Filters, day_start
from reporting.models import StageBenchmark
from routing.models import Rep, StallThreshold, Team

OWNER_CHANGES = [name.value for name in vocabulary.OWNER_CHANGES]
ASSIGNMENTS = [name.value for name in vocabulary.ASSIGNMENTS]
FUNNEL_STAGES = FUNNEL
# How far along the main path a stage is; lost leads were opportunities (one home: `core.vocabulary`, which the
# lead list's `reached` filter reads too).
RANK = vocabulary.FUNNEL_RANK
HANDED_OVER = [s for s, r in RANK.items() if r >= 1]  # stages that mean sales got the lead
REASON_KINDS = [name.value for name in vocabulary.REASON_TRANSITIONS]
TOP_REASONS = 15
CENT = Decimal("0.01")
# Keys of the JSON data the statements read: an owner change's new owner (written by `leads.lifecycle`), a
# touchpoint's source and campaign slug (`capture.rules.touchpoint_data`).
TO_OWNER = "to_owner"
TOUCH_SOURCE = "source"
TOUCH_CAMPAIGN = "campaign"


def _names(**aliases) -> dict[str, sql.Composable]:
    """Table and column names from the models' `_meta` under the aliases the statements use: `{t}` is the
    model's table `AS t`, `{t_at}` the column of its field `at` qualified by `t` (a foreign key's field name
    gives its column: `{t_lead}` is `t.lead_id`)."""
    names = {}
    for alias, model in aliases.items():
        names[alias] = sql.SQL("{} AS {}").format(sql.Identifier(model._meta.db_table), sql.Identifier(alias))
        for field in model._meta.concrete_fields:
            names[f"{alias}_{field.name}"] = sql.Identifier(alias, field.column)
    return names


# The aliases of every statement below: t and p the transition log, l leads, s a cohort of leads (a CTE of
# lead columns, as the ORM selects them), a and x activities, c campaigns, u users, rp reps, tm teams.
NAMES = _names(
    t=LeadTransition, p=LeadTransition, l=Lead, s=Lead, a=Activity, x=Activity, c=Campaign, u=get_user_model(),
    rp=Rep, tm=Team,
)

# The funnel rank of each stage (`RANK`), parameters of `_rank`: stage, rank, stage, rank, ...
RANK_PARAMS = [value for stage, rank in RANK.items() for value in (str(stage), rank)]


def _rank(column: sql.Composable) -> sql.Composed:
    """SQL: the funnel rank of a stage column (0 off the main path); parameters: `*RANK_PARAMS`.

    A CASE with a WHEN per stage: `array_position` over an array of the stages gives the same ranks but
    costs a quarter more per row on the one pass over the whole log (`_FURTHEST_GROUPED`).
    """
    whens = sql.SQL(" ").join([sql.SQL("WHEN %s THEN %s")] * len(RANK))
    return sql.SQL("(CASE {column} {whens} ELSE 0 END)").format(column=column, whens=whens)


REPORT_WORK_MEM = "64MB"  # sorts for percentiles and windows stay in memory on large data
# The report's memory for sorts and hashes, for its own transaction: the ORM has no SET, and SET takes no bind
# parameter, so the size is composed in as a literal.
WORK_MEM_SQL = sql.SQL("SET LOCAL work_mem = {}").format(sql.Literal(REPORT_WORK_MEM))


def _rows(statement: sql.Composable, params: list) -> list[dict]:
    """A raw statement's rows as dicts, run with `REPORT_WORK_MEM` in a transaction of its own."""
    alias = replica.read_alias()  # the report replica inside reads_from_replica(), else the primary
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(WORK_MEM_SQL)
        cursor.execute(statement, params)
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
        LeadTransition.objects.annotate(to_owner=KeyTextTransform(TO_OWNER, "data"))
        .filter(name__in=ASSIGNMENTS, to_owner__in=names).values("lead_id").order_by()
    )


def _owned(f: Filters) -> QuerySet:
    """Ids of the leads the filter's reps own now or owned before (a rep's few thousand).

    The leads owned now and those ever assigned are two indexed lists joined with UNION ALL, which
    PostgreSQL hashes once; the same test as an OR (`leads_in_scope`) would be checked lead by lead.
    """
    owned_now = Lead.objects.filter(owner_id__in=f.owner_ids).values("id")
    if not f.owner_names:
        return owned_now
    return owned_now.union(_assigned_to(f.owner_names), all=True)


def _lead_lists(f: Filters) -> list[QuerySet]:
    """The id lists a lead must be in for the lead filters; none without them (the fast path)."""
    lists = []
    if f.source or f.campaign_id:
        lists.append(leads_in_scope(replace(f, owner_ids=None, owner_names=())).values("id"))
    if f.by_owner:
        lists.append(_owned(f))
    return lists


def _lead_filter(f: Filters, field: str) -> Q:
    """The lead filters on `field` (a lead id) of an ORM query."""
    return Q(*[Q(**{f"{field}__in": ids}) for ids in _lead_lists(f)])


def _sql_of(queryset: QuerySet, *fields: str) -> tuple[sql.SQL, list]:
    """A queryset's SQL as the ORM writes it, and its parameters, to compose as a CTE or an IN (...) list."""
    if fields:
        queryset = queryset.values(*fields)
    try:
        text, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # e.g. a team without reps: nothing matches
        text, params = Lead.objects.filter(pk__isnull=True).values(*(fields or ["id"])).query.sql_with_params()
    return sql.SQL(text), list(params)


def _lead_condition(f: Filters, column: sql.Composable) -> tuple[sql.Composable, list]:
    """`AND column IN (...)` for each of the lead filters' id lists (`_lead_lists`); nothing without them."""
    conditions, params = [], []
    for ids in _lead_lists(f):
        text, ids_params = _sql_of(ids)
        conditions.append(sql.SQL(" AND {column} IN ({ids})").format(column=column, ids=text))
        params += ids_params
    return sql.SQL("").join(conditions), params


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


def _reached_columns(prefix: str = "") -> sql.Composed:
    """SQL: per funnel stage, how many rows of `reached` (column `r`) got that far; parameters: `*REACHED_PARAMS`."""
    return sql.SQL(", ").join(
        sql.SQL("COUNT(*) FILTER (WHERE r >= %s) AS {name}").format(name=sql.Identifier(f"{prefix}{stage}"))
        for stage in FUNNEL_STAGES
    )


REACHED_PARAMS = [RANK[stage] for stage in FUNNEL_STAGES]


def _cohort_counts_sql(f: Filters, scope: sql.Composable) -> sql.Composed:
    """How many of a cohort (`scope`: the id and stage of its leads) ever reached each funnel stage: the ORM has
    no LATERAL join (`_furthest_join`) and no MATERIALIZED CTE. Parameters: the scope's, `*RANK_PARAMS`,
    `*FURTHEST_PARAMS`, `*REACHED_PARAMS`."""
    return sql.SQL("""
        WITH scope AS ({scope}),
        reached AS MATERIALIZED (
            SELECT {s_id} AS id, GREATEST({rank}, COALESCE(m.r, 0)) AS r
            FROM scope s {furthest}
        )
        SELECT {reached} FROM reached
    """).format(
        scope=scope, rank=_rank(NAMES["s_stage"]), furthest=_furthest_join(f), reached=_reached_columns(), **NAMES
    )


def _cohort_counts(f: Filters) -> dict[str, int]:
    """Of the leads created in the range, how many ever reached each funnel stage (or a later one)."""
    scope, params = _sql_of(leads_in_scope(f, created_in_range=True), "id", "stage")
    return _rows(_cohort_counts_sql(f, scope), [*params, *RANK_PARAMS, *FURTHEST_PARAMS, *REACHED_PARAMS])[0]


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


# Per lead of the log: its furthest rank (`r`) and when it first became an MQL (`mql_at`).
_FURTHEST = sql.SQL("MAX({rank}) AS r, MIN({t_at}) FILTER (WHERE {t_target} = %s) AS mql_at").format(
    rank=_rank(NAMES["t_target"]), **NAMES
)
# Small cohorts: a LATERAL subquery per lead of the cohort `s` reads that lead's few transitions through the
# lead index (grouping the whole log would hash millions of rows for a few thousand leads).
_FURTHEST_PER_LEAD = sql.SQL("""LEFT JOIN LATERAL (
            SELECT {furthest} FROM {t} WHERE {t_lead} = {s_id} AND {t_name} <> ALL(%s)
        ) m ON TRUE""").format(furthest=_FURTHEST, **NAMES)
# Large cohorts (`_is_large`): the log grouped by lead in one pass (a sequential scan and a hash aggregate),
# then hash-joined.
_FURTHEST_GROUPED = sql.SQL("""LEFT JOIN (
            SELECT {t_lead} AS lead_id, {furthest} FROM {t} WHERE {t_name} <> ALL(%s) GROUP BY {t_lead}
        ) m ON m.lead_id = {s_id}""").format(furthest=_FURTHEST, **NAMES)
# Both take the same parameters: the ranks, the MQL stage, the owner changes to leave out.
FURTHEST_PARAMS = [*RANK_PARAMS, str(Stage.MQL), OWNER_CHANGES]


def _furthest_join(f: Filters) -> sql.Composed:
    """`LEFT JOIN ... m` giving each lead of the cohort `s` its furthest rank in its stage-change log (`m.r`) and
    when it first became an MQL (`m.mql_at`); parameters: `*FURTHEST_PARAMS`. The ORM has no LATERAL join.

    MATERIALIZED on the callers' CTE keeps either from being repeated for every aggregate that reads it.
    """
    return _FURTHEST_GROUPED if _is_large(f) else _FURTHEST_PER_LEAD


def _flow_counts(f: Filters) -> dict[str, int]:
    """Entries into each stage in the range (transitions; captures, and re-entries from lost or disqualified
    by `reopen`, for known leads). The key "reentries" holds the reopens alone."""
    rows = (
        LeadTransition.objects.filter(
            _lead_filter(f, "lead_id"), at__gte=f.start_at, at__lt=f.end_at,
            target__in=[str(s) for s in FUNNEL_STAGES],
        )
        .exclude(name__in=OWNER_CHANGES).values("target").annotate(n=Count("*")).order_by()
    )
    counts = {str(stage): 0 for stage in FUNNEL_STAGES}
    counts.update({row["target"]: row["n"] for row in rows})
    counts["reentries"] = counts[Stage.KNOWN]  # only reopen leads into known
    counts[Stage.KNOWN] = leads_in_scope(f, created_in_range=True).count() + counts["reentries"]
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
    return {"view": view, "stages": stages, "conversions": conversions, "reentries": counts.get("reentries")}


# --- velocity -------------------------------------------------------------------------------------------


def _stage_times_sql(condition: sql.Composable) -> sql.Composed:
    """Days per stay with median and 90th percentile: the ORM has no LATERAL join (each lead's last change
    before the range) and no ordered-set aggregate (`percentile_cont`). Parameters: start, end, owner changes,
    the condition's, start, owner changes."""
    return sql.SQL("""
        WITH moved AS (
            SELECT {t_id} AS id, {t_lead} AS lead_id, {t_source} AS source, {t_at} AS at FROM {t}
            WHERE {t_at} >= %s AND {t_at} < %s AND {t_name} <> ALL(%s){condition}
        ),
        earlier AS (
            SELECT p.id, p.lead_id, p.at
            FROM (SELECT DISTINCT lead_id FROM moved) m
            CROSS JOIN LATERAL (
                SELECT {p_id} AS id, {p_lead} AS lead_id, {p_at} AS at FROM {p}
                WHERE {p_lead} = m.lead_id AND {p_at} < %s AND {p_name} <> ALL(%s)
                ORDER BY {p_at} DESC LIMIT 1  -- only its time counts, and it is earlier than every change in range
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
                       entered_at, (SELECT {l_created_at} FROM {l} WHERE {l_id} = stays.lead_id)
                   )) / 86400.0, 0) AS days
            FROM stays WHERE in_range
        )
        SELECT stage, COUNT(*) AS n, AVG(days) AS mean,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY days) AS median,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY days) AS p90
        FROM days GROUP BY stage
    """).format(condition=condition, **NAMES)


def _stage_times(f: Filters) -> dict[str, dict]:
    """Days in each stage for stays that ended in the range.

    Each stage change ends a stay in its source stage; the stay began at the lead's previous stage change
    (LAG over the lead's transitions) or, for the lead's first, at its capture. The window runs over the
    changes in the range plus, per lead, the last change before it (found through the (lead, at) index),
    not over the whole log.
    """
    condition, params = _lead_condition(f, NAMES["t_lead"])
    rows = _rows(_stage_times_sql(condition), [f.start_at, f.end_at, OWNER_CHANGES, *params, f.start_at, OWNER_CHANGES])
    return {row["stage"]: row for row in rows}


def _time_to_won_sql(condition: sql.Composable) -> sql.Composed:
    """Days from first touch to won with median and 90th percentile per source, campaign and industry: the ORM
    has no GROUPING SETS and no ordered-set aggregate (`percentile_cont`). Parameters: the customer stage,
    owner changes, start, end, the condition's."""
    return sql.SQL("""
        WITH won AS (
            SELECT {l_source} AS source, {l_campaign} AS campaign_id, {c_name} AS campaign_name,
                   {l_industry} AS industry,
                   GREATEST(EXTRACT(EPOCH FROM {t_at} - {l_first_touch_at}) / 86400.0, 0) AS days
            FROM {t}
            JOIN {l} ON {l_id} = {t_lead}
            LEFT JOIN {c} ON {c_id} = {l_campaign}
            WHERE {t_target} = %s AND {t_name} <> ALL(%s) AND {t_at} >= %s AND {t_at} < %s{condition}
        )
        SELECT GROUPING(source) AS g_source, GROUPING(campaign_id) AS g_campaign,
               source, campaign_id, campaign_name, industry,
               COUNT(*) AS n, AVG(days) AS mean,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY days) AS median,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY days) AS p90
        FROM won
        GROUP BY GROUPING SETS ((source), (campaign_id, campaign_name), (industry))
        ORDER BY 1, 2, n DESC
    """).format(condition=condition, **NAMES)


def _time_to_won(f: Filters) -> list[dict]:
    """First touch to closed-won for deals won in the range, by source, campaign and industry."""
    condition, params = _lead_condition(f, NAMES["l_id"])
    rows = _rows(_time_to_won_sql(condition), [str(Stage.CUSTOMER), OWNER_CHANGES, f.start_at, f.end_at, *params])


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


# Whether a cohort lead `s` was handed to sales in its log (reached a handed-over stage, or was assigned or
# claimed); parameters: the handed-over stages, the assignments. Large cohorts (`_is_large`): the log read
# once and hashed; small cohorts: each lead's log through the lead index.
_HANDED_IN_LOG_GROUPED = sql.SQL("""{s_id} IN (
                SELECT {t_lead} FROM {t} WHERE {t_target} = ANY(%s) OR {t_name} = ANY(%s)
            )""").format(**NAMES)
_HANDED_IN_LOG_PER_LEAD = sql.SQL("""EXISTS (
                SELECT 1 FROM {t}
                WHERE {t_lead} = {s_id} AND ({t_target} = ANY(%s) OR {t_name} = ANY(%s))
                OFFSET 0  -- look up each lead's log by its index; without this the whole log is hashed
            )""").format(**NAMES)
# `LEFT JOIN ... a`: the first assignment (`a.at`) of each handed-over lead `h` and its rep's username
# (`a.owner_name`); parameters: the new-owner key, the assignments. Large cohorts: one pass over the log; small
# cohorts: each lead's log through the lead index.
_FIRST_ASSIGNMENT_GROUPED = sql.SQL("""LEFT JOIN (
                SELECT DISTINCT ON ({t_lead}) {t_lead} AS lead_id, {t_at} AS at, {t_data} ->> %s AS owner_name
                FROM {t} WHERE {t_name} = ANY(%s) ORDER BY {t_lead}, {t_at}, {t_id}
            ) a ON a.lead_id = h.id""").format(**NAMES)
_FIRST_ASSIGNMENT_PER_LEAD = sql.SQL("""LEFT JOIN LATERAL (
                SELECT {t_at} AS at, {t_data} ->> %s AS owner_name FROM {t}
                WHERE {t_lead} = h.id AND {t_name} = ANY(%s)
                ORDER BY {t_at}, {t_id} LIMIT 1
            ) a ON TRUE""").format(**NAMES)


def _speed_to_lead_sql(f: Filters, scope: sql.Composable) -> sql.Composed:
    """Minutes to first touch with median and 90th percentile, overall, per rep and per team: the ORM has no
    LATERAL join, no GROUPING SETS and no ordered-set aggregate (`percentile_cont`). Parameters: the scope's
    (id, created_at, stage of a cohort's leads), the handed-over stages, the handed-over stages and the
    assignments, the new-owner key and the assignments, the contact kinds, the first-touch limit twice."""
    large = _is_large(f)
    return sql.SQL("""
        WITH scope AS ({scope}),
        handed AS MATERIALIZED (
            SELECT {s_id} AS id, {s_created_at} AS created_at FROM scope s
            WHERE {s_stage} = ANY(%s) OR {handed_in_log}
        ),
        touches AS MATERIALIZED (
            SELECT h.id, h.created_at, a.at AS assigned_at, a.owner_name,
                   x.touched_at, x.touched_after_assignment_at
            FROM handed h
            {first_assignment}
            LEFT JOIN LATERAL (
                SELECT MIN({x_occurred_at}) FILTER (WHERE {x_occurred_at} >= h.created_at) AS touched_at,
                       MIN({x_occurred_at}) FILTER (WHERE {x_occurred_at} >= a.at) AS touched_after_assignment_at
                FROM {x}
                WHERE {x_lead} = h.id AND {x_kind} = ANY(%s) AND {x_created_by} IS NOT NULL
            ) x ON TRUE
        ),
        measured AS (
            SELECT m.owner_name, m.assigned_at IS NOT NULL AS is_assigned,
                   EXTRACT(EPOCH FROM m.touched_at - m.created_at) AS capture_s,
                   EXTRACT(EPOCH FROM m.touched_after_assignment_at - m.assigned_at) AS assign_s,
                   {tm_id} AS team_id, {tm_name} AS team_name
            FROM touches m
            LEFT JOIN {u} ON {u_username} = m.owner_name
            LEFT JOIN {rp} ON {rp_user} = {u_id}
            LEFT JOIN {tm} ON {tm_id} = {rp_team}
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
    """).format(
        scope=scope,
        handed_in_log=_HANDED_IN_LOG_GROUPED if large else _HANDED_IN_LOG_PER_LEAD,
        first_assignment=_FIRST_ASSIGNMENT_GROUPED if large else _FIRST_ASSIGNMENT_PER_LEAD,
        **NAMES,
    )


def speed_to_lead(f: Filters) -> dict:
    """Capture to first touch and assignment to first touch, per rep and team.

    Leads: created in the range and handed to sales (reached MQL or got an owner). First touch: the first
    call, e-mail, LinkedIn message or meeting logged by a person at or after capture (or assignment).
    Assignment: the first assign or claim; its rep is the one per-rep rows count the lead for.
    """
    scope, params = _sql_of(leads_in_scope(f, created_in_range=True), "id", "created_at", "stage")
    handed = [str(s) for s in HANDED_OVER]
    contact = [str(k) for k in CONTACT_KINDS]
    limit = benchmarks.FIRST_TOUCH_SECONDS
    rows = _rows(_speed_to_lead_sql(f, scope), [
        *params, handed, handed, ASSIGNMENTS, TO_OWNER, ASSIGNMENTS, contact, limit, limit,
    ])


    overall, by_rep, by_team = _speed_row(None, ""), [], []
    for row in rows:
        if row["g_rep"] and row["g_team"]:
            overall = _speed_row(row, _("All"))
        elif not row["g_rep"]:
            by_rep.append(_speed_row(row, row["owner_name"] or _("(not assigned)"), key=row["owner_name"]))
        else:
            by_team.append(_speed_row(row, row["team_name"] or _("(no team)"), key=row["team_id"]))
    by_rep = _full_names(by_rep, by="username")
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


DECISIONS = [str(TransitionName.ACCEPT), str(TransitionName.REJECT)]


def _acceptance_sql(condition: sql.Composable) -> sql.Composed:
    """The range's decisions and setbacks read once, counted per deciding user and ranked per reason code (a
    setback without one, a free-text reason of old, counts as "other"): one statement needs a MATERIALIZED
    CTE read by two aggregations, which the ORM cannot write. Parameters: the data key of the code, the
    "other" code, start,
    end, decisions and setbacks, the condition's, setbacks, the top count, accept, reject, decisions, the MQL
    stage."""
    return sql.SQL("""
        WITH changes AS MATERIALIZED (
            SELECT {t_name} AS name, {t_source} AS source, {t_actor} AS actor_id,
                   COALESCE(NULLIF({t_data} ->> %s, ''), %s) AS code FROM {t}
            WHERE {t_at} >= %s AND {t_at} < %s AND {t_name} = ANY(%s){condition}
        ),
        reasons AS (
            SELECT name, code AS text, COUNT(*) AS n FROM changes WHERE name = ANY(%s) GROUP BY 1, 2
        ),
        ranked AS (
            SELECT name, text, n, (SUM(n) OVER (PARTITION BY name))::bigint AS total,
                   ROW_NUMBER() OVER (PARTITION BY name ORDER BY n DESC, text ASC) AS position
            FROM reasons
        )
        SELECT 1 AS part, name, text, n, total, position, NULL AS username, 0 AS accepted, 0 AS rejected
        FROM ranked WHERE position <= %s
        UNION ALL
        SELECT 0, NULL, NULL, 0, 0, 0, {u_username},
               COUNT(*) FILTER (WHERE c.name = %s), COUNT(*) FILTER (WHERE c.name = %s)
        FROM changes c LEFT JOIN {u} ON {u_id} = c.actor_id
        WHERE c.name = ANY(%s) AND c.source = %s
        GROUP BY {u_username}
        ORDER BY part, name, position, username
    """).format(condition=condition, **NAMES)


def acceptance(f: Filters) -> dict:
    """Accepted vs rejected MQLs in the range (per deciding user), and the reasons for setbacks.

    One statement: the range's decisions and setbacks are read once (the lead filters applied once), then
    counted per deciding user and ranked per reason; a reason's share is of all setbacks of its kind.
    """
    condition, params = _lead_condition(f, NAMES["t_lead"])
    rows = _rows(_acceptance_sql(condition), [
        "reason_code", REASON_OTHER, f.start_at, f.end_at, DECISIONS + REASON_KINDS, *params, REASON_KINDS,
        TOP_REASONS, *DECISIONS, DECISIONS,
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
                "code": row["text"], "reason": reason_rules.reason_label(row["name"], row["text"]),
                "count": row["n"],
                "share": _percent(row["n"], row["total"]),
            })
    accepted = sum(row["accepted"] for row in by_rep)
    rejected = sum(row["rejected"] for row in by_rep)
    return {
        "accepted": accepted, "rejected": rejected, "rate": _percent(accepted, accepted + rejected),
        "by_rep": _full_names(by_rep, by="username"), "reasons": reasons,
        "reason_totals": {kind: totals.get(kind, 0) for kind in REASON_KINDS},
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


# How a lead of `reached r` is attributed (`a_source`, `a_campaign`). First touch: its own source and campaign.
_FIRST_TOUCH = sql.SQL("SELECT r.*, r.source AS a_source, r.campaign_id AS a_campaign FROM reached r")
# Last touch: the last touchpoint at or before the lead first became an MQL, through the activity index per
# lead (the ORM has no LATERAL join); parameters: the source key, the campaign key, the source key.
_LAST_TOUCH = sql.SQL("""
            SELECT r.*, COALESCE(lt.source, r.source) AS a_source,
                   CASE WHEN lt.source IS NULL THEN r.campaign_id ELSE lt.campaign_id END AS a_campaign
            FROM reached r LEFT JOIN LATERAL (
                SELECT {a_data} ->> %s AS source, {c_id} AS campaign_id
                FROM {a} LEFT JOIN {c} ON {c_slug} = {a_data} ->> %s
                WHERE {a_lead} = r.id AND {a_data} ->> %s IS NOT NULL
                  AND {a_occurred_at} <= COALESCE(r.mql_at, 'infinity'::timestamptz)
                ORDER BY {a_occurred_at} DESC, {a_id} DESC LIMIT 1
            ) lt ON TRUE
        """).format(**NAMES)
ATTRIBUTIONS = {"first": (_FIRST_TOUCH, []), "last": (_LAST_TOUCH, [TOUCH_SOURCE, TOUCH_CAMPAIGN, TOUCH_SOURCE])}


def _sources_sql(f: Filters, scope: sql.Composable, attributed: sql.Composable) -> sql.Composed:
    """Leads, stages reached and won revenue per source, per campaign and in total, with the cohort funnel of
    the same leads: the ORM has no LATERAL join (`_furthest_join`) and no GROUPING SETS. Parameters: the scope's
    (id, stage, source, campaign, deal value of a cohort's leads), `*RANK_PARAMS`, `*FURTHEST_PARAMS`, the
    attribution's, the ranks of MQL, SQL and opportunity, the customer stage twice, `*REACHED_PARAMS`."""
    return sql.SQL("""
        WITH scope AS ({scope}),
        reached AS MATERIALIZED (
            SELECT {s_id} AS id, {s_stage} AS stage, {s_source} AS source, {s_campaign} AS campaign_id,
                   {s_deal_value} AS deal_value, GREATEST({rank}, COALESCE(m.r, 0)) AS r, m.mql_at
            FROM scope s {furthest}
        ),
        attributed AS ({attributed})
        SELECT GROUPING(a_source) AS g_source, GROUPING(a_campaign) AS g_campaign, a_source, a_campaign,
               COUNT(*) AS leads,
               COUNT(*) FILTER (WHERE r >= %s) AS mqls,
               COUNT(*) FILTER (WHERE r >= %s) AS sqls,
               COUNT(*) FILTER (WHERE r >= %s) AS opportunities,
               COUNT(*) FILTER (WHERE stage = %s) AS customers,
               COALESCE(SUM(deal_value) FILTER (WHERE stage = %s), 0) AS revenue,
               {reached}
        FROM attributed
        GROUP BY GROUPING SETS ((), (a_source), (a_campaign))
    """).format(
        scope=scope, rank=_rank(NAMES["s_stage"]), furthest=_furthest_join(f), attributed=attributed,
        reached=_reached_columns("reached_"), **NAMES,
    )


def sources(f: Filters, *, attribution: str = "first", today: dt.date | None = None) -> dict:
    """Closed loop per source and campaign for leads created in the range.

    first touch: the lead's own source and campaign. last touch: the source and campaign of the last
    touchpoint (an activity carrying a source, as capture records them) at or before the lead became an
    MQL, or before now if it never did; the lead's own when there is none. Cost: campaign cost in the
    range (per source: campaigns of that channel); per rep or team no cost is shown.
    """
    scope, params = _sql_of(
        leads_in_scope(f, created_in_range=True), "id", "stage", "source", "campaign_id", "deal_value"
    )
    attributed, attribution_params = ATTRIBUTIONS["last" if attribution == "last" else "first"]
    customer = str(Stage.CUSTOMER)
    rows = _rows(_sources_sql(f, scope, attributed), [
        *params, *RANK_PARAMS, *FURTHEST_PARAMS, *attribution_params,
        RANK[Stage.MQL], RANK[Stage.SQL], RANK[Stage.OPPORTUNITY], customer, customer, *REACHED_PARAMS,
    ])


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
    rows = (
        LeadTransition.objects.filter(_lead_filter(f, "lead_id"), at__gte=f.start_at, at__lt=f.end_at)
        .exclude(name__in=OWNER_CHANGES)
        .values("name", "target", day=TruncDate("at"))
        .annotate(
            n=Count("*"),
            revenue=Coalesce(
                Sum("lead__deal_value", filter=Q(target=Stage.CUSTOMER)), Value(Decimal(0)),
                output_field=DecimalField(),
            ),
        )
        .order_by()
    )
    lead_rows = (
        leads_in_scope(f, created_in_range=True).values(day=TruncDate("created_at")).annotate(n=Count("*")).order_by()
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
        if row["name"] == TransitionName.REJECT:
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
        "by_rep": _full_names(grouped("owner_id", "owner__username", _("(pool)")), by="pk"),
        "by_team": grouped("owner__rep__team_id", "owner__rep__team__name", _("(no team)")),
    }


def _full_names(rows: list[dict], *, by: str) -> list[dict]:
    """People by name: each row whose `key` is a user's username (`by="username"`) or id (`by="pk"`) gets the
    user's full name as its label (the username when none is set). One query."""
    keys = [row["key"] for row in rows if row["key"] not in (None, "")]
    if not keys:
        return rows
    users = get_user_model().objects.filter(**{f"{by}__in": keys}).values_list(by, "first_name", "last_name")
    names = {key: f"{first} {last}".strip() for key, first, last in users}
    return [{**row, "label": names.get(row["key"]) or row["label"]} for row in rows]


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

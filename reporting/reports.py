"""Report tables and chart data built from selector results; pages, CSV and e-mail share them."""

from django.conf import settings
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from reporting.tables import Column, Table

COUNT, PERCENT, DAYS, MINUTES, MONEY, BAND = "count", "percent", "days", "minutes", "money", "band"


def funnel_tables(data: dict) -> list[Table]:
    stages = Table(
        "funnel", _("Funnel"),
        [Column("label", _("Stage")), Column("count", _("Leads"), COUNT, link="link")],
        data["stages"],
        note=_("Visitors are anonymous site visitors first seen in the range; they are not counted per rep or team."),
    )
    conversion = Table(
        "conversion", _("Stage-to-stage conversion"),
        [
            Column("label", _("Step")), Column("rate", _("Conversion"), PERCENT, flag="flag"),
            Column("band", _("Benchmark (%)"), BAND),
        ],
        data["conversions"],
        note=_("Marked: outside the benchmark band. Recent cohorts are still on their way, so their rates "
               "grow with time."),
    )
    return [stages, conversion]


def velocity_tables(data: dict) -> list[Table]:
    stages = Table(
        "stages", _("Days in each stage"),
        [
            Column("label", _("Stage")), Column("stays", _("Stays ended"), COUNT),
            Column("median_days", _("Median"), DAYS, flag="flag"), Column("mean_days", _("Mean"), DAYS),
            Column("p90_days", _("90th percentile"), DAYS), Column("benchmark_days", _("Benchmark (days)"), BAND),
        ],
        data["stages"],
        note=_("Stays that ended in the range (the lead moved on). Marked: median above the benchmark."),
    )
    tables = [stages]
    dimensions = [
        ("source", _("First touch to won, by source"), _("Source")),
        ("campaign", _("First touch to won, by campaign"), _("Campaign")),
        ("industry", _("First touch to won, by industry"), _("Industry")),
    ]
    for dimension, title, first in dimensions:
        rows = [row for row in data["to_won"] if row["dimension"] == dimension]
        tables.append(Table(
            f"won_by_{dimension}", title,
            [
                Column("label", first), Column("won", _("Won"), COUNT), Column("median_days", _("Median days"), DAYS),
                Column("mean_days", _("Mean days"), DAYS), Column("p90_days", _("90th percentile"), DAYS),
            ],
            rows, empty=_("No deal was won in the range."),
        ))
    return tables


def stall_table(data: dict) -> Table:
    return Table(
        "stall_rate", _("Stall rate per stage"),
        [
            Column("label", _("Stage")), Column("in_stage", _("In stage now"), COUNT, link="in_stage_link"),
            Column("stalled", _("Stalled"), COUNT, link="stalled_link"), Column("rate", _("Stall rate"), PERCENT),
            Column("threshold_days", _("Stalled after (days)"), DAYS),
        ],
        data["stages"],
        note=_("A snapshot of now: the date range does not apply. Thresholds: Admin → Routing → Stall "
               "thresholds (the seed's benchmarks by default)."),
    )


def local_datetime(value) -> str:
    """A moment as every page shows it: the local time in the active language's short format (one format per
    language, as the `date` filter with SHORT_DATETIME_FORMAT writes it)."""
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def lead_url(lead_id: int) -> str:
    return f"{settings.SITE_URL}{reverse('leads:detail', args=[lead_id])}"


def lead_rows(leads, *, now=None) -> list[dict]:
    """Plain rows for lists of leads (stalled, waiting MQLs); `leads` is an evaluated, small list."""
    now = now or timezone.now()
    rows = []
    for lead in leads:
        over_by = getattr(lead, "over_by", None)
        rows.append({
            "id": lead.pk, "name": lead.display_name, "company": lead.company, "stage": lead.get_stage_display(),
            "stage_value": lead.stage,
            "owner": (lead.owner.get_full_name() or lead.owner.get_username()) if lead.owner_id else "",
            "source": lead.get_source_display(), "campaign": lead.campaign.name if lead.campaign_id else "",
            "since": local_datetime(lead.stage_entered_at),
            "days": round((now - lead.stage_entered_at).total_seconds() / 86400, 1),
            "over_days": round(over_by.total_seconds() / 86400, 1) if over_by is not None else None,
            "url": lead_url(lead.pk),
        })
    return rows


def stalled_table(rows: list[dict], *, key="stalled", title=None) -> Table:
    return Table(
        key, title or _("Stalled leads"),
        [
            Column("id", _("Lead id")), Column("name", _("Lead")), Column("company", _("Company")),
            Column("stage", _("Stage")), Column("owner", _("Owner")), Column("since", _("In stage since")),
            Column("days", _("Days in stage"), DAYS), Column("over_days", _("Days over"), DAYS),
            Column("source", _("Source")), Column("campaign", _("Campaign")), Column("url", _("Link")),
        ],
        rows, empty=_("No lead is stalled."),
    )


def waiting_table(rows: list[dict]) -> Table:
    return Table(
        "waiting_mqls", _("Oldest waiting MQLs"),
        [
            Column("id", _("Lead id")), Column("name", _("Lead")), Column("company", _("Company")),
            Column("owner", _("Owner")), Column("since", _("MQL since")), Column("days", _("Days waiting"), DAYS),
            Column("url", _("Link")),
        ],
        rows, empty=_("No MQL is waiting."),
    )


def _speed_columns(first: str) -> list[Column]:
    return [
        Column("label", first), Column("leads", _("Leads handed over"), COUNT),
        Column("touched", _("Touched"), COUNT),
        Column("capture_median_minutes", _("Capture → touch, median"), MINUTES),
        Column("capture_p90_minutes", _("Capture → touch, p90"), MINUTES),
        Column("capture_within_share", _("Within 5 min of capture"), PERCENT, flag="capture_flag"),
        Column("assigned", _("Assigned"), COUNT),
        Column("assignment_median_minutes", _("Assignment → touch, median"), MINUTES),
        Column("assignment_p90_minutes", _("Assignment → touch, p90"), MINUTES),
        Column("assignment_within_share", _("Within 5 min of assignment"), PERCENT, flag="assignment_flag"),
    ]


def speed_tables(data: dict) -> list[Table]:
    note = _("Leads created in the range that reached sales. First touch: the first call, e-mail, LinkedIn "
             "message or meeting logged by a person. Marked: below 50 % within 5 minutes.")
    return [
        Table("overall", _("Speed-to-lead"), _speed_columns(_("Leads")), [data["overall"]], note=note),
        Table("by_rep", _("Per rep (first assignee)"), _speed_columns(_("Rep")), data["by_rep"],
              empty=_("No lead reached sales in the range.")),
        Table("by_team", _("Per team"), _speed_columns(_("Team")), data["by_team"],
              empty=_("No lead reached sales in the range.")),
    ]


REASON_TITLES = {
    "reject": gettext_lazy("Rejection reasons (MQL → recycled)"), "recycle": gettext_lazy("Recycle reasons"),
    "disqualify": gettext_lazy("Disqualify reasons"), "lose": gettext_lazy("Loss reasons"),
}


def acceptance_tables(data: dict) -> list[Table]:
    overall = {"label": _("All"), "accepted": data["accepted"], "rejected": data["rejected"], "rate": data["rate"]}
    tables = [Table(
        "acceptance", _("Acceptance of MQLs"),
        [
            Column("label", _("Decided by")), Column("accepted", _("Accepted"), COUNT),
            Column("rejected", _("Rejected"), COUNT), Column("rate", _("Acceptance rate"), PERCENT),
        ],
        [overall, *data["by_rep"]],
        note=_("Accept and reject decisions on MQLs made in the range."),
    )]
    for kind in ("reject", "recycle", "disqualify", "lose"):
        tables.append(Table(
            f"reasons_{kind}", str(REASON_TITLES[kind]),
            [Column("reason", _("Reason")), Column("code", _("Code")), Column("count", _("Leads"), COUNT),
             Column("share", _("Share"), PERCENT)],
            data["reasons"][kind], empty=_("None in the range."),
            extra={"total": data["reason_totals"][kind]},
        ))
    return tables


def _roi_columns(first: str) -> list[Column]:
    return [
        Column("label", first), Column("leads", _("Leads"), COUNT, link="leads_link"),
        Column("mqls", _("MQLs"), COUNT, link="mqls_link"), Column("sqls", _("SQLs"), COUNT, link="sqls_link"),
        Column("opportunities", _("Opportunities"), COUNT, link="opportunities_link"),
        Column("customers", _("Won"), COUNT, link="customers_link"), Column("revenue", _("Won revenue"), MONEY),
        Column("cost", _("Cost"), MONEY), Column("cost_per_lead", _("Cost per lead"), MONEY),
        Column("cost_per_mql", _("Cost per MQL"), MONEY), Column("cost_per_sql", _("Cost per SQL (CPQL)"), MONEY),
        Column("cac", _("CAC"), MONEY), Column("roi", _("ROI"), PERCENT),
    ]


def sources_tables(data: dict) -> list[Table]:
    total = dict(data["total"], is_total=True)
    note = _("Leads created in the range. Cost: each campaign's cost spread evenly over its run, the share "
             "that falls into the range; a source's cost is that of its channel's campaigns.")
    if not data["costs_shown"]:
        note = _("Costs are not split per rep or team, so cost figures are left out.")
    return [
        Table("by_source", _("By source"), _roi_columns(_("Source")), [*data["by_source"], total], note=note),
        Table("by_campaign", _("By campaign"), _roi_columns(_("Campaign")), [*data["by_campaign"], total]),
    ]


def _sla_columns(first: str) -> list[Column]:
    return [
        Column("label", first), Column("total", _("Clocks due"), COUNT), Column("met", _("Met in time"), COUNT),
        Column("breached", _("Breached"), COUNT), Column("open", _("Still running"), COUNT),
        Column("cancelled", _("Cancelled"), COUNT), Column("compliance", _("Compliance"), PERCENT),
    ]


def sla_tables(data: dict | None) -> list[Table]:
    if data is None:
        return []
    return [
        Table("sla_by_policy", _("SLA compliance per policy"), _sla_columns(_("Policy")), data["by_policy"],
              empty=_("No SLA clock was due in the range."),
              note=_("Clocks due in the range. Compliance: met in time out of met and breached; cancelled clocks "
                     "(the lead left the stage another way) do not count.")),
        Table("sla_by_rep", _("SLA compliance per rep (owner when the clock started)"), _sla_columns(_("Rep")),
              data["by_rep"],
              empty=_("No SLA clock was due in the range.")),
        Table("sla_by_team", _("SLA compliance per team"), _sla_columns(_("Team")), data["by_team"],
              empty=_("No SLA clock was due in the range.")),
    ]


# --- Chart.js configurations (pages) --------------------------------------------------------------------

BLUE, GREY, RED, GREEN = "#1f6feb", "#98a2b3", "#d92d20", "#12b76a"


def funnel_chart(data: dict) -> dict:
    stages = [s for s in data["stages"] if s["count"] is not None]
    return {
        "type": "bar",
        "data": {
            "labels": [str(s["label"]) for s in stages],
            "datasets": [{"label": str(_("Leads")), "data": [s["count"] for s in stages], "backgroundColor": BLUE}],
        },
        "options": {"indexAxis": "y", "plugins": {"legend": {"display": False}}},
    }


def velocity_chart(data: dict) -> dict:
    stages = data["stages"]
    return {
        "type": "bar",
        "data": {
            "labels": [str(s["label"]) for s in stages],
            "datasets": [
                {"label": str(_("Median days")), "data": [s["median_days"] for s in stages],
                 "backgroundColor": [GREEN if s["flag"] == "above" else RED if s["flag"] else BLUE for s in stages]},
                {"label": str(_("90th percentile")), "data": [s["p90_days"] for s in stages],
                 "backgroundColor": GREY},
                {"label": str(_("Benchmark up to")), "data": [s["benchmark_days_max"] for s in stages],
                 "type": "line", "borderColor": GREEN, "backgroundColor": GREEN, "showLine": False,
                 "pointStyle": "line", "pointRadius": 14, "pointBorderWidth": 3},
            ],
        },
        "options": {"scales": {"y": {"title": {"display": True, "text": str(_("days"))}}}},
    }


def stall_chart(data: dict) -> dict:
    stages = data["stages"]
    return {
        "type": "bar",
        "data": {
            "labels": [str(s["label"]) for s in stages],
            "datasets": [{"label": str(_("Stall rate (%)")), "data": [s["rate"] for s in stages],
                          "backgroundColor": RED}],
        },
        "options": {"plugins": {"legend": {"display": False}}, "scales": {"y": {"min": 0, "max": 100}}},
    }


def speed_chart(data: dict) -> dict:
    reps = [r for r in data["by_rep"] if r["key"]]
    return {
        "type": "bar",
        "data": {
            "labels": [str(r["label"]) for r in reps],
            "datasets": [
                {"label": str(_("Within 5 min of assignment (%)")),
                 "data": [r["assignment_within_share"] for r in reps],
                 "backgroundColor": [RED if r["assignment_flag"] else GREEN for r in reps]},
            ],
        },
        "options": {"scales": {"y": {"min": 0, "max": 100}}},
    }


def reasons_chart(data: dict) -> dict:
    return {
        "type": "doughnut",
        "data": {
            "labels": [str(_("Accepted")), str(_("Rejected"))],
            "datasets": [{"data": [data["accepted"], data["rejected"]], "backgroundColor": [GREEN, RED]}],
        },
        "options": {"plugins": {"legend": {"position": "bottom"}}},
    }


def sources_chart(data: dict) -> dict:
    rows = [r for r in data["by_source"] if r["leads"]]
    return {
        "type": "bar",
        "data": {
            "labels": [str(r["label"]) for r in rows],
            "datasets": [
                {"label": str(_("Leads")), "data": [r["leads"] for r in rows], "backgroundColor": GREY},
                {"label": str(_("MQLs")), "data": [r["mqls"] for r in rows], "backgroundColor": BLUE},
                {"label": str(_("SQLs")), "data": [r["sqls"] for r in rows], "backgroundColor": "#7a5af8"},
                {"label": str(_("Won")), "data": [r["customers"] for r in rows], "backgroundColor": GREEN},
            ],
        },
    }

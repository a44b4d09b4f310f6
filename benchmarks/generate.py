"""The benchmark data set: `python -m benchmarks.generate --leads 1000000 [--seed 42]`.

A realistic history for N leads spread over two years, written set-based (`INSERT ... SELECT` over
`generate_series`) inside PostgreSQL, so a million leads with their ~5 million activities take minutes:

- leads in every stage in funnel proportions (about 64% known, 15% disqualified, 12% recycled, 5% lost,
  3% customers, a pool of unowned MQLs) plus each rep's open work, which is bounded as in real teams
  (5 MQLs waiting, 20 SALs, 25 SQLs, 20 opportunities per rep, all recent);
- ids grow with creation time, as they do in production;
- for every lead the rows the product would have written: a `Submission` (20% with a second, merged
  one), ~5 activities (marketing touches, then calls, e-mails and meetings once a rep works the lead),
  a `LeadTransition` for every step of its path (mark_mql, assign, accept, qualify, ... reject, recycle,
  disqualify) at plausible intervals, never in the future, and consent for 70% (a `given` event of the
  consent log, with `Lead.consent_status` derived from it as `privacy.consent` derives it);
- users: `bench-admin`, `bench-marketing`, `bench-manager` and one SDR per 20,000 leads (`rep001`, ...),
  plus the world the capture benchmarks need: a capture form, a team of four reps (`bench-sdr1..4`) and a
  round-robin routing rule that sends every MQL to it.

Every random choice is a hash of (seed, row, purpose) (`hashint8extended`), so the same seed gives the
same data whatever plan PostgreSQL picks. Columns the generator does not know (added to the models later)
get their model default, so new fields do not break it. `ensure()` is idempotent: a bench database that
already holds the requested size and seed is reused, anything else is dropped and built again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

GENERATOR_VERSION = 2  # 2: consent as events of the consent log (the summary record is gone)
LEADS_PER_REP = 20_000
# A rep's open work: MQLs waiting for acceptance, SALs, SQLs, opportunities (the queue page shows them).
OPEN_PER_REP = (("mql", 5), ("sal", 20), ("sql", 25), ("opportunity", 20))
OPEN_BLOCK = sum(count for _stage, count in OPEN_PER_REP)
MARKETING = "bench-marketing"
MANAGER = "bench-manager"
ADMIN = "bench-admin"
BENCH_TEAM = "bench-team"
BENCH_SDRS = ("bench-sdr1", "bench-sdr2", "bench-sdr3", "bench-sdr4")
BENCH_FORM = "Benchmark form"
BENCH_RULE = "Bench: every MQL to the bench team"
TABLES = ("leads_lead", "leads_leadscore", "leads_activity", "leads_leadtransition", "leads_submission",
          "leads_consentevent")

CAMPAIGNS = (
    ("google-ads-2025", "Google Ads 2025", "paid_search", 42000),
    ("google-ads-2026", "Google Ads 2026", "paid_search", 51000),
    ("linkedin-abm-2025", "LinkedIn ABM 2025", "paid_social", 38000),
    ("linkedin-abm-2026", "LinkedIn ABM 2026", "paid_social", 44000),
    ("webinar-series-2025", "Webinar series 2025", "web_form", 9000),
    ("webinar-series-2026", "Webinar series 2026", "web_form", 11000),
    ("dmexco-2025", "DMEXCO 2025", "event", 38000),
    ("dmexco-2026", "DMEXCO 2026", "event", 41000),
    ("newsletter", "Newsletter", "email", 2400),
    ("whitepaper-dsgvo", "Whitepaper DSGVO", "web_form", 4500),
    ("partner-program", "Partner programme", "partner", 15000),
    ("retargeting", "Retargeting", "paid_social", 12000),
)

FIRST_NAMES = ("Anna", "Julia", "Laura", "Sarah", "Lisa", "Katharina", "Sandra", "Miriam", "Johanna", "Lea",
               "Thomas", "Michael", "Andreas", "Stefan", "Christian", "Markus", "Daniel", "Tobias", "Jonas",
               "Felix", "Lukas", "Jan", "Philipp", "Kai", "Oliver", "Elena", "Sophie", "Hannah", "Eva", "Nina")
LAST_NAMES = ("Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
              "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schroeder", "Neumann", "Schwarz", "Braun",
              "Zimmermann", "Krueger", "Hartmann", "Lange", "Werner", "Krause", "Lehmann", "Koehler", "Maier",
              "Huber", "Kaiser", "Fuchs")
INDUSTRIES = ("Software", "SaaS", "IT services", "Manufacturing", "Retail", "Finance", "Healthcare",
              "Logistics", "Education", "Media")
TITLES = ("Head of Marketing", "Marketing Manager", "CEO", "Geschäftsführer", "Sales Director", "VP Sales",
          "Leiter Vertrieb", "Marketing Specialist", "Working Student", "IT Manager", "CTO", "Office Manager")
SIZES = (3, 8, 15, 30, 60, 120, 250, 600, 1500, 8000)
FREE_MAIL = ("gmail.com", "web.de", "gmx.de", "outlook.com", "t-online.de")
PAGES = ("/", "/features", "/integrations", "/blog/lead-scoring", "/blog/speed-to-lead", "/customers",
         "/about", "/docs/api")
OUTCOMES = ("no_answer", "voicemail", "connected", "connected")
WORDING = ("I agree that my data may be used to contact me about this request and related offers. "
           "I can withdraw this consent at any time.")


def _arr(values) -> str:
    """A SQL array literal of text values (generator constants only, never user input)."""
    return "ARRAY[" + ",".join("'" + str(v).replace("'", "''") + "'" for v in values) + "]"


def _pick(values, u: str) -> str:
    return f"({_arr(values)})[1 + floor({u} * {len(values)})::int]"


def u(key: str, salt: int) -> str:
    """SQL for a uniform number in [0, 1) that depends only on (seed, key, salt)."""
    return f"bench_u(({key})::bigint, {salt})"


# --- setup through the ORM (small) ----------------------------------------------------------------------


def _users(reps: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from core.vocabulary import Role

    user_model = get_user_model()
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in Role.ALL}

    def user(username, *, role=None, superuser=False):
        obj, _created = user_model.objects.get_or_create(
            username=username,
            defaults={"email": f"{username}@bench.leadwerk.example", "is_superuser": superuser,
                      "is_staff": superuser, "password": "!", "first_name": username.title()},
        )
        if role:
            obj.groups.add(groups[role])
        return obj

    user(ADMIN, superuser=True)
    user(MARKETING, role=Role.MARKETING)
    user(MANAGER, role=Role.MANAGER)
    rep_users = [user(f"rep{i:03d}", role=Role.SDR) for i in range(1, reps + 1)]
    bench_sdrs = [user(name, role=Role.SDR) for name in BENCH_SDRS]
    return {"reps": [u.pk for u in rep_users], "rep_names": [u.username for u in rep_users],
            "bench_sdrs": [u.pk for u in bench_sdrs]}


def _campaigns_and_forms(anchor: dt.datetime) -> dict:
    from leads.models import Campaign, CaptureForm

    ids = []
    for i, (slug, name, channel, cost) in enumerate(CAMPAIGNS):
        starts = (anchor - dt.timedelta(days=730 - 55 * i)).date()
        campaign, _created = Campaign.objects.get_or_create(
            slug=slug, defaults={"name": name, "channel": channel, "cost": cost, "starts_on": starts},
        )
        ids.append(campaign.pk)
    form, _created = CaptureForm.objects.get_or_create(
        name=BENCH_FORM,
        defaults={"source": "web_form", "consent_wording": WORDING, "allowed_origins": "https://www.example.com",
                  "campaign_id": ids[1]},
    )
    return {"campaigns": ids, "form_key": form.key, "form_id": form.pk}


def _routing(bench_sdr_ids: list[int]) -> dict:
    from routing.models import Rep, RoutingRule, Team

    team, _created = Team.objects.get_or_create(slug=BENCH_TEAM, defaults={"name": "Bench team"})
    for user_id in bench_sdr_ids:
        Rep.objects.update_or_create(user_id=user_id, defaults={"team": team, "capacity": 1_000_000})
    RoutingRule.objects.update_or_create(
        name=BENCH_RULE,
        defaults={"position": 10, "is_enabled": True, "conditions": {}, "target_type": "team", "target_team": team,
                  "target_rep": None, "method": "round_robin"},
    )
    return {"team_id": team.pk}


# --- set-based inserts ------------------------------------------------------------------------------------


def _insert(cursor, model, provided: dict[str, str], from_sql: str, params: dict | None = None) -> int:
    """INSERT INTO the model's table SELECT `provided` column expressions FROM `from_sql`; columns not
    provided get the model field's default (typed), so fields added later do not break the generator."""
    from django.db import connection

    columns, expressions, values = [], [], dict(params or {})
    for f in model._meta.concrete_fields:
        if f.column in provided:
            expressions.append(provided[f.column])
        elif f.primary_key:
            continue
        else:
            name = f"default_{f.column}"
            values[name] = f.get_db_prep_save(f.get_default(), connection)
            expressions.append(f"%({name})s::{f.db_type(connection)}")
        columns.append(f.column)
    unknown = set(provided) - set(columns)
    if unknown:
        raise ValueError(f"{model.__name__} has no columns {sorted(unknown)}")
    sql = f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(expressions)} {from_sql}"
    cursor.execute(sql, values)
    return cursor.rowcount


def _create_helpers(cursor, seed: int) -> None:
    cursor.execute(
        "CREATE OR REPLACE FUNCTION bench_u(k bigint, salt int) RETURNS float8 LANGUAGE sql IMMUTABLE "
        f"PARALLEL SAFE AS $$ SELECT (hashint8extended(k, {int(seed)} * 1000 + salt) & 4294967295)::float8 "
        "/ 4294967296.0 $$"
    )


def _plan(cursor, *, leads: int, reps: int, anchor: dt.datetime, base_id: int) -> None:
    """One row per lead: its stage, owner, path and the time of every step (table bench_plan)."""
    open_total = min(reps * OPEN_BLOCK, int(leads * 0.3)) // OPEN_BLOCK * OPEN_BLOCK
    day = "interval '1 day'"
    slot = f"mod(g - 1, {OPEN_BLOCK})"
    open_stage = (f"CASE WHEN {slot} < 5 THEN 'mql' WHEN {slot} < 25 THEN 'sal' WHEN {slot} < 50 THEN 'sql' "
                  "ELSE 'opportunity' END")
    closed_stage = (
        f"CASE WHEN {u('g', 1)} < 0.03 THEN 'customer' WHEN {u('g', 1)} < 0.08 THEN 'lost' "
        f"WHEN {u('g', 1)} < 0.20 THEN 'recycled' WHEN {u('g', 1)} < 0.35 THEN 'disqualified' "
        f"WHEN {u('g', 1)} < 0.355 THEN 'pool' ELSE 'known' END"
    )
    cursor.execute("DROP TABLE IF EXISTS bench_plan")
    cursor.execute(f"""
        CREATE UNLOGGED TABLE bench_plan AS
        WITH s AS (
            SELECT g, g <= {open_total} AS is_open,
                   CASE WHEN g <= {open_total} THEN {open_stage} ELSE {closed_stage} END AS kind,
                   CASE WHEN g <= {open_total} THEN (g - 1) / {OPEN_BLOCK}
                        ELSE floor({u('g', 10)} * {reps})::int END AS rep_index,
                   {u('g', 7)} AS r7
            FROM generate_series(1, {leads}) AS g
        ), p AS (
            SELECT s.*,
                kind <> 'known' AND NOT (kind = 'disqualified' AND r7 < 0.7) AS has_mql,
                kind IN ('mql', 'sal', 'sql', 'opportunity', 'customer', 'lost', 'recycled') AS has_assign,
                kind IN ('sal', 'sql', 'opportunity', 'customer', 'lost')
                    OR (kind = 'recycled' AND r7 >= 0.5) AS has_accept,
                kind IN ('sql', 'opportunity', 'customer', 'lost') AS has_qualify,
                kind IN ('opportunity', 'customer', 'lost') AS has_opp,
                kind = 'recycled' AND r7 < 0.5 AS has_reject,
                kind = 'recycled' AND r7 >= 0.5 AS has_recycle,
                {u('g', 3)} * 10 * {day} AS o_mql
            FROM s
        ), o AS (
            SELECT p.*,
                o_mql + interval '1 minute' + {u('g', 4)} * interval '30 minutes' AS o_assign
            FROM p
        ), o2 AS (
            SELECT o.*,
                o_assign + interval '10 minutes' + {u('g', 5)} * 2 * {day} AS o_accept
            FROM o
        ), o3 AS (
            SELECT o2.*,
                o_accept + (1 + {u('g', 6)} * 14) * {day} AS o_qualify
            FROM o2
        ), o4 AS (
            SELECT o3.*,
                o_qualify + (1 + {u('g', 8)} * 20) * {day} AS o_opp
            FROM o3
        ), o5 AS (
            SELECT o4.*,
                o_opp + (7 + {u('g', 9)} * 60) * {day} AS o_close,
                o_accept + (7 + {u('g', 9)} * 30) * {day} AS o_recycle,
                o_assign + (0.5 + {u('g', 9)} * 3) * {day} AS o_reject,
                CASE WHEN has_mql THEN o_mql ELSE interval '0' END + {u('g', 11)} * 20 * {day} AS o_disq
            FROM o4
        ), o6 AS (
            SELECT o5.*,
                CASE kind WHEN 'known' THEN interval '0' WHEN 'pool' THEN o_mql WHEN 'mql' THEN o_assign
                    WHEN 'sal' THEN o_accept WHEN 'sql' THEN o_qualify WHEN 'opportunity' THEN o_opp
                    WHEN 'customer' THEN o_close WHEN 'lost' THEN o_close WHEN 'disqualified' THEN o_disq
                    ELSE CASE WHEN has_reject THEN o_reject ELSE o_recycle END END AS o_last
            FROM o5
        ), c AS (
            SELECT o6.*,
                CASE
                    WHEN is_open THEN %(anchor)s::timestamptz - o_last - interval '5 minutes'
                        - {u('g', 2)} * (CASE kind WHEN 'mql' THEN 2 WHEN 'sal' THEN 10 WHEN 'sql' THEN 30
                                                ELSE 45 END) * {day}
                    WHEN kind = 'pool' THEN %(anchor)s::timestamptz - o_last - interval '5 minutes'
                        - {u('g', 2)} * 30 * {day}
                    ELSE LEAST(%(anchor)s::timestamptz - {u('g', 2)} * 730 * {day},
                               %(anchor)s::timestamptz - o_last - interval '1 hour' - {u('g', 12)} * {day})
                END AS c
            FROM o6
        )
        SELECT c.*,
            {base_id} + row_number() OVER (ORDER BY c, g) AS lead_id,
            CASE WHEN kind = 'pool' THEN 'mql' ELSE kind END AS stage,
            CASE WHEN kind IN ('mql', 'sal', 'sql', 'opportunity', 'customer', 'lost') THEN rep_index END
                AS owner_index,
            1 + floor({u('g', 20)} * 9)::int AS n_act,
            {u('g', 21)} < 0.25 AS free_mail,
            floor({u('g', 22)} * {max(leads // 5, 1)})::int AS company,
            {u('g', 23)} < 0.7 AS consent,
            {u('g', 24)} < 0.2 AS merged_again
        FROM c
    """, {"anchor": anchor})
    cursor.execute("CREATE UNIQUE INDEX ON bench_plan (g)")
    cursor.execute("ANALYZE bench_plan")


def _insert_leads(cursor, *, anchor, reps_sql: str, campaigns_sql: str, model_version: int | None) -> int:
    from leads.models import Lead

    first = _pick(FIRST_NAMES, u("g", 30))
    last = _pick(LAST_NAMES, u("g", 31))
    local = f"lower({first}) || '.' || lower({last}) || '.' || g"
    domain = f"CASE WHEN free_mail THEN {_pick(FREE_MAIL, u('g', 32))} ELSE 'firma' || company || '.example' END"
    score = (f"CASE WHEN has_mql THEN 50 + floor({u('g', 33)} * 46)::int "
             f"ELSE floor({u('g', 33)} * 48)::int - CASE WHEN free_mail THEN 10 ELSE 0 END END")
    source = (
        f"CASE WHEN {u('g', 34)} < 0.22 THEN 'paid_search' WHEN {u('g', 34)} < 0.36 THEN 'paid_social' "
        f"WHEN {u('g', 34)} < 0.52 THEN 'web_form' WHEN {u('g', 34)} < 0.64 THEN 'event' "
        f"WHEN {u('g', 34)} < 0.72 THEN 'email' WHEN {u('g', 34)} < 0.86 THEN 'organic_search' "
        f"WHEN {u('g', 34)} < 0.90 THEN 'referral' WHEN {u('g', 34)} < 0.93 THEN 'partner' "
        f"WHEN {u('g', 34)} < 0.96 THEN 'chat' ELSE 'api' END"
    )
    country = (f"CASE WHEN {u('g', 35)} < 0.55 THEN 'DE' WHEN {u('g', 35)} < 0.65 THEN 'AT' "
               f"WHEN {u('g', 35)} < 0.75 THEN 'CH' ELSE {_pick(('NL', 'FR', 'GB', 'US', 'PL', 'DK'), u('g', 36))} END")
    provided = {
        "id": "lead_id",
        "email": f"{local} || '@' || {domain}",
        "email_normalized": f"{local} || '@' || {domain}",
        "first_name": first,
        "last_name": last,
        "phone": f"CASE WHEN {u('g', 37)} < 0.6 THEN '+4930' || (1000000 + floor({u('g', 38)} * 8999999)::int) "
                 "ELSE '' END",
        "job_title": _pick(TITLES, u("g", 39)),
        "company": "'Firma ' || company || ' GmbH'",
        "company_domain": "CASE WHEN free_mail THEN '' ELSE 'firma' || company || '.example' END",
        "company_size": f"CASE WHEN {u('g', 40)} < 0.15 THEN NULL ELSE {_pick(SIZES, u('g', 41))}::int END",
        "industry": _pick(INDUSTRIES, u("g", 42)),
        "country": country,
        "source": source,
        "campaign_id": f"CASE WHEN {u('g', 43)} < 0.6 THEN ({campaigns_sql})[1 + floor({u('g', 44)} * "
                       f"cardinality({campaigns_sql}))::int] END",
        "first_touch_at": "c",
        "last_touch_at": "LEAST(%(anchor)s::timestamptz, c + o_last + interval '1 hour')",
        "stage": "stage",
        "stage_entered_at": "c + o_last",
        "stage_reason": ("CASE stage WHEN 'recycled' THEN 'No answer after 6 attempts' "
                         "WHEN 'disqualified' THEN 'No budget' WHEN 'lost' THEN 'Chose a competitor' ELSE '' END"),
        "owner_id": f"CASE WHEN owner_index IS NOT NULL THEN ({reps_sql})[owner_index + 1] END",
        "assigned_at": "CASE WHEN owner_index IS NOT NULL THEN c + o_assign END",
        "score": score,
        "fit_score": f"LEAST({score}, 30)",
        "engagement_score": f"{score} - LEAST({score}, 30)",
        "temperature": f"CASE WHEN {score} >= 50 THEN 'hot' WHEN {score} >= 25 THEN 'warm' ELSE 'cold' END",
        "contact_attempts": f"CASE WHEN has_accept THEN 1 + floor({u('g', 45)} * 5)::int ELSE 0 END",
        "budget": "CASE WHEN has_qualify THEN 'Budget approved for this year' ELSE '' END",
        "authority": "CASE WHEN has_qualify THEN 'Decides with the CFO' ELSE '' END",
        "need": "CASE WHEN has_qualify THEN 'Leads get lost between marketing and sales' ELSE '' END",
        "timeline": "CASE WHEN has_qualify THEN 'This quarter' ELSE '' END",
        "deal_value": f"CASE WHEN has_opp THEN round((5000 + {u('g', 46)} * 195000)::numeric, 2) END",
        "close_date": "CASE WHEN has_opp THEN (c + o_opp + interval '30 days')::date END",
        "contract_signed_on": "CASE WHEN stage = 'customer' THEN (c + o_close)::date END",
        "consent_status": "CASE WHEN consent THEN %(consent_given)s ELSE %(consent_none)s END",
        "created_at": "c",
        "updated_at": "c + o_last",
    }
    fields = {f.column for f in Lead._meta.concrete_fields}
    provided = {k: v for k, v in provided.items() if k in fields}
    from_sql = "FROM bench_plan ORDER BY lead_id"
    params = {"anchor": anchor, "model_version": model_version, **_consent_statuses()}
    return _insert(cursor, Lead, provided, from_sql, params)


def _insert_lead_scores(cursor, *, model_version: int | None) -> int:
    """How each planned score was made: the active version, as of the lead's last step. The breakdowns are
    empty because the planned scores are not a model's; the first rescoring writes real ones."""
    from leads.models import LeadScore

    if model_version is None:
        return 0
    provided = {"lead_id": "lead_id", "model_version": "%(model_version)s::int", "breakdown": "'[]'::jsonb",
                "scored_at": "c + o_last"}
    return _insert(cursor, LeadScore, provided, "FROM bench_plan ORDER BY lead_id", {"model_version": model_version})


def _insert_activities(cursor, *, anchor, reps_sql: str) -> int:
    from leads.models import Activity

    key = "g * 16 + k"
    mkt = (
        f"CASE WHEN k = 1 THEN CASE WHEN has_mql AND {u(key, 50)} < 0.5 THEN 'demo_request' "
        f"WHEN has_mql AND {u(key, 50)} < 0.7 THEN 'contact_request' WHEN {u(key, 50)} < 0.85 THEN 'form_submit' "
        f"ELSE 'download' END "
        f"WHEN {u(key, 51)} < 0.42 THEN 'page_view' WHEN {u(key, 51)} < 0.57 THEN 'email_open' "
        f"WHEN {u(key, 51)} < 0.67 THEN 'email_click' WHEN {u(key, 51)} < 0.76 THEN 'pricing_view' "
        f"WHEN {u(key, 51)} < 0.84 THEN 'download' WHEN {u(key, 51)} < 0.88 THEN 'webinar_registered' "
        f"WHEN {u(key, 51)} < 0.91 THEN 'webinar_attended' WHEN {u(key, 51)} < 0.95 THEN 'form_submit' "
        f"WHEN {u(key, 51)} < 0.97 THEN 'newsletter_signup' ELSE 'chat' END"
    )
    sales = (f"CASE WHEN {u(key, 52)} < 0.5 THEN 'call' WHEN {u(key, 52)} < 0.8 THEN 'email' "
             f"WHEN {u(key, 52)} < 0.9 THEN 'meeting' ELSE 'linkedin' END")
    is_sales = "(has_accept AND k > 1 AND k > n_act / 2)"
    kind = f"CASE WHEN {is_sales} THEN {sales} ELSE {mkt} END"
    # Sales touches happen after acceptance; marketing touches between creation and the last step (+60 days).
    occurred = (
        f"LEAST(%(anchor)s::timestamptz - interval '1 minute', CASE WHEN k = 1 THEN c "
        f"WHEN {is_sales} THEN c + o_accept + {u(key, 53)} * GREATEST(o_last - o_accept, interval '1 hour') "
        f"ELSE c + {u(key, 53)} * (o_last + interval '60 days') END)"
    )
    provided = {
        "lead_id": "lead_id",
        "visitor_id": "NULL::bigint",
        "kind": kind,
        "outcome": f"CASE WHEN {is_sales} THEN {_pick(OUTCOMES, u(key, 54))} ELSE '' END",
        "occurred_at": occurred,
        "url": (f"CASE WHEN NOT {is_sales} AND k > 1 AND {u(key, 51)} < 0.42 THEN 'https://www.leadwerk.example' || "
                f"{_pick(PAGES, u(key, 55))} WHEN NOT {is_sales} AND k > 1 AND {u(key, 51)} < 0.76 AND "
                f"{u(key, 51)} >= 0.67 THEN 'https://www.leadwerk.example/pricing' ELSE '' END"),
        "data": "CASE WHEN k = 1 THEN jsonb_build_object('channel', 'web_form') ELSE '{}'::jsonb END",
        "created_by_id": f"CASE WHEN {is_sales} THEN ({reps_sql})[rep_index + 1] END",
        "created_at": occurred,
    }
    from_sql = "FROM bench_plan CROSS JOIN LATERAL generate_series(1, n_act) AS k ORDER BY lead_id, k"
    return _insert(cursor, Activity, provided, from_sql, {"anchor": anchor})


def _insert_transitions(cursor, *, reps_sql: str, rep_names_sql: str) -> int:
    from leads.models import LeadTransition

    owner = f"({reps_sql})[rep_index + 1]"
    owner_name = f"({rep_names_sql})[rep_index + 1]"
    steps = f"""
        (1, 'mark_mql', 'known', 'mql', o_mql, has_mql, NULL::bigint, ''),
        (2, 'assign', 'mql', 'mql', o_assign, has_assign, NULL::bigint, 'round-robin in the team'),
        (3, 'accept', 'mql', 'sal', o_accept, has_accept, {owner}, ''),
        (4, 'qualify', 'sal', 'sql', o_qualify, has_qualify, {owner}, ''),
        (5, 'open_opportunity', 'sql', 'opportunity', o_opp, has_opp, {owner}, ''),
        (6, 'win', 'opportunity', 'customer', o_close, kind = 'customer', {owner}, ''),
        (7, 'lose', 'opportunity', 'lost', o_close, kind = 'lost', {owner}, 'Chose a competitor'),
        (8, 'reject', 'mql', 'recycled', o_reject, has_reject, {owner}, 'Not a buyer yet'),
        (9, 'recycle', 'sal', 'recycled', o_recycle, has_recycle, {owner}, 'No answer after 6 attempts'),
        (10, 'disqualify', CASE WHEN has_mql THEN 'mql' ELSE 'known' END, 'disqualified', o_disq,
            kind = 'disqualified', NULL::bigint, 'No budget')
    """
    provided = {
        "lead_id": "lead_id",
        "name": "v.name",
        "source": "v.source",
        "target": "v.target",
        "actor_id": "v.actor",
        "reason": "v.reason",
        "data": ("CASE WHEN v.name = 'assign' THEN jsonb_build_object('from_owner', NULL, 'to_owner', "
                 f"{owner_name}, 'rule', 'Inbound DACH', 'method', 'round_robin') ELSE '{{}}'::jsonb END"),
        "at": "c + v.offset_",
    }
    from_sql = (f"FROM bench_plan CROSS JOIN LATERAL (VALUES {steps}) AS v(step, name, source, target, offset_, "
                "happened, actor, reason) WHERE v.happened ORDER BY lead_id, v.step")
    return _insert(cursor, LeadTransition, provided, from_sql)


def _insert_submissions(cursor, *, anchor) -> int:
    from leads.models import Submission

    channel = ("CASE l.source WHEN 'event' THEN 'import' WHEN 'referral' THEN 'manual' WHEN 'partner' THEN 'api' "
               "WHEN 'paid_social' THEN 'api' WHEN 'api' THEN 'api' ELSE 'web_form' END")
    provided = {
        "channel": channel,
        "capture_form_id": "NULL::bigint",
        "submitted_by_id": "NULL::bigint",
        "idempotency_scope": "''",
        "idempotency_key": "''",
        "payload_hash": "md5(l.email_normalized || ':' || s.n)",
        "payload": ("jsonb_build_object('email', l.email, 'first_name', l.first_name, 'last_name', l.last_name, "
                    "'company', l.company, 'country', l.country)"),
        "outcome": "CASE WHEN s.n = 1 THEN 'created' ELSE 'merged' END",
        "errors": "'{}'::jsonb",
        "lead_id": "l.id",
        "response_status": "CASE WHEN s.n = 1 THEN 201 ELSE 200 END",
        "response_body": ("jsonb_build_object('id', l.id, 'created', s.n = 1, 'stage', 'known', 'score', 0, "
                          "'owner', NULL)"),
        "ip_address": "NULL::inet",
        "user_agent": "''",
        "received_at": "s.at - interval '40 milliseconds'",
        "processed_at": "s.at",
    }
    from_sql = ("FROM bench_plan p JOIN leads_lead l ON l.id = p.lead_id CROSS JOIN LATERAL (VALUES (1, p.c), "
                "(2, LEAST(%(anchor)s::timestamptz, p.c + (1 + bench_u(p.g, 60) * 90) * interval '1 day'))) "
                "AS s(n, at) WHERE s.n = 1 OR p.merged_again ORDER BY s.at")
    return _insert(cursor, Submission, provided, from_sql, {"anchor": anchor})


def _consent_given() -> dict:
    """The consent event every consenting lead has: marketing e-mail ticked on a web form, no double opt-in."""
    from capture.submissions import METHODS
    from privacy.models import ConsentEvent

    return {"purpose": "marketing_email", "kind": ConsentEvent.Kind.GIVEN.value, "requires_confirmation": False,
            "channel": "web_form", "method": METHODS["web_form"].value}


def _consent_statuses() -> dict:
    """`Lead.consent_status` with and without that event, derived by the consent log's own rule."""
    from privacy import consent

    given = _consent_given()
    step = consent.Step(given["kind"], given["requires_confirmation"], given["purpose"])
    return {"consent_given": consent.summary_of([step]), "consent_none": consent.summary_of([])}


def _insert_consent_events(cursor) -> int:
    import hashlib

    from privacy.models import ConsentEvent

    given = _consent_given()
    provided = {
        "lead_id": "lead_id",
        "purpose": "%(purpose)s",
        "kind": "%(kind)s",
        "requires_confirmation": "%(requires_confirmation)s",
        "channel": "%(channel)s",
        "method": "%(method)s",
        "at": "c",
        "wording": "%(wording)s",
        "wording_hash": "%(wording_hash)s",
    }
    params = {**given, "wording": WORDING, "wording_hash": hashlib.sha256(WORDING.encode()).hexdigest()}
    return _insert(cursor, ConsentEvent, provided, "FROM bench_plan WHERE consent ORDER BY lead_id", params)


def _secondary_indexes(cursor) -> list[str]:
    """CREATE INDEX statements of the loaded tables' indexes that back no constraint."""
    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
        "WHERE t.relname = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [list(TABLES)],
    )
    return [row[0] for row in cursor.fetchall()]


# --- the entry points -------------------------------------------------------------------------------------


def generate(*, leads: int, seed: int = 42, anchor: dt.datetime | None = None, bulk: bool | None = None,
             verbose: bool = True) -> dict:
    """Write the data set into the current (empty of leads) database; returns what `bench_meta` stores.

    `bulk` (default: from 50,000 leads on) drops the secondary indexes and foreign-key triggers during the
    load, rebuilds them after and runs VACUUM ANALYZE: much faster, and needs a superuser and autocommit.
    """
    from django.db import connection, transaction

    from leads.models import Lead
    from scoring.models import ScoringModel

    say = print if verbose else (lambda *a, **k: None)
    anchor = anchor or dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    bulk = leads >= 50_000 if bulk is None else bulk
    reps = max(4, round(leads / LEADS_PER_REP))
    started = time.perf_counter()
    users = _users(reps)
    world = _campaigns_and_forms(anchor) | _routing(users["bench_sdrs"])
    model_version = ScoringModel.objects.filter(is_active=True).values_list("version", flat=True).first()
    base_id = Lead.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    reps_sql = "ARRAY[" + ",".join(str(pk) for pk in users["reps"]) + "]::bigint[]"
    rep_names_sql = _arr(users["rep_names"])
    campaigns_sql = "ARRAY[" + ",".join(str(pk) for pk in world["campaigns"]) + "]::bigint[]"
    rows: dict[str, int] = {}
    timings: dict[str, float] = {}

    def step(name, fn, *args, **kwargs):
        t0 = time.perf_counter()
        count = fn(*args, **kwargs)
        seconds = time.perf_counter() - t0
        timings[name] = round(seconds, 2)
        if count is not None:
            rows[name] = count
            say(f"  {name:<14} {count:>11,} rows in {seconds:6.1f} s  ({count / max(seconds, 1e-9):>10,.0f} rows/s)")
        else:
            say(f"  {name:<14} {'':>11}      in {seconds:6.1f} s")

    say(f"Generating {leads:,} leads (seed {seed}, {reps} reps, up to {anchor:%Y-%m-%d %H:%M} UTC) ...")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        cursor.execute("SET LOCAL synchronous_commit = off")
        _create_helpers(cursor, seed)
        indexes: list[str] = []
        if bulk:
            cursor.execute("SET LOCAL session_replication_role = replica")  # no FK triggers: consistent by design
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            indexes = _secondary_indexes(cursor)
            for definition in indexes:
                name = definition.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
                cursor.execute(f"DROP INDEX {name}")
        step("plan", _plan, cursor, leads=leads, reps=reps, anchor=anchor, base_id=base_id)
        step("leads", _insert_leads, cursor, anchor=anchor, reps_sql=reps_sql, campaigns_sql=campaigns_sql,
             model_version=model_version)
        step("lead scores", _insert_lead_scores, cursor, model_version=model_version)
        step("activities", _insert_activities, cursor, anchor=anchor, reps_sql=reps_sql)
        step("transitions", _insert_transitions, cursor, reps_sql=reps_sql, rep_names_sql=rep_names_sql)
        step("submissions", _insert_submissions, cursor, anchor=anchor)
        step("consent events", _insert_consent_events, cursor)
        if indexes:
            def rebuild():
                for definition in indexes:
                    cursor.execute(definition)
            step("indexes", rebuild)
        cursor.execute("SELECT setval(pg_get_serial_sequence('leads_lead', 'id'), (SELECT max(id) FROM leads_lead))")
        cursor.execute("DROP TABLE bench_plan")
    if bulk and not connection.in_atomic_block:
        def vacuum():
            with connection.cursor() as cursor:
                for table in TABLES:
                    cursor.execute(f"VACUUM (ANALYZE) {table}")
        step("vacuum", vacuum)
    else:
        with connection.cursor() as cursor:
            for table in TABLES:
                cursor.execute(f"ANALYZE {table}")
    seconds = time.perf_counter() - started
    total = sum(rows.values())
    say(f"  {'total':<14} {total:>11,} rows in {seconds:6.1f} s  ({total / seconds:>10,.0f} rows/s)")
    return {
        "leads": leads, "seed": seed, "generator": GENERATOR_VERSION, "anchor": anchor.isoformat(),
        "rows": rows, "timings": timings, "seconds": round(seconds, 1), "reps": reps, **users, **world,
        "max_ids": max_ids(), "status": "complete",
    }


def max_ids() -> dict[str, int]:
    """The highest id per table right after generation: rows above it were written by benchmarks."""
    from django.apps import apps

    found = {}
    for label in ("leads.Lead", "leads.Activity", "leads.LeadTransition", "leads.Submission", "privacy.ConsentEvent",
                  "leads.Notification", "leads.Visitor"):
        model = apps.get_model(label)
        found[label] = model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    return found


def read_meta() -> dict:
    from django.db import connection

    from benchmarks.db import META_TABLE

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [META_TABLE])
        if cursor.fetchone()[0] is None:
            return {}
        cursor.execute(f"SELECT value FROM {META_TABLE} WHERE key = 'data'")
        row = cursor.fetchone()
    if not row:
        return {}
    return row[0] if isinstance(row[0], dict) else json.loads(row[0])  # Django reads jsonb as text


def write_meta(meta: dict) -> None:
    from django.db import connection

    from benchmarks.db import META_TABLE

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key text PRIMARY KEY, value jsonb NOT NULL)")
        cursor.execute(
            f"INSERT INTO {META_TABLE} VALUES ('data', %s::jsonb) ON CONFLICT (key) DO UPDATE SET value = "
            "EXCLUDED.value",
            [json.dumps(meta, default=str)],
        )


def ensure(*, leads: int, seed: int = 42) -> dict:
    """The data set of this size and seed in the bench database: reused when present, else built anew."""
    from benchmarks import db
    from leads.models import Lead

    meta = read_meta()
    if (meta.get("status") == "complete" and meta.get("leads") == leads and meta.get("seed") == seed
            and meta.get("generator") == GENERATOR_VERSION):
        print(f"Reusing the bench data set: {leads:,} leads (seed {seed}, generated {meta.get('anchor')}).")
        return meta
    if meta or Lead.objects.exists():
        print("The bench database holds another data set: dropping it and building it again.")
        db.rebuild_database()
    meta = generate(leads=leads, seed=seed)
    write_meta(meta)
    return meta


def reset_to_generated(meta: dict) -> None:
    """Delete what benchmarks added after generation (their leads with everything hanging on them, queued
    tasks, throttle counters, ceiling rows), so every run starts from the same data set."""
    from django.apps import apps
    from django.db import connection

    highest = meta.get("max_ids", {})
    lead_model = apps.get_model("leads.Lead")
    lead_model.objects.filter(pk__gt=highest.get("leads.Lead", 0)).delete()
    for label in ("leads.Activity", "leads.LeadTransition", "leads.Submission", "privacy.ConsentEvent",
                  "leads.Notification", "leads.Visitor"):
        model = apps.get_model(label)
        model.objects.filter(pk__gt=highest.get(label, 0)).delete()
    with connection.cursor() as cursor:
        for table in ("django_q_ormq", "django_q_task", "leadwerk_cache"):
            cursor.execute("SELECT to_regclass(%s)", [table])
            if cursor.fetchone()[0]:
                cursor.execute(f"DELETE FROM {table}")
        cursor.execute("DROP TABLE IF EXISTS bench_ceiling")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    from benchmarks import db

    db.configure(leads=args.leads)
    print(f"Bench data in {db.describe()}.")
    ensure(leads=args.leads, seed=args.seed)


if __name__ == "__main__":
    main()

"""Scores on leads: build the facts `scoring.policy` needs, store its result, rescore in bulk, replay.

`scoring` decides (pure functions over `LeadFacts`); this module is the only writer of the score fields.

Where a score lives: `Lead.score`, `fit_score`, `engagement_score` and `temperature` (lists sort and filter
on them) and the lead's `LeadScore` row (the model version that made the score, its breakdown, and the
moment it is as of). Both are written in one transaction, lead row first (the order every capture locks
in), and the lead row only when one of its four values changed.

Bulk rescoring (`rescore_all`, `rescore_many`) reads with raw SQL (one query for a batch of leads, one for
their activities), scores in Python, and writes each batch with one `COPY` into a temporary table, one
`UPDATE` of the lead rows whose values changed and one `INSERT ... ON CONFLICT DO UPDATE` of the narrow
score rows. A lead rescored after the run's `at` (a capture while the run went on) keeps its newer score;
a lead whose row another transaction holds is skipped and retried at the end of the run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from leads.models import Campaign, Lead, LeadScore
from leads.validation import email_domain, is_free_mail
from scoring import policy
from scoring.models import ScoringModel

BATCH = 5000
WORKERS = 2  # processes rescore_all splits a big run into (one per core here)
PARALLEL_FROM = 50_000  # leads; below this one process is quicker than starting another
LOCK_RETRIES = 3  # passes over leads whose row another transaction held
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # activity times are read as microseconds since then
STUDENT_DOMAIN = re.compile(r"(^|\.)(edu|ac\.[a-z]{2}|edu\.[a-z]{2})$|(^|\.)(uni-|stud\.|student)")
# The lead columns scoring reads, then the four score values stored on the lead (to write only changes).
LEADS_SQL = """
SELECT l.id, l.email_normalized, l.company_size, l.industry, l.country, l.job_title, l.source, c.slug,
       l.score, l.fit_score, l.engagement_score, l.temperature
FROM leads_lead l LEFT JOIN leads_campaign c ON c.id = l.campaign_id
"""


def domain_type(email: str) -> str:
    """business, free, competitor or student, from the e-mail's domain."""
    domain = email_domain(email)
    if not domain:
        return ""
    if domain in settings.COMPETITOR_DOMAINS:
        return "competitor"
    if is_free_mail(domain):
        return "free"
    if STUDENT_DOMAIN.search(domain):
        return "student"
    return "business"


def facts_from(row: dict, activities) -> policy.LeadFacts:
    return policy.LeadFacts(
        company_size=row["company_size"],
        industry=row["industry"] or "",
        country=row["country"] or "",
        job_title=row["job_title"] or "",
        source=row["source"] or "",
        campaign=row["campaign__slug"] or "",
        email_domain_type=domain_type(row["email_normalized"]),
        activities=tuple(activities),
    )


def facts_of(lead: Lead, activities: Sequence[policy.ActivityFact]) -> policy.LeadFacts:
    """Facts from a lead in memory (its campaign is read only when not loaded with it)."""
    campaign = ""
    if lead.campaign_id:
        if Lead.campaign.is_cached(lead):
            campaign = lead.campaign.slug
        else:
            campaign = Campaign.objects.filter(pk=lead.campaign_id).values_list("slug", flat=True).first() or ""
    return facts_from({
        "company_size": lead.company_size, "industry": lead.industry, "country": lead.country,
        "job_title": lead.job_title, "source": lead.source, "campaign__slug": campaign,
        "email_normalized": lead.email_normalized,
    }, activities)


def active_spec() -> policy.ModelSpec | None:
    return ScoringModel.active_spec()


def spec_of_version(version: int) -> policy.ModelSpec | None:
    model = ScoringModel.objects.filter(version=version).prefetch_related("rules").first()
    return model.to_spec() if model else None


# --- reading (raw SQL: one query for a batch of leads, one for their activities) ------------------------


def _activity_query(spec: policy.ModelSpec, where: str) -> str:
    """Only the kinds the model counts, only up to `at`: scoring ignores the rest anyway."""
    uses_urls = any(rule.url_pattern for rule in spec.rules)
    url = "a.url" if uses_urls else "''"
    # The time as whole microseconds since 1970 (exact): a bigint loads ten times faster than a timestamptz
    # through Django's time-zone loader; `_read` builds the datetime.
    return (f"SELECT a.lead_id, a.kind, (extract(epoch FROM a.occurred_at) * 1000000)::bigint, {url} "
            "FROM leads_activity a "
            f"WHERE {where} AND a.kind = ANY(%(kinds)s) AND a.occurred_at <= %(at)s")


def _kinds(spec: policy.ModelSpec) -> list[str]:
    return sorted({rule.activity_kind for rule in spec.rules if rule.activity_kind})


def _read(where_leads: str, where_activities: str, params: dict, spec: policy.ModelSpec, at: dt.datetime):
    """Lead rows (tuples in LEADS_SQL order) and their activity facts by lead id."""
    with connection.cursor() as cursor:
        cursor.execute(LEADS_SQL + where_leads, params)
        rows = cursor.fetchall()
        if not rows:
            return rows, {}
        cursor.execute(_activity_query(spec, where_activities),
                       {**params, "kinds": _kinds(spec), "at": at, "first": rows[0][0], "last": rows[-1][0]})
        found: dict[int, list[policy.ActivityFact]] = {}
        fact, epoch, microseconds = policy.ActivityFact, EPOCH, dt.timedelta
        for lead_id, kind, occurred_us, url in cursor.fetchall():
            found.setdefault(lead_id, []).append(fact(kind, epoch + microseconds(microseconds=occurred_us), url))
    return rows, found


def _score_rows(rows, activities, spec: policy.ModelSpec, at: dt.datetime, domains: dict[str, str]):
    """(lead_id, result, changed, read) per row: `read` is the lead row's four score values as read, `changed`
    when they differ from the result."""
    scored = []
    lead_facts = policy.LeadFacts
    for lead_id, email, size, industry, country, title, source, campaign, score, fit, engagement, temp in rows:
        domain = email_domain(email)
        kind = domains.get(domain)
        if kind is None:
            kind = domains[domain] = domain_type(email)
        facts = lead_facts(company_size=size, industry=industry or "", country=country or "",
                           job_title=title or "", source=source or "", campaign=campaign or "",
                           email_domain_type=kind, activities=activities.get(lead_id, ()))
        result = policy.score(facts, spec, at=at)
        read = (score, fit, engagement, temp)
        scored.append((lead_id, result, (result.score, result.fit, result.engagement, result.temperature) != read,
                       read))
    return scored


def evaluate(lead_id: int, *, spec: policy.ModelSpec, at: dt.datetime) -> policy.ScoreResult:
    """Score one lead from its stored fields and activity log as of `at` (writes nothing)."""
    rows, activities = _read("WHERE l.id = %(id)s", "a.lead_id = %(id)s", {"id": lead_id}, spec, at)
    if not rows:
        raise Lead.DoesNotExist(f"Lead {lead_id} does not exist.")
    return _score_rows(rows, activities, spec, at, {})[0][1]


def replay(lead_id: int, *, at: dt.datetime, version: int | None = None) -> policy.ScoreResult | None:
    """What the lead's score was at `at` under a model version (default: the version that scored it)."""
    if version is None:
        Lead.objects.filter(pk=lead_id).values_list("pk", flat=True).get()  # DoesNotExist for a wrong id
        version = LeadScore.objects.filter(lead_id=lead_id).values_list("model_version", flat=True).first()
    spec = spec_of_version(version) if version else active_spec()
    return evaluate(lead_id, spec=spec, at=at) if spec else None


# --- writing ---------------------------------------------------------------------------------------------


# One statement: the lead row (only when a value changes; the CTE runs first because the INSERT reads it,
# so the lead row is locked before its score row, as everywhere), then the score row.
RESCORE_ONE_SQL = """
WITH lead AS (
    UPDATE leads_lead SET score = %(score)s, fit_score = %(fit)s, engagement_score = %(engagement)s,
           temperature = %(temperature)s
    WHERE id = %(id)s AND (score, fit_score, engagement_score, temperature)
          IS DISTINCT FROM (%(score)s, %(fit)s, %(engagement)s, %(temperature)s::varchar)
    RETURNING id
)
INSERT INTO leads_leadscore (lead_id, model_version, breakdown, scored_at)
SELECT %(id)s, %(version)s, %(breakdown)s::jsonb, %(at)s FROM (SELECT count(*) FROM lead) AS written
ON CONFLICT (lead_id) DO UPDATE SET model_version = EXCLUDED.model_version, breakdown = EXCLUDED.breakdown,
    scored_at = EXCLUDED.scored_at
"""


def rescore(lead: Lead, *, spec: policy.ModelSpec | None = None, at: dt.datetime | None = None,
            activities: Sequence[policy.ActivityFact] | None = None) -> policy.ScoreResult | None:
    """Score one lead now with the active model and store the result (on the rows and on `lead`).

    With `activities` (the lead's complete activity log, e.g. the one activity of a lead just created), the
    facts come from `lead` in memory and nothing is read; otherwise the lead and its activities are read.
    One statement writes the lead row (only when its values change) and its `LeadScore`.
    """
    spec = spec or active_spec()
    if spec is None:
        return None
    at = at or timezone.now()
    if activities is None:
        result = evaluate(lead.pk, spec=spec, at=at)
    else:
        result = policy.score(facts_of(lead, activities), spec, at=at)
    breakdown = result.breakdown_as_list()
    with connection.cursor() as cursor:
        cursor.execute(RESCORE_ONE_SQL, {
            "id": lead.pk, "score": result.score, "fit": result.fit, "engagement": result.engagement,
            "temperature": result.temperature, "version": result.model_version, "breakdown": json.dumps(breakdown),
            "at": at,
        })
    lead.score, lead.fit_score, lead.engagement_score = result.score, result.fit, result.engagement
    lead.temperature = result.temperature
    lead.score_details = LeadScore(lead_id=lead.pk, model_version=result.model_version, breakdown=breakdown,
                                   scored_at=at)
    return result


def rescore_many(lead_ids: Iterable[int], *, spec: policy.ModelSpec | None = None,
                 at: dt.datetime | None = None) -> int:
    """Score and store the given leads through the bulk path (batches of BATCH); returns how many were
    stored (ids that do not exist, and leads rescored after `at` meanwhile, are left alone)."""
    spec = spec or active_spec()
    if spec is None:
        return 0
    at = at or timezone.now()
    ids = sorted({int(lead_id) for lead_id in lead_ids})
    stored, domains, busy = 0, {}, []
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        rows, activities = _read("WHERE l.id = ANY(%(ids)s) ORDER BY l.id", "a.lead_id = ANY(%(ids)s)",
                                 {"ids": chunk}, spec, at)
        written, skipped = _store(_score_rows(rows, activities, spec, at, domains), spec, at)
        stored += written
        busy += skipped
    return stored + _retry_busy(busy, spec, at)


def _retry_busy(busy: list[int], spec: policy.ModelSpec, at: dt.datetime) -> int:
    """Leads skipped because another transaction held their row: try again a few times, a moment apart.
    What is still held after that keeps its score until the next run (the holder is usually a capture
    that rescores the lead itself)."""
    stored = 0
    for attempt in range(LOCK_RETRIES):
        if not busy:
            break
        time.sleep(0.2 * (attempt + 1))
        rows, activities = _read("WHERE l.id = ANY(%(ids)s) ORDER BY l.id", "a.lead_id = ANY(%(ids)s)",
                                 {"ids": busy}, spec, at)
        written, busy = _store(_score_rows(rows, activities, spec, at, {}), spec, at)
        stored += written
    return stored


def _store(scored, spec: policy.ModelSpec, at: dt.datetime) -> tuple[int, list[int]]:
    """Write one batch in one transaction; returns (leads stored, ids skipped because their row was busy)."""
    if not scored:
        return 0, []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE leads_rescored (id bigint PRIMARY KEY, score int, fit int, engagement int, "
            "temperature varchar(8), breakdown jsonb, read_score int, read_fit int, read_engagement int, "
            "read_temperature varchar(8)) ON COMMIT DROP"
        )
        with cursor.cursor.copy(
            "COPY leads_rescored (id, score, fit, engagement, temperature, breakdown, read_score, read_fit, "
            "read_engagement, read_temperature) FROM STDIN"
        ) as copy:
            dumps, texts = json.dumps, {}  # many leads share a breakdown (the same fit rules, nothing recent)
            for lead_id, result, _changed, read in scored:
                key = tuple(result.breakdown)
                text = texts.get(key)
                if text is None:
                    text = texts[key] = dumps(result.breakdown_as_list())
                copy.write_row((lead_id, result.score, result.fit, result.engagement, result.temperature, text,
                                *read))
        # The lead rows to lock: values changed (as read) or no score row yet (inserting one checks the
        # lead's foreign key, which must not wait on a capture holding the lead). Rows held elsewhere are
        # skipped (SKIP LOCKED) and retried later, so this never waits on, or deadlocks with, a capture.
        needed = [lead_id for lead_id, _result, changed, _read in scored if changed]
        cursor.execute(
            "SELECT r.id FROM leads_rescored r WHERE NOT EXISTS "
            "(SELECT 1 FROM leads_leadscore s WHERE s.lead_id = r.id)"
        )
        needed = sorted(set(needed) | {row[0] for row in cursor.fetchall()})
        locked: list[int] = []
        if needed:
            cursor.execute("SELECT id FROM leads_lead WHERE id = ANY(%s) ORDER BY id FOR UPDATE SKIP LOCKED",
                           [needed])
            locked = [row[0] for row in cursor.fetchall()]
        skipped = sorted(set(needed) - set(locked)) if len(locked) < len(needed) else []
        if locked:
            # A new statement sees every capture that committed before the locks were taken: a lead whose
            # values moved since the batch was read, or that was scored after `at`, keeps its score.
            cursor.execute(
                "UPDATE leads_lead l SET score = r.score, fit_score = r.fit, engagement_score = r.engagement, "
                "temperature = r.temperature FROM leads_rescored r "
                "WHERE r.id = l.id AND l.id = ANY(%(locked)s) "
                "AND (l.score, l.fit_score, l.engagement_score, l.temperature) "
                "IS DISTINCT FROM (r.score, r.fit, r.engagement, r.temperature) "
                "AND (l.score, l.fit_score, l.engagement_score, l.temperature) "
                "= (r.read_score, r.read_fit, r.read_engagement, r.read_temperature) "
                "AND NOT EXISTS (SELECT 1 FROM leads_leadscore s WHERE s.lead_id = l.id AND s.scored_at > %(at)s)",
                {"locked": locked, "at": at},
            )
        cursor.execute(
            "INSERT INTO leads_leadscore (lead_id, model_version, breakdown, scored_at) "
            "SELECT r.id, %(version)s, r.breakdown, %(at)s FROM leads_rescored r "
            # Only where the lead row now holds these values (ours, or equal): a capture that committed since
            # the batch was read keeps its score and breakdown together.
            "WHERE r.id <> ALL(%(skipped)s) AND EXISTS (SELECT 1 FROM leads_lead l WHERE l.id = r.id "
            "AND (l.score, l.fit_score, l.engagement_score, l.temperature) "
            "= (r.score, r.fit, r.engagement, r.temperature)) "
            "ON CONFLICT (lead_id) DO UPDATE SET model_version = EXCLUDED.model_version, "
            "breakdown = EXCLUDED.breakdown, scored_at = EXCLUDED.scored_at "
            "WHERE leads_leadscore.scored_at <= EXCLUDED.scored_at",
            {"version": spec.version, "at": at, "skipped": skipped},
        )
        stored = cursor.rowcount
        cursor.execute("DROP TABLE leads_rescored")  # inside an outer transaction ON COMMIT comes later
        return stored, skipped


# --- rescoring every lead ----------------------------------------------------------------------------------


def rescore_all(*, spec: policy.ModelSpec | None = None, at: dt.datetime | None = None, batch: int | None = None,
                model_id: int | None = None, workers: int = WORKERS) -> int:
    """Rescore every lead as of `at` (default now); returns how many leads were rescored.

    A big run outside a transaction is split by id range over `workers` processes (this one and
    `manage.py rescore_leads` children). With `model_id`, progress is added to that scoring model
    (`versioning.add_rescored`) after each batch. Safe to run twice, and alongside captures: a lead scored
    after `at` keeps its newer score; one scored meanwhile by another model version (a capture that started
    before the activation) is rescored again at the end with `spec`.
    """
    spec = spec or active_spec()
    if spec is None:
        return 0
    at = at or timezone.now()
    done, ranges = 0, None
    while ranges != []:
        count, ranges = rescore_ranges(spec=spec, at=at, ranges=ranges, batch=batch, model_id=model_id,
                                       workers=workers)
        done += count
    return done + rescore_other_versions(spec=spec, at=at)


Ranges = list[tuple[int, int]]


def all_ranges(workers: int) -> Ranges:
    """The whole id range as `workers` parts (after_id, last_id]: where a new run starts."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM leads_lead")
        first, last = cursor.fetchone()
    if first is None:
        return []
    size = (last - first + workers) // workers
    return [(after, min(after + size, last)) for after in range(first - 1, last, size)]


def rescore_ranges(*, spec: policy.ModelSpec, at: dt.datetime, ranges: Ranges | None = None,
                   batch: int | None = None, model_id: int | None = None, workers: int = WORKERS,
                   budget: float | None = None) -> tuple[int, Ranges]:
    """Rescore the leads in `ranges` (default: all, split for `workers`), one process per range (this one
    takes the first); each stops after `budget` seconds. Returns (leads rescored, ranges left to do)."""
    if ranges is None:
        ranges = all_ranges(workers if _may_fork(spec, workers) else 1)
    if not ranges:
        return 0, []
    fork = len(ranges) > 1 and _may_fork(spec, len(ranges))
    children = [_start_child(spec, at, after, last, batch, model_id, budget)
                for after, last in (ranges[1:] if fork else [])]
    results = []
    try:
        own = ranges if not fork else ranges[:1]
        for after, last in own:
            results.append((*rescore_range(spec=spec, at=at, after_id=after, last_id=last, batch=batch,
                                           model_id=model_id, budget=budget), last))
    finally:
        results += [_wait(child) for child in children]
    done = sum(count for count, _after, _last in results)
    return done, [(after, last) for _count, after, last in results if after < last]


def rescore_range(*, spec: policy.ModelSpec, at: dt.datetime, after_id: int, last_id: int, batch: int | None = None,
                  model_id: int | None = None, budget: float | None = None) -> tuple[int, int]:
    """Rescore the leads with after_id < id <= last_id in batches, until done or `budget` seconds passed.
    Returns (leads rescored, the id it got to: last_id when done)."""
    from scoring import versioning

    batch = batch or BATCH
    deadline = time.monotonic() + budget if budget is not None else None
    done, domains, busy = 0, {}, []
    while True:  # at least one batch per call, so a run always gets on
        rows, activities = _read(
            "WHERE l.id > %(after)s AND l.id <= %(last_id)s ORDER BY l.id LIMIT %(batch)s",
            "a.lead_id >= %(first)s AND a.lead_id <= %(last)s",
            {"after": after_id, "last_id": last_id, "batch": batch}, spec, at,
        )
        if not rows:
            after_id = last_id
            break
        after_id = rows[-1][0] if len(rows) == batch else last_id
        _written, skipped = _store(_score_rows(rows, activities, spec, at, domains), spec, at)
        busy += skipped
        done += len(rows)
        if model_id is not None:
            versioning.add_rescored(model_id, len(rows))
        if after_id == last_id or (deadline is not None and time.monotonic() >= deadline):
            break
    _retry_busy(busy, spec, at)
    return done, after_id


def rescore_other_versions(*, spec: policy.ModelSpec, at: dt.datetime) -> int:
    """After a run: leads a capture scored after `at` with another model version (it began before the
    activation) are rescored now with `spec`."""
    ids = list(LeadScore.objects.filter(scored_at__gt=at).exclude(model_version=spec.version)
               .values_list("lead_id", flat=True))
    return rescore_many(ids, spec=spec, at=timezone.now()) if ids else 0


def _may_fork(spec: policy.ModelSpec, workers: int) -> bool:
    """Children see only committed data and load the spec by version: stay alone inside a transaction
    (tests), for a spec that is not stored as it is, or when the run is small."""
    if workers < 2 or connection.in_atomic_block:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'leads_lead'::regclass")
        estimate = cursor.fetchone()[0]
    return estimate >= PARALLEL_FROM and spec_of_version(spec.version) == spec


def _start_child(spec, at, after_id, last_id, batch, model_id, budget) -> subprocess.Popen:
    command = [sys.executable, "-m", "django", "rescore_leads", "--model-version", str(spec.version),
               "--at", at.isoformat(), "--after-id", str(after_id), "--last-id", str(last_id),
               "--batch", str(batch or BATCH), "--database-name", str(connection.settings_dict["NAME"])]
    if model_id is not None:
        command += ["--model-id", str(model_id)]
    if budget:
        command += ["--budget", str(budget)]
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # stderr to a file, not a pipe: a child that logs a lot must not stall until the parent reads.
    log = tempfile.TemporaryFile()
    child = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE,  # noqa: S603
                             stderr=log, text=True)
    child.error_log = log
    return child


def _wait(child: subprocess.Popen) -> tuple[int, int, int]:
    """(leads rescored, id reached, last id) from a child's last output line."""
    out, _err = child.communicate()
    child.error_log.seek(0)
    err = child.error_log.read().decode(errors="replace")
    child.error_log.close()
    if child.returncode != 0:
        raise RuntimeError(f"rescore_leads failed ({child.returncode}): {err.strip()[-2000:]}")
    done, after, last = (int(part) for part in out.strip().splitlines()[-1].split())
    return done, after, last


# --- what-if and the rule review -------------------------------------------------------------------------


def what_if(spec: policy.ModelSpec, *, at: dt.datetime | None = None, batch: int = BATCH) -> dict:
    """How many current leads would change temperature, and cross the MQL threshold, under `spec`."""
    at = at or timezone.now()
    counts = {"leads": 0, "temperature_changes": 0, "would_reach_threshold": 0, "would_fall_below": 0,
              "newly_reaching": 0}
    current = active_spec()
    threshold = current.mql_threshold if current else settings.MQL_SCORE_THRESHOLD
    after, domains = 0, {}
    while True:
        rows, activities = _read("WHERE l.id > %(after)s ORDER BY l.id LIMIT %(batch)s",
                                 "a.lead_id >= %(first)s AND a.lead_id <= %(last)s",
                                 {"after": after, "batch": batch}, spec, at)
        if not rows:
            return counts
        after = rows[-1][0]
        for _lead_id, result, _changed, (score, _fit, _engagement, temperature) in _score_rows(
                rows, activities, spec, at, domains):
            counts["leads"] += 1
            counts["temperature_changes"] += result.temperature != temperature
            counts["would_reach_threshold"] += result.reaches_threshold
            counts["newly_reaching"] += result.reaches_threshold and score < threshold
            counts["would_fall_below"] += (not result.reaches_threshold) and score >= threshold


RULE_REVIEW_SQL = """
WITH scored AS (
    SELECT l.id, s.breakdown,
           (l.stage IN ('sql', 'opportunity', 'customer') OR EXISTS (
               SELECT 1 FROM leads_leadtransition t WHERE t.lead_id = l.id AND t.target = 'sql')) AS reached_sql,
           l.stage = 'customer' AS won
    FROM leads_leadscore s JOIN leads_lead l ON l.id = s.lead_id
    WHERE s.model_version = %(version)s
), totals AS (
    SELECT count(*) AS leads, count(*) FILTER (WHERE reached_sql) AS sqls, count(*) FILTER (WHERE won) AS wins
    FROM scored
), fired AS (
    SELECT (item ->> 'rule_id')::bigint AS rule_id, max(item ->> 'rule') AS rule, count(DISTINCT s.id) AS fired,
           count(DISTINCT s.id) FILTER (WHERE s.reached_sql) AS sqls,
           count(DISTINCT s.id) FILTER (WHERE s.won) AS wins
    FROM scored s, jsonb_array_elements(s.breakdown) AS item
    WHERE item ->> 'rule_id' IS NOT NULL
    GROUP BY 1
)
SELECT f.rule_id, f.rule, f.fired, f.sqls, f.wins, t.leads, t.sqls, t.wins
FROM fired f CROSS JOIN totals t
ORDER BY f.fired DESC, f.rule
"""


def rule_review(version: int) -> list[dict]:
    """For each rule that counted in scores made by `version`: how many leads it fired on, and their
    conversion to SQL and to customer with and without it (lift = with / without). One SQL query."""
    with connection.cursor() as cursor:
        cursor.execute(RULE_REVIEW_SQL, {"version": version})
        rows = cursor.fetchall()

    def share(part, whole):
        return part / whole if whole else None

    def lift(with_, without):
        return with_ / without if with_ is not None and without else None

    review = []
    for rule_id, rule, fired, sqls, wins, leads, all_sqls, all_wins in rows:
        rest = leads - fired
        sql_with, sql_without = share(sqls, fired), share(all_sqls - sqls, rest)
        won_with, won_without = share(wins, fired), share(all_wins - wins, rest)
        review.append({
            "rule_id": rule_id, "rule": rule, "fired": fired,
            "sql_with": sql_with, "sql_without": sql_without, "lift_sql": lift(sql_with, sql_without),
            "won_with": won_with, "won_without": won_without, "lift_won": lift(won_with, won_without),
        })
    return review


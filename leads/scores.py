"""Scores on leads: build the facts `scoring.policy` needs, store its result, rescore in bulk, replay.

`scoring` decides (pure functions over `LeadFacts`); this module is the only writer of the score fields.

Where a score lives: `Lead.score`, `fit_score`, `engagement_score` and `temperature` (lists sort and filter
on them) and the lead's `LeadScore` row (the model version that made the score, its breakdown, and the
moment it is as of). Both are written in one transaction, lead row first (the order every capture locks
in), and the lead row only when one of its four values changed.

Bulk rescoring (`rescore_range`, `rescore_all`, `rescore_many`) reads with raw SQL (one query for a batch of
leads, one for their activities), scores in Python, and writes each batch with one `COPY` into a temporary
table, one `UPDATE` of the lead rows whose values changed and one `INSERT ... ON CONFLICT DO UPDATE` of the
narrow score rows. A lead rescored after the run's `at` (a capture while the run went on) keeps its newer
score; a lead whose row another transaction holds is skipped and retried at the end of the range.

This module works in the calling process; spreading a run over the task queue's workers (one task per id
range) is `leads.tasks.rescore_all`'s job, and `id_ranges` plans the ranges.

Raw SQL: every statement is a module-level constant, its table and column names taken from the models'
`_meta` (`_statement`) and its values passed as parameters.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Min
from django.utils import timezone
from psycopg import sql

from core.vocabulary import Stage
from leads import predictive
from leads.models import Activity, Campaign, Lead, LeadScore, LeadTransition
from leads.validation import domain_type, email_domain
from scoring import policy
from scoring.models import ScoringModel

BATCH = 5000
LOCK_RETRIES = 3  # passes over leads whose row another transaction held
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # activity times are read as microseconds since then

Ranges = list[tuple[int, int]]  # id ranges (after_id, last_id]: after_id < id <= last_id


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


# --- the statements ----------------------------------------------------------------------------------------


def _names(*models) -> dict[str, sql.Identifier]:
    """`{Lead}` for a model's table and `{Lead.score}` for a field's column, as psycopg identifiers."""
    names = {}
    for model in models:
        names[model.__name__] = sql.Identifier(model._meta.db_table)
        for field in model._meta.concrete_fields:
            names[f"{model.__name__}.{field.name}"] = sql.Identifier(field.column)
    return names


_NAMES = _names(Lead, Campaign, Activity, LeadScore, LeadTransition)


def _statement(text: str, **parts: sql.Composable) -> sql.Composed:
    return sql.SQL(text).format(**_NAMES, **parts)


# Why raw SQL for the reads: a batch of 5,000 leads and their activities loads as plain tuples in two queries;
# model instances (or values() dicts with Django's per-value converters) cost several times the scoring.
# The lead columns scoring reads, then the four score values stored on the lead (to write only changes).
_LEADS_SELECT = """
SELECT l.{Lead.id}, l.{Lead.email_normalized}, l.{Lead.company_size}, l.{Lead.industry}, l.{Lead.country},
       l.{Lead.job_title}, l.{Lead.source}, c.{Campaign.slug},
       l.{Lead.score}, l.{Lead.fit_score}, l.{Lead.engagement_score}, l.{Lead.temperature}
FROM {Lead} l LEFT JOIN {Campaign} c ON c.{Campaign.id} = l.{Lead.campaign}
"""
# One lead; a list of leads; the next batch of an id range; the next batch after an id.
LEAD_BY_ID_SQL = _statement(_LEADS_SELECT + "WHERE l.{Lead.id} = %(id)s")
LEADS_BY_IDS_SQL = _statement(_LEADS_SELECT + "WHERE l.{Lead.id} = ANY(%(ids)s) ORDER BY l.{Lead.id}")
LEADS_IN_RANGE_SQL = _statement(
    _LEADS_SELECT + "WHERE l.{Lead.id} > %(after)s AND l.{Lead.id} <= %(last_id)s ORDER BY l.{Lead.id} LIMIT %(batch)s"
)
LEADS_AFTER_SQL = _statement(_LEADS_SELECT + "WHERE l.{Lead.id} > %(after)s ORDER BY l.{Lead.id} LIMIT %(batch)s")

# Only the kinds the model counts, only up to `at`: scoring ignores the rest anyway. The time as whole
# microseconds since 1970 (exact): a bigint loads ten times faster than a timestamptz through Django's
# time-zone loader; `_read` builds the datetime. The URL only when a rule matches on it.
_ACTIVITIES_SELECT = """
SELECT a.{Activity.lead}, a.{Activity.kind}, (extract(epoch FROM a.{Activity.occurred_at}) * 1000000)::bigint, {url}
FROM {Activity} a
WHERE {where} AND a.{Activity.kind} = ANY(%(kinds)s) AND a.{Activity.occurred_at} <= %(at)s
"""
# Which leads' activities, matching the lead queries above: one lead, a list, or the id span of the batch.
_ACTIVITIES_OF = {
    "lead": "a.{Activity.lead} = %(id)s",
    "ids": "a.{Activity.lead} = ANY(%(ids)s)",
    "span": "a.{Activity.lead} >= %(first)s AND a.{Activity.lead} <= %(last)s",
}
ACTIVITIES_SQL = {
    (of, uses_urls): _statement(_ACTIVITIES_SELECT, where=_statement(where),
                                url=_statement("a.{Activity.url}") if uses_urls else sql.SQL("''"))
    for of, where in _ACTIVITIES_OF.items() for uses_urls in (False, True)
}

# Why raw SQL: one statement writes the lead row (only when a value changes; the CTE runs first because the
# INSERT reads it, so the lead row is locked before its score row, as everywhere) and then the score row.
RESCORE_ONE_SQL = _statement("""
WITH lead AS (
    UPDATE {Lead} SET {Lead.score} = %(score)s, {Lead.fit_score} = %(fit)s,
           {Lead.engagement_score} = %(engagement)s, {Lead.temperature} = %(temperature)s, {Lead.updated_at} = now()
    WHERE {Lead.id} = %(id)s AND ({Lead.score}, {Lead.fit_score}, {Lead.engagement_score}, {Lead.temperature})
          IS DISTINCT FROM (%(score)s, %(fit)s, %(engagement)s, %(temperature)s::varchar)
    RETURNING {Lead.id}
)
INSERT INTO {LeadScore} ({LeadScore.lead}, {LeadScore.model_version}, {LeadScore.breakdown}, {LeadScore.scored_at})
SELECT %(id)s, %(version)s, %(breakdown)s::jsonb, %(at)s FROM (SELECT count(*) FROM lead) AS written
ON CONFLICT ({LeadScore.lead}) DO UPDATE SET {LeadScore.model_version} = EXCLUDED.{LeadScore.model_version},
    {LeadScore.breakdown} = EXCLUDED.{LeadScore.breakdown}, {LeadScore.scored_at} = EXCLUDED.{LeadScore.scored_at}
""")

# Writing a batch (`_store`), in one transaction. Why raw SQL: COPY into a temporary table and set-based
# statements write 5,000 leads in four round trips; bulk_update would send every row's values in a CASE per
# column and could not skip locked rows or compare with the values as read.
# The batch's results; `read_*` are the lead's four score values as the batch read them.
CREATE_RESCORED_SQL = sql.SQL(
    "CREATE TEMP TABLE leads_rescored (id bigint PRIMARY KEY, score int, fit int, engagement int, "
    "temperature varchar(8), breakdown jsonb, read_score int, read_fit int, read_engagement int, "
    "read_temperature varchar(8)) ON COMMIT DROP"
)
COPY_RESCORED_SQL = sql.SQL(
    "COPY leads_rescored (id, score, fit, engagement, temperature, breakdown, read_score, read_fit, "
    "read_engagement, read_temperature) FROM STDIN"
)
# Leads of the batch without a score row yet (inserting one checks the lead's foreign key, which must not
# wait on a capture holding the lead: such leads are locked first like the changed ones).
RESCORED_WITHOUT_SCORE_ROW_SQL = _statement(
    "SELECT r.id FROM leads_rescored r WHERE NOT EXISTS "
    "(SELECT 1 FROM {LeadScore} s WHERE s.{LeadScore.lead} = r.id)"
)
# Rows held elsewhere are skipped and retried later, so a batch never waits on, or deadlocks with, a capture.
LOCK_LEADS_SQL = _statement(
    "SELECT {Lead.id} FROM {Lead} WHERE {Lead.id} = ANY(%(ids)s) ORDER BY {Lead.id} FOR UPDATE SKIP LOCKED"
)
# A new statement sees every capture that committed before the locks were taken: a lead whose values moved
# since the batch was read, or that was scored after `at`, keeps its score.
UPDATE_CHANGED_LEADS_SQL = _statement("""
UPDATE {Lead} l SET {Lead.score} = r.score, {Lead.fit_score} = r.fit, {Lead.engagement_score} = r.engagement,
       {Lead.temperature} = r.temperature, {Lead.updated_at} = now()
FROM leads_rescored r
WHERE r.id = l.{Lead.id} AND l.{Lead.id} = ANY(%(locked)s)
  AND (l.{Lead.score}, l.{Lead.fit_score}, l.{Lead.engagement_score}, l.{Lead.temperature})
      IS DISTINCT FROM (r.score, r.fit, r.engagement, r.temperature)
  AND (l.{Lead.score}, l.{Lead.fit_score}, l.{Lead.engagement_score}, l.{Lead.temperature})
      = (r.read_score, r.read_fit, r.read_engagement, r.read_temperature)
  AND NOT EXISTS (SELECT 1 FROM {LeadScore} s
                  WHERE s.{LeadScore.lead} = l.{Lead.id} AND s.{LeadScore.scored_at} > %(at)s)
""")
# Only where the lead row now holds these values (ours, or equal): a capture that committed since the batch
# was read keeps its score and breakdown together; an older score row never overwrites a newer one.
UPSERT_SCORE_ROWS_SQL = _statement("""
INSERT INTO {LeadScore} ({LeadScore.lead}, {LeadScore.model_version}, {LeadScore.breakdown}, {LeadScore.scored_at})
SELECT r.id, %(version)s, r.breakdown, %(at)s FROM leads_rescored r
WHERE r.id <> ALL(%(skipped)s) AND EXISTS (
    SELECT 1 FROM {Lead} l WHERE l.{Lead.id} = r.id
    AND (l.{Lead.score}, l.{Lead.fit_score}, l.{Lead.engagement_score}, l.{Lead.temperature})
        = (r.score, r.fit, r.engagement, r.temperature))
ON CONFLICT ({LeadScore.lead}) DO UPDATE SET {LeadScore.model_version} = EXCLUDED.{LeadScore.model_version},
    {LeadScore.breakdown} = EXCLUDED.{LeadScore.breakdown}, {LeadScore.scored_at} = EXCLUDED.{LeadScore.scored_at}
WHERE {LeadScore}.{LeadScore.scored_at} <= EXCLUDED.{LeadScore.scored_at}
""")
# Inside an outer transaction ON COMMIT comes later: the next batch creates the table again.
DROP_RESCORED_SQL = sql.SQL("DROP TABLE leads_rescored")


# --- reading -------------------------------------------------------------------------------------------------


def _kinds(spec: policy.ModelSpec) -> list[str]:
    return sorted({rule.activity_kind for rule in spec.rules if rule.activity_kind})


def _read(leads_query: sql.Composed, activities_of: str, params: dict, spec: policy.ModelSpec, at: dt.datetime):
    """Lead rows (tuples in _LEADS_SELECT order) from `leads_query` and their activity facts by lead id, from the
    ACTIVITIES_SQL statement for `activities_of` (a key of _ACTIVITIES_OF)."""
    uses_urls = any(rule.url_pattern for rule in spec.rules)
    with connection.cursor() as cursor:
        cursor.execute(leads_query, params)
        rows = cursor.fetchall()
        if not rows:
            return rows, {}
        cursor.execute(ACTIVITIES_SQL[activities_of, uses_urls],
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
    rows, activities = _read(LEAD_BY_ID_SQL, "lead", {"id": lead_id}, spec, at)
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
    if activities is None:  # a lead just created (its one activity given) gets its probability in the next run
        predictive.store_one(lead, at=at)
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
        rows, activities = _read(LEADS_BY_IDS_SQL, "ids", {"ids": chunk}, spec, at)
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
        rows, activities = _read(LEADS_BY_IDS_SQL, "ids", {"ids": busy}, spec, at)
        written, busy = _store(_score_rows(rows, activities, spec, at, {}), spec, at)
        stored += written
    return stored


def _store(scored, spec: policy.ModelSpec, at: dt.datetime) -> tuple[int, list[int]]:
    """Write one batch in one transaction; returns (leads stored, ids skipped because their row was busy)."""
    if not scored:
        return 0, []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(CREATE_RESCORED_SQL)
        with cursor.cursor.copy(COPY_RESCORED_SQL) as copy:
            dumps, texts = json.dumps, {}  # many leads share a breakdown (the same fit rules, nothing recent)
            for lead_id, result, _changed, read in scored:
                key = tuple(result.breakdown)
                text = texts.get(key)
                if text is None:
                    text = texts[key] = dumps(result.breakdown_as_list())
                copy.write_row((lead_id, result.score, result.fit, result.engagement, result.temperature, text,
                                *read))
        # The lead rows to lock: values changed (as read) or no score row yet.
        needed = [lead_id for lead_id, _result, changed, _read in scored if changed]
        cursor.execute(RESCORED_WITHOUT_SCORE_ROW_SQL)
        needed = sorted(set(needed) | {row[0] for row in cursor.fetchall()})
        locked: list[int] = []
        if needed:
            cursor.execute(LOCK_LEADS_SQL, {"ids": needed})
            locked = [row[0] for row in cursor.fetchall()]
        skipped = sorted(set(needed) - set(locked)) if len(locked) < len(needed) else []
        if locked:
            cursor.execute(UPDATE_CHANGED_LEADS_SQL, {"locked": locked, "at": at})
        cursor.execute(UPSERT_SCORE_ROWS_SQL, {"version": spec.version, "at": at, "skipped": skipped})
        stored = cursor.rowcount
        cursor.execute(DROP_RESCORED_SQL)
        # The predictive score in the same transaction (nothing while no predictive model is active).
        held = set(skipped)
        predictive.store_batch([lead_id for lead_id, *_rest in scored if lead_id not in held], at=at)
        return stored, skipped


# --- rescoring every lead ----------------------------------------------------------------------------------


def id_ranges(*, per_range: int, workers: int = 1) -> tuple[int, Ranges]:
    """(how many leads there are, their id span cut into ranges (after_id, last_id]): where a run starts.

    Enough ranges that each holds at most `per_range` leads (what one task gets through in its time budget),
    at least `workers` when there are that many batches (so every worker has a share), rounded up to a
    multiple of `workers` (so no worker is left alone with the last range). The ranges cut the id span into
    parts that differ by one id at most; ids have gaps (merges delete leads), so a range may hold fewer leads.
    """
    found = Lead.objects.aggregate(count=Count("pk"), first=Min("pk"), last=Max("pk"))
    count, first, last = found["count"], found["first"], found["last"]
    if not count:
        return 0, []
    workers = max(1, workers)
    parts = max(math.ceil(count / max(1, per_range)), min(workers, math.ceil(count / BATCH)))
    if parts > 1:
        parts = math.ceil(parts / workers) * workers
    span = last - first + 1
    parts = min(parts, span)
    bounds = [first - 1 + span * part // parts for part in range(parts + 1)]
    return count, list(zip(bounds, bounds[1:], strict=False))


def rescore_all(*, spec: policy.ModelSpec | None = None, at: dt.datetime | None = None,
                batch: int | None = None, crossed: list[int] | None = None,
                threshold_before: int | None = None) -> int:
    """Rescore every lead as of `at` (default now) in this process; returns how many leads were rescored.

    The foreground path (demo data, `manage.py rescore_leads`, tests); the background task
    (`leads.tasks.rescore_all`) spreads the same work over the queue's workers. Safe to run twice, and
    alongside captures: a lead scored after `at` keeps its newer score; one scored meanwhile by another model
    version (a capture that started before the activation) is rescored again at the end with `spec`.
    """
    spec = spec or active_spec()
    if spec is None:
        return 0
    at = at or timezone.now()
    done = 0
    for after, last in id_ranges(per_range=2**62)[1]:
        count, _reached = rescore_range(spec=spec, at=at, after_id=after, last_id=last, batch=batch,
                                        crossed=crossed, threshold_before=threshold_before)
        done += count
    return done + rescore_other_versions(spec=spec, at=at)


# Stages from which a lead is handed off to sales when its score reaches the threshold (mark_mql's sources).
HAND_OFF_STAGES = (Stage.KNOWN, Stage.RECYCLED)


def crossing(scored, *, threshold_before: int) -> list[int]:
    """The leads of a scored batch that now cross the MQL threshold: their new score reaches the model's
    threshold and their score as read was below `threshold_before` (the threshold in force when it was
    written: the previous model's after an activation, the same model's for the nightly decay run). The one
    rule both the bulk hand-off after a run and the what-if count use."""
    return [lead_id for lead_id, result, _changed, read in scored if result.reaches_threshold
            and read[0] < threshold_before]


def hand_off_candidates(lead_ids: Sequence[int]) -> list[int]:
    """Of `lead_ids`, those mark_mql could take: in a hand-off stage with an e-mail address (its guard)."""
    if not lead_ids:
        return []
    return list(Lead.objects.filter(pk__in=list(lead_ids), stage__in=HAND_OFF_STAGES, email_normalized__contains="@",
                                    erased_at__isnull=True)  # an erased person is never handed to sales
                .order_by("pk").values_list("pk", flat=True))


def rescore_range(*, spec: policy.ModelSpec, at: dt.datetime, after_id: int, last_id: int, batch: int | None = None,
                  budget: float | None = None, on_batch: Callable[[int], object] | None = None,
                  crossed: list[int] | None = None, threshold_before: int | None = None) -> tuple[int, int]:
    """Rescore the leads with after_id < id <= last_id in batches, until done or `budget` seconds passed
    (at least one batch per call, so a run always gets on). `on_batch(count)` after each batch (progress).
    `crossed`: a list that gets the ids of the leads that now cross the threshold (`crossing`, against
    `threshold_before`, default the model's own), for the hand-off after the batches committed.
    Returns (leads rescored, the id it got to: last_id when done)."""
    before = spec.mql_threshold if threshold_before is None else threshold_before
    batch = batch or BATCH
    deadline = time.monotonic() + budget if budget is not None else None
    done, domains, busy = 0, {}, []
    while True:
        rows, activities = _read(LEADS_IN_RANGE_SQL, "span", {"after": after_id, "last_id": last_id, "batch": batch},
                                 spec, at)
        if not rows:
            after_id = last_id
            break
        after_id = rows[-1][0] if len(rows) == batch else last_id
        scored = _score_rows(rows, activities, spec, at, domains)
        _written, skipped = _store(scored, spec, at)
        if crossed is not None:  # a lead held by another writer keeps its score: that writer hands it off
            held = set(skipped)
            crossed += [lead_id for lead_id in crossing(scored, threshold_before=before) if lead_id not in held]
        busy += skipped
        done += len(rows)
        if on_batch is not None:
            on_batch(len(rows))
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


# --- what-if and the rule review -------------------------------------------------------------------------


def what_if(spec: policy.ModelSpec, *, at: dt.datetime | None = None, batch: int = BATCH) -> dict:
    """How many current leads would change temperature, and cross the MQL threshold, under `spec`.

    `newly_reaching`: the leads activating `spec` would hand off to sales (`crossing` against the active
    threshold, in a hand-off stage with an e-mail address), exactly those the run after the activation
    hands off; `newly_reaching_any_stage` counts the crossing in every stage."""
    at = at or timezone.now()
    counts = {"leads": 0, "temperature_changes": 0, "would_reach_threshold": 0, "would_fall_below": 0,
              "newly_reaching": 0, "newly_reaching_any_stage": 0}
    current = active_spec()
    threshold = current.mql_threshold if current else settings.MQL_SCORE_THRESHOLD
    after, domains = 0, {}
    while True:
        rows, activities = _read(LEADS_AFTER_SQL, "span", {"after": after, "batch": batch}, spec, at)
        if not rows:
            return counts
        after = rows[-1][0]
        scored = _score_rows(rows, activities, spec, at, domains)
        for _lead_id, result, _changed, (score, _fit, _engagement, temperature) in scored:
            counts["leads"] += 1
            counts["temperature_changes"] += result.temperature != temperature
            counts["would_reach_threshold"] += result.reaches_threshold
            counts["would_fall_below"] += (not result.reaches_threshold) and score >= threshold
        crossed = crossing(scored, threshold_before=threshold)
        counts["newly_reaching_any_stage"] += len(crossed)
        counts["newly_reaching"] += len(hand_off_candidates(crossed))


# Why raw SQL: one pass joins the score rows with the lead, its history and every breakdown item
# (jsonb_array_elements) and counts per rule; the ORM has no lateral set-returning functions.
RULE_REVIEW_SQL = _statement("""
WITH scored AS (
    SELECT l.{Lead.id} AS id, s.{LeadScore.breakdown} AS breakdown,
           (l.{Lead.stage} = ANY(%(reached_sql)s) OR EXISTS (
               SELECT 1 FROM {LeadTransition} t
               WHERE t.{LeadTransition.lead} = l.{Lead.id} AND t.{LeadTransition.target} = %(sql)s)) AS reached_sql,
           l.{Lead.stage} = %(won)s AS won
    FROM {LeadScore} s JOIN {Lead} l ON l.{Lead.id} = s.{LeadScore.lead}
    WHERE s.{LeadScore.model_version} = %(version)s
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
""")
# A lead that is, or once was, an SQL: these stages come only after it.
SQL_OR_LATER = [Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER]


def rule_review(version: int) -> list[dict]:
    """For each rule that counted in scores made by `version`: how many leads it fired on, and their
    conversion to SQL and to customer with and without it (lift = with / without). One SQL query."""
    with connection.cursor() as cursor:
        cursor.execute(RULE_REVIEW_SQL, {"version": version, "reached_sql": [stage.value for stage in SQL_OR_LATER],
                                     "sql": Stage.SQL.value, "won": Stage.CUSTOMER.value})
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


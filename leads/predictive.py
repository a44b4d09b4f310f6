"""Predictive conversion scores on leads: the training data cut from the lead history, and the stored predictions.

`scoring.predictive` is pure (features, training, quality, explanations); this module reads what it needs.

Training data (`dataset`): the history is cut at cut-off times (`scoring.predictive.plan_cutoffs`: every week back
from now - horizon; the newest share validates). At each cut-off every lead that existed and was still open for
the target (before SQL, for "reaching SQL") is a snapshot: its fit fields, its activities up to the cut-off, the
stage it was in then (from its `LeadTransition` log) and since when; its label is whether a transition into the
target stages happened in (cut-off, cut-off + horizon]. Nothing from after a cut-off goes into its snapshot
(the pure features refuse it anyway). The rule score of the same snapshot (active scoring model, as of the
cut-off) is kept so the quality report compares the two rankings.

Predictions (`store_batch`, `store_one`) are made with the active predictive model as of the rescoring's `at`,
in the same transaction and batch as the rule score (`leads.scores` calls them), and stored on the lead:
`conversion_probability` (0..1), `probability_factors` (the baseline and every field's points, which add up to
the probability) and `probability_model_version`. Leads not open for the target get null (`note_for` says why).
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import time

from django.conf import settings
from django.db import connection
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg import sql

from core.errors import Invalid
from leads.models import Activity, Campaign, Lead, LeadTransition
from leads.validation import domain_type, email_domain
from scoring import policy, predictive
from scoring import predictive_versions as versions
from scoring.models import PredictiveModel, ScoringModel

BATCH = 5000
STEP_DAYS = 7
MAX_EXAMPLES = 1_000_000  # above this, (lead, cut-off) pairs are sampled deterministically
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# (id, activated_at) of the active model -> its Predictor, or None.
_active_cache: tuple[tuple | None, predictive.Predictor | None, int | None] = (None, None, None)

# Why raw SQL: a batch of 5,000 leads, their transitions and activities load as plain tuples in three queries
# (model instances would cost more than the predictions). Table and column names come from the models' _meta.
_TABLES = {name: sql.Identifier(model._meta.db_table)
           for name, model in (("L", Lead), ("C", Campaign), ("A", Activity), ("T", LeadTransition))}


def _statement(text: str, **parts: sql.Composable) -> sql.Composed:
    return sql.SQL(text).format(**_TABLES, **parts)


_LEAD_COLUMNS = """
SELECT l.id, l.email_normalized, l.company_size, l.industry, l.country, l.job_title, l.source, c.slug,
       l.created_at, l.stage, l.stage_entered_at
FROM {L} l LEFT JOIN {C} c ON c.id = l.campaign_id
"""
LEADS_AFTER_SQL = _statement(_LEAD_COLUMNS + "WHERE l.id > %(after)s AND l.erased_at IS NULL ORDER BY l.id "
                             "LIMIT %(batch)s")
# Erased leads are left out (erasure clears their probability and factors).
LEADS_BY_IDS_SQL = _statement(_LEAD_COLUMNS + "WHERE l.id = ANY(%(ids)s) AND l.erased_at IS NULL ORDER BY l.id")
_ACTIVITIES = """
SELECT lead_id, kind, (extract(epoch FROM occurred_at) * 1000000)::bigint, {url} FROM {A}
WHERE lead_id = ANY(%(ids)s) AND occurred_at <= %(at)s ORDER BY lead_id, occurred_at
"""
ACTIVITIES_SQL = {urls: _statement(_ACTIVITIES, url=sql.SQL("url" if urls else "''")) for urls in (False, True)}
# Stage changes only (owner changes are logged as transitions with the same source and target).
TRANSITIONS_SQL = _statement("""
SELECT lead_id, at, target FROM {T} WHERE lead_id = ANY(%(ids)s) AND source <> target ORDER BY lead_id, at, id
""")
# Rows another transaction holds are left alone (the next rescoring gets them), so a batch never waits on a capture.
UPDATE_PROBABILITIES_SQL = _statement("""
UPDATE {L} l SET conversion_probability = v.probability, probability_factors = v.factors,
       probability_model_version = v.version
FROM (SELECT unnest(%(ids)s::bigint[]) AS id, unnest(%(probabilities)s::float8[]) AS probability,
             unnest(%(factors)s::jsonb[]) AS factors, %(version)s::int AS version) v
WHERE l.id = v.id AND l.id IN (SELECT id FROM {L} WHERE id = ANY(%(ids)s) FOR UPDATE SKIP LOCKED)
  AND (l.conversion_probability, l.probability_model_version) IS DISTINCT FROM (v.probability, v.version)
""")
CLEAR_PROBABILITIES_SQL = _statement("""
UPDATE {L} SET conversion_probability = NULL, probability_factors = '[]'::jsonb, probability_model_version = NULL
WHERE id IN (SELECT id FROM {L} WHERE id = ANY(%(ids)s) AND probability_model_version IS NOT NULL
             FOR UPDATE SKIP LOCKED)
""")


def active_predictor() -> tuple[predictive.Predictor | None, int | None]:
    """The active predictive model prepared for predictions (one small query; rebuilt when another is active)."""
    global _active_cache
    marker = PredictiveModel.objects.filter(is_active=True).values_list("pk", "activated_at").first()
    if marker is None:
        return None, None
    if _active_cache[0] == marker:
        return _active_cache[1], _active_cache[2]
    model = PredictiveModel.objects.filter(pk=marker[0]).first()
    if model is None:
        return None, None
    predictor = predictive.Predictor.of(model.parameters)
    _active_cache = (marker, predictor, model.version)
    return predictor, model.version


# --- reading ---------------------------------------------------------------------------------------------


def _activities(cursor, ids: list[int], at: dt.datetime, *, urls: bool = False) -> dict[int, list]:
    cursor.execute(ACTIVITIES_SQL[urls], {"ids": ids, "at": at})
    found: dict[int, list[policy.ActivityFact]] = {}
    fact, epoch, delta = policy.ActivityFact, EPOCH, dt.timedelta
    for lead_id, kind, occurred_us, url in cursor.fetchall():
        found.setdefault(lead_id, []).append(fact(kind, epoch + delta(microseconds=occurred_us), url))
    return found


def _facts(row, activities, domains: dict[str, str]) -> policy.LeadFacts:
    _id, email, size, industry, country, title, source, campaign = row[:8]
    domain = email_domain(email)
    kind = domains.get(domain)
    if kind is None:
        kind = domains[domain] = domain_type(email)
    return policy.LeadFacts(company_size=size, industry=industry or "", country=country or "", job_title=title or "",
                            source=source or "", campaign=campaign or "", email_domain_type=kind,
                            activities=tuple(activities))


# --- predicting and storing ------------------------------------------------------------------------------


def store_batch(lead_ids: list[int], *, at: dt.datetime) -> int:
    """Predict and store for these leads as of `at` with the active model (in the caller's transaction);
    returns how many were predicted. Does nothing (one query) while no predictive model is active."""
    predictor, version = active_predictor()
    if predictor is None or not lead_ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(LEADS_BY_IDS_SQL, {"ids": list(lead_ids)})
        rows = cursor.fetchall()
        open_rows = [row for row in rows if predictive.is_open_for(predictor.target, row[9])
                     and row[8] <= at and row[10] <= at]
        closed = [row[0] for row in rows if not predictive.is_open_for(predictor.target, row[9])]
        activities = _activities(cursor, [row[0] for row in open_rows], at) if open_rows else {}
        ids, probabilities, factors, domains = [], [], [], {}
        for row in open_rows:
            facts = _facts(row, activities.get(row[0], ()), domains)
            snapshot = predictive.Snapshot(lead_id=row[0], at=at, facts=facts, stage=row[9], stage_entered_at=row[10],
                                           created_at=row[8])
            prediction = predictor.predict(snapshot)
            ids.append(row[0])
            probabilities.append(round(prediction.probability, 6))
            factors.append(json.dumps(prediction.factors_as_list()))
        if ids:
            cursor.execute(UPDATE_PROBABILITIES_SQL, {"ids": ids, "probabilities": probabilities, "factors": factors,
                                                      "version": version})
        if closed:
            cursor.execute(CLEAR_PROBABILITIES_SQL, {"ids": closed})
    return len(ids)


def store_one(lead: Lead, *, at: dt.datetime) -> None:
    """Predict and store for one lead (after its rule score), and refresh the fields on `lead`."""
    if store_batch([lead.pk], at=at):
        lead.conversion_probability, lead.probability_factors, lead.probability_model_version = (
            Lead.objects.filter(pk=lead.pk)
            .values_list("conversion_probability", "probability_factors", "probability_model_version").get())


def note_for(lead: Lead, *, active: tuple[PredictiveModel | None] | None = None) -> str:
    """Why a lead has no probability (empty when it has one). `active`: the active model read once, as a
    1-tuple (lists pass it, so the note costs no query per lead)."""
    if lead.conversion_probability is not None:
        return ""
    model = PredictiveModel.active() if active is None else active[0]
    if model is None:
        return _("No predictive model is active yet: an administrator trains and activates one.")
    if not predictive.is_open_for(model.target, lead.stage):
        return _("The model predicts for leads still on their way there; this lead is %(stage)s.") % {
            "stage": lead.get_stage_display()}
    return _("Not computed yet: the next rescoring computes it.")


def top_factors(lead: Lead, *, count: int = 3) -> tuple[list[dict], list[dict]]:
    """The strongest positive and negative factors of a lead's stored prediction."""
    items = [item for item in lead.probability_factors or () if item.get("factor") != predictive.BASELINE]
    positive = sorted((i for i in items if i["points"] > 0), key=lambda i: -i["points"])[:count]
    negative = sorted((i for i in items if i["points"] < 0), key=lambda i: i["points"])[:count]
    return positive, negative


# --- the training data ---------------------------------------------------------------------------------------


def _keep(lead_id: int, cutoff_index: int, rate: float) -> bool:
    """Deterministic sampling of (lead, cut-off) pairs when there are more than MAX_EXAMPLES."""
    return rate >= 1 or ((lead_id * 2654435761 + cutoff_index * 40503) % 4294967296) / 4294967296 < rate


def dataset(*, now: dt.datetime, horizon_days: int, target: str = predictive.TARGET_SQL,
            step_days: int = STEP_DAYS, max_examples: int = MAX_EXAMPLES, batch: int = BATCH,
            spec: policy.ModelSpec | None = None) -> tuple[list[predictive.Example], list[predictive.Example]]:
    """(training examples, validation examples) from the lead history, split by time (see the module doc)."""
    predictive.check_horizon(horizon_days)
    first_at = Lead.objects.filter(erased_at__isnull=True).aggregate(first=Min("created_at"))["first"]
    training_cutoffs, validation_cutoffs = predictive.plan_cutoffs(
        first_at=first_at, now=now, horizon_days=horizon_days, step_days=step_days)
    cutoffs = [*training_cutoffs, *validation_cutoffs]
    first_validation = len(training_cutoffs)
    horizon = dt.timedelta(days=horizon_days)
    spec = spec if spec is not None else ScoringModel.active_spec()
    uses_urls = bool(spec and any(rule.url_pattern for rule in spec.rules))
    target_stages, open_stages = predictive.TARGET_STAGES[target], predictive.OPEN_FOR[target]
    total = Lead.objects.filter(erased_at__isnull=True).count()
    rate = min(1.0, max_examples / max(1, total * len(cutoffs)))
    training, validation, domains = [], [], {}
    after = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(LEADS_AFTER_SQL, {"after": after, "batch": batch})
            rows = cursor.fetchall()
            if not rows:
                break
            after = rows[-1][0]
            ids = [row[0] for row in rows]
            activities = _activities(cursor, ids, cutoffs[-1], urls=uses_urls)
            cursor.execute(TRANSITIONS_SQL, {"ids": ids})
            changes: dict[int, list[tuple[dt.datetime, str]]] = {}
            for lead_id, at, stage in cursor.fetchall():
                changes.setdefault(lead_id, []).append((at, stage))
            for row in rows:
                lead_id, created_at = row[0], row[8]
                log = changes.get(lead_id, [])
                acts = activities.get(lead_id, [])
                times = [activity.occurred_at for activity in acts]
                for index, cutoff in enumerate(cutoffs):
                    if created_at > cutoff or not _keep(lead_id, index, rate):
                        continue
                    stage, entered = "known", created_at
                    for at, target_stage in log:
                        if at > cutoff:
                            break
                        stage, entered = target_stage, at
                    if stage not in open_stages:
                        continue
                    label = any(cutoff < at <= cutoff + horizon and target_stage in target_stages
                                for at, target_stage in log)
                    facts = _facts(row, acts[:bisect.bisect_right(times, cutoff)], domains)
                    snapshot = predictive.Snapshot(lead_id=lead_id, at=cutoff, facts=facts, stage=stage,
                                                   stage_entered_at=entered, created_at=created_at)
                    rule_score = policy.score(facts, spec, at=cutoff).score if spec else None
                    example = predictive.Example(snapshot=snapshot, label=label, rule_score=rule_score)
                    (validation if index >= first_validation else training).append(example)
    return training, validation


def train(*, horizon_days: int | None = None, target: str = predictive.TARGET_SQL,
          now: dt.datetime | None = None) -> PredictiveModel:
    """Train on the history and store a new version: trained with its quality report, or refused with the
    sentence why. A bad horizon or target raises `Invalid` and stores nothing."""
    horizon_days = settings.PREDICTIVE_HORIZON_DAYS if horizon_days is None else horizon_days
    predictive.check_horizon(horizon_days)
    if target not in predictive.TARGETS:
        raise Invalid.field("target", _("Choose what to predict: reaching SQL or being won."))
    started = time.monotonic()
    now = now or timezone.now()
    try:
        training, validation = dataset(now=now, horizon_days=horizon_days, target=target)
        trained = predictive.train(training, validation, target=target, horizon_days=horizon_days,
                                   min_examples=settings.PREDICTIVE_MIN_EXAMPLES,
                                   min_per_class=settings.PREDICTIVE_MIN_PER_CLASS)
    except predictive.TrainingRefused as refusal:
        return versions.store(target=target, horizon_days=horizon_days, refusal=refusal.message,
                              seconds=time.monotonic() - started)
    return versions.store(target=target, horizon_days=horizon_days, parameters=trained.parameters,
                          quality=trained.quality, seconds=time.monotonic() - started)


def section_context(lead: Lead, user) -> dict:
    """The lead page's probability block (`leads/_probability.html`, registered in LeadsConfig.ready)."""
    positive, negative = top_factors(lead)
    base = next((item for item in lead.probability_factors or () if item.get("factor") == predictive.BASELINE), None)
    return {"probability": lead.conversion_probability, "note": note_for(lead), "positive": positive,
            "negative": negative, "base": base, "version": lead.probability_model_version}

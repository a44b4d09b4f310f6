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
in the same transaction and batch as the rule score (`leads.scores` calls them), and stored in the lead's narrow
`LeadPrediction` row: the probability (0..1), the model version and the stage the lead was in; the factors (the
baseline and every field's points, which add up to the probability) are recomputed in words when shown
(`explain`), so the bulk path computes one dot product per lead and writes one narrow row. Leads not open for the
target have no row (`note_for` says why).
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
import time

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg import sql

from core.errors import Invalid
from leads.models import Activity, Campaign, Lead, LeadPrediction, LeadTransition
from leads.validation import domain_type, email_domain
from scoring import policy, predictive
from scoring import predictive_versions as versions
from scoring.models import PredictiveModel, ScoringModel

BATCH = 5000
STEP_DAYS = 7
MAX_EXAMPLES = 300_000  # above this, (lead, cut-off) pairs are sampled (deterministically, per lead)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# (id, activated_at) of the active model -> its Predictor, or None.
_active_cache: tuple[tuple | None, predictive.Predictor | None, int | None] = (None, None, None)

# Why raw SQL: a batch of 5,000 leads, their transitions and activities load as plain tuples in three queries
# (model instances would cost more than the predictions). Table and column names come from the models' _meta.
_TABLES = {name: sql.Identifier(model._meta.db_table)
           for name, model in (("L", Lead), ("C", Campaign), ("A", Activity), ("T", LeadTransition),
                               ("P", LeadPrediction))}


def _statement(text: str, **parts: sql.Composable) -> sql.Composed:
    return sql.SQL(text).format(**_TABLES, **parts)


# Times as whole microseconds since 1970 (exact): a bigint loads several times faster than a timestamptz.
_LEAD_COLUMNS = """
SELECT l.id, l.email_normalized, l.company_size, l.industry, l.country, l.job_title, l.source, c.slug,
       (extract(epoch FROM l.created_at) * 1000000)::bigint, l.stage,
       (extract(epoch FROM l.stage_entered_at) * 1000000)::bigint
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
# What the features need of the activities (count and latest per kind), one row per lead and kind.
ACTIVITY_SUMMARY_SQL = _statement("""
SELECT lead_id, kind, count(*), (extract(epoch FROM max(occurred_at)) * 1000000)::bigint FROM {A}
WHERE lead_id = ANY(%(ids)s) AND occurred_at <= %(at)s GROUP BY lead_id, kind
""")
# Stage changes only (owner changes are logged as transitions with the same source and target).
TRANSITIONS_SQL = _statement("""
SELECT lead_id, at, target FROM {T} WHERE lead_id = ANY(%(ids)s) AND source <> target ORDER BY lead_id, at, id
""")
# Writing a batch: COPY into a temporary table, then upsert the narrow prediction rows (never the lead row).
CREATE_PREDICTED_SQL = sql.SQL(
    "CREATE TEMP TABLE leads_predicted (id bigint PRIMARY KEY, probability float8, stage varchar(16), "
    "stage_entered_at timestamptz) ON COMMIT DROP")
COPY_PREDICTED_SQL = sql.SQL("COPY leads_predicted (id, probability, stage, stage_entered_at) FROM STDIN")
# Probabilities are stored to 3 decimals (0.1 points) and a row is rewritten only when its probability, version
# or stage changed: most leads' probabilities drift below that from one night to the next.
# A new prediction row checks its lead's foreign key, which must not wait on a capture holding the lead: leads
# without a row yet are locked first, skipping those held elsewhere (the next run predicts them).
LOCK_NEW_SQL = _statement("""
SELECT l.id FROM {L} l JOIN leads_predicted p ON p.id = l.id
WHERE NOT EXISTS (SELECT 1 FROM {P} x WHERE x.lead_id = l.id) ORDER BY l.id FOR UPDATE OF l SKIP LOCKED
""")
UPSERT_PREDICTIONS_SQL = _statement("""
INSERT INTO {P} (lead_id, model_version, probability, stage, stage_entered_at, predicted_at)
SELECT p.id, %(version)s, p.probability, p.stage, p.stage_entered_at, %(at)s FROM leads_predicted p
WHERE EXISTS (SELECT 1 FROM {P} x WHERE x.lead_id = p.id) OR p.id = ANY(%(locked)s)
ON CONFLICT (lead_id) DO UPDATE SET model_version = EXCLUDED.model_version, probability = EXCLUDED.probability,
    stage = EXCLUDED.stage, stage_entered_at = EXCLUDED.stage_entered_at, predicted_at = EXCLUDED.predicted_at
WHERE {P}.predicted_at <= EXCLUDED.predicted_at
  AND ({P}.probability, {P}.model_version, {P}.stage) IS DISTINCT FROM
      (EXCLUDED.probability, EXCLUDED.model_version, EXCLUDED.stage)
""")
DROP_PREDICTED_SQL = sql.SQL("DROP TABLE leads_predicted")
DELETE_PREDICTIONS_SQL = _statement("DELETE FROM {P} WHERE lead_id = ANY(%(ids)s)")


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


def _with_times(row: tuple) -> tuple:
    """A lead row with its two times (microseconds since 1970 as read) as datetimes."""
    epoch, delta = EPOCH, dt.timedelta
    return (*row[:8], epoch + delta(microseconds=row[8]), row[9], epoch + delta(microseconds=row[10]))


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
    returns how many were predicted. Leads no longer open for the target lose their prediction. Does nothing
    (one query) while no predictive model is active."""
    predictor, version = active_predictor()
    if predictor is None or not lead_ids:
        return 0
    open_stages = predictive.OPEN_FOR[predictor.target]
    # The caller's transaction when there is one (the rescoring batch), else one of its own: the temporary
    # table lives until the commit.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(LEADS_BY_IDS_SQL, {"ids": list(lead_ids)})
        rows = [_with_times(row) for row in cursor.fetchall()]
        open_rows = [row for row in rows if row[9] in open_stages and row[8] <= at and row[10] <= at]
        closed = [row[0] for row in rows if row[9] not in open_stages]
        if closed:
            cursor.execute(DELETE_PREDICTIONS_SQL, {"ids": closed})
        if not open_rows:
            return 0
        cursor.execute(ACTIVITY_SUMMARY_SQL, {"ids": [row[0] for row in open_rows], "at": at})
        summaries: dict[int, dict] = {}
        epoch, delta = EPOCH, dt.timedelta
        for lead_id, kind, count, latest_us in cursor.fetchall():
            summaries.setdefault(lead_id, {})[kind] = (count, epoch + delta(microseconds=latest_us))
        snapshot, domains, probability = predictive.Snapshot, {}, predictor.probability
        cursor.execute(CREATE_PREDICTED_SQL)
        with cursor.cursor.copy(COPY_PREDICTED_SQL) as copy:
            for row in open_rows:
                value = probability(snapshot(
                    lead_id=row[0], at=at, facts=_facts(row, (), domains), stage=row[9], stage_entered_at=row[10],
                    created_at=row[8], activity_summary=summaries.get(row[0], {})))
                copy.write_row((row[0], round(value, 3), row[9], row[10]))
        cursor.execute(LOCK_NEW_SQL)
        locked = [row[0] for row in cursor.fetchall()]
        cursor.execute(UPSERT_PREDICTIONS_SQL, {"version": version, "at": at, "locked": locked})
        cursor.execute(DROP_PREDICTED_SQL)
    return len(open_rows)


def store_one(lead: Lead, *, at: dt.datetime) -> None:
    """Predict and store for one lead (after its rule score); `lead.prediction` is read again when next used."""
    store_batch([lead.pk], at=at)
    if Lead.prediction.related.is_cached(lead):
        Lead.prediction.related.delete_cached_value(lead)


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


_predictors: dict[int, predictive.Predictor] = {}  # by model id: a stored model's parameters never change


def predictor_of(version: int) -> predictive.Predictor | None:
    """The stored model of this version, prepared (one small query; the parameters once per process)."""
    model_id = PredictiveModel.objects.filter(version=version).values_list("pk", flat=True).first()
    if model_id is None:
        return None
    if model_id not in _predictors:
        parameters = PredictiveModel.objects.filter(pk=model_id).values_list("parameters", flat=True).get()
        if not parameters:
            return None
        _predictors[model_id] = predictive.Predictor.of(parameters)
    return _predictors[model_id]


def explain(lead: Lead) -> list[dict]:
    """The lead's prediction with its factors in words (baseline first, then by size of effect), recomputed with
    the version that made it from the lead as of the prediction: its fields, its activities until then (one
    query) and the stage it was in. The points add up to the stored probability. [] without a prediction."""
    record = lead.prediction_record
    predictor = predictor_of(record.model_version) if record else None
    if predictor is None:
        return []
    at = record.predicted_at
    activities = [policy.ActivityFact(kind, occurred_at) for kind, occurred_at in
                  lead.activities.filter(occurred_at__lte=at).values_list("kind", "occurred_at")]
    campaign = lead.campaign.slug if lead.campaign_id else ""
    row = (lead.pk, lead.email_normalized, lead.company_size, lead.industry, lead.country, lead.job_title,
           lead.source, campaign)
    snapshot = predictive.Snapshot(lead_id=lead.pk, at=at, facts=_facts(row, activities, {}), stage=record.stage,
                                   stage_entered_at=record.stage_entered_at, created_at=min(lead.created_at, at))
    return [factor.as_dict() for factor in predictor.predict(snapshot).factors]


def top_factors(factors: list[dict], *, count: int = 3) -> tuple[list[dict], list[dict]]:
    """The strongest positive and negative factors of an explained prediction."""
    items = [item for item in factors if item["factor"] != predictive.BASELINE]
    positive = sorted((i for i in items if i["points"] > 0), key=lambda i: -i["points"])[:count]
    negative = sorted((i for i in items if i["points"] < 0), key=lambda i: i["points"])[:count]
    return positive, negative


def section_context(lead: Lead, user) -> dict:
    """The lead page's probability block (`leads/_probability.html`, registered in LeadsConfig.ready)."""
    factors = explain(lead)
    positive, negative = top_factors(factors)
    base = next((item for item in factors if item["factor"] == predictive.BASELINE), None)
    return {"probability": lead.conversion_probability, "note": note_for(lead), "positive": positive,
            "negative": negative, "base": base, "version": lead.probability_model_version}


# --- the training data ---------------------------------------------------------------------------------------


def _cutoff_indices(lead_id: int, first: int, count: int, rate: float) -> list[int]:
    """Which of the cut-offs first..count-1 a lead contributes: all, or a deterministic sample at `rate`."""
    if rate >= 1:
        return list(range(first, count))
    available = count - first
    if available <= 0:
        return []
    rng = random.Random(lead_id)
    wanted = available * rate
    take = int(wanted) + (rng.random() < wanted - int(wanted))
    return sorted(rng.sample(range(first, count), min(take, available)))


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
            rows = [_with_times(row) for row in cursor.fetchall()]
            if not rows:
                break
            after = rows[-1][0]
            # Only the leads that contribute a snapshot are read further (most, when the pairs are sampled, none).
            chosen = {row[0]: _cutoff_indices(row[0], bisect.bisect_left(cutoffs, row[8]), len(cutoffs), rate)
                      for row in rows}
            rows = [row for row in rows if chosen[row[0]]]
            if not rows:
                continue
            ids = [row[0] for row in rows]
            activities = _activities(cursor, ids, cutoffs[-1], urls=uses_urls)
            cursor.execute(TRANSITIONS_SQL, {"ids": ids})
            changes: dict[int, list[tuple[dt.datetime, str]]] = {}
            for lead_id, at, stage in cursor.fetchall():
                changes.setdefault(lead_id, []).append((at, stage))
            for row in rows:
                lead_id, created_at = row[0], row[8]
                log = changes.get(lead_id, ())
                acts = activities.get(lead_id, [])
                times = [activity.occurred_at for activity in acts]
                for index in chosen[lead_id]:
                    cutoff = cutoffs[index]
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
                    if index >= first_validation:  # the rule score only where the report compares rankings
                        rule_score = policy.score(facts, spec, at=cutoff).score if spec else None
                        validation.append(predictive.Example(snapshot=snapshot, label=label, rule_score=rule_score))
                    else:
                        training.append(predictive.Example(snapshot=snapshot, label=label))
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


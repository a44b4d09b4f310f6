"""Scores on leads: build the facts `scoring.policy` needs, store its result, rescore in bulk, replay.

`scoring` decides (pure functions over `LeadFacts`); this module is the only writer of the score fields.
"""

import datetime as dt
import json
import re

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from leads.models import Activity, Lead
from leads.validation import email_domain, is_free_mail
from scoring import policy
from scoring.models import ScoringModel

BATCH = 5000
STUDENT_DOMAIN = re.compile(r"(^|\.)(edu|ac\.[a-z]{2}|edu\.[a-z]{2})$|(^|\.)(uni-|stud\.|student)")
FACT_FIELDS = ("id", "email_normalized", "company_size", "industry", "country", "job_title", "source",
               "campaign__slug")


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


def _activities_of(lead_ids) -> dict[int, list[policy.ActivityFact]]:
    found: dict[int, list[policy.ActivityFact]] = {}
    rows = Activity.objects.filter(lead_id__in=lead_ids).values_list("lead_id", "kind", "occurred_at", "url")
    for lead_id, kind, occurred_at, url in rows.iterator(chunk_size=20000):
        found.setdefault(lead_id, []).append(policy.ActivityFact(kind, occurred_at, url))
    return found


def active_spec() -> policy.ModelSpec | None:
    return ScoringModel.active_spec()


def spec_of_version(version: int) -> policy.ModelSpec | None:
    model = ScoringModel.objects.filter(version=version).prefetch_related("rules").first()
    return model.to_spec() if model else None


def evaluate(lead_id: int, *, spec: policy.ModelSpec, at: dt.datetime) -> policy.ScoreResult:
    """Score one lead from its stored fields and activity log as of `at` (writes nothing)."""
    row = Lead.objects.filter(pk=lead_id).values(*FACT_FIELDS).get()
    return policy.score(facts_from(row, _activities_of([lead_id]).get(lead_id, [])), spec, at=at)


def replay(lead_id: int, *, at: dt.datetime, version: int | None = None) -> policy.ScoreResult | None:
    """What the lead's score was at `at` under a model version (default: the version that scored it)."""
    if version is None:
        version = Lead.objects.filter(pk=lead_id).values_list("score_model_version", flat=True).get()
    spec = spec_of_version(version) if version else active_spec()
    return evaluate(lead_id, spec=spec, at=at) if spec else None


def rescore(lead: Lead, *, spec: policy.ModelSpec | None = None, at: dt.datetime | None = None):
    """Score one lead now with the active model and store the result (on the row and on `lead`)."""
    spec = spec or active_spec()
    if spec is None:
        return None
    at = at or timezone.now()
    result = evaluate(lead.pk, spec=spec, at=at)
    values = _values(result, at)
    Lead.objects.filter(pk=lead.pk).update(**values)
    for name, value in values.items():
        setattr(lead, name, value)
    return result


def _values(result: policy.ScoreResult, at: dt.datetime) -> dict:
    return {
        "score": result.score,
        "fit_score": result.fit,
        "engagement_score": result.engagement,
        "temperature": result.temperature,
        "score_model_version": result.model_version,
        "score_breakdown": result.breakdown_as_list(),
        "scored_at": at,
    }


def rescore_all(*, spec: policy.ModelSpec | None = None, at: dt.datetime | None = None, batch: int = BATCH,
                progress=None) -> int:
    """Rescore every lead in batches: one query for the leads, one for their activities, one UPDATE."""
    spec = spec or active_spec()
    if spec is None:
        return 0
    at = at or timezone.now()
    done = 0
    last_id = 0
    while True:
        rows = list(Lead.objects.filter(pk__gt=last_id).order_by("pk").values(*FACT_FIELDS)[:batch])
        if not rows:
            return done
        last_id = rows[-1]["id"]
        activities = _activities_of([row["id"] for row in rows])
        results = [(row["id"], policy.score(facts_from(row, activities.get(row["id"], [])), spec, at=at))
                   for row in rows]
        _bulk_store(results, at)
        done += len(rows)
        if progress:
            progress(len(rows))


def _bulk_store(results, at: dt.datetime) -> None:
    params = []
    for lead_id, result in results:
        params += [lead_id, result.score, result.fit, result.engagement, result.temperature,
                   result.model_version, json.dumps(result.breakdown_as_list())]
    placeholders = ",".join(["(%s::bigint, %s::int, %s::int, %s::int, %s::varchar, %s::int, %s::jsonb)"] * len(results))
    sql = (
        "UPDATE leads_lead AS l SET score = v.score, fit_score = v.fit, engagement_score = v.engagement, "
        "temperature = v.temperature, score_model_version = v.version, score_breakdown = v.breakdown, "
        f"scored_at = %s FROM (VALUES {placeholders}) AS v(id, score, fit, engagement, temperature, version, "
        "breakdown) WHERE l.id = v.id"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [at, *params])


def what_if(spec: policy.ModelSpec, *, at: dt.datetime | None = None, batch: int = BATCH) -> dict:
    """How many current leads would change temperature, and cross the MQL threshold, under `spec`."""
    at = at or timezone.now()
    counts = {"leads": 0, "temperature_changes": 0, "would_reach_threshold": 0, "would_fall_below": 0,
              "newly_reaching": 0}
    current = active_spec()
    threshold = current.mql_threshold if current else settings.MQL_SCORE_THRESHOLD
    last_id = 0
    while True:
        rows = list(Lead.objects.filter(pk__gt=last_id).order_by("pk")
                    .values(*FACT_FIELDS, "temperature", "score")[:batch])
        if not rows:
            return counts
        last_id = rows[-1]["id"]
        activities = _activities_of([row["id"] for row in rows])
        for row in rows:
            result = policy.score(facts_from(row, activities.get(row["id"], [])), spec, at=at)
            counts["leads"] += 1
            counts["temperature_changes"] += result.temperature != row["temperature"]
            counts["would_reach_threshold"] += result.reaches_threshold
            counts["newly_reaching"] += result.reaches_threshold and row["score"] < threshold
            counts["would_fall_below"] += (not result.reaches_threshold) and row["score"] >= threshold


RULE_REVIEW_SQL = """
WITH scored AS (
    SELECT l.id, l.score_breakdown,
           (l.stage IN ('sql', 'opportunity', 'customer') OR EXISTS (
               SELECT 1 FROM leads_leadtransition t WHERE t.lead_id = l.id AND t.target = 'sql')) AS reached_sql,
           l.stage = 'customer' AS won
    FROM leads_lead l
    WHERE l.score_model_version = %(version)s
), totals AS (
    SELECT count(*) AS leads, count(*) FILTER (WHERE reached_sql) AS sqls, count(*) FILTER (WHERE won) AS wins
    FROM scored
), fired AS (
    SELECT (item ->> 'rule_id')::bigint AS rule_id, max(item ->> 'rule') AS rule, count(DISTINCT s.id) AS fired,
           count(DISTINCT s.id) FILTER (WHERE s.reached_sql) AS sqls,
           count(DISTINCT s.id) FILTER (WHERE s.won) AS wins
    FROM scored s, jsonb_array_elements(s.score_breakdown) AS item
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

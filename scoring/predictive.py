"""Pure predictive scoring: snapshots of leads in, a trained model, its quality and explained predictions out.

No database, no clock. `leads.predictive` cuts the lead history into snapshots (a lead as it was at a cut-off
time, with only what had happened by then) and labels them (did the lead reach the target within the horizon
after the cut-off); this module turns snapshots into features, trains a regularised logistic regression
(scikit-learn), measures it on newer snapshots than it learnt from, and explains each prediction.

No leakage, by construction
---------------------------
* `features()` refuses a snapshot that holds anything from after its cut-off (an activity, the stage entry,
  the creation): a feature can only describe what was known at the cut-off.
* The current stage, owner, score or outcome of a lead are not facts of a snapshot at all.
* `plan_cutoffs()` splits by time: every training label is known (cut-off + horizon) before the first
  validation cut-off, so the model is judged on a later period than any outcome it learnt from.

Explanations
------------
The model is linear in the log-odds: logit = intercept + sum(coef * x). Against the "average lead" (the
training means of every feature) each field's features move the log-odds by d_g; the probability moves by
p - p_base = slope * sum(d_g) where slope is the secant of the logistic curve between the two log-odds, so a
field's factor is slope * d_g in probability points. The factors of all fields plus the baseline add up to the
prediction exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils.translation import gettext as _

from core.errors import Invalid, Refused
from core.vocabulary import ActivityKind, Stage
from scoring import policy

# What a model can predict: reaching SQL (or a later stage), or being won, within the horizon.
TARGET_SQL = "sql"
TARGET_WON = "won"
TARGETS = (TARGET_SQL, TARGET_WON)
TARGET_STAGES = {
    TARGET_SQL: (Stage.SQL.value, Stage.OPPORTUNITY.value, Stage.CUSTOMER.value),
    TARGET_WON: (Stage.CUSTOMER.value,),
}
# Stages in which a lead gets a prediction (and is a training example at a cut-off): still on its way to the target.
OPEN_FOR = {
    TARGET_SQL: (Stage.KNOWN.value, Stage.MQL.value, Stage.SAL.value, Stage.RECYCLED.value),
    TARGET_WON: (Stage.KNOWN.value, Stage.MQL.value, Stage.SAL.value, Stage.SQL.value, Stage.OPPORTUNITY.value,
                 Stage.RECYCLED.value),
}
ACTIVITY_KINDS = tuple(kind.value for kind in ActivityKind)
RECENCY_DAYS = 14.0  # an activity's recency feature halves... decays as exp(-age / RECENCY_DAYS)
BASELINE = "baseline"
GRADIENT_BOOSTING_MAX_ROWS = 200_000  # above this the comparison with gradient boosting is skipped (memory)

ROLE_PATTERNS = (
    ("executive", re.compile(r"\b(ceo|cto|cfo|coo|cmo|cio|chief|founder|owner|inhaber|gesch[aä]ftsf[uü]hr|vorstand|"
                             r"managing director|president)", re.I)),
    ("head", re.compile(r"\b(head|director|leiter|leitung|vp|vice president)", re.I)),
    ("manager", re.compile(r"(manager|lead\b|teamlead)", re.I)),
)


class TrainingRefused(Refused):
    """Training cannot give an honest model from this history (too little, one outcome only, ...)."""


class LeakageError(Invalid):
    """A snapshot holds a fact from after its cut-off."""


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """A lead as it was at `at`: its fit facts, its activities up to `at`, its stage then and since when."""

    lead_id: int
    at: datetime
    facts: policy.LeadFacts
    stage: str
    stage_entered_at: datetime
    created_at: datetime
    # {kind: (count, latest)} of the activities up to `at`, when the caller has it from the database (the bulk
    # path: one row per kind instead of every activity); otherwise `features` counts `facts.activities`.
    activity_summary: dict[str, tuple[int, datetime]] | None = None


@dataclass(frozen=True, kw_only=True)
class Example:
    snapshot: Snapshot
    label: bool
    rule_score: float | None = None  # the rule score at the cut-off, to compare rankings


@dataclass(frozen=True)
class Factor:
    factor: str  # the field ("company_size", "activity:pricing_view", ...) or BASELINE
    label: str  # in words
    points: float  # probability points (0..100 scale) this field adds against the average lead

    def as_dict(self) -> dict:
        return {"factor": self.factor, "label": self.label, "points": round(self.points, 2)}


@dataclass(frozen=True)
class Prediction:
    probability: float
    factors: tuple[Factor, ...]  # baseline first, then by size of effect

    def factors_as_list(self) -> list[dict]:
        return [factor.as_dict() for factor in self.factors]


@dataclass(frozen=True)
class Trained:
    parameters: dict  # what `predict()` needs: feature names, coefficients, intercept, means, target, horizon
    quality: dict  # what the admin reads before activating
    model: object = field(default=None, repr=False)  # the fitted scikit-learn estimator (not stored)


# --- planning the split ------------------------------------------------------------------------------------


def check_horizon(horizon_days) -> int:
    if not isinstance(horizon_days, int) or isinstance(horizon_days, bool) or horizon_days <= 0:
        raise Invalid.field("horizon_days", _("The horizon must be a whole number of days, at least 1."))
    return horizon_days


def plan_cutoffs(*, first_at: datetime | None, now: datetime, horizon_days: int, step_days: int = 7,
                 validation_share: float = 0.3) -> tuple[list[datetime], list[datetime]]:
    """Cut-off times for training and for validation, oldest first.

    Cut-offs go back from `now - horizon` (the last moment whose outcome is fully known) every `step_days` to
    the first lead. The newest `validation_share` of them validate; training uses only the cut-offs whose
    horizon ends at or before the first validation cut-off, so no training outcome falls in the validated period.
    """
    horizon_days = check_horizon(horizon_days)
    if step_days <= 0:
        raise Invalid.field("step_days", _("The step between cut-offs must be at least 1 day."))
    if first_at is None:
        raise TrainingRefused(_("There is no lead history to learn from yet."))
    horizon, step = timedelta(days=horizon_days), timedelta(days=step_days)
    cutoffs = []
    cutoff = now - horizon
    while cutoff > first_at:
        cutoffs.append(cutoff)
        cutoff -= step
    cutoffs.reverse()
    validation_count = max(1, round(len(cutoffs) * validation_share))
    validation = cutoffs[-validation_count:] if cutoffs else []
    training = [c for c in cutoffs[:-validation_count] if validation and c + horizon <= validation[0]]
    if not training or not validation:
        days = max(0, (now - first_at).days)
        raise TrainingRefused(_(
            "The history covers %(days)s days; with a horizon of %(horizon)s days training and validating on "
            "separate periods needs at least %(needed)s days of history."
        ) % {"days": days, "horizon": horizon_days, "needed": 2 * horizon_days + 2 * step_days})
    return training, validation


# --- features ----------------------------------------------------------------------------------------------


_roles: dict[str, str] = {}


def role_of(job_title: str) -> str:
    role = _roles.get(job_title)
    if role is None:
        role = "unknown" if not job_title.strip() else next(
            (name for name, pattern in ROLE_PATTERNS if pattern.search(job_title)), "other")
        if len(_roles) < 100_000:
            _roles[job_title] = role
    return role


def summarise_activities(activities, at: datetime) -> dict[str, tuple[int, datetime]]:
    """{kind: (count, latest)}; refuses an activity after `at` (LeakageError)."""
    summary: dict[str, tuple[int, datetime]] = {}
    for activity in activities:
        if activity.occurred_at > at:
            raise LeakageError.field("activities", _("An activity of the snapshot happened after the cut-off."))
        count, latest = summary.get(activity.kind, (0, activity.occurred_at))
        summary[activity.kind] = (count + 1, max(latest, activity.occurred_at))
    return summary


def features(snapshot: Snapshot) -> dict[str, float]:
    """The snapshot's features, named "<field>|<detail>" (the field groups them in explanations).

    Refuses (LeakageError) a snapshot that holds a fact from after its cut-off.
    """
    at, facts = snapshot.at, snapshot.facts
    if snapshot.created_at > at or snapshot.stage_entered_at > at:
        raise LeakageError.field("at", _("The snapshot's lead was created or entered its stage after the cut-off."))
    values: dict[str, float] = {}
    size = facts.company_size
    if size is None:
        values["company_size|unknown"] = 1.0
    else:
        values["company_size|log"] = math.log1p(max(0, size))
    for name in ("industry", "country", "source", "campaign", "email_domain_type"):
        text = (getattr(facts, name) or "").strip().lower() or "unknown"
        values[f"{name}|{text}"] = 1.0
    values[f"role|{role_of(facts.job_title)}"] = 1.0
    summary = snapshot.activity_summary
    if summary is None:
        summary = summarise_activities(facts.activities, at)
    for kind, (count, latest) in summary.items():
        if latest > at:
            raise LeakageError.field("activities", _("An activity of the snapshot happened after the cut-off."))
        values[f"activity:{kind}|count"] = math.log1p(count)
        values[f"activity:{kind}|recency"] = math.exp(-(at - latest).total_seconds() / 86400.0 / RECENCY_DAYS)
    values[f"stage|{snapshot.stage}"] = 1.0
    values["time_in_stage|log_days"] = math.log1p((at - snapshot.stage_entered_at).total_seconds() / 86400.0)
    values["age|log_days"] = math.log1p((at - snapshot.created_at).total_seconds() / 86400.0)
    return values


def _group(name: str) -> str:
    return name.split("|", 1)[0]


def describe(group: str, snapshot: Snapshot) -> str:
    """A field of the snapshot in words, for the factor list."""
    facts = snapshot.facts
    if group == "company_size":
        if facts.company_size is None:
            return _("company size unknown")
        return _("company size %(size)s") % {"size": facts.company_size}
    if group in ("industry", "country", "source", "campaign", "email_domain_type"):
        names = {"industry": _("industry"), "country": _("country"), "source": _("source"),
                 "campaign": _("campaign"), "email_domain_type": _("e-mail domain")}
        value = getattr(facts, group) or _("none")
        return f"{names[group]} {value}"
    if group == "role":
        return _("role %(role)s (from the job title)") % {"role": role_of(facts.job_title)}
    if group.startswith("activity:"):
        kind = group.split(":", 1)[1]
        found = [a.occurred_at for a in facts.activities if a.kind == kind]
        label = ActivityKind(kind).label if kind in ACTIVITY_KINDS else kind
        if not found:
            return _("no %(kind)s") % {"kind": label}
        days = (snapshot.at - max(found)).days
        return _("%(count)s × %(kind)s, the last %(days)s days ago") % {"count": len(found), "kind": label,
                                                                      "days": days}
    if group == "stage":
        label = Stage(snapshot.stage).label if snapshot.stage in Stage.values else snapshot.stage
        return _("stage %(stage)s") % {"stage": label}
    if group == "time_in_stage":
        return _("%(days)s days in the stage") % {"days": (snapshot.at - snapshot.stage_entered_at).days}
    if group == "age":
        return _("known for %(days)s days") % {"days": (snapshot.at - snapshot.created_at).days}
    return group


# --- training ----------------------------------------------------------------------------------------------


def _auc(labels, scores) -> float | None:
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415 (third-party, heavy: loaded when training)

    if len(set(labels)) < 2:
        return None
    return float(roc_auc_score(labels, scores))


def _calibration(labels: Sequence[bool], predicted: Sequence[float], buckets: int = 10) -> list[dict]:
    """Predicted against observed rates by decile of the prediction (highest first)."""
    order = sorted(range(len(predicted)), key=lambda i: predicted[i], reverse=True)
    rows = []
    for decile in range(buckets):
        part = order[len(order) * decile // buckets: len(order) * (decile + 1) // buckets]
        if not part:
            continue
        rows.append({
            "decile": decile + 1, "leads": len(part),
            "predicted": sum(predicted[i] for i in part) / len(part),
            "observed": sum(1 for i in part if labels[i]) / len(part),
        })
    return rows


def train(training: Sequence[Example], validation: Sequence[Example], *, target: str, horizon_days: int,
          min_examples: int = 300, min_per_class: int = 30, regularisation: float = 1.0,
          compare_gradient_boosting: bool = True) -> Trained:
    """Fit on `training`, measure on `validation` (later cut-offs); refuse with a sentence when the history
    cannot give an honest model."""
    import numpy as np  # noqa: PLC0415 (third-party, heavy: loaded when training)
    from sklearn.feature_extraction import DictVectorizer  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    check_horizon(horizon_days)
    if target not in TARGETS:
        raise Invalid.field("target", _("Choose what to predict: reaching SQL or being won."))
    target_words = _("reached SQL") if target == TARGET_SQL else _("were won")
    total = len(training) + len(validation)
    if total == 0:
        raise TrainingRefused(_("There is no lead history to learn from yet."))
    if total < min_examples:
        raise TrainingRefused(_(
            "Only %(count)s lead snapshots with a known outcome; at least %(needed)s are needed for a model "
            "worth showing."
        ) % {"count": total, "needed": min_examples})
    positives = sum(1 for example in training if example.label)
    negatives = len(training) - positives
    if positives == 0 or negatives == 0:
        raise TrainingRefused(_(
            "All %(count)s training leads had the same outcome (%(which)s %(words)s within %(horizon)s days): a "
            "model cannot learn from one outcome."
        ) % {"count": len(training), "which": _("all") if positives else _("none"), "words": target_words,
             "horizon": horizon_days})
    if min(positives, negatives) < min_per_class:
        raise TrainingRefused(_(
            "Only %(count)s training leads %(words)s within %(horizon)s days (and %(other)s did not); at least "
            "%(needed)s of each are needed."
        ) % {"count": positives, "other": negatives, "words": target_words, "horizon": horizon_days,
             "needed": min_per_class})
    validation_labels = [example.label for example in validation]
    if len(set(validation_labels)) < 2:
        raise TrainingRefused(_(
            "All %(count)s validation leads had the same outcome: the model's quality cannot be measured."
        ) % {"count": len(validation)})

    vectorizer = DictVectorizer(sparse=True)
    x_train = vectorizer.fit_transform([features(example.snapshot) for example in training])
    y_train = np.array([example.label for example in training], dtype=bool)
    x_validation = vectorizer.transform([features(example.snapshot) for example in validation])
    estimator = LogisticRegression(C=regularisation, max_iter=2000)
    estimator.fit(x_train, y_train)
    predicted = estimator.predict_proba(x_validation)[:, 1].tolist()

    names = list(vectorizer.get_feature_names_out())
    coefficients = estimator.coef_[0].tolist()
    means = np.asarray(x_train.mean(axis=0)).ravel().tolist()
    parameters = {
        "kind": "logistic_regression", "target": target, "horizon_days": horizon_days,
        "intercept": float(estimator.intercept_[0]),
        "coefficients": {name: coef for name, coef in zip(names, coefficients, strict=True) if coef},
        "means": {name: mean for name, mean in zip(names, means, strict=True) if mean},
    }
    auc = _auc(validation_labels, predicted)
    calibration = _calibration(validation_labels, predicted)
    base_rate = sum(validation_labels) / len(validation_labels)
    top = calibration[0]["observed"] if calibration else 0.0
    rule_scores = [(example.label, example.rule_score) for example in validation if example.rule_score is not None]
    rule_auc = _auc([label for label, _score in rule_scores], [s for _label, s in rule_scores]) if rule_scores else None
    rule_top = None
    if rule_scores:
        ranked = sorted(rule_scores, key=lambda pair: pair[1], reverse=True)[: max(1, len(rule_scores) // 10)]
        rule_top = (sum(1 for label, _score in ranked if label) / len(ranked)) / base_rate if base_rate else None
    quality = {
        "target": target, "horizon_days": horizon_days,
        "training_examples": len(training), "training_positives": positives,
        "validation_examples": len(validation), "validation_positives": sum(validation_labels),
        "leads": len({example.snapshot.lead_id for example in (*training, *validation)}),
        "auc": auc, "base_rate": base_rate, "top_decile_lift": top / base_rate if base_rate else None,
        "brier": sum((p - y) ** 2 for p, y in zip(predicted, validation_labels, strict=True)) / len(predicted),
        "calibration": calibration,
        "rule_score_auc": rule_auc, "rule_score_top_decile_lift": rule_top,
        "gradient_boosting_auc": None, "gradient_boosting_note": "",
    }
    if compare_gradient_boosting:
        quality.update(_gradient_boosting(x_train, y_train, x_validation, validation_labels))
    return Trained(parameters=parameters, quality=quality, model=estimator)


def _gradient_boosting(x_train, y_train, x_validation, validation_labels) -> dict:
    """The holdout AUC gradient boosting would reach on the same features (reported, not stored: its factors do
    not explain themselves)."""
    from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: PLC0415

    if x_train.shape[0] > GRADIENT_BOOSTING_MAX_ROWS:
        return {"gradient_boosting_note": _("Not compared: more than %(rows)s training rows.")
                % {"rows": GRADIENT_BOOSTING_MAX_ROWS}}
    booster = HistGradientBoostingClassifier(max_iter=100, random_state=0)
    booster.fit(x_train.toarray(), y_train)
    predicted = booster.predict_proba(x_validation.toarray())[:, 1].tolist()
    return {"gradient_boosting_auc": _auc(validation_labels, predicted)}


# --- predicting --------------------------------------------------------------------------------------------


def _sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp = math.exp(value)
    return exp / (1.0 + exp)


@dataclass(frozen=True)
class Predictor:
    """A stored model's parameters prepared for many predictions (built once per batch)."""

    intercept: float
    coefficients: dict[str, float]
    group_offsets: dict[str, float]  # per field: sum(coef * mean), the average lead's share of the log-odds
    base_logit: float
    target: str

    @classmethod
    def of(cls, parameters: dict) -> Predictor:
        coefficients = parameters["coefficients"]
        offsets: dict[str, float] = {}
        for name, mean in parameters["means"].items():
            coef = coefficients.get(name)
            if coef:
                offsets[_group(name)] = offsets.get(_group(name), 0.0) + coef * mean
        return cls(intercept=parameters["intercept"], coefficients=coefficients, group_offsets=offsets,
                   base_logit=parameters["intercept"] + math.fsum(offsets.values()), target=parameters["target"])

    @property
    def base_probability(self) -> float:
        return _sigmoid(self.base_logit)

    def probability(self, snapshot: Snapshot) -> float:
        """The probability alone (the bulk path): the same log-odds as `points`, without the split by field."""
        coefficients = self.coefficients
        logit = self.intercept
        for name, value in features(snapshot).items():
            coef = coefficients.get(name)
            if coef:
                logit += coef * value
        return _sigmoid(logit)

    def points(self, snapshot: Snapshot) -> tuple[float, dict[str, float]]:
        """(probability, {field: probability points}) with the baseline as BASELINE: the points add up to
        100 x probability. The bulk path: no words, nothing sorted."""
        shares = dict.fromkeys(self.group_offsets, 0.0)
        coefficients = self.coefficients
        for name, value in features(snapshot).items():
            coef = coefficients.get(name)
            if coef:
                group = name.split("|", 1)[0]
                shares[group] = shares.get(group, 0.0) + coef * value
        offsets = self.group_offsets
        deltas = {group: share - offsets.get(group, 0.0) for group, share in shares.items()}
        delta = math.fsum(deltas.values())
        probability = _sigmoid(self.base_logit + delta)
        base = self.base_probability
        slope = (probability - base) / delta if abs(delta) > 1e-12 else base * (1 - base)
        found = {BASELINE: 100.0 * base}
        for group, share in deltas.items():
            if abs(share) > 1e-12:
                found[group] = 100.0 * slope * share
        return probability, found

    def predict(self, snapshot: Snapshot) -> Prediction:
        """The probability with its factors in words, the strongest first (baseline first of all)."""
        probability, found = self.points(snapshot)
        return Prediction(probability, explain(found, snapshot))


def explain(points: dict[str, float], snapshot: Snapshot) -> tuple[Factor, ...]:
    """Stored points per field in words, for `snapshot` (the lead as of the prediction): baseline first, then by
    size of effect."""
    base = points.get(BASELINE)
    factors = sorted((Factor(group, describe(group, snapshot), value) for group, value in points.items()
                      if group != BASELINE), key=lambda factor: abs(factor.points), reverse=True)
    head = (Factor(BASELINE, _("average lead"), base),) if base is not None else ()
    return (*head, *factors)


def is_open_for(target: str, stage: str) -> bool:
    return stage in OPEN_FOR[target]

"""The pure predictive model: constructed histories with a known signal, leakage refused, factors that add up."""

import datetime as dt
import math
import random

import pytest

from core.errors import Invalid
from scoring import policy, predictive
from scoring.predictive import Example, Snapshot

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
INDUSTRIES = ("software", "retail", "manufacturing", "finance")


def snapshot(rng, *, at=NOW, lead_id=0, signal=0.0, pricing_views=0):
    size = rng.choice((None, 10, 50, 250, 1000, 5000))
    activities = tuple(policy.ActivityFact("pricing_view", at - dt.timedelta(days=rng.uniform(0.1, 30)))
                       for _ in range(pricing_views))
    facts = policy.LeadFacts(company_size=size, industry=rng.choice(INDUSTRIES), country=rng.choice(("DE", "AT")),
                             job_title=rng.choice(("CEO", "Marketing Manager", "", "Head of Sales")),
                             source="web_form", email_domain_type=rng.choice(("business", "free")),
                             activities=activities)
    created = at - dt.timedelta(days=rng.uniform(1, 40))
    return Snapshot(lead_id=lead_id, at=at, facts=facts, stage="known", stage_entered_at=created, created_at=created)


def history(count, *, seed, strength=1.5, noise_only=False):
    """Leads whose chance to convert grows with pricing views (log-odds -2 + strength * views), nothing else."""
    rng = random.Random(seed)
    examples = []
    for lead_id in range(count):
        views = rng.choice((0, 0, 0, 1, 2, 3))
        logit = -2.0 + (0 if noise_only else strength * views)
        label = rng.random() < 1 / (1 + math.exp(-logit))
        snap = snapshot(rng, lead_id=lead_id, pricing_views=views)
        examples.append(Example(snapshot=snap, label=label, rule_score=float(rng.randint(0, 100))))
    return examples


def test_training_finds_a_known_signal_with_an_auc_in_the_expected_band():
    validation = history(1500, seed=2)
    trained = predictive.train(history(3000, seed=1), validation, target="sql", horizon_days=30,
                               compare_gradient_boosting=False)
    # The band: the AUC of the true model (it ranks by pricing views) on the same leads, give or take 0.03.
    true_views = [sum(1 for a in e.snapshot.facts.activities if a.kind == "pricing_view") for e in validation]
    true_auc = predictive._auc([e.label for e in validation], true_views)
    assert 0.75 < true_auc < 0.95
    assert true_auc - 0.03 <= trained.quality["auc"] <= true_auc + 0.03
    assert trained.parameters["coefficients"]["activity:pricing_view|count"] > 1.0
    assert trained.quality["top_decile_lift"] > 1.8
    assert trained.quality["validation_examples"] == 1500
    assert len(trained.quality["calibration"]) == 10
    # Calibrated: in every decile predicted and observed rates are close.
    for row in trained.quality["calibration"]:
        assert abs(row["predicted"] - row["observed"]) < 0.12
    # The random rule score ranks no better than chance.
    assert 0.4 < trained.quality["rule_score_auc"] < 0.6


def test_training_on_noise_gives_an_auc_near_one_half():
    trained = predictive.train(history(3000, seed=3, noise_only=True), history(1500, seed=4, noise_only=True),
                               target="sql", horizon_days=30, compare_gradient_boosting=False)
    assert 0.42 <= trained.quality["auc"] <= 0.58


def test_gradient_boosting_is_compared_on_the_same_holdout():
    trained = predictive.train(history(800, seed=5), history(400, seed=6), target="sql", horizon_days=30)
    assert 0.6 < trained.quality["gradient_boosting_auc"] <= 1.0


def test_a_snapshot_holding_an_activity_after_its_cutoff_is_refused():
    rng = random.Random(7)
    snap = snapshot(rng)
    later = policy.ActivityFact("meeting", NOW + dt.timedelta(hours=1))
    leaky = Snapshot(lead_id=1, at=NOW, facts=policy.LeadFacts(activities=(later,)), stage="sal",
                     stage_entered_at=snap.stage_entered_at, created_at=snap.created_at)
    with pytest.raises(predictive.LeakageError):
        predictive.features(leaky)
    entered_later = Snapshot(lead_id=1, at=NOW, facts=snap.facts, stage="sal", stage_entered_at=NOW + dt.timedelta(1),
                             created_at=snap.created_at)
    with pytest.raises(predictive.LeakageError):
        predictive.features(entered_later)


def test_training_refuses_leaky_examples():
    examples = history(400, seed=8)
    bad = examples[0]
    leak = Snapshot(lead_id=bad.snapshot.lead_id, at=NOW, stage="known", stage_entered_at=bad.snapshot.created_at,
                    created_at=bad.snapshot.created_at,
                    facts=policy.LeadFacts(activities=(policy.ActivityFact("meeting", NOW + dt.timedelta(days=2)),)))
    with pytest.raises(predictive.LeakageError):
        predictive.train([Example(snapshot=leak, label=True), *examples[1:]], history(200, seed=9), target="sql",
                         horizon_days=30, compare_gradient_boosting=False)


def test_factors_sum_to_the_prediction():
    trained = predictive.train(history(1500, seed=10), history(600, seed=11), target="sql", horizon_days=30,
                               compare_gradient_boosting=False)
    predictor = predictive.Predictor.of(trained.parameters)
    rng = random.Random(12)
    for views in (0, 1, 3, 6):
        snap = snapshot(rng, pricing_views=views)
        prediction = predictor.predict(snap)
        assert prediction.factors[0].factor == predictive.BASELINE
        assert math.isclose(sum(f.points for f in prediction.factors), 100 * prediction.probability, abs_tol=1e-6)
        # The same as scikit-learn's own probability for this lead.
        from sklearn.feature_extraction import DictVectorizer
        vectorizer = DictVectorizer().fit([predictive.features(e.snapshot) for e in history(1500, seed=10)])
        expected = trained.model.predict_proba(vectorizer.transform([predictive.features(snap)]))[0, 1]
        assert math.isclose(prediction.probability, expected, rel_tol=1e-9)
    many = predictor.predict(snapshot(rng, pricing_views=6))
    top = max(many.factors[1:], key=lambda f: f.points)
    assert top.factor == "activity:pricing_view"
    assert "Pricing page view" in top.label and top.points > 0


def test_refusals_name_the_reason():
    with pytest.raises(predictive.TrainingRefused, match="no lead history"):
        predictive.train([], [], target="sql", horizon_days=30)
    with pytest.raises(Invalid) as horizon:
        predictive.train(history(400, seed=1), history(200, seed=2), target="sql", horizon_days=0)
    assert "horizon_days" in horizon.value.errors
    with pytest.raises(predictive.TrainingRefused, match="at least 300 are needed"):
        predictive.train(history(100, seed=1), history(50, seed=2), target="sql", horizon_days=30)
    none_converted = [Example(snapshot=e.snapshot, label=False) for e in history(400, seed=1)]
    with pytest.raises(predictive.TrainingRefused, match="cannot learn from one outcome"):
        predictive.train(none_converted, history(200, seed=2), target="sql", horizon_days=30)
    few = [Example(snapshot=e.snapshot, label=i < 5) for i, e in enumerate(history(400, seed=1))]
    with pytest.raises(predictive.TrainingRefused, match="Only 5 training leads reached SQL"):
        predictive.train(few, history(200, seed=2), target="sql", horizon_days=30)


def test_cutoffs_split_by_time_without_overlapping_outcomes():
    training, validation = predictive.plan_cutoffs(first_at=NOW - dt.timedelta(days=120), now=NOW, horizon_days=14)
    assert validation[-1] == NOW - dt.timedelta(days=14)
    assert all(c + dt.timedelta(days=14) <= validation[0] for c in training)
    assert training == sorted(training) and validation == sorted(validation)
    with pytest.raises(predictive.TrainingRefused, match="history covers 20 days"):
        predictive.plan_cutoffs(first_at=NOW - dt.timedelta(days=20), now=NOW, horizon_days=14)
    with pytest.raises(predictive.TrainingRefused, match="no lead history"):
        predictive.plan_cutoffs(first_at=None, now=NOW, horizon_days=14)
    with pytest.raises(Invalid):
        predictive.plan_cutoffs(first_at=NOW - dt.timedelta(days=200), now=NOW, horizon_days=0)


def test_roles_come_from_the_job_title():
    assert predictive.role_of("Geschäftsführer") == "executive"
    assert predictive.role_of("Head of Marketing") == "head"
    assert predictive.role_of("Marketing Manager") == "manager"
    assert predictive.role_of("Werkstudent") == "other"
    assert predictive.role_of("") == "unknown"

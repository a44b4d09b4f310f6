"""Predictive scores on leads: training data cut from a constructed history, activation, stored explanations."""

import datetime as dt
import math
import random

import pytest
from django.utils import timezone

from core.errors import Invalid, Refused
from core.vocabulary import Stage
from leads import predictive, scores
from leads.models import Activity, Lead, LeadPrediction, LeadTransition
from scoring import predictive as pure
from scoring import predictive_versions
from scoring.models import PredictiveModel
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def build_history(count=700, *, seed=1, now=None, signal=True):
    """Leads over 120 days; each pricing view raises the log-odds of reaching SQL a week later by 1.5."""
    now = now or timezone.now()
    rng = random.Random(seed)
    leads, activities, transitions, converted, final = [], [], [], {}, {}
    for number in range(count):
        created = now - dt.timedelta(days=rng.uniform(5, 120))
        views = rng.choice((0, 0, 1, 2, 3))
        p = 1 / (1 + math.exp(-(-2.0 + (1.5 * views if signal else 0))))
        leads.append(Lead(email=f"p{number}@firma{number % 50}.de", email_normalized=f"p{number}@firma{number % 50}.de",
                          company_size=rng.choice((10, 200, 2000)), industry=rng.choice(("software", "retail")),
                          created_at=created, stage_entered_at=created, first_touch_at=created,
                          last_touch_at=created))
        converted[number] = (views, rng.random() < p, created)
    Lead.objects.bulk_create(leads)
    for number, lead in enumerate(leads):
        views, wins, created = converted[number]
        for view in range(views):
            at = created + dt.timedelta(days=view + 0.5)
            activities.append(Activity(lead=lead, kind="pricing_view", occurred_at=at))
        if wins:
            stage_at = created + dt.timedelta(days=4)
            path = [(Stage.KNOWN, Stage.MQL, "mark_mql"), (Stage.MQL, Stage.SAL, "accept"),
                    (Stage.SAL, Stage.SQL, "qualify")]
            for step, (source, target, name) in enumerate(path):
                at = stage_at + dt.timedelta(days=step * 1.5)
                if at < now:
                    transitions.append(LeadTransition(lead=lead, name=name, source=source, target=target, at=at))
                    final[lead.pk] = (target, at)
    Activity.objects.bulk_create(activities)
    LeadTransition.objects.bulk_create(transitions)
    for lead_id, (stage, at) in final.items():
        Lead.objects.filter(pk=lead_id).update(stage=stage, stage_entered_at=at)
    return list(Lead.objects.order_by("pk"))


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def test_the_dataset_holds_nothing_from_after_each_cutoff_and_labels_by_the_horizon():
    now = timezone.now()
    build_history(300, now=now)
    training, validation = predictive.dataset(now=now, horizon_days=14)
    assert training and validation
    assert max(e.snapshot.at for e in training) + dt.timedelta(days=14) <= min(e.snapshot.at for e in validation)
    sql_at = dict(LeadTransition.objects.filter(target=Stage.SQL).values_list("lead_id", "at"))
    for example in (*training, *validation):
        snap = example.snapshot
        assert all(a.occurred_at <= snap.at for a in snap.facts.activities)
        assert snap.created_at <= snap.at and snap.stage_entered_at <= snap.at
        assert snap.stage in pure.OPEN_FOR["sql"]
        reached = sql_at.get(snap.lead_id)
        assert example.label == (reached is not None and snap.at < reached <= snap.at + dt.timedelta(days=14))


def test_training_on_the_history_finds_the_signal_and_activation_needs_an_admin(admin_user, manager):
    now = timezone.now()
    build_history(900, now=now)
    model = predictive.train(horizon_days=14, now=now)
    assert model.status == PredictiveModel.TRAINED, model.refusal
    assert model.auc > 0.7
    assert model.quality["rule_score_auc"] is not None and len(model.quality["calibration"]) == 10
    with pytest.raises(Refused, match="Only an administrator"):
        predictive_versions.activate(model, by=manager)
    model.refresh_from_db()
    assert not model.is_active
    predictive_versions.activate(model, by=admin_user)
    assert PredictiveModel.active() == model
    scores.rescore_all()
    open_leads = Lead.objects.filter(stage__in=pure.OPEN_FOR["sql"])
    assert not open_leads.filter(prediction__isnull=True).exists()
    assert not Lead.objects.filter(stage=Stage.SQL, prediction__isnull=False).exists()
    lead = open_leads.select_related("prediction").order_by("-prediction__probability").first()
    factors = predictive.explain(lead)
    total = sum(f["points"] for f in factors)
    assert math.isclose(total, 100 * lead.conversion_probability, abs_tol=0.01 * len(factors))
    positive, _negative = predictive.top_factors(factors)
    assert positive and positive[0]["points"] > 0 and positive[0]["label"]
    # The same prediction for one lead as in bulk.
    before = lead.conversion_probability
    LeadPrediction.objects.filter(lead=lead).delete()
    scores.rescore(lead)
    assert lead.conversion_probability == pytest.approx(before, abs=1e-3)


def test_a_model_below_the_quality_floor_is_activated_only_when_confirmed(admin_user, settings):
    settings.PREDICTIVE_MIN_EXAMPLES = 50
    settings.PREDICTIVE_MIN_PER_CLASS = 5
    now = timezone.now()
    build_history(400, now=now, signal=False)
    model = predictive.train(horizon_days=14, now=now)
    assert model.status == PredictiveModel.TRAINED, model.refusal
    settings.PREDICTIVE_QUALITY_FLOOR = max(0.9, model.auc + 0.01)
    with pytest.raises(predictive_versions.ConfirmationNeeded, match="below the quality floor"):
        predictive_versions.activate(model, by=admin_user)
    assert PredictiveModel.active() is None
    predictive_versions.activate(model, by=admin_user, confirm_below_floor=True)
    assert PredictiveModel.active() == model


def test_training_without_history_is_refused_with_a_sentence_and_activates_nothing(admin_user):
    model = predictive.train(horizon_days=14)
    assert model.status == PredictiveModel.REFUSED
    assert "no lead history" in model.refusal
    with pytest.raises(Refused):
        predictive_versions.activate(model, by=admin_user, confirm_below_floor=True)
    assert PredictiveModel.active() is None


def test_training_on_too_little_history_says_how_much_is_missing():
    now = timezone.now()
    build_history(60, now=now)
    model = predictive.train(horizon_days=14, now=now)
    assert model.status == PredictiveModel.REFUSED
    assert "at least 300 are needed" in model.refusal


def test_a_horizon_of_zero_is_refused_and_stores_nothing():
    with pytest.raises(Invalid) as error:
        predictive.train(horizon_days=0)
    assert "horizon_days" in error.value.errors
    assert not PredictiveModel.objects.exists()


def test_without_an_active_model_leads_carry_a_note_instead_of_a_probability():
    lead = build_history(1)[0]
    assert lead.conversion_probability is None
    assert "No predictive model is active" in predictive.note_for(lead)


def _with_probability(lead, probability):
    """A stored prediction (as of now) for list tests."""
    LeadPrediction.objects.update_or_create(lead=lead, defaults={
        "probability": probability, "model_version": 1, "predicted_at": timezone.now(), "stage": lead.stage,
        "stage_entered_at": lead.stage_entered_at})


def hand_made_model(admin):
    """A model with known weights: each pricing view (log count) +1 log-odds, larger companies a little less."""
    model = predictive_versions.store(target="sql", horizon_days=14, quality={"auc": 0.9}, parameters={
        "kind": "logistic_regression", "target": "sql", "horizon_days": 14, "intercept": -1.5,
        "coefficients": {"activity:pricing_view|count": 1.0, "company_size|log": -0.1, "stage|known": 0.2},
        "means": {"activity:pricing_view|count": 0.4, "company_size|log": 4.0, "stage|known": 0.8}})
    return predictive_versions.activate(model, by=admin)


def test_the_api_shows_the_probability_and_its_factors_in_words_or_a_note(manager, admin_user):
    from tests.leads.test_api_leads import token_client

    first, second = build_history(2)
    Lead.objects.filter(pk=first.pk).update(company_size=10)
    Activity.objects.filter(lead=first).delete()
    for days in (2, 5, 9):
        Activity.objects.create(lead=first, kind="pricing_view", occurred_at=timezone.now() - dt.timedelta(days=days))
    client = token_client("manager")
    other = client.get(f"/api/v1/leads/{second.pk}/").json()
    assert other["conversion_probability"] is None and other["probability_factors"] == []
    assert "No predictive model is active" in other["probability_note"]
    hand_made_model(admin_user)
    scores.rescore_many([first.pk])
    body = client.get(f"/api/v1/leads/{first.pk}/").json()
    expected = 1 / (1 + math.exp(-(-1.5 + math.log1p(3) - 0.1 * math.log1p(10) + 0.2)))
    assert body["conversion_probability"] == round(expected, 3)  # stored to 0.1 points
    assert body["probability_note"] == ""
    labels = {item["factor"]: item["label"] for item in body["probability_factors"]}
    assert labels["baseline"] == "average lead"
    assert labels["activity:pricing_view"] == "3 × Pricing page view, the last 2 days ago"
    assert labels["company_size"] == "company size 10"
    assert sum(item["points"] for item in body["probability_factors"]) == pytest.approx(100 * expected, abs=0.05)
    pricing = next(item for item in body["probability_factors"] if item["factor"] == "activity:pricing_view")
    assert pricing["points"] > 0


def test_the_list_sorts_by_probability_with_the_unknown_last_and_filters_by_it(client, manager):
    from tests.leads.test_api_leads import token_client
    from tests.pages import as_user

    low, high, unknown = build_history(3)
    _with_probability(low, 0.1)
    _with_probability(high, 0.7)
    page = as_user(client, manager)
    ids = [lead.pk for lead in page.get("/leads/", {"ordering": "-prediction__probability"}).context["page"]]
    assert ids == [high.pk, low.pk, unknown.pk]
    ids = [lead.pk for lead in page.get("/leads/", {"ordering": "prediction__probability"}).context["page"]]
    assert ids == [low.pk, high.pk, unknown.pk]
    api = token_client("manager")
    ids = [row["id"] for row in api.get("/api/v1/leads/", {"probability_min": "50"}).json()["results"]]
    assert ids == [high.pk]
    ids = [row["id"] for row in api.get("/api/v1/leads/", {"probability_max": "50"}).json()["results"]]
    assert ids == [low.pk]
    bad = api.get("/api/v1/leads/", {"probability_min": "150"})
    assert bad.status_code == 400 and "probability_min" in bad.json()["errors"]


def test_the_lead_page_explains_the_probability_in_words(client, manager, admin_user):
    from tests.pages import as_user, text

    lead = build_history(1)[0]
    Lead.objects.filter(pk=lead.pk).update(company_size=250)
    hand_made_model(admin_user)
    scores.rescore_many([lead.pk])
    page = text(as_user(client, manager).get(f"/leads/{lead.pk}/"))
    probability = LeadPrediction.objects.get(lead=lead).probability
    assert "Conversion probability" in page and f"{round(100 * probability)} %" in page
    assert "company size 250" in page and "Why this probability" in page
    listing = text(as_user(client, manager).get("/leads/", {"ordering": "-prediction__probability"}))
    assert f"{round(100 * probability)} %" in listing


def test_erasure_clears_the_probability_and_rescoring_does_not_bring_it_back(admin_user):
    from privacy import rights

    now = timezone.now()
    build_history(900, now=now)
    model = predictive.train(horizon_days=14, now=now)
    predictive_versions.activate(model, by=admin_user)
    scores.rescore_all()
    lead = Lead.objects.filter(prediction__isnull=False).first()
    rights.erase(lead_id=lead.pk, by=admin_user, reason="Art. 17 request")
    scores.rescore_all()
    assert not LeadPrediction.objects.filter(lead_id=lead.pk).exists()


def test_predicting_wins_on_a_history_without_any_win_is_refused_with_a_sentence():
    now = timezone.now()
    build_history(900, now=now)
    model = predictive.train(horizon_days=14, target="won", now=now)
    assert model.status == PredictiveModel.REFUSED
    assert "none were won within 14 days" in model.refusal and "cannot learn from one outcome" in model.refusal
    with pytest.raises(Invalid) as error:
        predictive.train(horizon_days=14, target="lost")
    assert "target" in error.value.errors

"""Predictive scores on leads: training data cut from a constructed history, activation, stored explanations."""

import datetime as dt
import math
import random

import pytest
from django.utils import timezone

from core.errors import Invalid, Refused
from core.vocabulary import Stage
from leads import predictive, scores
from leads.models import Activity, Lead, LeadTransition
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
    assert not open_leads.filter(conversion_probability__isnull=True).exists()
    assert not Lead.objects.filter(stage=Stage.SQL, conversion_probability__isnull=False).exists()
    lead = open_leads.order_by("-conversion_probability").first()
    assert math.isclose(sum(f["points"] for f in lead.probability_factors), 100 * lead.conversion_probability,
                        abs_tol=0.05 * len(lead.probability_factors))
    positive, _negative = predictive.top_factors(lead)
    assert positive and positive[0]["points"] > 0
    # The same prediction for one lead as in bulk.
    before = lead.conversion_probability
    Lead.objects.filter(pk=lead.pk).update(conversion_probability=None, probability_model_version=None)
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


def _with_probability(lead, probability, factors):
    Lead.objects.filter(pk=lead.pk).update(conversion_probability=probability, probability_factors=factors,
                                           probability_model_version=1)


FACTORS = [{"factor": "baseline", "label": "average lead", "points": 20.0},
           {"factor": "activity:pricing_view", "label": "3 × Pricing page view, the last 2 days ago", "points": 25.0},
           {"factor": "company_size", "label": "company size 10", "points": -5.0}]


def test_the_api_shows_the_probability_and_its_factors_or_a_note(manager):
    from tests.leads.test_api_leads import token_client

    first, second = build_history(2)
    _with_probability(first, 0.4, FACTORS)
    client = token_client("manager")
    body = client.get(f"/api/v1/leads/{first.pk}/").json()
    assert body["conversion_probability"] == 0.4 and body["probability_note"] == ""
    assert body["probability_factors"] == FACTORS
    assert sum(item["points"] for item in body["probability_factors"]) == pytest.approx(40.0)
    other = client.get(f"/api/v1/leads/{second.pk}/").json()
    assert other["conversion_probability"] is None
    assert "No predictive model is active" in other["probability_note"]


def test_the_list_sorts_by_probability_with_the_unknown_last_and_filters_by_it(client, manager):
    from tests.leads.test_api_leads import token_client
    from tests.pages import as_user

    low, high, unknown = build_history(3)
    _with_probability(low, 0.1, FACTORS)
    _with_probability(high, 0.7, FACTORS)
    page = as_user(client, manager)
    ids = [lead.pk for lead in page.get("/leads/", {"ordering": "-conversion_probability"}).context["page"]]
    assert ids == [high.pk, low.pk, unknown.pk]
    ids = [lead.pk for lead in page.get("/leads/", {"ordering": "conversion_probability"}).context["page"]]
    assert ids == [low.pk, high.pk, unknown.pk]
    api = token_client("manager")
    ids = [row["id"] for row in api.get("/api/v1/leads/", {"probability_min": "50"}).json()["results"]]
    assert ids == [high.pk]
    ids = [row["id"] for row in api.get("/api/v1/leads/", {"probability_max": "50"}).json()["results"]]
    assert ids == [low.pk]
    bad = api.get("/api/v1/leads/", {"probability_min": "150"})
    assert bad.status_code == 400 and "probability_min" in bad.json()["errors"]


def test_the_lead_page_explains_the_probability_in_words(client, manager):
    from tests.pages import as_user, text

    lead = build_history(1)[0]
    _with_probability(lead, 0.4, FACTORS)
    page = text(as_user(client, manager).get(f"/leads/{lead.pk}/"))
    assert "Conversion probability" in page and "40 %" in page
    assert "3 × Pricing page view, the last 2 days ago" in page and "+25.0" in page and "-5.0" in page
    listing = text(as_user(client, manager).get("/leads/", {"ordering": "-conversion_probability"}))
    assert "40 %" in listing


def test_erasure_clears_the_probability_and_rescoring_does_not_bring_it_back(admin_user):
    from privacy import rights

    now = timezone.now()
    build_history(900, now=now)
    model = predictive.train(horizon_days=14, now=now)
    predictive_versions.activate(model, by=admin_user)
    scores.rescore_all()
    lead = Lead.objects.filter(conversion_probability__isnull=False).first()
    rights.erase(lead_id=lead.pk, by=admin_user, reason="Art. 17 request")
    scores.rescore_all()
    erased = Lead.objects.get(pk=lead.pk)
    assert erased.conversion_probability is None and erased.probability_factors == []

"""Predictive models in the admin: training on demand, the quality report, activation by an admin only."""

import pytest
from django.urls import reverse

from scoring import predictive_versions
from scoring.models import PredictiveModel
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:scoring_predictivemodel_changelist")
TRAIN = reverse("admin:scoring_predictivemodel_train")

QUALITY = {
    "target": "sql", "horizon_days": 30, "training_examples": 900, "training_positives": 120,
    "validation_examples": 400, "validation_positives": 50, "leads": 700, "auc": 0.81, "base_rate": 0.125,
    "top_decile_lift": 3.1, "brier": 0.09, "rule_score_auc": 0.66, "rule_score_top_decile_lift": 1.9,
    "gradient_boosting_auc": 0.8, "gradient_boosting_note": "",
    "calibration": [{"decile": 1, "leads": 40, "predicted": 0.41, "observed": 0.39}],
}


def stored(auc=0.81):
    return predictive_versions.store(target="sql", horizon_days=30, quality={**QUALITY, "auc": auc},
                                     parameters={"intercept": -1.0, "coefficients": {}, "means": {}, "target": "sql",
                                                 "horizon_days": 30, "kind": "logistic_regression"})


def test_the_change_page_shows_the_quality_report_before_use(admin_client):
    model = stored()
    page = admin_client.get(reverse("admin:scoring_predictivemodel_change", args=[model.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "0.810" in text and "0.660" in text and "3.10x" in text and "41.0%" in text and "39.0%" in text
    assert "Activate this version" in text


def test_train_now_enqueues_a_run_and_a_bad_horizon_is_refused_with_the_field(admin_client, monkeypatch):
    calls = []
    monkeypatch.setattr(predictive_versions, "_trainer", [lambda **kwargs: calls.append(kwargs)])
    bad = admin_client.post(TRAIN, {"horizon_days": "0", "target": "sql"})
    assert bad.status_code == 400 and "at least 1 day" in bad.content.decode()
    assert calls == []
    good = admin_client.post(TRAIN, {"horizon_days": "21", "target": "won"})
    assert good.status_code == 302
    assert calls == [{"horizon_days": 21, "target": "won"}]


def test_training_runs_in_the_background_task_and_stores_a_version(admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # tasks run inline in tests
        admin_client.post(TRAIN, {"horizon_days": "14", "target": "sql"})
    model = PredictiveModel.objects.get()
    assert model.status == PredictiveModel.REFUSED and "no lead history" in model.refusal


def test_activation_below_the_floor_needs_the_confirmation(admin_client, settings):
    settings.PREDICTIVE_QUALITY_FLOOR = 0.7
    model = stored(auc=0.62)
    url = reverse("admin:scoring_predictivemodel_activate", args=[model.pk])
    admin_client.post(url)
    model.refresh_from_db()
    assert not model.is_active
    admin_client.post(url, {"confirm_below_floor": "1"})
    model.refresh_from_db()
    assert model.is_active and model.activated_by is not None


def test_staff_who_are_not_admins_may_not_train_or_activate(client):
    staff = UserFactory(username="staffer", is_staff=True)
    client.force_login(staff)
    model = stored()
    assert client.post(TRAIN, {"horizon_days": "14", "target": "sql"}).status_code == 403
    assert client.post(reverse("admin:scoring_predictivemodel_activate", args=[model.pk])).status_code == 403
    model.refresh_from_db()
    assert not model.is_active

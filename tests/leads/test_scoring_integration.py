"""Scoring wired into leads: capture scores at once, hand-off, versions, rescoring, replay, what-if."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from capture import submissions as capture
from core.vocabulary import Stage
from leads import activities, hooks, scores, tasks
from leads.models import Lead, Notification
from scoring import versioning
from scoring.models import ScoringModel, ScoringRule
from tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_capture_with_a_demo_request_comes_back_as_an_mql_with_a_breakdown(api, marketing):
    api.force_authenticate(marketing)
    response = api.post("/api/v1/capture/", {
        "email": "cfo@maschinenbau-huber.de", "job_title": "Geschäftsführer", "company_size": 250,
        "activity": {"kind": "demo_request"},
    }, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["stage"] == "mql"
    assert response.json()["score"] > 0
    detail = api.get(f"/api/v1/leads/{response.json()['id']}/").json()
    assert detail["score_model_version"] == ScoringModel.active().version
    assert detail["fit_score"] + detail["engagement_score"] == detail["score"]
    rules = {item["rule"] for item in detail["score_breakdown"]}
    assert any("Demo" in rule for rule in rules), rules
    assert detail["temperature"] in {"cold", "warm", "hot"}


def test_one_page_view_does_not_make_an_mql():
    result = capture.submit(channel="api", payload={"email": "a@firma.de", "activity": {"kind": "page_view"}})
    assert result.body["stage"] == "known"
    assert 0 < result.body["score"] < ScoringModel.active().mql_threshold


def test_crossing_the_threshold_through_activity_hands_off_as_the_system():
    lead = LeadFactory(company_size=500, job_title="Head of Sales", industry="Software")
    for days in (1, 3):
        ActivityFactory(lead=lead, kind="download", occurred_at=timezone.now() - dt.timedelta(days=days))
    activity = ActivityFactory(lead=lead, kind="webinar_attended")
    activities.after_activity(lead_id=lead.pk, activity=activity)
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.score >= ScoringModel.active().mql_threshold
    assert lead.stage == Stage.MQL
    assert lead.transitions.get(name="mark_mql").actor is None


def test_falling_below_the_threshold_never_demotes_an_mql():
    lead = LeadFactory(stage=Stage.MQL, score=90)
    scores.rescore(lead)
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.score < 50
    assert lead.stage == Stage.MQL


def test_a_demo_request_alerts_the_owner(sdr):
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    activity = ActivityFactory(lead=lead, kind="demo_request")
    activities.after_activity(lead_id=lead.pk, activity=activity)
    activities.after_activity(lead_id=lead.pk, activity=activity)
    assert list(Notification.objects.filter(kind="hot_intent").values_list("user__username", flat=True)) == ["sdr1"]


def test_a_new_version_changes_new_scores_and_leaves_the_old_one_readable(django_capture_on_commit_callbacks):
    active = ScoringModel.active()
    lead = LeadFactory(company_size=500)
    scores.rescore(lead)
    old_score = Lead.objects.get(pk=lead.pk).score
    draft = versioning.new_draft_from(active)
    ScoringRule.objects.filter(model=draft, field="company_size").update(points=40)
    versioning.activate(draft)

    with django_capture_on_commit_callbacks(execute=True):  # the run's range tasks are enqueued on commit
        tasks.rescore_all(draft.pk)
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.score_model_version == draft.version
    assert lead.score > old_score
    old = ScoringModel.objects.get(pk=active.pk)
    assert (old.is_active, old.rules.get(field="company_size").points) == (False, 10)
    assert ScoringModel.objects.get(pk=draft.pk).rescore_finished_at is not None


def test_activation_enqueues_the_background_rescore(django_capture_on_commit_callbacks):
    lead = LeadFactory(company_size=500)
    draft = versioning.new_draft_from(ScoringModel.active())
    with django_capture_on_commit_callbacks(execute=True):
        versioning.activate(draft)
    assert Lead.objects.get(pk=lead.pk).score_model_version == draft.version


def test_replay_as_of_any_past_time_equals_what_was_stored_then():
    lead = LeadFactory(company_size=60)
    start = timezone.now() - dt.timedelta(days=20)
    stored = []
    for day, kind in enumerate(["page_view", "pricing_view", "download", "pricing_view", "email_click"]):
        moment = start + dt.timedelta(days=day * 3)
        ActivityFactory(lead=lead, kind=kind, occurred_at=moment)
        with time_machine.travel(moment + dt.timedelta(hours=1), tick=False):
            scores.rescore(lead)
            stored.append((timezone.now(), Lead.objects.get(pk=lead.pk).score))
    for moment, score in stored:
        assert scores.replay(lead.pk, at=moment).score == score


def test_bulk_rescore_matches_single_rescore():
    leads = [LeadFactory(company_size=size) for size in (10, 80, 400)]
    for lead in leads:
        ActivityFactory(lead=lead, kind="pricing_view", occurred_at=timezone.now() - dt.timedelta(days=2))
    at = timezone.now()
    assert scores.rescore_all(at=at, batch=2) == 3
    for lead in leads:
        stored = Lead.objects.get(pk=lead.pk)
        expected = scores.evaluate(lead.pk, spec=ScoringModel.active_spec(), at=at)
        assert (stored.score, stored.fit_score, stored.engagement_score) == (
            expected.score, expected.fit, expected.engagement)
        assert stored.score_breakdown == expected.breakdown_as_list()


def test_what_if_counts_on_constructed_data():
    active = ScoringModel.active()
    small, big = LeadFactory(company_size=10), LeadFactory(company_size=500)
    ActivityFactory(lead=big, kind="demo_request")
    ActivityFactory(lead=small, kind="demo_request")
    scores.rescore_all()
    draft = versioning.new_draft_from(active)
    ScoringRule.objects.filter(model=draft, field="company_size").update(points=30)
    counts = scores.what_if(draft.to_spec())
    assert counts["leads"] == 2
    before = {lead.pk: Lead.objects.get(pk=lead.pk).score for lead in (small, big)}
    assert before[big.pk] < active.mql_threshold <= before[big.pk] + 20
    assert counts["newly_reaching"] == 1
    assert counts["would_fall_below"] == 0
    rows = dict(hooks.what_if_rows(draft.to_spec()))
    assert 1 in rows.values()


def test_rule_review_counts_fired_leads_and_their_conversion_with_and_without(admin_user, client):
    from core.vocabulary import Stage

    version = ScoringModel.active().version
    big_stages = (Stage.SQL, Stage.CUSTOMER, Stage.KNOWN, Stage.KNOWN)
    big = [LeadFactory(company_size=500, stage=stage) for stage in big_stages]
    small = [LeadFactory(company_size=5, stage=stage) for stage in (Stage.SQL, Stage.KNOWN, Stage.KNOWN, Stage.KNOWN)]
    scores.rescore_all()
    rows = {row["rule"]: row for row in scores.rule_review(version)}
    size = rows["Company size 50 or more"]
    assert size["fired"] == len(big) == 4
    assert (size["sql_with"], size["sql_without"], size["lift_sql"]) == (0.5, 0.25, 2.0)
    assert (size["won_with"], size["won_without"], size["lift_won"]) == (0.25, 0.0, None)
    assert len(small) == 4
    client.force_login(admin_user)
    page = client.get(f"/admin/scoring/scoringmodel/{ScoringModel.active().pk}/change/").content.decode()
    assert "Company size 50 or more" in page and "2.00x" in page

"""Bulk rescoring: the narrow score rows, writing only changed lead rows, newer scores kept, busy rows retried,
runs in slices under the task timeout, the worker command, and the single-lead path the capture uses."""

import datetime as dt
import io
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone
from django_q.conf import Conf

from leads import scores, tasks
from leads.models import Campaign, Lead, LeadScore
from scoring import policy, versioning
from scoring.models import ScoringModel, ScoringRule
from tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db


def _ctid(lead_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT ctid::text FROM leads_lead WHERE id = %s", [lead_id])
        return cursor.fetchone()[0]


def _leads_with_activity():
    now = timezone.now()
    hot = LeadFactory(company_size=500, job_title="Head of Sales", industry="Software")
    for days, kind in ((1, "pricing_view"), (2, "download"), (40, "webinar_attended"), (3, "email_open")):
        ActivityFactory(lead=hot, kind=kind, occurred_at=now - dt.timedelta(days=days))
    free = LeadFactory(email="someone@gmail.com", email_normalized="someone@gmail.com")
    ActivityFactory(lead=free, kind="page_view", occurred_at=now - dt.timedelta(hours=5))
    quiet = LeadFactory()
    return hot, free, quiet


def test_rescore_many_stores_what_evaluate_computes():
    leads = _leads_with_activity()
    spec, at = ScoringModel.active_spec(), timezone.now()

    assert scores.rescore_many([lead.pk for lead in leads], spec=spec, at=at) == 3

    for lead in leads:
        expected = scores.evaluate(lead.pk, spec=spec, at=at)
        stored = Lead.objects.select_related("score_details").get(pk=lead.pk)
        assert (stored.score, stored.fit_score, stored.engagement_score, stored.temperature) == (
            expected.score, expected.fit, expected.engagement, expected.temperature)
        assert stored.score_breakdown == expected.breakdown_as_list()
        assert (stored.score_model_version, stored.scored_at) == (spec.version, at)
        assert scores.replay(lead.pk, at=at).score == stored.score


def test_rescore_many_writes_nothing_for_unknown_leads():
    assert scores.rescore_many([987654321, 987654322]) == 0
    assert not LeadScore.objects.exists()


def test_rescore_many_refuses_ids_that_are_not_numbers_and_writes_nothing():
    lead = LeadFactory()
    with pytest.raises(ValueError):
        scores.rescore_many([lead.pk, "lead-7"])
    assert not LeadScore.objects.filter(lead=lead).exists()


def test_a_lead_row_is_rewritten_only_when_its_score_changes():
    hot, _free, quiet = _leads_with_activity()
    at = timezone.now()
    scores.rescore_many([hot.pk, quiet.pk], at=at)
    before = {lead.pk: _ctid(lead.pk) for lead in (hot, quiet)}
    ActivityFactory(lead=hot, kind="demo_request", occurred_at=at + dt.timedelta(minutes=1))

    scores.rescore_many([hot.pk, quiet.pk], at=at + dt.timedelta(minutes=2))

    assert _ctid(quiet.pk) == before[quiet.pk]  # same values: the wide row was not touched
    assert _ctid(hot.pk) != before[hot.pk]
    assert LeadScore.objects.get(lead=quiet).scored_at == at + dt.timedelta(minutes=2)  # the narrow row was


def test_a_lead_scored_after_the_runs_moment_keeps_its_newer_score():
    hot, _free, _quiet = _leads_with_activity()
    run_at = timezone.now()
    ActivityFactory(lead=hot, kind="demo_request", occurred_at=run_at + dt.timedelta(seconds=1))
    newer = scores.rescore(hot, at=run_at + dt.timedelta(seconds=2))  # a capture while the run goes on

    scores.rescore_all(at=run_at)

    stored = Lead.objects.get(pk=hot.pk)
    assert stored.score == newer.score
    assert stored.scored_at == run_at + dt.timedelta(seconds=2)
    assert scores.evaluate(hot.pk, spec=ScoringModel.active_spec(), at=run_at).score != newer.score


def test_rescore_all_twice_gives_the_same_scores():
    leads = _leads_with_activity()
    at = timezone.now()
    assert scores.rescore_all(at=at, batch=2) == 3
    first = list(Lead.objects.order_by("pk").values_list("pk", "score", "temperature", "score_details__breakdown"))
    assert scores.rescore_all(at=at, batch=2) == 3
    again = list(Lead.objects.order_by("pk").values_list("pk", "score", "temperature", "score_details__breakdown"))
    assert again == first and len(first) == len(leads)


def test_a_capture_scored_by_the_previous_version_during_the_run_is_rescored_with_the_new_one():
    hot, _free, _quiet = _leads_with_activity()
    old_spec = ScoringModel.active_spec()
    draft = versioning.new_draft_from(ScoringModel.active())
    ScoringRule.objects.filter(model=draft, activity_kind="pricing_view").update(points=30)
    new = versioning.activate(draft)
    run_at = timezone.now() - dt.timedelta(minutes=1)
    scores.rescore(hot, spec=old_spec)  # a capture that began before the activation, done after the run's `at`

    scores.rescore_all(spec=new.to_spec(), at=run_at)

    assert Lead.objects.get(pk=hot.pk).score_model_version == new.version


def test_the_task_works_in_slices_and_shows_progress(monkeypatch):
    leads = _leads_with_activity() + tuple(LeadFactory() for _ in range(4))
    monkeypatch.setattr(scores, "BATCH", 2)
    monkeypatch.setattr(tasks, "RESCORE_BUDGET", 0)  # one batch per run, then a continuation
    monkeypatch.setattr(Conf, "SYNC", True)
    model = ScoringModel.active()

    tasks.rescore_all(model.pk)

    model.refresh_from_db()
    assert model.rescore_done == model.rescore_total == len(leads)
    assert model.rescore_finished_at is not None
    assert LeadScore.objects.filter(model_version=model.version).count() == len(leads)


def test_the_task_does_nothing_for_a_retired_model():
    lead = LeadFactory()
    retired = versioning.new_draft_from(ScoringModel.active())  # a draft is not active either
    assert tasks.rescore_all(retired.pk) == 0
    assert not LeadScore.objects.filter(lead=lead).exists()


def test_the_worker_command_rescores_its_range_and_reports_where_it_got():
    leads = sorted(_leads_with_activity(), key=lambda lead: lead.pk)
    version = ScoringModel.active().version
    out = io.StringIO()

    call_command("rescore_leads", model_version=version, after_id=leads[0].pk, last_id=leads[-1].pk, stdout=out)

    assert out.getvalue().split() == ["2", str(leads[-1].pk), str(leads[-1].pk)]
    assert set(LeadScore.objects.values_list("lead_id", flat=True)) == {leads[1].pk, leads[2].pk}


@pytest.mark.parametrize("options, message", [
    ({"model_version": 999, "after_id": 0, "last_id": 10}, "no scoring model version 999"),
    ({"after_id": 10, "last_id": 0}, "at most --last-id"),
    ({"after_id": 0, "last_id": 10, "at": "yesterday"}, "--at"),
    ({"after_id": 0, "last_id": 10, "at": "2026-11-22T02:30:00"}, "time zone"),
    ({"after_id": 0, "last_id": 10, "database_name": "some_other_db"}, "not some_other_db"),
])
def test_the_worker_command_refuses_bad_input_and_writes_nothing(options, message):
    lead = LeadFactory()
    options = {"model_version": ScoringModel.active().version, **options}
    with pytest.raises(CommandError, match=message):
        call_command("rescore_leads", **options)
    assert not LeadScore.objects.filter(lead=lead).exists()


def test_rescore_with_the_activities_given_reads_nothing(django_assert_num_queries):
    spec, at = ScoringModel.active_spec(), timezone.now()
    lead = LeadFactory(company_size=500, job_title="CEO")
    activity = ActivityFactory(lead=lead, kind="demo_request", occurred_at=at)

    with django_assert_num_queries(1):  # one statement: the lead row (when it changes) and its score row
        result = scores.rescore(lead, spec=spec, at=at,
                                activities=[policy.ActivityFact(activity.kind, activity.occurred_at, "")])

    assert result == scores.evaluate(lead.pk, spec=spec, at=at)
    assert Lead.objects.get(pk=lead.pk).score == result.score == lead.score
    assert lead.score_model_version == spec.version and lead.scored_at == at


def test_rescore_of_a_lead_that_does_not_exist_raises_and_writes_nothing():
    with pytest.raises(Lead.DoesNotExist):
        scores.rescore(Lead(pk=987654321))
    assert not LeadScore.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_lead_held_by_another_transaction_is_skipped_then_stored_once_free(monkeypatch):
    spec = policy.ModelSpec(version=1, mql_threshold=50, warm_from=5, hot_from=50, rules=(
        policy.RuleSpec(id=None, name="CEO", group="fit", points=10, field="job_title", operator="contains",
                        value=["CEO"]),))
    monkeypatch.setattr(scores, "LOCK_RETRIES", 1)
    lead = LeadFactory(job_title="CEO")
    locked, release = threading.Event(), threading.Event()

    def hold():
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute("SELECT id FROM leads_lead WHERE id = %s FOR UPDATE", [lead.pk])
                locked.set()
                release.wait(10)
                cursor.execute("ROLLBACK")
        finally:
            other.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        assert scores.rescore_many([lead.pk], spec=spec) == 0  # skipped, not waited for
        assert Lead.objects.get(pk=lead.pk).score == 0
        assert not LeadScore.objects.filter(lead=lead).exists()
    finally:
        release.set()
        holder.join()
    assert scores.rescore_many([lead.pk], spec=spec) == 1
    assert Lead.objects.get(pk=lead.pk).score == 10


def test_rescore_with_the_activities_given_reads_the_campaign_only_when_not_loaded(django_assert_num_queries):
    spec, at = ScoringModel.active_spec(), timezone.now()
    campaign = Campaign.objects.create(slug="messe-2026", name="Messe 2026")
    lead = Lead.objects.get(pk=LeadFactory(campaign=campaign).pk)  # campaign not loaded with it

    with django_assert_num_queries(2):  # the campaign's slug, then the one write
        result = scores.rescore(lead, spec=spec, at=at, activities=[])

    assert result == scores.evaluate(lead.pk, spec=spec, at=at)


def test_a_capture_committed_between_reading_and_writing_a_batch_keeps_its_score_and_breakdown_together():
    hot, _free, _quiet = _leads_with_activity()
    spec, run_at = ScoringModel.active_spec(), timezone.now()
    rows, activities = scores._read("WHERE l.id = ANY(%(ids)s) ORDER BY l.id", "a.lead_id = ANY(%(ids)s)",
                                    {"ids": [hot.pk]}, spec, run_at)
    scored = scores._score_rows(rows, activities, spec, run_at, {})
    ActivityFactory(lead=hot, kind="demo_request", occurred_at=run_at - dt.timedelta(seconds=2))
    capture = scores.rescore(hot, spec=spec, at=run_at - dt.timedelta(seconds=1))  # began before the run

    scores._store(scored, spec, run_at)

    stored = Lead.objects.select_related("score_details").get(pk=hot.pk)
    assert stored.score == capture.score != scored[0][1].score
    assert stored.score_breakdown == capture.breakdown_as_list()

"""Bulk rescoring: the narrow score rows, writing only changed lead rows, newer scores kept, busy rows retried;
the background run fanned out into one task per id range (slices under the task timeout, redelivery, the
final step once, bad task input); the operator command; and the single-lead path the capture uses."""

import datetime as dt
import io
import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Task

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


def _small_slices(monkeypatch, settings):
    """Each task rescores one batch of 1 lead, then enqueues itself for the rest of its range: batches of 1,
    django-q's timeout 0.3 ms (a task budget of 0.2 ms, which one batch always exceeds) and a rate of 25,000
    leads a second (4 to 5 leads fit the budget: 8 leads make 2 ranges, one per worker)."""
    monkeypatch.setattr(scores, "BATCH", 1)
    monkeypatch.setattr(tasks, "WORST_LEADS_PER_SECOND", 25_000)
    monkeypatch.setattr(Conf, "SYNC", True)
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 0.0003, "workers": 2}


def _stored_scores():
    return list(Lead.objects.order_by("pk").values_list(
        "pk", "score", "fit_score", "engagement_score", "temperature", "score_details__breakdown",
        "score_details__model_version", "score_details__scored_at"))


def _range_tasks():
    """(after_id, last_id, part) of every rescore_range task that ran (django-q stores each result)."""
    return [tuple(task.args[2:5]) for task in Task.objects.filter(func="leads.tasks.rescore_range")]


def test_the_task_works_in_slices_and_shows_progress(monkeypatch, settings, django_capture_on_commit_callbacks):
    leads = _leads_with_activity() + tuple(LeadFactory() for _ in range(4))
    _small_slices(monkeypatch, settings)
    model = ScoringModel.active()

    with django_capture_on_commit_callbacks(execute=True):
        tasks.rescore_all(model.pk)

    model.refresh_from_db()
    assert model.rescore_done == model.rescore_total == len(leads)
    assert model.rescore_finished_at is not None
    assert LeadScore.objects.filter(model_version=model.version).count() == len(leads)


def test_the_run_fans_out_into_range_tasks_that_each_rescore_their_own_range(
        monkeypatch, settings, django_capture_on_commit_callbacks):
    leads = sorted(_leads_with_activity() + tuple(LeadFactory() for _ in range(5)), key=lambda lead: lead.pk)
    _small_slices(monkeypatch, settings)
    model = ScoringModel.active()

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.rescore_all(model.pk) == 2  # 8 leads, 4 to 5 per range, a multiple of the 2 workers

    ran = _range_tasks()
    starts = {part: min((after, last) for after, last, p in ran if p == part) for _a, _l, part in ran}
    assert starts == {0: (leads[0].pk - 1, leads[3].pk), 1: (leads[3].pk, leads[-1].pk)}  # first deliveries
    assert len(ran) == len(leads)  # one lead per task: each range's first task and three continuations
    assert len({task.args[1] for task in Task.objects.filter(func="leads.tasks.rescore_range")}) == 1
    model.refresh_from_db()
    assert (model.rescore_done, model.rescore_parts_left) == (len(leads), [])
    at = model.rescore_started_at
    for lead in leads:
        expected = scores.evaluate(lead.pk, spec=model.to_spec(), at=at)
        stored = Lead.objects.select_related("score_details").get(pk=lead.pk)
        assert (stored.score, stored.fit_score, stored.engagement_score, stored.temperature) == (
            expected.score, expected.fit, expected.engagement, expected.temperature)
        assert stored.score_breakdown == expected.breakdown_as_list()
        assert (stored.score_model_version, stored.scored_at) == (model.version, at)


def test_the_fan_out_stores_the_same_scores_as_rescoring_in_the_foreground(
        monkeypatch, settings, django_capture_on_commit_callbacks):
    _leads_with_activity()
    for size in (5, 60, 900, None):
        LeadFactory(company_size=size)
    _small_slices(monkeypatch, settings)
    model = ScoringModel.active()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.rescore_all(model.pk)
    fanned_out = _stored_scores()
    at = ScoringModel.objects.get(pk=model.pk).rescore_started_at
    LeadScore.objects.all().delete()
    Lead.objects.update(score=0, fit_score=0, engagement_score=0, temperature="cold")

    assert scores.rescore_all(spec=model.to_spec(), at=at) == len(fanned_out)

    assert _stored_scores() == fanned_out
    assert any(row[1] for row in fanned_out)  # not all zero: the comparison means something


def _count_final_steps(monkeypatch) -> list:
    calls = []
    final_step = scores.rescore_other_versions

    def counted(**kwargs):
        calls.append(kwargs["at"])
        return final_step(**kwargs)

    monkeypatch.setattr(scores, "rescore_other_versions", counted)
    return calls


def test_a_redelivered_range_task_recomputes_and_the_final_step_runs_once(
        monkeypatch, settings, django_capture_on_commit_callbacks):
    leads = sorted(_leads_with_activity() + tuple(LeadFactory() for _ in range(3)), key=lambda lead: lead.pk)
    _small_slices(monkeypatch, settings)
    final_steps = _count_final_steps(monkeypatch)
    model = ScoringModel.active()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.rescore_all(model.pk)
    first_delivery = min((task for task in Task.objects.filter(func="leads.tasks.rescore_range")
                          if task.args[4] == 0), key=lambda task: task.args[2])  # part 0, its whole range
    model.refresh_from_db()
    finished, stored = model.rescore_finished_at, _stored_scores()
    assert final_steps == [model.rescore_started_at]

    with django_capture_on_commit_callbacks(execute=True):
        again = tasks.rescore_range(*first_delivery.args)  # the queue delivers it again

    assert again == 1  # it recomputed its first batch (and enqueued the rest of its range again)
    assert _stored_scores() == stored
    model.refresh_from_db()
    assert (model.rescore_done, model.rescore_total) == (len(leads), len(leads))  # counted again, capped
    assert model.rescore_finished_at == finished
    assert final_steps == [model.rescore_started_at]  # its range was finished already: no second final step


def test_an_interrupted_range_task_is_completed_by_its_redelivery(
        monkeypatch, settings, django_capture_on_commit_callbacks):
    leads = _leads_with_activity() + tuple(LeadFactory() for _ in range(5))
    _small_slices(monkeypatch, settings)
    final_steps = _count_final_steps(monkeypatch)
    model = ScoringModel.active()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        tasks.rescore_all(model.pk)
    model.refresh_from_db()
    after_id, last_id = scores.id_ranges(per_range=4, workers=2)[1][0]
    # The first range's worker died after one batch: its writes committed, no continuation was enqueued.
    scores.rescore_range(spec=model.to_spec(), at=model.rescore_started_at, after_id=after_id, last_id=last_id,
                         budget=0, on_batch=lambda count: versioning.add_rescored(model.pk, count,
                                                                                   at=model.rescore_started_at))
    assert ScoringModel.objects.get(pk=model.pk).rescore_finished_at is None

    with django_capture_on_commit_callbacks(execute=True):
        for task in queued:  # the queue delivers every range task, the interrupted one again
            task()

    model.refresh_from_db()
    assert model.rescore_finished_at is not None and model.rescore_parts_left == []
    assert model.rescore_done == model.rescore_total == len(leads)
    assert LeadScore.objects.filter(model_version=model.version, scored_at=model.rescore_started_at).count() == len(
        leads)
    assert final_steps == [model.rescore_started_at]


def test_the_final_step_rescores_leads_a_capture_scored_with_the_previous_version(
        monkeypatch, settings, django_capture_on_commit_callbacks):
    hot, _free, _quiet = _leads_with_activity()
    _small_slices(monkeypatch, settings)
    old_spec = ScoringModel.active_spec()
    draft = versioning.new_draft_from(ScoringModel.active())
    ScoringRule.objects.filter(model=draft, activity_kind="pricing_view").update(points=30)
    new = versioning.activate(draft)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        tasks.rescore_all(new.pk)
    scores.rescore(hot, spec=old_spec)  # a capture that began before the activation, done after the run's `at`

    with django_capture_on_commit_callbacks(execute=True):
        for task in queued:
            task()

    assert Lead.objects.get(pk=hot.pk).score_model_version == new.version


@pytest.mark.django_db(transaction=True)
def test_when_the_last_two_ranges_finish_at_once_exactly_one_runs_the_final_step():
    model = ScoringModel.active()
    at = timezone.now()
    versioning.start_rescore(model.pk, total=10, at=at, parts=2)
    first_claimed, results = threading.Event(), {}

    def finish(part, wait_before=None, hold=0.0):
        try:
            if wait_before is not None:
                assert wait_before.wait(10)
            with transaction.atomic():
                results[part] = versioning.finish_part(model.pk, at=at, part=part)
                if part == 0:
                    first_claimed.set()
                time.sleep(hold)  # the final step would run here, holding the claim
        finally:
            connection.close()

    first = threading.Thread(target=finish, args=(0, None, 0.5))
    second = threading.Thread(target=finish, args=(1, first_claimed))
    first.start()
    second.start()
    first.join()
    second.join()

    assert results == {0: False, 1: True}  # the second waited for the first's claim, then saw no part left
    assert ScoringModel.objects.get(pk=model.pk).rescore_parts_left == []
    assert versioning.finish_part(model.pk, at=at, part=1) is False  # a part finished twice: not again


def test_the_last_range_of_a_model_retired_meanwhile_does_not_run_the_final_step():
    model = ScoringModel.active()
    at = timezone.now()
    versioning.start_rescore(model.pk, total=1, at=at, parts=1)
    versioning.activate(versioning.new_draft_from(model))  # retires `model`

    assert versioning.finish_part(model.pk, at=at, part=0) is False  # it would rescore v2's leads with v1
    model.refresh_from_db()
    assert (model.rescore_parts_left, model.rescore_finished_at) == ([0], None)


def test_a_range_task_of_a_superseded_run_does_nothing(monkeypatch, settings, django_capture_on_commit_callbacks):
    leads = _leads_with_activity()
    _small_slices(monkeypatch, settings)
    model = ScoringModel.active()
    with django_capture_on_commit_callbacks(execute=False) as earlier:
        tasks.rescore_all(model.pk)
    with django_capture_on_commit_callbacks(execute=False) as later:
        tasks.rescore_all(model.pk)  # e.g. the nightly run started while the run after activation was queued

    with django_capture_on_commit_callbacks(execute=True):
        for task in earlier:
            task()

    assert not LeadScore.objects.exists()
    model.refresh_from_db()
    assert (model.rescore_done, model.rescore_finished_at) == (0, None)
    with django_capture_on_commit_callbacks(execute=True):
        for task in later:
            task()
    model.refresh_from_db()
    assert model.rescore_done == len(leads) and model.rescore_finished_at is not None


def test_the_task_does_nothing_for_a_retired_model():
    lead = LeadFactory()
    retired = versioning.new_draft_from(ScoringModel.active())  # a draft is not active either
    assert tasks.rescore_all(retired.pk) == 0
    assert not LeadScore.objects.filter(lead=lead).exists()


def test_the_tasks_do_nothing_for_a_model_that_does_not_exist(django_capture_on_commit_callbacks):
    lead = LeadFactory()
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert tasks.rescore_all(987654321) == 0
        assert tasks.rescore_range(987654321, timezone.now().isoformat(), 0, lead.pk, 0) == 0
    assert queued == []
    assert not LeadScore.objects.exists()
    assert ScoringModel.objects.get(is_active=True).rescore_started_at is None


def test_a_range_task_refuses_a_time_that_is_not_one_and_writes_nothing():
    lead = LeadFactory()
    model = ScoringModel.active()
    for at in ("yesterday", "2026-11-22T02:30:00"):
        with pytest.raises(ValueError):
            tasks.rescore_range(model.pk, at, 0, lead.pk, 0)
    assert not LeadScore.objects.exists()


def test_an_empty_range_finishes_its_part_and_an_unknown_part_changes_nothing(django_capture_on_commit_callbacks):
    lead = LeadFactory()
    model = ScoringModel.active()
    at = timezone.now()
    versioning.start_rescore(model.pk, total=1, at=at, parts=2)

    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert tasks.rescore_range(model.pk, at.isoformat(), lead.pk + 10, lead.pk + 10, 0) == 0
        assert tasks.rescore_range(model.pk, at.isoformat(), lead.pk + 20, lead.pk + 10, 1) == 0  # reversed: empty
        assert tasks.rescore_range(model.pk, at.isoformat(), 0, lead.pk, 7) == 1  # no such part: rescored, no claim

    assert queued == []
    model.refresh_from_db()
    assert model.rescore_parts_left == [] and model.rescore_finished_at is not None
    assert list(LeadScore.objects.values_list("lead_id", flat=True)) == [lead.pk]


def test_a_run_over_no_leads_enqueues_nothing_and_shows_finished(django_capture_on_commit_callbacks):
    model = ScoringModel.active()
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert tasks.rescore_all(model.pk) == 0
    assert queued == []
    model.refresh_from_db()
    assert (model.rescore_total, model.rescore_done, model.rescore_parts_left) == (0, 0, [])
    assert model.rescore_finished_at is not None


def test_activation_enqueues_the_run_only_when_the_activation_commits(django_capture_on_commit_callbacks):
    LeadFactory()
    draft = versioning.new_draft_from(ScoringModel.active())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        versioning.activate(draft)
    assert not Task.objects.exists() and not LeadScore.objects.exists()
    assert len(callbacks) == 1


def test_the_task_budget_is_a_share_of_the_queue_timeout(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 90}
    assert tasks.rescore_budget() == 60


def test_the_ranges_cover_every_lead_once_in_a_multiple_of_the_workers(monkeypatch):
    leads = sorted((LeadFactory() for _ in range(7)), key=lambda lead: lead.pk)
    monkeypatch.setattr(scores, "BATCH", 2)

    total, ranges = scores.id_ranges(per_range=2, workers=3)

    assert total == 7
    assert len(ranges) % 3 == 0 and len(ranges) >= 4
    assert ranges[0][0] == leads[0].pk - 1 and ranges[-1][1] == leads[-1].pk
    assert all(ranges[i][1] == ranges[i + 1][0] for i in range(len(ranges) - 1))
    for lead in leads:
        assert sum(after < lead.pk <= last for after, last in ranges) == 1
    assert all(sum(after < lead.pk <= last for lead in leads) <= 2 for after, last in ranges)


def test_a_small_run_is_one_range_and_a_big_one_a_range_per_budget():
    leads = sorted((LeadFactory() for _ in range(3)), key=lambda lead: lead.pk)
    assert scores.id_ranges(per_range=60_000, workers=2) == (3, [(leads[0].pk - 1, leads[-1].pk)])
    assert scores.id_ranges(per_range=1, workers=1)[1] == [(lead.pk - 1, lead.pk) for lead in leads]


def test_the_command_rescores_an_id_range_in_the_foreground():
    leads = sorted(_leads_with_activity(), key=lambda lead: lead.pk)
    version = ScoringModel.active().version
    out = io.StringIO()

    call_command("rescore_leads", model_version=version, after_id=leads[0].pk, last_id=leads[-1].pk,
                 at="2026-11-22T02:30:00+00:00", stdout=out)

    assert out.getvalue().strip() == (f"2 leads rescored with version {version} as of 2026-11-22T02:30:00+00:00 "
                                      f"(ids above {leads[0].pk} up to {leads[-1].pk}).")
    assert set(LeadScore.objects.values_list("lead_id", flat=True)) == {leads[1].pk, leads[2].pk}


def test_the_command_rescores_every_lead_with_the_active_model():
    leads = _leads_with_activity()
    model = ScoringModel.active()
    out = io.StringIO()

    call_command("rescore_leads", stdout=out)

    assert out.getvalue().startswith(f"3 leads rescored with version {model.version} as of ")
    assert set(LeadScore.objects.filter(model_version=model.version).values_list("lead_id", flat=True)) == {
        lead.pk for lead in leads}
    assert ScoringModel.objects.get(pk=model.pk).rescore_started_at is None  # the foreground shows no progress


@pytest.mark.parametrize("options, message", [
    ({"model_version": 999, "after_id": 0, "last_id": 10}, "no scoring model version 999"),
    ({"after_id": 10, "last_id": 0}, "at most --last-id"),
    ({"after_id": 0, "last_id": 10, "at": "yesterday"}, "--at"),
    ({"after_id": 0, "last_id": 10, "at": "2026-11-22T02:30:00"}, "time zone"),
    ({"after_id": 0, "last_id": 10, "database_name": "some_other_db"}, "not some_other_db"),
    ({"batch": 0}, "--batch must be at least 1"),
])
def test_the_command_refuses_bad_input_and_writes_nothing(options, message):
    lead = LeadFactory()
    options = {"model_version": ScoringModel.active().version, **options}
    with pytest.raises(CommandError, match=message):
        call_command("rescore_leads", **options)
    assert not LeadScore.objects.filter(lead=lead).exists()


def test_the_command_refuses_to_run_without_an_active_model_and_writes_nothing():
    lead = LeadFactory()
    ScoringModel.objects.update(is_active=False, status="retired")
    with pytest.raises(CommandError, match="no active scoring model"):
        call_command("rescore_leads")
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
    rows, activities = scores._read(scores.LEADS_BY_IDS_SQL, "ids", {"ids": [hot.pk]}, spec, run_at)
    scored = scores._score_rows(rows, activities, spec, run_at, {})
    ActivityFactory(lead=hot, kind="demo_request", occurred_at=run_at - dt.timedelta(seconds=2))
    capture = scores.rescore(hot, spec=spec, at=run_at - dt.timedelta(seconds=1))  # began before the run

    scores._store(scored, spec, run_at)

    stored = Lead.objects.select_related("score_details").get(pk=hot.pk)
    assert stored.score == capture.score != scored[0][1].score
    assert stored.score_breakdown == capture.breakdown_as_list()

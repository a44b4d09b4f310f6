"""The sweep: breaches and escalation steps, each exactly once, also when run twice, concurrently, after a
crash and after an outage. And the done criterion of issue 5."""

import datetime as dt
import threading

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_q.models import Schedule

from capture import submissions as capture
from core.vocabulary import Role, Stage
from leads import clocks as sla_clocks
from leads import lifecycle, tasks
from leads.models import JobRun, Lead, LeadTransition, Notification, SlaClock, SlaEscalation
from leads.sla import escalation, health
from leads.sla import sweep as sla_sweep
from outbox import events as outbox_events
from routing.models import EscalationStep
from tests.factories import LeadFactory, UserFactory
from tests.sla_helpers import (
    ACCEPT,
    SAL,
    berlin,
    clock_of,
    make_team,
    munich_business_hours,
    only_policies,
    policy,
)

MINUTE = dt.timedelta(minutes=1)


def hot_capture(number=1):
    body = capture.submit(channel="api", payload={
        "email": f"buyer{number}@kunde{number}.de", "activity": {"kind": "demo_request"}}).body
    return Lead.objects.get(pk=body["id"])


def sweep_at(moment, times=1):
    with time_machine.travel(moment, tick=False):
        return [sla_sweep.run() for _ in range(times)]


def notes(kind, lead=None):
    found = Notification.objects.filter(kind=kind)
    if lead is not None:
        found = found.filter(lead=lead)
    return list(found.select_related("user").order_by("id"))


def escalations(clock):
    return list(SlaEscalation.objects.filter(clock=clock).order_by("step").values_list("step", "action"))


# --- the done criterion ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("friday, due", [
    (berlin(2026, 6, 12, 16, 50), berlin(2026, 6, 15, 12, 50)),  # an ordinary weekend
    (berlin(2026, 5, 22, 16, 50), berlin(2026, 5, 26, 12, 50)),  # Whit Monday is a holiday in Bavaria
], ids=["ordinary-friday", "friday-before-whit-monday"])
def test_an_mql_assigned_friday_1650_in_munich_is_warned_at_1250_and_reassigned_later_once_each(friday, due):
    munich_business_hours()  # 9-17 Mon-Fri, Europe/Berlin, Bavarian holidays
    only_policies(ACCEPT)  # accept within 4 business hours: warn at due, manager +2 h, reassign +4 h
    manager = UserFactory(username="manager", role=Role.MANAGER)
    _team, (sdr1, sdr2) = make_team(manager=manager)

    with time_machine.travel(friday, tick=False):
        lead = hot_capture()
    assert lead.owner == sdr1
    clock = clock_of(lead, ACCEPT)
    assert clock.due_at == due

    sweep_at(due - MINUTE, times=2)
    assert notes("sla_warning") == [] and SlaEscalation.objects.count() == 0

    sweep_at(due, times=2)
    warnings = notes("sla_warning", lead)
    assert [(n.user, n.lead) for n in warnings] == [(sdr1, lead)]
    assert escalations(clock) == [(1, "warn_owner")]

    sweep_at(due + dt.timedelta(hours=2), times=2)
    assert [n.user for n in notes("sla_escalation", lead)] == [manager]

    sweep_at(due + dt.timedelta(hours=4) - MINUTE)
    assert Lead.objects.get(pk=lead.pk).owner == sdr1

    sweep_at(due + dt.timedelta(hours=4), times=2)
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.owner == sdr2
    assert escalations(clock) == [(1, "warn_owner"), (2, "notify_manager"), (3, "reassign")]
    reassigned = LeadTransition.objects.filter(lead=lead, name="assign").order_by("at")
    assert [(t.data["from_owner"], t.data["to_owner"]) for t in reassigned] == [(None, "sdr1"), ("sdr1", "sdr2")]
    assert "missed" in reassigned.last().reason and reassigned.last().actor is None
    assert [n.user for n in notes("sla_warning")] == [sdr1]  # still once each
    assert [n.user for n in notes("sla_escalation")] == [manager]
    assert [n.user for n in notes("reassigned", lead)] == [sdr1]
    assert [n.user for n in notes("assignment", lead)] == [sdr1, sdr2]
    old = SlaClock.objects.get(pk=clock.pk)
    assert (old.stopped_at is not None, old.breached, old.step, old.stop_reason) == (True, True, 3, "owner_changed")
    fresh = clock_of(lead, ACCEPT)
    assert fresh.owner == sdr2 and fresh.due_at > due + dt.timedelta(hours=4)


# --- exactly once ---------------------------------------------------------------------------------------


def overdue_clock(*, steps=None, stage=Stage.MQL, owner=None, policy_name=ACCEPT):
    """A lead whose clock of `policy_name` is long overdue (every step due), optionally with other steps."""
    only_policies(policy_name)
    subject = policy(policy_name)
    if steps is not None:
        subject.steps.all().delete()
        for position, (after, unit, action, reason) in enumerate(steps, start=1):
            EscalationStep.objects.create(policy=subject, position=position, after=after, unit=unit, action=action,
                                          reason=reason)
    lead = LeadFactory(stage=stage, owner=owner)
    start = berlin(2026, 6, 1, 10, 0)
    with time_machine.travel(start, tick=False):
        sla_clocks.start(lead, subject, now=start, owner_id=owner.pk if owner else None)
    return lead, clock_of(lead, policy_name)


@pytest.mark.django_db
def test_after_an_outage_every_overdue_step_runs_once_not_once_per_missed_minute(sdr, manager):
    lead, clock = overdue_clock(owner=sdr, steps=[(0, "hours", "warn_owner", ""),
                                                  (2, "hours", "notify_manager", "")])
    results = sweep_at(berlin(2026, 6, 3, 15, 0), times=3)
    assert [(r.breaches, r.steps) for r in results] == [(1, 2), (0, 0), (0, 0)]
    assert escalations(clock) == [(1, "warn_owner"), (2, "notify_manager")]
    assert [n.user for n in notes("sla_warning")] == [sdr]
    assert [n.user for n in notes("sla_escalation")] == [manager]
    assert SlaClock.objects.get(pk=clock.pk).next_step_at is None


@pytest.mark.django_db
def test_a_clock_without_steps_is_only_marked_breached(sdr):
    _lead, clock = overdue_clock(owner=sdr, steps=[])
    sweep_at(berlin(2026, 6, 3, 15, 0), times=2)
    clock = SlaClock.objects.get(pk=clock.pk)
    assert (clock.breached, clock.step, clock.next_step_at, clock.stopped_at) == (True, 0, None, None)
    assert SlaEscalation.objects.count() == 0


@pytest.mark.django_db
def test_a_step_that_fails_leaves_nothing_and_runs_once_on_the_next_sweep(sdr, monkeypatch):
    lead, clock = overdue_clock(owner=sdr, steps=[(0, "hours", "warn_owner", "")])
    real_write = sla_sweep._SweepRun._write

    def crash_after_writing(self, cursor, advances, **kwargs):
        real_write(self, cursor, advances, **kwargs)  # the claim, escalation and notification are written ...
        raise RuntimeError("worker died")  # ... and the worker dies before the commit

    monkeypatch.setattr(sla_sweep._SweepRun, "_write", crash_after_writing)
    result = sweep_at(berlin(2026, 6, 3, 15, 0))[0]
    assert (result.failed, result.steps, result.breaches) == (1, 0, 0)
    assert SlaEscalation.objects.count() == 0 and notes("sla_warning") == []
    assert SlaClock.objects.filter(pk=clock.pk, step=0, breached=False).exists()

    monkeypatch.setattr(sla_sweep._SweepRun, "_write", real_write)
    sweep_at(berlin(2026, 6, 3, 15, 1), times=2)
    assert escalations(clock) == [(1, "warn_owner")]
    assert [n.user for n in notes("sla_warning")] == [sdr]


@pytest.mark.django_db
def test_a_second_execution_of_a_step_is_refused_by_the_escalation_log(sdr):
    _lead, clock = overdue_clock(owner=sdr, steps=[(0, "hours", "warn_owner", "")])
    SlaEscalation.objects.create(clock=clock, step=1, action="warn_owner", at=berlin(2026, 6, 3, 15, 0))
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        SlaEscalation.objects.create(clock=clock, step=1, action="warn_owner", at=berlin(2026, 6, 3, 15, 0))


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_run_each_step_once():
    manager = UserFactory(username="manager", role=Role.MANAGER)
    sdr = UserFactory(username="sdr1", role=Role.SDR)
    leads = [
        overdue_clock(owner=sdr, steps=[(0, "hours", "warn_owner", ""), (1, "hours", "notify_manager", "")])[0]
        for _number in range(6)
    ]
    barrier = threading.Barrier(4)
    errors = []

    def run():
        try:
            barrier.wait()
            with time_machine.travel(berlin(2026, 6, 3, 15, 0), tick=False):
                sla_sweep.run()
        except Exception as error:  # noqa: BLE001 - counted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    sweep_at(berlin(2026, 6, 3, 15, 0))  # a straggler would finish here, never repeat
    assert errors == []
    assert SlaEscalation.objects.count() == 12
    for lead in leads:
        assert escalations(clock_of(lead, ACCEPT)) == [(1, "warn_owner"), (2, "notify_manager")]
    assert len(notes("sla_warning")) == 6 and {n.user for n in notes("sla_warning")} == {sdr}
    assert len(notes("sla_escalation")) == 6 and {n.user for n in notes("sla_escalation")} == {manager}
    assert JobRun.objects.get(name=health.SWEEP_JOB).runs == 5


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_dies_holding_a_step_leaves_it_to_be_done_exactly_once(monkeypatch):
    """Worker A claims the step and hangs; a second sweep skips the locked lead; A dies (its transaction
    rolls back, as PostgreSQL does for a killed connection); the next sweep does the step once."""
    sdr = UserFactory(username="sdr1", role=Role.SDR)
    _lead, clock = overdue_clock(owner=sdr, steps=[(0, "hours", "warn_owner", "")])
    claimed, release = threading.Event(), threading.Event()
    real_run_step = escalation.run_step

    def hanging_run_step(step, **kwargs):
        if threading.current_thread().name == "worker-a":
            real_run_step(step, **kwargs)
            claimed.set()
            release.wait(30)
            raise SystemExit("killed")
        return real_run_step(step, **kwargs)

    monkeypatch.setattr(escalation, "run_step", hanging_run_step)

    def worker_a():
        try:
            with time_machine.travel(berlin(2026, 6, 3, 15, 0), tick=False):
                sla_sweep.advance(clock_id=clock.pk, now=berlin(2026, 6, 3, 15, 0))  # the breach
                sla_sweep.advance(clock_id=clock.pk, now=berlin(2026, 6, 3, 15, 0))  # the step: hangs, dies
        except SystemExit:
            pass
        finally:
            connection.close()

    thread = threading.Thread(target=worker_a, name="worker-a")
    thread.start()
    assert claimed.wait(30)
    result = sweep_at(berlin(2026, 6, 3, 15, 0))[0]
    assert (result.skipped, result.steps) == (1, 0)
    release.set()
    thread.join(30)
    assert SlaEscalation.objects.count() == 0 and notes("sla_warning") == []

    sweep_at(berlin(2026, 6, 3, 15, 1), times=2)
    assert escalations(clock) == [(1, "warn_owner")]
    assert [n.user for n in notes("sla_warning")] == [sdr]


# --- set-based: many clocks per transaction -----------------------------------------------------------


WARN_THEN_MANAGER = [(0, "hours", "warn_owner", ""), (2, "hours", "notify_manager", "")]


@pytest.mark.django_db
def test_a_sweep_runs_as_many_statements_for_thirty_due_clocks_as_for_three(manager):
    sdr1, sdr2 = UserFactory(username="sdr1", role=Role.SDR), UserFactory(username="sdr2", role=Role.SDR)
    owners = [sdr1, sdr2, None]
    statements = []
    sweep_at(berlin(2026, 6, 1, 9, 0))  # nothing due yet: the first run writes its JobRun row
    for count, day in ((3, 3), (30, 4)):
        for number in range(count):
            overdue_clock(owner=owners[number % 3], steps=WARN_THEN_MANAGER)
        with CaptureQueriesContext(connection) as queries:
            result = sweep_at(berlin(2026, 6, day, 15, 0))[0]
        assert (result.breaches, result.steps, result.failed) == (count, 2 * count, 0)
        statements.append(len(queries))
    assert statements[0] == statements[1]
    assert SlaEscalation.objects.count() == 66
    warned = {(n.user.username, n.lead_id) for n in notes("sla_warning")}
    assert len(notes("sla_warning")) == 33 == len(warned)
    assert {user for user, _lead in warned} == {"sdr1", "sdr2", "manager"}
    assert len(notes("sla_escalation")) == 33 and {n.user for n in notes("sla_escalation")} == {manager}
    assert not SlaClock.objects.filter(stopped_at__isnull=True, next_step_at__isnull=False).exists()


@pytest.mark.django_db
def test_after_an_outage_a_warning_and_a_reassignment_both_run_once_in_order(manager):
    _team, (sdr1, sdr2) = make_team(manager=manager)
    lead, clock = overdue_clock(owner=sdr1, steps=[(0, "hours", "warn_owner", ""), (1, "hours", "reassign", "")])
    results = sweep_at(berlin(2026, 6, 3, 15, 0), times=2)
    assert [(r.breaches, r.steps) for r in results] == [(1, 2), (0, 0)]
    assert escalations(clock) == [(1, "warn_owner"), (2, "reassign")]
    assert [n.user for n in notes("sla_warning", lead)] == [sdr1]
    assert Lead.objects.get(pk=lead.pk).owner == sdr2


@pytest.mark.django_db
def test_the_sweeps_texts_are_those_of_the_single_clock_path(sdr, manager):
    """The batch writes the same messages and escalation outcomes as `advance` does for one clock."""
    lead, clock = overdue_clock(owner=sdr, steps=WARN_THEN_MANAGER)
    sweep_at(berlin(2026, 6, 3, 15, 0))
    batch = [(e.step, e.outcome) for e in SlaEscalation.objects.filter(clock=clock).order_by("step")]
    batch_notes = [(n.kind, n.user, n.message, n.key) for n in Notification.objects.filter(lead=lead).order_by("id")]

    other, single = overdue_clock(owner=sdr, steps=WARN_THEN_MANAGER)
    other_name = other.display_name
    for _call in range(3):
        sla_sweep.advance(clock_id=single.pk, now=berlin(2026, 6, 3, 15, 0))
    expected = [(e.step, e.outcome) for e in SlaEscalation.objects.filter(clock=single).order_by("step")]
    expected_notes = [(n.kind, n.user, n.message.replace(other_name, lead.display_name),
                       n.key.replace(f"sla:{single.pk}:", f"sla:{clock.pk}:"))
                      for n in Notification.objects.filter(lead=other).order_by("id")]
    assert batch == expected == [(1, "warned sdr1"), (2, "told manager")]
    assert batch_notes == expected_notes
    assert "was due at 2026-06-01 14:00" in batch_notes[0][2]


@pytest.mark.django_db
def test_an_unowned_lead_warns_every_active_manager_once(manager):
    other = UserFactory(username="another-manager", role=Role.MANAGER)
    UserFactory(username="gone-manager", role=Role.MANAGER, is_active=False)
    lead, clock = overdue_clock(owner=None, steps=[(0, "hours", "warn_owner", "")])
    sweep_at(berlin(2026, 6, 3, 15, 0), times=2)
    assert [n.user for n in notes("sla_warning", lead)] == [other, manager]
    assert SlaEscalation.objects.get(clock=clock).outcome == "warned another-manager, manager"


@pytest.mark.django_db
def test_a_notification_already_there_is_not_written_twice(sdr):
    lead, clock = overdue_clock(owner=sdr, steps=[(0, "hours", "warn_owner", "")])
    Notification.objects.create(user=sdr, lead=lead, kind="sla_warning", key=f"sla:{clock.pk}:1:{sdr.pk}",
                                message="written before")
    result = sweep_at(berlin(2026, 6, 3, 15, 0))[0]
    assert result.steps == 1 and escalations(clock) == [(1, "warn_owner")]
    assert [n.message for n in notes("sla_warning")] == ["written before"]


@pytest.mark.django_db
def test_one_broken_clock_does_not_hold_up_the_batch(sdr, manager):
    from routing.models import BusinessCalendar, SlaPolicy

    good_lead, good = overdue_clock(owner=sdr, steps=[(0, "hours", "warn_owner", "")])
    _broken_lead, broken = overdue_clock(owner=sdr, stage=Stage.SAL, policy_name=SAL, steps=WARN_THEN_MANAGER)
    SlaPolicy.objects.filter(name__in=[ACCEPT, SAL]).update(is_active=True)
    closed = BusinessCalendar.objects.create(name="Never open", working_hours={})  # as only a bad edit leaves it
    SlaPolicy.objects.filter(name=SAL).update(calendar=closed)  # its second step can never be timed
    for minute in (0, 1):
        result = sweep_at(berlin(2026, 6, 30, 15, minute))[0]
        assert (result.failed, result.steps, result.breaches) == (1, 1 - minute, 1 - minute)
    assert escalations(good) == [(1, "warn_owner")] and escalations(broken) == []
    assert [n.lead for n in notes("sla_warning")] == [good_lead]
    assert SlaClock.objects.filter(pk=broken.pk, breached=False, step=0).exists()  # nothing half-done


@pytest.mark.django_db(transaction=True)
def test_a_lead_a_user_is_changing_is_skipped_without_waiting_and_done_next_minute():
    sdr = UserFactory(username="sdr1", role=Role.SDR)
    held_lead, held = overdue_clock(owner=sdr, steps=[(0, "hours", "warn_owner", "")])
    _free_lead, free = overdue_clock(owner=sdr, steps=[(0, "hours", "warn_owner", "")])
    locked, release = threading.Event(), threading.Event()

    def user_transaction():
        from django.db import transaction

        try:
            with transaction.atomic():
                Lead.objects.select_for_update().get(pk=held_lead.pk)  # as the lifecycle locks a lead
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=user_transaction)
    thread.start()
    assert locked.wait(30)
    try:
        result = sweep_at(berlin(2026, 6, 3, 15, 0))[0]
    finally:
        release.set()
        thread.join(30)
    assert (result.skipped, result.steps, result.breaches) == (1, 1, 1)
    assert escalations(free) == [(1, "warn_owner")] and escalations(held) == []
    sweep_at(berlin(2026, 6, 3, 15, 1), times=2)
    assert escalations(held) == [(1, "warn_owner")]
    assert len(notes("sla_warning")) == 2


@pytest.mark.django_db
def test_the_sweeps_emails_go_out_once_each_after_the_commit(sdr, manager, mailoutbox, monkeypatch,
                                                             django_capture_on_commit_callbacks):
    monkeypatch.setattr(outbox_events, "_kick_after_commit", lambda: None)  # the breaches' events: tests/outbox
    for _number in range(3):
        overdue_clock(owner=sdr, steps=WARN_THEN_MANAGER)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        sweep_at(berlin(2026, 6, 3, 15, 0))
    assert len(callbacks) == 2  # one task per batch (the warnings, then the managers), not one per notification
    assert sorted(mail.to[0] for mail in mailoutbox) == [manager.email] * 3 + [sdr.email] * 3
    ids = list(Notification.objects.values_list("pk", flat=True))
    assert tasks.email_notifications(ids) == 0  # a redelivered task sends nothing again
    assert len(mailoutbox) == 6


@pytest.mark.django_db
def test_the_email_task_hands_what_is_left_after_its_budget_to_a_new_task(sdr, mailoutbox, monkeypatch,
                                                                           django_capture_on_commit_callbacks):
    for _number in range(3):
        overdue_clock(owner=sdr, steps=[(0, "hours", "warn_owner", "")])
    sweep_at(berlin(2026, 6, 3, 15, 0))  # the on-commit e-mail task does not run inside the test transaction
    monkeypatch.setattr(tasks, "EMAIL_TASK_BUDGET_SECONDS", -1)  # every task is over budget after one e-mail
    enqueued = []
    real_enqueue = tasks.enqueue_on_commit
    monkeypatch.setattr(tasks, "enqueue_on_commit",
                        lambda func, ids: enqueued.append((func, list(ids))) or real_enqueue(func, ids))
    ids = sorted(Notification.objects.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.email_notifications(ids) == 1
    task = "leads.tasks.email_notifications"
    assert enqueued == [(task, ids[1:]), (task, ids[2:])]  # the queue runs tasks inline in tests
    assert sorted(mail.to[0] for mail in mailoutbox) == [sdr.email] * 3
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()


@pytest.mark.django_db
def test_the_email_task_ignores_ids_that_do_not_exist(mailoutbox):
    assert tasks.email_notifications([987654321, -1]) == 0
    assert mailoutbox == []


# --- the actions ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_release_sends_an_owned_mql_back_to_the_pool_with_the_reason(sdr):
    lead, _clock = overdue_clock(owner=sdr, steps=[(0, "hours", "release", "")])
    sweep_at(berlin(2026, 6, 3, 15, 0))
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.owner is None and lead.stage == Stage.MQL
    entry = LeadTransition.objects.get(lead=lead, name="release")
    assert entry.actor is None and "released to the pool" in entry.reason


@pytest.mark.django_db
def test_recycle_writes_the_steps_reason(sdr):
    lead, clock = overdue_clock(owner=sdr, stage=Stage.SAL, policy_name=SAL,
                                steps=[(0, "days", "recycle", "Not qualified within 10 business days")])
    sweep_at(berlin(2026, 6, 30, 15, 0), times=2)
    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.stage, lead.stage_reason, lead.owner) == (Stage.RECYCLED, "Not qualified within 10 business days",
                                                           None)
    assert SlaClock.objects.get(pk=clock.pk).stop_reason == "recycle"
    assert escalations(clock) == [(1, "recycle")]


@pytest.mark.django_db
def test_reassign_with_nobody_else_sends_the_mql_to_the_pool_and_tells_the_manager():
    manager = UserFactory(username="manager", role=Role.MANAGER)
    _team, (sdr1,) = make_team(reps=1, manager=manager)
    lead, _clock = overdue_clock(owner=sdr1, steps=[(0, "hours", "reassign", "")])
    sweep_at(berlin(2026, 6, 3, 15, 0))
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.owner is None
    assert [n.user for n in notes("pool", lead)] == [manager]


@pytest.mark.django_db
def test_reassigning_a_sal_with_nobody_else_keeps_its_owner():
    _team, (sdr1,) = make_team(reps=1)
    lead, clock = overdue_clock(owner=sdr1, stage=Stage.SAL, policy_name=SAL,
                                steps=[(0, "days", "reassign", "")])
    sweep_at(berlin(2026, 6, 30, 15, 0))
    assert Lead.objects.get(pk=lead.pk).owner == sdr1
    assert "sdr1" in SlaEscalation.objects.get(clock=clock).outcome


@pytest.mark.django_db
def test_a_warning_for_a_lead_without_owner_goes_to_the_managers(manager):
    _lead, _clock = overdue_clock(owner=None, policy_name=SAL, stage=Stage.SAL,
                                  steps=[(0, "days", "warn_owner", "")])
    sweep_at(berlin(2026, 6, 30, 15, 0))
    assert [n.user for n in notes("sla_warning")] == [manager]


@pytest.mark.django_db
def test_a_switched_off_policy_ends_its_running_clocks_at_the_next_sweep(sdr):
    _lead, clock = overdue_clock(owner=sdr)
    policy(ACCEPT).__class__.objects.filter(name=ACCEPT).update(is_active=False)
    sweep_at(berlin(2026, 6, 3, 15, 0))
    clock = SlaClock.objects.get(pk=clock.pk)
    assert clock.stop_reason == "policy_off" and SlaEscalation.objects.count() == 0


@pytest.mark.django_db
def test_a_clock_stopped_before_the_sweep_is_left_alone(sdr):
    lead, clock = overdue_clock(owner=sdr)
    lifecycle.fire(lead_id=lead.pk, name="accept", by=sdr)
    sweep_at(berlin(2026, 6, 3, 15, 0))
    assert SlaEscalation.objects.count() == 0 and notes("sla_warning") == []


# --- the schedule, the task and health ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_task_runs_the_sweep_and_records_the_run(sdr):
    overdue_clock(owner=sdr, steps=[(0, "hours", "warn_owner", "")])
    with time_machine.travel(berlin(2026, 6, 3, 15, 0), tick=False):
        assert tasks.sla_sweep() == {"steps": 1, "breaches": 1, "skipped": 0, "failed": 0}
    run = JobRun.objects.get(name=health.SWEEP_JOB)
    assert run.last_finished_at == berlin(2026, 6, 3, 15, 0) and run.runs == 1


@pytest.mark.django_db
def test_setup_schedules_adds_the_sweep_every_minute_and_stays_idempotent():
    for _time in range(2):
        call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    sweep = Schedule.objects.get(name="leads.sla_sweep")
    assert (sweep.func, sweep.schedule_type, sweep.minutes) == ("leads.tasks.sla_sweep", Schedule.MINUTES, 1)
    assert Schedule.objects.filter(name="leads.sla_sweep").count() == 1
    assert Schedule.objects.filter(name="capture.recover_submissions").count() == 1
    assert sweep.next_run is not None


@pytest.mark.django_db
def test_health_fails_when_the_sweep_never_ran():
    with pytest.raises(CommandError, match="never run"):
        call_command("health")


@pytest.mark.django_db
def test_health_passes_after_a_sweep_and_fails_three_minutes_later(capsys):
    sweep_at(berlin(2026, 6, 3, 15, 0))
    with time_machine.travel(berlin(2026, 6, 3, 15, 2), tick=False):
        call_command("health")
    assert "ok" in capsys.readouterr().out
    with time_machine.travel(berlin(2026, 6, 3, 15, 4), tick=False), pytest.raises(CommandError, match="4 minutes"):
        call_command("health")

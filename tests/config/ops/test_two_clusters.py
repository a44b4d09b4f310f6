"""Two django-q2 clusters (separate processes, as on two machines) on one Redis broker and one database:
every schedule runs once per period, an SLA escalation step runs once, a notification is e-mailed once and
a report goes out once per period.

Bounded: the clusters call their schedulers at start and 30 s later (guard_cycle 30, tests/qcluster_settings.py),
so two periods take about 40 s. The periods are shortened by making every schedule due (`next_run` in the
past) before each of the two scheduler passes, as the clock passing a period boundary would.
"""

import datetime as dt
from collections import Counter

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Failure, Schedule, Success

from config.schedules import declared
from core.vocabulary import Role, Stage
from leads import clocks as sla_clocks
from leads.models import JobRun, Lead, Notification, SlaEscalation
from leads.sla import health as sla_health
from reporting.models import ReportRun, ReportSubscription
from routing.models import EscalationStep
from tests.config.ops import processes
from tests.factories import LeadFactory, UserFactory
from tests.sla_helpers import ACCEPT, clock_of, only_policies, policy

PASS_SECONDS = 75  # the second scheduler pass comes about 30 s after the first


def make_every_schedule_due() -> None:
    Schedule.objects.update(next_run=timezone.now() - dt.timedelta(seconds=1))


def runs_per_schedule() -> Counter:
    names = [spec["name"] for spec in declared()]
    return Counter(Success.objects.filter(group__in=names).values_list("group", flat=True))


@pytest.mark.django_db(transaction=True)
def test_two_clusters_on_one_broker_run_every_schedule_once_per_period(redis_url, tmp_path):
    sdr = UserFactory(username="sdr1", role=Role.SDR)
    manager = UserFactory(username="manager", role=Role.MANAGER)
    ReportSubscription.objects.create(user=manager)
    only_policies(ACCEPT)
    subject = policy(ACCEPT)
    subject.steps.all().delete()
    EscalationStep.objects.create(policy=subject, position=1, after=0, unit="hours", action="warn_owner")
    lead = LeadFactory(stage=Stage.MQL, owner=sdr)
    sla_clocks.start(lead, subject, now=timezone.now() - dt.timedelta(days=10), owner_id=sdr.pk)  # long overdue
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    names = sorted(spec["name"] for spec in declared())
    make_every_schedule_due()

    mail_dir = tmp_path
    env = processes.environment(mail_dir=mail_dir, REDIS_URL=redis_url)
    clusters = [processes.qcluster(env), processes.qcluster(env)]
    with processes.running(*clusters) as outputs:
        first = processes.wait_for(lambda: set(runs_per_schedule()) == set(names), seconds=PASS_SECONDS)
        after_first = runs_per_schedule()
        make_every_schedule_due()  # the next period begins
        second = processes.wait_for(lambda: set(runs_per_schedule().values()) == {2}, seconds=PASS_SECONDS)
        processes.wait_for(lambda: not Notification.objects.filter(emailed_at__isnull=True).exists(), seconds=20)
    assert first and second, (runs_per_schedule(), outputs)

    assert after_first == {name: 1 for name in names}
    assert runs_per_schedule() == {name: 2 for name in names}
    assert not Failure.objects.exists(), list(Failure.objects.values_list("func", "result"))
    assert JobRun.objects.get(name=sla_health.SWEEP_JOB).runs == 2

    clock = clock_of(lead, ACCEPT)
    assert list(SlaEscalation.objects.filter(clock=clock).values_list("step", "action")) == [(1, "warn_owner")]
    warning = Notification.objects.get(kind="sla_warning")
    assert warning.user == sdr and warning.emailed_at is not None

    sent = processes.mails(mail_dir)
    subjects = Counter(processes.subject(mail) for mail in sent)
    assert subjects[f"[Leadwerk] {warning.message}"] == 1, (subjects, warning.message)
    (run,) = ReportRun.objects.filter(user=manager)
    assert run.status == ReportRun.Status.SENT
    reports = [mail for mail in sent if mail["To"] == manager.email]
    assert len(reports) == 1, subjects
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL


@pytest.mark.django_db
def test_a_notification_whose_email_task_was_lost_is_emailed_once_by_the_minute_job(mailoutbox):
    from leads import tasks

    sdr = UserFactory(username="sdr1", role=Role.SDR)
    now = timezone.now()
    lost = Notification.objects.create(user=sdr, key="lost", message="Lost in Redis", created_at=now - dt.timedelta(
        minutes=5))
    Notification.objects.create(user=sdr, key="fresh", message="Its task is still queued", created_at=now)
    Notification.objects.create(user=sdr, key="old", message="From last week", created_at=now - dt.timedelta(days=7))
    assert tasks.email_unsent_notifications() == 1
    assert tasks.email_unsent_notifications() == 0
    assert [mail.subject for mail in mailoutbox] == ["[Leadwerk] Lost in Redis"]
    lost.refresh_from_db()
    assert lost.emailed_at is not None

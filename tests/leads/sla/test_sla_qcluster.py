"""One real `manage.py qcluster` process picks up the sweep's schedule and runs it against the test database.

Slow (a cluster starts in a few seconds) and bounded: the process is stopped after at most 60 s. Set
SKIP_QCLUSTER_TEST=1 to leave it out.
"""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from core.vocabulary import Role, Stage
from leads import clocks as sla_clocks
from leads.models import JobRun, Notification, SlaEscalation
from leads.sla import health
from routing.models import EscalationStep
from tests.factories import LeadFactory, UserFactory
from tests.sla_helpers import ACCEPT, clock_of, only_policies, policy

PROJECT = Path(__file__).resolve().parents[3]
LIMIT_SECONDS = 60


@pytest.mark.skipif(os.environ.get("SKIP_QCLUSTER_TEST") == "1", reason="SKIP_QCLUSTER_TEST=1")
@pytest.mark.django_db(transaction=True)
def test_a_real_qcluster_picks_up_the_sweep_schedule_and_escalates_once():
    sdr = UserFactory(username="sdr1", role=Role.SDR)
    only_policies(ACCEPT)
    subject = policy(ACCEPT)
    subject.steps.all().delete()
    EscalationStep.objects.create(policy=subject, position=1, after=0, unit="hours", action="warn_owner")
    lead = LeadFactory(stage=Stage.MQL, owner=sdr)
    sla_clocks.start(lead, subject, now=timezone.now() - dt.timedelta(days=10), owner_id=sdr.pk)  # long overdue
    call_command("setup_schedules", stdout=open(os.devnull, "w"))  # noqa: SIM115

    env = {key: value for key, value in os.environ.items() if key != "Q_SYNC"}
    env |= {"DJANGO_SETTINGS_MODULE": "tests.qcluster_settings",
            "LEADWERK_QCLUSTER_DATABASE": connection.settings_dict["NAME"], "PYTHONUNBUFFERED": "1"}
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"], cwd=PROJECT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + LIMIT_SECONDS
        while time.monotonic() < deadline and worker.poll() is None:
            run = JobRun.objects.filter(name=health.SWEEP_JOB, last_finished_at__isnull=False).first()
            if run is not None and SlaEscalation.objects.exists():
                break
            time.sleep(0.5)
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        try:
            output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()

    assert JobRun.objects.filter(name=health.SWEEP_JOB, last_finished_at__isnull=False).exists(), output[-3000:]
    clock = clock_of(lead, ACCEPT)
    assert list(SlaEscalation.objects.filter(clock=clock).values_list("step", "action")) == [(1, "warn_owner")]
    assert list(Notification.objects.filter(kind="sla_warning").values_list("user__username", flat=True)) == ["sdr1"]

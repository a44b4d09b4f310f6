"""The admin's landing page: what needs attention (failed jobs, unfinished submissions, breached clocks,
the data-quality queue)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.models import Task

from core.vocabulary import Stage
from leads.models import SlaClock, Submission
from tests.factories import LeadFactory
from tests.pages import as_user, text
from tests.sla_helpers import ACCEPT, policy

pytestmark = pytest.mark.django_db


def test_only_the_admin_sees_the_attention_page(client, users):
    for role in ("marketing", "manager", "sdr"):
        assert as_user(client, users[role]).get(reverse("attention")).status_code == 403
    assert as_user(client, users["admin"]).get(reverse("attention")).status_code == 200


def test_a_quiet_day_needs_no_attention(client, admin_user):
    page = text(as_user(client, admin_user).get(reverse("attention")))
    assert 'data-testid="count-failed-jobs">0<' in page
    assert 'data-testid="count-breached">0<' in page


def test_the_page_counts_failed_jobs_old_submissions_and_breached_clocks(client, admin_user, sdr):
    now = timezone.now()
    Task.objects.create(id="a" * 32, name="broken-task", func="leads.tasks.sweep", started=now, stopped=now,
                        success=False, attempt_count=3)
    Task.objects.create(id="b" * 32, name="fine-task", func="leads.tasks.sweep", started=now, stopped=now,
                        success=True)
    Task.objects.create(id="c" * 32, name="old-failure", func="leads.tasks.sweep", started=now,
                        stopped=now - dt.timedelta(days=30), success=False)
    Submission.objects.create(channel="api", payload_hash="x", received_at=now - dt.timedelta(hours=1))
    Submission.objects.create(channel="api", payload_hash="y", received_at=now)  # in flight
    Submission.objects.create(channel="api", payload_hash="z", received_at=now - dt.timedelta(hours=1),
                              outcome=Submission.Outcome.CREATED)
    lead = LeadFactory(stage=Stage.MQL, owner=sdr, first_name="Berta", last_name="Brand")
    SlaClock.objects.create(lead=lead, policy=policy(ACCEPT), stage=Stage.MQL, owner=sdr,
                            started_at=now - dt.timedelta(hours=5), due_at=now - dt.timedelta(hours=1))

    page = text(as_user(client, admin_user).get(reverse("attention")))
    assert 'data-testid="count-failed-jobs">1<' in page and "leads.tasks.sweep" in page
    assert 'data-testid="count-submissions">1<' in page
    assert 'data-testid="count-breached">1<' in page and "Berta Brand" in page

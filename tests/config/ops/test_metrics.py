"""/metrics: django-prometheus' metrics and Leadwerk's domain gauges, for this machine or a bearer token."""

import re

import pytest
from django.utils import timezone

from core.vocabulary import Stage
from leads import clocks as sla_clocks
from leads.models import JobRun, Notification, Submission
from leads.sla import health as sla_health
from tests.factories import LeadFactory, UserFactory
from tests.sla_helpers import ACCEPT, only_policies, policy


def gauge(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{name}{re.escape(labels)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name}{labels} is not in the metrics"
    return float(match.group(1))


@pytest.mark.django_db
def test_the_domain_gauges_count_what_waits(client):
    owner = UserFactory(username="sdr1")
    LeadFactory.create_batch(2, stage=Stage.MQL, owner=None)
    overdue = LeadFactory(stage=Stage.MQL, owner=owner)
    LeadFactory(stage=Stage.KNOWN)
    only_policies(ACCEPT)
    sla_clocks.start(overdue, policy(ACCEPT), now=timezone.now() - timezone.timedelta(days=10), owner_id=owner.pk)
    Submission.objects.create(channel="api", payload={}, outcome=Submission.Outcome.RECEIVED)
    Notification.objects.create(user=owner, key="n1", message="Hello")
    JobRun.objects.create(name=sla_health.SWEEP_JOB, last_finished_at=timezone.now() - timezone.timedelta(seconds=42))

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert gauge(text, "leadwerk_pool_size") == 2
    assert gauge(text, "leadwerk_mqls_waiting") == 3
    assert gauge(text, "leadwerk_sla_clocks_breached") == 1
    assert gauge(text, "leadwerk_submissions_unfinished") == 1
    assert gauge(text, "leadwerk_notifications_unmailed") == 1
    assert gauge(text, "leadwerk_tasks_queued") == 0
    assert 42 <= gauge(text, "leadwerk_job_age_seconds", '{job="sla_sweep"}') < 100


@pytest.mark.django_db
def test_the_usual_django_metrics_are_there(client):
    client.get("/healthz?checks=web")
    text = client.get("/metrics").content.decode()
    assert "django_http_requests_total_by_method_total" in text
    assert 'django_db_execute_total{alias="default",vendor="postgresql"}' in text


@pytest.mark.django_db
def test_a_request_through_a_proxy_is_refused_without_a_token(client):
    response = client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert "leadwerk_" not in response.content.decode()


@pytest.mark.django_db
def test_another_machine_is_refused_without_a_token(client):
    assert client.get("/metrics", REMOTE_ADDR="198.51.100.7").status_code == 401


@pytest.mark.django_db
def test_with_a_token_only_the_token_opens_it(client, settings):
    settings.METRICS_TOKEN = "scrape-me-please"
    assert client.get("/metrics").status_code == 401  # loopback is not enough any more
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    allowed = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me-please", REMOTE_ADDR="198.51.100.7",
                         HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert allowed.status_code == 200
    assert "leadwerk_pool_size" in allowed.content.decode()

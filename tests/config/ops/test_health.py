"""/healthz for load balancers and monitors: JSON, no login, no secrets, 200 only when healthy, rate-limited."""

import datetime as dt
import json
import os
import subprocess
import sys

import pytest
from django.utils import timezone

from capture import submissions
from leads.models import JobRun
from leads.sla import health as sla_health
from tests.config.ops import processes
from tests.config.ops.servers import free_port


def recent_runs(age=dt.timedelta(seconds=30)):
    for name in (sla_health.SWEEP_JOB, submissions.RECOVERY_JOB):
        JobRun.objects.create(name=name, last_started_at=timezone.now() - age, last_finished_at=timezone.now() - age)


@pytest.mark.django_db
def test_it_is_healthy_when_the_database_answers_and_the_jobs_ran_recently(client):
    recent_runs()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["migrations"] == {"ok": True, "unapplied": 0}
    assert body["checks"]["broker"] == {"ok": True, "kind": "orm", "queued": 0}
    assert body["checks"]["sla_sweep"]["ok"] and 25 <= body["checks"]["sla_sweep"]["age_seconds"] <= 60
    assert body["checks"]["recovery"]["ok"]
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_a_sweep_that_stopped_running_makes_it_unhealthy(client):
    recent_runs(age=dt.timedelta(minutes=10))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert not body["checks"]["sla_sweep"]["ok"] and body["checks"]["sla_sweep"]["age_seconds"] >= 600
    assert body["checks"]["database"]["ok"]


@pytest.mark.django_db
def test_jobs_that_never_ran_are_named(client):
    body = client.get("/healthz").json()
    assert body["checks"]["recovery"] == {"ok": False, "age_seconds": None, "error": "never ran"}


@pytest.mark.django_db
def test_the_load_balancer_check_leaves_the_workers_out(client):
    response = client.get("/healthz?checks=web")  # no job ever ran: the web process is still fine
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"database", "migrations", "broker"}


@pytest.mark.django_db
def test_the_recovery_job_records_its_run(client):
    from capture import tasks

    tasks.recover_submissions()
    run = JobRun.objects.get(name=submissions.RECOVERY_JOB)
    assert run.runs == 1 and run.last_finished_at is not None and run.last_result == {"recovered": 0}


@pytest.mark.django_db
def test_it_shows_no_connection_details(client, settings):
    recent_runs()
    text = client.get("/healthz").content.decode()
    database = settings.DATABASES["default"]
    assert database["HOST"] not in text and database["NAME"] not in text and "postgres" not in text


@pytest.mark.django_db
def test_it_is_rate_limited_with_retry_after(client, settings):
    settings.HEALTHZ_RATE = "2/minute"
    statuses = [client.get("/healthz?checks=web").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = client.get("/healthz?checks=web")
    assert 0 < int(limited["Retry-After"]) <= 60


@pytest.mark.django_db
def test_it_answers_only_get(client):
    assert client.post("/healthz").status_code == 405


def test_a_database_that_does_not_answer_gives_503_not_500():
    """A process whose PostgreSQL is gone (a closed port) still answers /healthz, with the reason."""
    code = ("import django, json; django.setup(); from django.test import Client; "
            "r = Client().get('/healthz'); print(r.status_code, json.dumps(r.json()))")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
           "DATABASE_URL": f"postgresql://leadwerk:secret-pw@127.0.0.1:{free_port()}/leadwerk"}
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, "-c", code], cwd=processes.PROJECT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    status, body = result.stdout.strip().splitlines()[-1].split(" ", 1)
    checks = json.loads(body)["checks"]
    assert status == "503"
    assert checks["database"] == {"ok": False, "error": "OperationalError"}
    assert checks["broker"]["ok"] is False and checks["sla_sweep"]["ok"] is False
    assert "secret-pw" not in body and "127.0.0.1" not in body

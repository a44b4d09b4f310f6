"""Small things a new user notices first: the favicon, the admin's name, a readable sweep banner, the
worker's quieter logs and `make run` printing the logins last."""

import logging
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from leads.admin import sweep_result_in_words
from leads.models import JobRun
from leads.sla import health as sla_health
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_pages_link_the_favicon_and_it_is_served(client, sdr):
    client.force_login(sdr)
    for url in (reverse("leads:queue"), reverse("login"), reverse("admin:login")):
        assert 'rel="icon" href="/static/leads/favicon.svg"' in client.get(url).content.decode(), url
    assert (ROOT / "static" / "leads" / "favicon.svg").read_text().startswith("<svg")


@pytest.mark.django_db
def test_the_admin_says_leadwerk_administration(client):
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    page = client.get(reverse("admin:index")).content.decode()
    assert "Leadwerk administration" in page and "Django administration" not in page


@pytest.mark.django_db
def test_the_sweep_banner_is_a_sentence_not_a_python_dict(client):
    JobRun.objects.create(name=sla_health.SWEEP_JOB, last_started_at=timezone.now(),
                          last_finished_at=timezone.now(), last_result={"steps": 3, "breaches": 1, "skipped": 0,
                                                                        "failed": 0})
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    response = client.get(reverse("admin:leads_slaclock_changelist"))
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert any("1 breaches recorded, 3 escalation steps run, 0 skipped, 0 failed" in text for text in shown), shown
    assert not any("{" in text for text in shown)


def test_an_empty_sweep_result_reads_nothing_to_do():
    assert sweep_result_in_words({}) == "nothing to do"


def test_the_worker_logs_warnings_only_by_default():
    assert logging.getLogger("django-q").getEffectiveLevel() == logging.WARNING


def test_make_run_shows_pips_progress():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet" not in makefile and "--progress-bar on" in makefile


def test_the_supervisor_prints_the_logins_after_the_children_started():
    """The banner comes once the web server answers, after the children's own start-up lines."""
    with socket.socket() as probe:  # a free port for the stand-in web server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    web = ("import socket, time; print('CHILD STARTED', flush=True); time.sleep(1); "
           f"s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(300)")
    code = ("import sys; from config.management.commands.run import Supervisor, _answers; "
            f"Supervisor({{'web': [sys.executable, '-c', {web!r}]}}, out=sys.stdout, "
            "on_ready=lambda: print('LOGINS', flush=True), "
            f"ready=lambda: _answers('127.0.0.1', {port})).run()")
    supervisor = subprocess.Popen([sys.executable, "manage.py", "shell", "--no-imports", "-c", code], cwd=ROOT,
                                  start_new_session=True, stdout=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and "LOGINS" not in lines:
            line = supervisor.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
    finally:
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(30)
    assert "LOGINS" in lines
    assert lines.index("CHILD STARTED") < lines.index("LOGINS")

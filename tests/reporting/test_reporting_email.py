"""The report by e-mail: one message with text, HTML, inline PNG charts (Content-ID) and a CSV; once per
recipient and period, however often and however many workers send it; a real SMTP server receives it."""

import asyncio
import datetime as dt
import email
import smtplib
import socket
import threading
from email import policy
from io import StringIO

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from core.vocabulary import Stage
from leads.models import LeadTransition
from reporting import email as report_email
from reporting import tasks
from reporting.models import Frequency, ReportRun, ReportSubscription
from tests.factories import LeadFactory

DAY = dt.date(2026, 3, 10)
DAY_ARGS = ("--date", DAY.isoformat())


def send_report(*args) -> str:
    out = StringIO()
    call_command("send_report", *args, stdout=out)
    return out.getvalue()


def parts(message) -> list:
    return list(email.message_from_bytes(message.message().as_bytes(), policy=policy.default).walk())


@pytest.fixture
def activity(sdr):
    """A waiting MQL with a history on the report day."""
    at = timezone.make_aware(dt.datetime(2026, 3, 10, 10, 0))
    lead = LeadFactory(stage=Stage.MQL, owner=sdr, created_at=at, stage_entered_at=at, company="Nordwind GmbH")
    LeadTransition.objects.create(lead=lead, name="mark_mql", source=Stage.KNOWN, target=Stage.MQL, at=at)
    return lead


@pytest.mark.django_db
def test_send_report_delivers_one_mail_with_text_html_inline_charts_and_csv(manager, activity):
    assert "Sent" in send_report("--to", "manager", *DAY_ARGS)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [manager.email]
    assert "Report for" in message.subject
    assert "Oldest waiting MQLs" in message.body  # the plain-text part
    found = parts(message)
    assert found[0].get_content_type() == "multipart/related"
    types = [part.get_content_type() for part in found]
    assert {"text/plain", "text/html", "image/png", "text/csv"} <= set(types)
    images = {part["Content-ID"]: part for part in found if part.get_content_type() == "image/png"}
    assert set(images) == {"<funnel>", "<trend>"}
    assert images["<funnel>"].get_payload(decode=True).startswith(b"\x89PNG")
    html = next(part for part in found if part.get_content_type() == "text/html").get_content()
    assert 'src="cid:funnel"' in html
    assert f"http://127.0.0.1:8000/leads/{activity.pk}/" in html  # absolute links (SITE_URL)
    attachment = next(part for part in found if part.get_content_type() == "text/csv")
    assert attachment.get_filename() == "leadwerk-report-daily-2026-03-10.csv"
    assert "Key figures" in attachment.get_content()
    run = ReportRun.objects.get()
    assert (run.period_key, run.status, run.scope, run.attempts) == ("daily:2026-03-10", "sent", "all", 1)


@pytest.mark.django_db
def test_a_second_send_for_the_same_date_does_nothing(manager, activity):
    send_report("--to", "manager", *DAY_ARGS)
    assert "Nothing sent" in send_report("--to", "manager", *DAY_ARGS)
    assert len(mail.outbox) == 1
    assert ReportRun.objects.count() == 1


@pytest.mark.django_db
def test_force_sends_the_report_again(manager):
    send_report("--to", "manager", *DAY_ARGS)
    send_report("--to", "manager", *DAY_ARGS, "--force")
    assert len(mail.outbox) == 2
    assert ReportRun.objects.get().attempts == 2


@pytest.mark.django_db
def test_a_period_another_worker_claimed_is_not_sent_again(manager):
    ReportRun.objects.create(user=manager, frequency="daily", scope="all", period_key="daily:2026-03-10",
                             period_start=DAY, period_end=DAY)
    period = report_email.period_for(Frequency.DAILY, DAY)
    assert report_email.send(manager, frequency=Frequency.DAILY, scope="all", period=period) == "skipped"
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_failed_send_is_recorded_and_the_next_run_sends_it(manager, monkeypatch):
    ReportSubscription.objects.create(user=manager)

    def refuse(self, fail_silently=False):
        raise smtplib.SMTPServerDisconnected("gone")

    with monkeypatch.context() as patch:
        patch.setattr(EmailMultiAlternatives, "send", refuse)
        assert tasks.send_due_reports() == {"sent": 0, "skipped": 0, "failed": 1}
    run = ReportRun.objects.get()
    assert (run.status, run.error) == ("failed", "SMTPServerDisconnected: gone")
    assert tasks.send_due_reports() == {"sent": 1, "skipped": 0, "failed": 0}
    assert (ReportRun.objects.get().status, ReportRun.objects.get().attempts) == ("sent", 2)
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_the_nightly_task_sends_each_due_subscription_once(manager, sdr, other_sdr):
    ReportSubscription.objects.create(user=manager, frequency=Frequency.DAILY)
    ReportSubscription.objects.create(user=sdr, frequency=Frequency.WEEKLY, scope="all")  # an SDR gets own only
    ReportSubscription.objects.create(user=other_sdr, is_active=False)
    today = dt.date(2026, 3, 11)  # a Wednesday
    assert report_email.send_due(today=today) == {"sent": 2, "skipped": 0, "failed": 0}
    assert report_email.send_due(today=today) == {"sent": 0, "skipped": 2, "failed": 0}  # a catch-up run
    runs = dict(ReportRun.objects.values_list("user__username", "period_key"))
    assert runs == {"manager": "daily:2026-03-10", "sdr1": "weekly:2026-W10"}
    assert ReportRun.objects.get(user=sdr).scope == "own"
    assert sorted(m.to[0] for m in mail.outbox) == [manager.email, sdr.email]


def test_report_periods():
    assert report_email.due_period(Frequency.DAILY, dt.date(2026, 3, 11)).key == "daily:2026-03-10"
    week = report_email.due_period(Frequency.WEEKLY, dt.date(2026, 3, 11))
    assert (week.start, week.end, week.key) == (dt.date(2026, 3, 2), dt.date(2026, 3, 8), "weekly:2026-W10")
    assert report_email.due_period(Frequency.WEEKLY, dt.date(2026, 3, 9)).key == "weekly:2026-W10"


@pytest.mark.django_db
def test_send_report_refuses_unknown_users_and_bad_dates(manager):
    with pytest.raises(CommandError, match="No user"):
        send_report("--to", "ghost")
    with pytest.raises(CommandError, match="--date"):
        send_report("--to", "manager", "--date", "10.03.2026")


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_at_once_send_one_report(manager):
    period = report_email.period_for(Frequency.DAILY, DAY)
    barrier = threading.Barrier(2)
    outcomes = []

    def worker():
        try:
            barrier.wait()
            outcomes.append(report_email.send(manager, frequency=Frequency.DAILY, scope="all", period=period))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["sent", "skipped"]
    assert len(mail.outbox) == 1


# --- a real SMTP server ---------------------------------------------------------------------------------


class Sink:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_sink():
    from aiosmtpd.controller import Controller

    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(), loop=asyncio.new_event_loop())
    controller.start()
    yield controller, sink
    controller.stop()


@pytest.mark.django_db
def test_the_report_reaches_a_real_smtp_server(manager, activity, settings, smtp_sink):
    controller, sink = smtp_sink
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", controller.port, False
    send_report("--to", "manager", *DAY_ARGS)
    assert len(sink.envelopes) == 1
    envelope = sink.envelopes[0]
    assert envelope.rcpt_tos == [manager.email]
    received = email.message_from_bytes(envelope.content, policy=policy.default)
    types = [part.get_content_type() for part in received.walk()]
    assert {"multipart/related", "text/plain", "text/html", "image/png", "text/csv"} <= set(types)
    assert ReportRun.objects.get().status == "sent"

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from leads import lifecycle, tasks
from leads.models import Notification

pytestmark = pytest.mark.django_db


def test_a_notification_email_is_sent_once_even_when_the_task_runs_twice(pool_mql, manager, sdr, mailoutbox):
    lifecycle.assign(lead_id=pool_mql.pk, owner_username="sdr1", by=manager)
    note = Notification.objects.get(user=sdr)
    assert tasks.email_notification(note.pk) is True
    assert tasks.email_notification(note.pk) is False
    assert len(mailoutbox) == 1
    assert f"/leads/{pool_mql.pk}/" in mailoutbox[0].body


def test_a_failed_send_leaves_the_notification_for_a_retry(pool_mql, manager, sdr, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    lifecycle.assign(lead_id=pool_mql.pk, owner_username="sdr1", by=manager)
    note = Notification.objects.get(user=sdr)
    with pytest.raises(OSError):
        tasks.email_notification(note.pk)
    note.refresh_from_db()
    assert note.emailed_at is None


def test_setup_schedules_is_idempotent():
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    schedule = Schedule.objects.get(name="capture.recover_submissions")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "capture.tasks.recover_submissions", Schedule.MINUTES, 1)
    assert Schedule.objects.filter(name="capture.recover_submissions").count() == 1
    assert schedule.next_run is not None


def test_the_report_schedule_follows_report_send_time(settings):
    settings.REPORT_SEND_TIME = "06:30"
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    schedule = Schedule.objects.get(name="reporting.send_due_reports")
    assert schedule.cron == "30 6 * * *"
    settings.REPORT_SEND_TIME = "18:05"
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    schedule.refresh_from_db()
    assert schedule.cron == "5 18 * * *"
    assert timezone.localtime(schedule.next_run).strftime("%H:%M") == "18:05"


def test_setup_schedules_removes_a_job_no_app_declares_any_more():
    Schedule.objects.create(name="leads.recover_submissions", func="leads.tasks.recover_submissions",
                            schedule_type=Schedule.MINUTES, minutes=1)
    Schedule.objects.create(name="someone-elses-job", func="other.task", schedule_type=Schedule.MINUTES, minutes=5)
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert not Schedule.objects.filter(name="leads.recover_submissions").exists()
    assert Schedule.objects.filter(name="someone-elses-job").exists()
    assert Schedule.objects.filter(name="capture.recover_submissions").exists()

"""Background work of reporting (django-q2). Safe to run twice: every report is claimed by a unique row."""

from django.conf import settings
from django_q.models import Schedule

from reporting import agreement, email


def schedules() -> list[dict]:
    """Created or updated by `manage.py setup_schedules`: the report time comes from REPORT_SEND_TIME."""
    hours, minutes = settings.REPORT_SEND_TIME.split(":")
    return [
        # One report per recipient and period (ReportRun is unique), whatever runs twice.
        {"name": "reporting.send_due_reports", "func": "reporting.tasks.send_due_reports",
         "schedule_type": Schedule.CRON, "cron": f"{int(minutes)} {int(hours)} * * *"},
        # The quarterly review of the definitions: a reminder once per review, 90 days after it.
        {"name": "reporting.remind_definitions_review", "func": "reporting.tasks.remind_definitions_review",
         "schedule_type": Schedule.CRON, "cron": "0 8 * * *"},
    ]


def send_due_reports() -> dict[str, int]:
    """Daily at REPORT_SEND_TIME (local time): every active subscription's due report, once per period."""
    return email.send_due()


def remind_definitions_review() -> int:
    """Daily: the quarterly-review reminder, once per review (the notification key is unique)."""
    return agreement.remind_review()

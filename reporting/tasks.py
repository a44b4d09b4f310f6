"""Background work of reporting (django-q2). Safe to run twice: every report is claimed by a unique row."""

from reporting import email


def send_due_reports() -> dict[str, int]:
    """Daily at REPORT_SEND_TIME (local time): every active subscription's due report, once per period."""
    return email.send_due()

"""Background work of privacy (django-q2): double opt-in mails, their housekeeping, retention, export links.
Tasks take ids, re-read state and tolerate running twice."""

from django.utils import timezone
from django_q.models import Schedule

from privacy import consent, retention, rights
from privacy.models import OptInRequest

# Created or updated by `manage.py setup_schedules` (see config/schedules.py).
SCHEDULES = [
    # Double opt-in: one reminder, then unconfirmed requests are purged (DOI_REMINDER_DAYS, DOI_PURGE_DAYS).
    {"name": "privacy.opt_in_housekeeping", "func": "privacy.tasks.opt_in_housekeeping",
     "schedule_type": Schedule.MINUTES, "minutes": 60},
    # Retention: anonymise leads whose period has expired (RETENTION_*_MONTHS); see docs/privacy.md.
    {"name": "privacy.apply_retention", "func": "privacy.tasks.apply_retention",
     "schedule_type": Schedule.CRON, "cron": "15 3 * * *"},
]


def send_opt_in(request_id: int, reminder: bool = False) -> bool:
    """Send the double-opt-in mail (or its one reminder) once: the conditional update claims it and stores
    the hash of a fresh link token; the raw token exists only in the mail."""
    token, digest = consent.new_token()
    now = timezone.now()
    if reminder:
        claimed = OptInRequest.objects.filter(
            pk=request_id, reminded_at__isnull=True, confirmed_at__isnull=True, purged_at__isnull=True
        ).update(reminded_at=now, reminder_token_hash=digest)
    else:
        claimed = OptInRequest.objects.filter(
            pk=request_id, mail_sent_at__isnull=True, confirmed_at__isnull=True, purged_at__isnull=True
        ).update(mail_sent_at=now, token_hash=digest)
    if not claimed:
        return False
    request = OptInRequest.objects.select_related("lead").get(pk=request_id)
    if request.lead.erased_at:
        return False
    try:
        consent.send_opt_in_mail(request=request, token=token, reminder=reminder)
    except Exception:
        if reminder:
            OptInRequest.objects.filter(pk=request_id).update(reminded_at=None, reminder_token_hash="")
        else:
            OptInRequest.objects.filter(pk=request_id).update(mail_sent_at=None, token_hash="")
        raise
    return True


def opt_in_housekeeping() -> dict:
    """Hourly: remind unconfirmed double opt-ins once, purge those older than DOI_PURGE_DAYS."""
    reminded = sum(send_opt_in(request_id, reminder=True) for request_id in consent.due_reminders())
    return {"reminded": reminded, "purged": consent.purge_unconfirmed()}


def apply_retention() -> dict:
    """Nightly: anonymise leads whose retention period has expired (see docs/privacy.md)."""
    return retention.apply_retention()


def send_export_link(lead_id: int) -> bool:
    """Mail the person the links to their own export (enqueued by `rights.request_export_link`)."""
    return rights.send_export_link(lead_id)

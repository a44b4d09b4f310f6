"""Background work on leads (django-q2). Tasks take ids, re-read state and tolerate running twice."""

import datetime as dt
import logging
import time

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.models import Schedule

from core.tasks import enqueue_on_commit, time_budget
from leads.models import Notification
from leads.sla import sweep

logger = logging.getLogger(__name__)

# Created or updated by `manage.py setup_schedules` (see config/schedules.py).
SCHEDULES = [
    # SLA clocks: breaches and escalation steps, each exactly once; `manage.py health` watches it.
    {"name": "leads.sla_sweep", "func": "leads.tasks.sla_sweep", "schedule_type": Schedule.MINUTES, "minutes": 1},
    # Notifications whose e-mail task was lost (a worker died holding it) or failed: sent once, late.
    {"name": "leads.email_unsent_notifications", "func": "leads.tasks.email_unsent_notifications",
     "schedule_type": Schedule.MINUTES, "minutes": 1},
    # Decay: engagement points lose weight with time, so scores are recomputed every night.
    {"name": "leads.nightly_rescore", "func": "leads.tasks.rescore_all", "schedule_type": Schedule.CRON,
     "cron": "30 2 * * *"},
]


def email_notification(notification_id: int) -> bool:
    """E-mail one notification to its user, once: the conditional update claims it."""
    claimed = Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    if not claimed:
        return False
    note = Notification.objects.select_related("user", "lead").get(pk=notification_id)
    if not note.user.email:
        return False
    link = f"{settings.SITE_URL}/leads/{note.lead_id}/" if note.lead_id else settings.SITE_URL
    try:
        send_mail(
            subject=f"[Leadwerk] {note.message}",
            message=_("%(message)s\n\nOpen it: %(link)s") % {"message": note.message, "link": link},
            from_email=None,
            recipient_list=[note.user.email],
        )
    except Exception:
        Notification.objects.filter(pk=notification_id).update(emailed_at=None)
        raise
    return True


# Seconds of e-mail per `email_notifications` run: half the queue's timeout (one slow SMTP answer fits in the
# rest); what is left goes on in a new task.
EMAIL_TASK_BUDGET_SECONDS = time_budget(0.5)


def email_notifications(notification_ids: list[int]) -> int:
    """The SLA sweep's e-mails for a batch of its notifications (one task per batch): e-mail each once
    (`email_notification` claims it), for at most EMAIL_TASK_BUDGET_SECONDS, then hand the rest to a new task.
    A failed send is logged and the task raises at the end, so the queue retries it (the ones sent are not
    sent again)."""
    deadline = time.monotonic() + EMAIL_TASK_BUDGET_SECONDS
    sent, failures = 0, []
    for index, notification_id in enumerate(notification_ids):
        if index and time.monotonic() > deadline:  # at least one per task, so the hand-over always ends
            enqueue_on_commit(sweep.EMAIL_TASK, notification_ids[index:])
            break
        try:
            sent += bool(email_notification(notification_id))
        except Exception as error:  # noqa: BLE001 - raised below once the others are sent
            logger.exception("SLA e-mail for notification %s failed", notification_id)
            failures.append(error)
    if failures:
        raise failures[0]
    return sent


# Notifications whose e-mail is still unsent this long after they were made are sent by the minute job;
# older than a day they are left (an old backlog is not e-mailed at once after an upgrade).
UNSENT_AFTER = dt.timedelta(minutes=2)
UNSENT_WITHIN = dt.timedelta(days=1)


def email_unsent_notifications() -> int:
    """Every minute: e-mail the notifications whose e-mail task never ran or failed. The Redis broker has no
    acknowledgement, so a worker that dies loses the tasks it held; this job is their second chance. Each
    e-mail is claimed (`email_notification`), so a notification is never e-mailed twice."""
    now = timezone.now()
    unsent = Notification.objects.filter(
        emailed_at__isnull=True, created_at__lt=now - UNSENT_AFTER, created_at__gte=now - UNSENT_WITHIN
    ).order_by("created_at")
    ids = list(unsent.values_list("pk", flat=True)[:200])
    return email_notifications(ids) if ids else 0


def rescore_all(model_id: int | None = None, at: str | None = None, ranges: list | None = None) -> int:
    """Rescore every lead with the active model (after an activation, and nightly for decay).

    Work goes in slices that fit the task timeout: a run does what it can in RESCORE_BUDGET seconds (two
    processes, see `scores.rescore_ranges`) and enqueues itself for the id ranges left, with the same `at`.
    Progress is stored on the scoring model so the admin shows it. Safe to run twice: it recomputes, and
    a lead scored after `at` keeps its newer score.
    """
    import datetime as dt

    from django_q.tasks import async_task

    from leads import scores
    from leads.models import Lead
    from scoring import versioning
    from scoring.models import ScoringModel

    model = ScoringModel.objects.filter(pk=model_id).first() if model_id else ScoringModel.active()
    if model is None or not model.is_active:
        return 0  # another version was activated meanwhile: its own run rescores
    spec = model.to_spec()
    if at is None:
        at = timezone.now().isoformat()
        versioning.start_rescore(model.pk, total=Lead.objects.count())
    scored_at = dt.datetime.fromisoformat(at)
    done, left = scores.rescore_ranges(spec=spec, at=scored_at, ranges=ranges, model_id=model.pk,
                                       budget=RESCORE_BUDGET)
    if left:
        async_task("leads.tasks.rescore_all", model.pk, at, [list(part) for part in left])
    else:
        done += scores.rescore_other_versions(spec=spec, at=scored_at)
    return done


# Seconds of work per rescore_all run: below the django-q timeout (60 s) with room for the last batch.
RESCORE_BUDGET = 40


def sla_sweep() -> dict:
    """Every minute: record SLA breaches and run due escalation steps, each exactly once (`leads.sla.sweep`)."""
    return sweep.run().as_dict()

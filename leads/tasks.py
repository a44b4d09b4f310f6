"""Background work on leads (django-q2). Tasks take ids, re-read state and tolerate running twice."""

import datetime as dt
import logging
import time

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.models import Schedule

from core.tasks import enqueue_on_commit, time_budget
from leads import lifecycle, predictive, scores
from leads.models import Notification
from leads.sla import sweep
from scoring import versioning
from scoring.models import ScoringModel

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
    # The predictive model learns from the newest history every week; an admin activates a new version.
    {"name": "leads.train_predictive", "func": "leads.tasks.train_predictive", "schedule_type": Schedule.CRON,
     "cron": "0 3 * * 0"},
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


# Share of django-q's task timeout (Q_CLUSTER["timeout"]) a rescoring task works for before it enqueues
# the rest of its range: the rest of the timeout is room for the batch in hand and the run's final step.
RESCORE_SHARE_OF_TIMEOUT = 2 / 3
# Leads one worker rescores per second at worst (every lead row rewritten, two workers on a shared 2-core
# machine at load 9: 1,250 a second each, measured): ranges are sized so one fits a task's budget even then
# (a range that does not fit goes on in a continuation).
WORST_LEADS_PER_SECOND = 1_000


def rescore_budget() -> float:
    """Seconds of work per rescoring task (read at each call: the settings may change in tests)."""
    return time_budget(RESCORE_SHARE_OF_TIMEOUT)


def rescore_all(model_id: int | None = None, *_queued_before_fan_out) -> int:
    """Rescore every lead with the active model (after an activation, and nightly for decay): start a run.

    The run is as of one moment, `at` (now). The id span is cut into ranges, each small enough for one
    task's budget and at least one per worker (`scores.id_ranges`); one `rescore_range` task per range is
    enqueued when the run's start is committed, so every worker of every cluster takes ranges. Progress is
    stored on the scoring model, so the admin shows it. Returns the number of range tasks enqueued (0 when
    the model is not the active one: another version was activated meanwhile and its own run rescores).
    Arguments after `model_id` (the continuations the task enqueued before rescoring fanned out) are
    ignored: such a task starts a run of its own, which recomputes everything.
    """
    model = ScoringModel.objects.filter(pk=model_id).first() if model_id else ScoringModel.active()
    if model is None or not model.is_active:
        return 0
    threshold_before = threshold_before_run(model, activation=bool(model_id))
    at = timezone.now()
    # At least a batch per range: a task does one batch whatever its budget.
    per_range = max(scores.BATCH, int(rescore_budget() * WORST_LEADS_PER_SECOND))
    total, ranges = scores.id_ranges(per_range=per_range, workers=settings.Q_CLUSTER.get("workers", 1))
    with transaction.atomic():
        versioning.start_rescore(model.pk, total=total, at=at, parts=len(ranges))
        for part, (after_id, last_id) in enumerate(ranges):
            enqueue_on_commit("leads.tasks.rescore_range", model.pk, at.isoformat(), after_id, last_id, part,
                              threshold_before)
    return len(ranges)


def threshold_before_run(model: ScoringModel, *, activation: bool) -> int:
    """The MQL threshold the leads' current scores were written under: after an activation, the model it
    retired (`activate` retires it at the activation's moment; the MQL_SCORE_THRESHOLD setting when there
    was none); for the nightly decay run, the model's own. A lead crosses when its score was below it and
    now reaches the model's threshold (`scores.crossing`)."""
    if not activation:
        return model.mql_threshold
    previous = (ScoringModel.objects.filter(retired_at=model.activated_at).exclude(pk=model.pk)
                .values_list("mql_threshold", flat=True).first()) if model.activated_at else None
    return previous if previous is not None else settings.MQL_SCORE_THRESHOLD


def rescore_range(model_id: int, at: str, after_id: int, last_id: int, part: int,
                  threshold_before: int | None = None) -> int:
    """Rescore the leads with after_id < id <= last_id for the run of `model_id` as of `at` (ISO time);
    returns how many leads this task rescored.

    Works for `rescore_budget()` seconds, then enqueues itself for the rest of its range with the same `at`.
    The task that finishes the run's last range runs the final step (`scores.rescore_other_versions`) in the
    transaction that claims it (`versioning.finish_part`), so it runs once whichever worker gets there.
    Idempotent: a redelivered task recomputes its range (a lead scored after `at` keeps its newer score) and
    finds its range already finished; a task of a superseded run (the model was retired, or a newer run of
    it started) does nothing.
    """
    scored_at = dt.datetime.fromisoformat(at)
    if timezone.is_naive(scored_at):
        raise ValueError(f"rescore_range: `at` needs a time zone, got {at!r}.")
    if not versioning.is_current_run(model_id, at=scored_at):
        return 0
    model = ScoringModel.objects.prefetch_related("rules").get(pk=model_id)
    spec = model.to_spec()
    crossed: list[int] = []
    done, reached = scores.rescore_range(
        spec=spec, at=scored_at, after_id=after_id, last_id=last_id, budget=rescore_budget(),
        on_batch=lambda count: versioning.add_rescored(model_id, count, at=scored_at),
        crossed=crossed, threshold_before=threshold_before,
    )
    # No silent leaks: what now crosses the threshold is handed off as a live activity would do it.
    lifecycle.hand_off_crossed(scores.hand_off_candidates(crossed))
    if reached < last_id:
        enqueue_on_commit("leads.tasks.rescore_range", model_id, at, reached, last_id, part, threshold_before)
        return done
    with transaction.atomic():
        if versioning.finish_part(model_id, at=scored_at, part=part):
            done += scores.rescore_other_versions(spec=spec, at=scored_at)
            versioning.finish_rescore(model_id, at=scored_at)
    return done


def sla_sweep() -> dict:
    """Every minute: record SLA breaches and run due escalation steps, each exactly once (`leads.sla.sweep`)."""
    return sweep.run().as_dict()


def train_predictive(horizon_days: int | None = None, target: str = "sql") -> int:
    """Train a predictive model version on the history (weekly, and when an admin asks); returns its id. The
    version is stored trained (with its quality report) or refused (with the sentence why); never activated."""
    model = predictive.train(horizon_days=horizon_days, target=target)
    logger.info("predictive model v%s: %s", model.version, model.status)
    return model.pk

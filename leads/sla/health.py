"""Is the SLA sweep running? Its heartbeat row (`JobRun(name=SWEEP_JOB)`, written by `sweep.sweep`), read by
`manage.py health` and the admin."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import JobRun

SWEEP_JOB = "sla_sweep"
HEALTHY_SWEEP_AGE = dt.timedelta(minutes=3)


def last_sweep() -> JobRun | None:
    return JobRun.objects.filter(name=SWEEP_JOB).first()


def sweep_problem(*, now: dt.datetime | None = None, max_age: dt.timedelta = HEALTHY_SWEEP_AGE) -> str | None:
    """Why the sweep looks unhealthy (never ran, or not for `max_age`), or None."""
    now = now or timezone.now()
    run = last_sweep()
    if run is None or run.last_finished_at is None:
        return _("The SLA sweep has never run: is the worker (manage.py qcluster) running, and setup_schedules done?")
    age = now - run.last_finished_at
    if age > max_age:
        return _("The SLA sweep last ran %(minutes)s minutes ago (at %(at)s): is the worker running?") % {
            "minutes": int(age.total_seconds() // 60),
            "at": f"{timezone.localtime(run.last_finished_at):%Y-%m-%d %H:%M}",
        }
    return None

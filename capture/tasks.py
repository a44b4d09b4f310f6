"""Background work of capture (django-q2): tasks take ids and tolerate running twice."""

from django_q.models import Schedule

from capture import submissions

# Created or updated by `manage.py setup_schedules` (see config/schedules.py).
SCHEDULES = [
    {"name": "capture.recover_submissions", "func": "capture.tasks.recover_submissions",
     "schedule_type": Schedule.MINUTES, "minutes": 1},
]


def recover_submissions() -> int:
    """Every minute: finish submissions whose processing died, so no lead is lost."""
    return submissions.recover_stale()

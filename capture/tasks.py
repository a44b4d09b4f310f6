"""Background work of capture (django-q2): tasks take ids and tolerate running twice."""

from django_q.models import Schedule

from capture import imports, submissions
from core import ratelimit

# Created or updated by `manage.py setup_schedules` (see config/schedules.py).
SCHEDULES = [
    {"name": "capture.recover_submissions", "func": "capture.tasks.recover_submissions",
     "schedule_type": Schedule.MINUTES, "minutes": 1},
    # Rate limits without Redis count in a table (core.ratelimit); windows that are over are deleted.
    {"name": "capture.purge_rate_counters", "func": "capture.tasks.purge_rate_counters",
     "schedule_type": Schedule.MINUTES, "minutes": 60},
    # Uploads of the Import page hold people's data: deleted when they expire (capture.imports.UPLOAD_HOURS).
    {"name": "capture.purge_import_uploads", "func": "capture.tasks.purge_import_uploads",
     "schedule_type": Schedule.MINUTES, "minutes": 15},
]


def recover_submissions() -> int:
    """Every minute: finish submissions whose processing died, so no lead is lost (its run is recorded)."""
    return submissions.recover_and_record()


def purge_rate_counters() -> int:
    """Hourly: delete the database rate counters of windows that are over (core.ratelimit)."""
    return ratelimit.purge_expired()


def purge_import_uploads() -> int:
    """Every 15 minutes: delete expired uploads of the Import page (file, report, rejected rows)."""
    return imports.purge_expired()

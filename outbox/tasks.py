"""Background work of the outbox (django-q2)."""

from django_q.models import Schedule

from outbox import events

SCHEDULES = [
    # Every commit that writes events kicks a dispatch; this is the safety net if a kick was lost.
    {"name": "outbox.dispatch", "func": "outbox.tasks.dispatch", "schedule_type": Schedule.MINUTES, "minutes": 1},
    {"name": "outbox.purge", "func": "outbox.tasks.purge", "schedule_type": Schedule.CRON, "cron": "40 3 * * *"},
]


def dispatch() -> dict:
    return events.dispatch()


def purge() -> int:
    return events.purge()

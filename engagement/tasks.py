"""Background work of the engagement app (django-q2): the programme tick and the send tick, every minute;
both idempotent (rows are claimed with `skip_locked`), both safe to run on several clusters at once."""

from django_q.models import Schedule

from engagement import engine, sending


def advance_due() -> int:
    return engine.tick()


def send_due() -> dict:
    return sending.send_due()


def tick() -> dict:
    """One schedule: advance due enrolments (which queue their e-mails), then send what is due."""
    advanced = engine.tick()
    return {"advanced": advanced, **sending.send_due()}


SCHEDULES = [
    {"name": "engagement.tick", "func": "engagement.tasks.tick", "schedule_type": Schedule.MINUTES, "minutes": 1},
]

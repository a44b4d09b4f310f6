"""The periodic jobs of every app, as each app declares them next to its tasks (`<app>/tasks.py`).

`manage.py setup_schedules` (run by `make run` and on deploy) creates or updates them idempotently and
removes the schedules of ours that no app declares any more (a renamed or moved job).
"""

from capture import tasks as capture_tasks
from engagement import tasks as engagement_tasks
from integrations import tasks as integrations_tasks
from leads import tasks as leads_tasks
from outbox import tasks as outbox_tasks
from privacy import tasks as privacy_tasks
from reporting import tasks as reporting_tasks

# Schedule names start with the app that owns them; these prefixes are ours.
OWN_PREFIXES = (
    "capture.", "leads.", "privacy.", "reporting.", "scoring.", "routing.", "outbox.", "integrations.", "engagement."
)


def declared() -> list[dict]:
    return [
        *capture_tasks.SCHEDULES,
        *leads_tasks.SCHEDULES,
        *privacy_tasks.SCHEDULES,
        *engagement_tasks.SCHEDULES,
        *outbox_tasks.SCHEDULES,
        *integrations_tasks.SCHEDULES,
        *reporting_tasks.schedules(),
    ]

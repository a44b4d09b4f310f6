"""Background work of the webhooks (django-q2): ids in, idempotent (a delivery is claimed before it is sent)."""

from django_q.models import Schedule

from core.tasks import enqueue_on_commit, time_budget
from integrations import adleads, deliveries

SCHEDULES = [
    # Retries come due, leases of killed workers expire, a lost kick: the sweep sends what is due (and
    # fetches again the inbound ad leads whose fetch failed).
    {"name": "integrations.sweep", "func": "integrations.tasks.sweep", "schedule_type": Schedule.MINUTES,
     "minutes": 1},
    {"name": "integrations.purge", "func": "integrations.tasks.purge", "schedule_type": Schedule.CRON,
     "cron": "50 3 * * *"},
]

# Seconds one task sends before it hands on: half the queue's timeout (one slow receiver fits in the rest).
BUDGET_SECONDS = time_budget(0.5)


def send(subscription_id: int) -> int:
    """The subscription's due deliveries, in event order."""
    return deliveries.send_due(subscription_id, budget_seconds=BUDGET_SECONDS)


def sweep() -> int:
    """One send task per subscription with due work (so one slow receiver does not hold up the others), and
    another try for inbound ad leads whose fetch failed."""
    subscription_ids = deliveries.subscriptions_with_due_work()
    for subscription_id in subscription_ids:
        enqueue_on_commit("integrations.tasks.send", subscription_id)
    adleads.retry_stale()
    return len(subscription_ids)


def ingest_ad_lead(inbound_id: int) -> str | None:
    """Fetch one inbound ad lead from its platform and pass it through capture."""
    return adleads.ingest(inbound_id)


def purge() -> int:
    """The delivery log older than the events' retention."""
    return deliveries.purge()

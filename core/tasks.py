"""Background work: enqueued only after the transaction that asked for it commits, and the time a task may
work before it hands the rest on."""

from django.conf import settings
from django.db import transaction


def enqueue_on_commit(func: str, *args, **kwargs) -> None:
    """Enqueue the django-q2 task `func` (a dotted path) with id arguments once the current transaction
    commits; nothing is enqueued for a transaction that rolls back. Outside a transaction: at once."""

    def enqueue():
        from django_q.tasks import async_task  # django-q2 reads its settings at import: only when needed

        async_task(func, *args, **kwargs)

    transaction.on_commit(enqueue)


def time_budget(share: float) -> float:
    """Seconds a task may work before it hands the rest on: `share` of the queue's timeout
    (`Q_CLUSTER["timeout"]`), so it ends before the queue kills it and redelivers it."""
    return settings.Q_CLUSTER["timeout"] * share

"""Enqueueing background work: only after the transaction that asked for it commits."""

from django.db import transaction


def enqueue_on_commit(func: str, *args, **kwargs) -> None:
    """Enqueue the django-q2 task `func` (a dotted path) with id arguments once the current transaction
    commits; nothing is enqueued for a transaction that rolls back. Outside a transaction: at once."""

    def enqueue():
        from django_q.tasks import async_task  # django-q2 reads its settings at import: only when needed

        async_task(func, *args, **kwargs)

    transaction.on_commit(enqueue)

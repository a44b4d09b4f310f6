"""Background work: written in the transaction that asks for it (never enqueued for one that rolls back), and
the time a task may work before it hands the rest on.

With the ORM broker (no `REDIS_URL`) the django-q2 queue is a table in our own database (`django_q_ormq`), so
`enqueue_on_commit` inside a transaction writes the queue row in that same transaction: the task commits or
rolls back with the change that asked for it, and the request pays one commit, not one more per task (each
task enqueued after the commit was an INSERT in an autocommit transaction of its own, with its own fsync).
A worker cannot see the row before the commit (MVCC), so it never runs a task for uncommitted data.
With Redis the queue is outside the database: the task is pushed after the commit (`on_commit`), as before;
a crash between the commit and the push loses that task (the ORM broker does not have that gap).
In django-q2's sync mode (`Q_SYNC`, tests) a task runs when it is enqueued, so it is still deferred to the
commit there: it must see the committed change, as a worker would.
"""

from django.conf import settings
from django.db import transaction


def _enqueue(func: str, args, kwargs) -> None:
    from django_q.tasks import async_task  # django-q2 reads its settings at import: only when needed

    async_task(func, *args, **kwargs)


def writes_in_transaction() -> bool:
    """Whether a task enqueued now is a row written in the current transaction (ORM broker, not sync mode,
    inside an atomic block on the broker's database)."""
    from django_q.conf import Conf  # read when needed (tests switch sync mode on Conf itself)

    if not Conf.ORM or Conf.SYNC:
        return False
    return not transaction.get_autocommit(using=Conf.ORM)


def enqueue_on_commit(func: str, *args, **kwargs) -> None:
    """Enqueue the django-q2 task `func` (a dotted path) with id arguments so that it exists exactly when the
    current transaction commits: with the ORM broker as a row in this transaction, with Redis once it has
    committed. Nothing is enqueued for a transaction that rolls back. Outside a transaction: at once."""
    if writes_in_transaction():
        _enqueue(func, args, kwargs)
        return
    transaction.on_commit(lambda: _enqueue(func, args, kwargs))


def time_budget(share: float) -> float:
    """Seconds a task may work before it hands the rest on: `share` of the queue's timeout
    (`Q_CLUSTER["timeout"]`), so it ends before the queue kills it and redelivers it."""
    return settings.Q_CLUSTER["timeout"] * share

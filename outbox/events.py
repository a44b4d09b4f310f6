"""Writing events in the writer's transaction, giving them their public position, and handing them to
consumers.

Why positions: ids from a sequence are taken at insert time, so two concurrent transactions can commit
in the other order; a reader that remembers "the last id I saw" would skip the event that commits later
with a lower id. An event therefore gets its `position` only once every transaction that began before
the positioning one has ended (its `txid` is below the snapshot's `xmin`), and positions are handed out
in (txid, seq) order under one advisory lock. Positions are final once given: a reader that pages by
position never misses or repeats an event. Transaction ids belong to the whole PostgreSQL server: any
open writing transaction, in any database of the server, holds positions back until it ends (the dispatch
waits up to OUTBOX_DISPATCH_WAIT_SECONDS, then the minute schedule takes over), so keep long-running
writers out of the product's server.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from core.tasks import enqueue_on_commit
from core.vocabulary import EventType
from outbox.models import Cursor, Event

log = logging.getLogger(__name__)

POSITION_LOCK = 0x6F7574626F78  # "outbox": one positioner at a time
BATCH = 500


class OutsideTransaction(RuntimeError):
    """An event must be written in the transaction of the change it describes."""


@dataclass(frozen=True)
class Consumer:
    name: str
    handler: Callable[[list[Event]], None]
    types: frozenset[str] | None


_consumers: dict[str, Consumer] = {}


def register_consumer(name: str, handler: Callable[[list[Event]], None], *, types: Iterable[str] | None = None):
    """Call `handler(events)` after commit with every new event (of `types`, or all), in position order, at
    least once. Each consumer has its own cursor; it starts with the events its first dispatch positions
    (nothing older is replayed)."""
    unknown = set(types or ()) - set(EventType.ALL)
    if unknown:
        raise ValueError(f"Unknown event types: {sorted(unknown)}")
    _consumers[name] = Consumer(name, handler, frozenset(types) if types else None)


def consumers() -> dict[str, Consumer]:
    return dict(_consumers)


def _check(type_: str) -> None:
    if type_ not in EventType.ALL:
        raise ValueError(f"Unknown event type {type_!r}")
    if not connection.in_atomic_block:
        raise OutsideTransaction("outbox.record() must run inside the transaction of the change it describes.")


def record(type: str, *, lead_id: int | None = None, actor_id: int | None = None, payload: dict | None = None):
    """Write one event in the current transaction; it commits or rolls back with the change."""
    _check(type)
    event = Event.objects.create(type=type, lead_id=lead_id, actor_id=actor_id, payload=payload or {})
    _kick_after_commit()
    return event


def record_many(events: Iterable[dict]) -> int:
    """Write several events (dicts with `type` and optionally `lead_id`, `actor_id`, `payload`) in one
    statement, in the current transaction."""
    rows = []
    for spec in events:
        _check(spec["type"])
        rows.append(
            Event(
                type=spec["type"], lead_id=spec.get("lead_id"), actor_id=spec.get("actor_id"),
                payload=spec.get("payload") or {},
            )
        )
    if rows:
        Event.objects.bulk_create(rows)
        _kick_after_commit()
    return len(rows)


def _kicked() -> None:
    """Marks a transaction whose dispatch is enqueued (an on-commit callback that does nothing)."""


def _kick_after_commit() -> None:
    """One dispatch per transaction, however many events it writes: with the ORM broker its queue row is
    written in this transaction (core.tasks), so the commit that publishes the events enqueues it too."""
    if any(entry[1] is _kicked for entry in connection.run_on_commit):
        return
    transaction.on_commit(_kicked)
    enqueue_on_commit("outbox.tasks.dispatch")


# --- positions ------------------------------------------------------------------------------------------


def _position_sql() -> sql.Composed:
    table = sql.Identifier(Event._meta.db_table)
    return sql.SQL(
        """
        WITH base AS (SELECT coalesce(max(position), 0) AS last FROM {table}),
        todo AS (
            SELECT seq, row_number() OVER (ORDER BY txid, seq) AS n FROM {table}
            WHERE position IS NULL AND txid < pg_snapshot_xmin(pg_current_snapshot())
        )
        UPDATE {table} AS event SET position = base.last + todo.n FROM todo, base WHERE event.seq = todo.seq
        """
    ).format(table=table)


def assign_positions() -> int:
    """Give positions to every event whose transaction and all earlier ones have ended. Returns how many;
    0 when another process is positioning right now (it will see these events too)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [POSITION_LOCK])
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute(_position_sql())
        return cursor.rowcount


def waiting() -> bool:
    """Whether committed or open transactions left events without a position."""
    return Event.objects.filter(position__isnull=True).exists()


# --- reading --------------------------------------------------------------------------------------------


def after(position: int, *, types: Iterable[str] | None = None, limit: int = 100) -> list[Event]:
    """Positioned events after `position`, in order (the events feed)."""
    events = Event.objects.filter(position__gt=position)
    if types:
        events = events.filter(type__in=list(types))
    return list(events.order_by("position")[:limit])


def last_position() -> int:
    last = Event.objects.filter(position__isnull=False).order_by("-position").values_list("position", flat=True)
    return last.first() or 0


def _cursor(name: str) -> Cursor:
    cursor, _created = Cursor.objects.get_or_create(name=name, defaults={"position": last_position()})
    return cursor


def run_consumer(consumer: Consumer, *, budget_seconds: float = 20.0) -> int:
    """Hand the consumer its new events batch by batch; each batch and the cursor's move share one
    transaction, so a failing handler leaves the cursor where it was (the batch comes again)."""
    _cursor(consumer.name)
    handed, started = 0, time.monotonic()
    while time.monotonic() - started < budget_seconds:
        with transaction.atomic():
            cursor = Cursor.objects.select_for_update(skip_locked=True).filter(name=consumer.name).first()
            if cursor is None:  # another worker runs this consumer now
                return handed
            batch = list(Event.objects.filter(position__gt=cursor.position).order_by("position")[:BATCH])
            if not batch:
                return handed
            wanted = [event for event in batch if consumer.types is None or event.type in consumer.types]
            if wanted:
                consumer.handler(wanted)
            cursor.position = batch[-1].position
            cursor.save(update_fields=["position", "updated_at"])
            handed += len(wanted)
    return handed


def dispatch(*, wait_seconds: float | None = None) -> dict:
    """Position what can be positioned and run every consumer. When events are still waiting for an
    earlier transaction to end, try again for up to `wait_seconds` (OUTBOX_DISPATCH_WAIT_SECONDS)."""
    wait = settings.OUTBOX_DISPATCH_WAIT_SECONDS if wait_seconds is None else wait_seconds
    deadline = time.monotonic() + wait
    for consumer in list(_consumers.values()):  # a new consumer starts before what this dispatch positions
        _cursor(consumer.name)
    positioned = assign_positions()
    while waiting() and time.monotonic() < deadline:
        time.sleep(0.2)
        positioned += assign_positions()
    handed = {}
    for consumer in list(_consumers.values()):
        try:
            handed[consumer.name] = run_consumer(consumer)
        except Exception:  # one failing consumer must not stop the others; its batch comes again
            log.exception("outbox consumer %s failed", consumer.name)
            handed[consumer.name] = "failed"
    return {"positioned": positioned, "handed": handed}


def purge(*, older_than_days: int | None = None) -> int:
    """Delete positioned events older than the retention (OUTBOX_RETENTION_DAYS) that every consumer has
    read."""
    days = settings.OUTBOX_RETENTION_DAYS if older_than_days is None else older_than_days
    read_by_all = min([cursor.position for cursor in Cursor.objects.all()] or [last_position()])
    deleted, _ = Event.objects.filter(
        at__lt=timezone.now() - dt.timedelta(days=days), position__isnull=False, position__lte=read_by_all
    ).delete()
    return deleted

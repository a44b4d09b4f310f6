"""The outbox: events commit or roll back with their change, get gap-free positions in commit order, and
reach every consumer at least once, in order, even while other transactions are still writing."""

import threading
import time

import pytest
from django.db import connection, connections, transaction

from core.vocabulary import EventType
from outbox import events
from outbox.models import Cursor, Event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_consumers_no_kicks(monkeypatch):
    """Consumers and the after-commit dispatch (inline in tests) are what these tests drive by hand."""
    monkeypatch.setattr(events, "_consumers", {})
    monkeypatch.setattr(events, "enqueue_on_commit", lambda func: None)


def _position_all(seconds=30.0):
    """Position every committed event. Transaction ids are the whole server's: an open transaction of
    another test process (another database) holds positions back for a moment, as in production."""
    positioned, deadline = 0, time.monotonic() + seconds
    while True:
        positioned += events.assign_positions()
        if not events.waiting() or time.monotonic() > deadline:
            return positioned
        time.sleep(0.1)


def test_an_event_outside_a_transaction_is_refused():
    with pytest.raises(events.OutsideTransaction):
        events.record(EventType.LEAD_CREATED, lead_id=1)
    assert Event.objects.count() == 0


def test_an_unknown_type_is_refused():
    with pytest.raises(ValueError, match="lead.exploded"), transaction.atomic():
        events.record("lead.exploded", lead_id=1)


def test_nothing_is_published_for_a_transaction_that_rolled_back():
    with pytest.raises(RuntimeError), transaction.atomic():
        events.record(EventType.LEAD_CREATED, lead_id=1)
        raise RuntimeError("the change failed")
    events.assign_positions()
    assert Event.objects.count() == 0


def test_positions_wait_for_an_earlier_open_transaction_and_follow_transaction_order():
    started, release, done = threading.Event(), threading.Event(), threading.Event()

    def slow_writer():
        try:
            with transaction.atomic():
                events.record(EventType.LEAD_CREATED, lead_id=1)  # first id, first transaction
                started.set()
                release.wait(10)
        finally:
            connections.close_all()
            done.set()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    started.wait(10)
    with transaction.atomic():
        events.record(EventType.LEAD_CREATED, lead_id=2)  # commits first
    assert events.assign_positions() == 0  # the earlier transaction is still open
    assert events.after(0) == []
    release.set()
    done.wait(10)
    thread.join()
    assert _position_all() == 2
    assert [(event.position, event.lead_id) for event in events.after(0)] == [(1, 1), (2, 2)]


def test_the_feed_pages_without_gaps_or_repeats_while_events_are_written():
    writers, per_writer = 3, 40

    def writer(number):
        try:
            for index in range(per_writer):
                with transaction.atomic():
                    events.record(EventType.ACTIVITY_LOGGED, lead_id=number * 1000 + index)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(writers)]
    for thread in threads:
        thread.start()
    seen, position = [], 0
    while any(thread.is_alive() for thread in threads) or len(seen) < writers * per_writer:
        events.assign_positions()
        page = events.after(position, limit=7)
        seen.extend(page)
        if page:
            position = page[-1].position
    for thread in threads:
        thread.join()
    assert [event.position for event in seen] == list(range(1, writers * per_writer + 1))
    assert sorted(event.lead_id for event in seen) == sorted(
        number * 1000 + index for number in range(writers) for index in range(per_writer)
    )


def test_a_consumer_gets_new_events_in_order_and_a_failed_batch_again():
    received, fail = [], {"once": True}

    def handler(batch):
        if fail["once"]:
            fail["once"] = False
            raise RuntimeError("receiver down")
        received.extend(event.lead_id for event in batch)

    with transaction.atomic():
        events.record(EventType.LEAD_CREATED, lead_id=99)  # before the consumer exists: not replayed
    events.dispatch(wait_seconds=30)
    events.register_consumer("test", handler, types=[EventType.LEAD_CREATED])
    events.dispatch(wait_seconds=30)  # creates the cursor at the current end
    with transaction.atomic():
        events.record_many(
            [
                {"type": EventType.LEAD_CREATED, "lead_id": 1},
                {"type": EventType.ACTIVITY_LOGGED, "lead_id": 1},
                {"type": EventType.LEAD_CREATED, "lead_id": 2},
            ]
        )
    assert events.dispatch(wait_seconds=30)["handed"]["test"] == "failed"
    assert received == []
    events.dispatch(wait_seconds=30)
    assert received == [1, 2]
    events.dispatch(wait_seconds=30)
    assert received == [1, 2]
    assert Cursor.objects.get(name="test").position == events.last_position()


def test_a_new_consumer_gets_the_events_its_first_dispatch_positions():
    received = []
    events.register_consumer("first", lambda batch: received.extend(e.lead_id for e in batch))
    with transaction.atomic():  # e.g. the first capture after a deploy: committed, not yet positioned
        events.record(EventType.LEAD_STAGE_CHANGED, lead_id=7, payload={"transition": "qualify"})
    events.dispatch(wait_seconds=30)
    assert received == [7]


def test_one_dispatch_is_kicked_per_transaction(monkeypatch):
    kicks = []
    monkeypatch.setattr(events, "enqueue_on_commit", kicks.append)
    with transaction.atomic():
        events.record(EventType.LEAD_CREATED, lead_id=1)
        events.record(EventType.LEAD_UPDATED, lead_id=1)
        events.record_many([{"type": EventType.ACTIVITY_LOGGED, "lead_id": 1}])
    assert kicks == ["outbox.tasks.dispatch"]
    with pytest.raises(RuntimeError), transaction.atomic():  # its queue row rolls back with it (core.tasks)
        events.record(EventType.LEAD_CREATED, lead_id=2)
        raise RuntimeError
    with transaction.atomic():  # the rolled-back transaction's mark is gone: this one enqueues its own
        events.record(EventType.LEAD_CREATED, lead_id=3)
    assert kicks == ["outbox.tasks.dispatch"] * 3
    assert connection.run_on_commit == []


def test_purge_keeps_what_a_consumer_has_not_read():
    with transaction.atomic():
        events.record_many([{"type": EventType.LEAD_CREATED, "lead_id": n} for n in range(3)])
    _position_all()
    Cursor.objects.create(name="slow", position=1)
    Event.objects.update(at="2000-01-01T00:00:00Z")
    assert events.purge(older_than_days=1) == 1
    assert sorted(Event.objects.values_list("position", flat=True)) == [2, 3]

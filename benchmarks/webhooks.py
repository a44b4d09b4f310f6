"""9. Webhook fan-out: 10,000 events to 3 subscriptions against a local receiver (deliveries per second).

Three subscriptions (all event types) point at an HTTP receiver on 127.0.0.1 in this process (it answers
200 at once and counts). The events are written as the outbox positions them, then handed to the webhooks
consumer in the outbox's batches (`outbox.events.BATCH`, one transaction each, as `run_consumer` does):
that is the fan-out into delivery rows (timed, a detail). Then the deliveries are sent as the send tasks
send them: `integrations.deliveries.send_due`, one thread per subscription (three workers), each delivery
claimed, signed with the standardwebhooks library, posted over a new connection to the checked address,
its attempt logged. Figure: deliveries per second for the send phase.

Reference, same run: the same number of POSTs of the same body size by three threads with plain
http.client (a new connection each, no database, no signing): what the receiver and the loopback allow.
Everything written is removed afterwards.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from benchmarks.common import Context, Figure, Result

NAME = "webhooks"
TITLE = "Webhook fan-out"
GOAL = "all deliveries delivered; within 3x of plain POSTs to the same receiver"
SUBSCRIPTIONS = 3


class _Receiver:
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # answer at once (no delayed-ACK wait between header and body)

            def do_POST(self):  # noqa: N802 (http.server's name)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 256
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _events(count: int) -> list:
    from django.db.models import Max

    from core.vocabulary import EventType
    from outbox.models import Event

    start = (Event.objects.aggregate(last=Max("position"))["last"] or 0) + 1
    types = [EventType.LEAD_CREATED, EventType.LEAD_STAGE_CHANGED, EventType.ACTIVITY_LOGGED]
    rows = [
        Event(position=start + n, type=types[n % 3], lead_id=n + 1,
              payload={"transition": "mark_mql", "source": "known", "target": "mql"} if n % 3 == 1 else {})
        for n in range(count)
    ]
    Event.objects.bulk_create(rows, batch_size=2000)
    return list(Event.objects.filter(position__gte=start).order_by("position"))


def _in_threads(jobs) -> float:
    from django.db import connections

    def wrap(job):
        try:
            job()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrap, args=(job,)) for job in jobs]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def _plain_posts(url: str, count: int, body: bytes) -> float:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)

    def post_many(n):
        for _ in range(n):
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            connection.request("POST", parts.path, body=body, headers={"Content-Type": "application/json"})
            connection.getresponse().read()
            connection.close()

    share = [count // SUBSCRIPTIONS + (1 if n < count % SUBSCRIPTIONS else 0) for n in range(SUBSCRIPTIONS)]
    threads = [threading.Thread(target=post_many, args=(n,)) for n in share]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def run(ctx: Context, *, events: int | None = None) -> Result:
    from django.conf import settings
    from django.db import transaction

    from core.vocabulary import EventType
    from integrations import consumer, deliveries, services
    from integrations.models import Delivery, DeliveryStatus, Subscription
    from outbox.events import BATCH
    from outbox.models import Event

    count = events or ctx.scaled(10_000, 1_000)
    receiver = _Receiver()
    allowed = settings.WEBHOOK_ALLOWED_HOSTS
    settings.WEBHOOK_ALLOWED_HOSTS = [*allowed, "127.0.0.1"]
    subscriptions, written, kick = [], [], consumer.enqueue_on_commit
    try:
        for n in range(SUBSCRIPTIONS):
            fields = services.clean({"url": receiver.url, "events": list(EventType.ALL), "description": f"bench {n}"})
            subscriptions.append(Subscription.objects.create(**fields, secret=services.new_secret()))
        written = _events(count)
        kick, consumer.enqueue_on_commit = consumer.enqueue_on_commit, lambda *args, **kwargs: None  # we send below
        started = time.perf_counter()
        for offset in range(0, len(written), BATCH):
            with transaction.atomic():
                consumer.consume(written[offset:offset + BATCH])
        fan_out = time.perf_counter() - started
        consumer.enqueue_on_commit = kick
        total = Delivery.objects.filter(subscription__in=subscriptions).count()
        send = _in_threads([
            (lambda pk=subscription.pk: deliveries.send_due(pk, budget_seconds=3600)) for subscription in subscriptions
        ])
        delivered = Delivery.objects.filter(subscription__in=subscriptions, status=DeliveryStatus.DELIVERED).count()
        received = receiver.count
        sample = Delivery.objects.filter(subscription__in=subscriptions).first()
        body = deliveries.standard_body(sample).encode() if sample else b"{}"
        reference = _plain_posts(receiver.url, total, body)
    finally:
        consumer.enqueue_on_commit = kick
        Subscription.objects.filter(pk__in=[s.pk for s in subscriptions]).delete()
        Event.objects.filter(pk__in=[event.pk for event in written]).delete()
        settings.WEBHOOK_ALLOWED_HOSTS = allowed
        receiver.close()
    rate, reference_rate = delivered / send if send else 0.0, total / reference if reference else 0.0
    ratio = reference_rate / rate if rate else None
    return Result(
        name=NAME, title=TITLE,
        figure=Figure("deliveries per second (3 subscriptions, 3 sending threads)", round(rate, 1), "/s"),
        reference=Figure("plain POSTs per second to the same receiver (3 threads)", round(reference_rate, 1), "/s"),
        ratio=round(ratio, 2) if ratio else None, goal=GOAL,
        goal_met=delivered == total == count * SUBSCRIPTIONS and ratio is not None and ratio <= 3,
        details=[
            Figure("events", count), Figure("deliveries written", total), Figure("deliveries delivered", delivered),
            Figure("receiver got", received),
            Figure("fan-out: events to delivery rows", round(count / fan_out, 1) if fan_out else None, "events/s"),
            Figure("send phase wall time", round(send, 2), "s"),
        ],
        params={"events": count, "subscriptions": SUBSCRIPTIONS},
    )

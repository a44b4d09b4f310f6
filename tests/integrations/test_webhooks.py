"""Outbound webhooks against a real HTTP receiver on 127.0.0.1: signed per Standard Webhooks (verified with
the standardwebhooks library), retried with the same webhook-id, in event order, dedupable, 410 disables,
redirects are not followed, a killed worker's delivery is sent again."""

import datetime as dt
import json

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from core.vocabulary import NotificationKind, Stage
from integrations import consumer, deliveries, tasks
from integrations.models import Attempt, Delivery, DeliveryStatus, Subscription
from leads.models import Notification
from tests.factories import LeadFactory
from tests.integrations.receiver import Answer

pytestmark = pytest.mark.django_db


def _send(subscription):
    return deliveries.send_due(subscription.pk, budget_seconds=20)


def test_a_delivery_is_signed_and_verifies_with_the_library(receiver, subscribe, make_events):
    subscription, secret = subscribe(receiver.url)
    lead = LeadFactory()
    [event] = make_events({"type": "lead.created", "lead_id": lead.pk, "payload": {"source": "web_form"}})
    consumer.consume([event])
    assert _send(subscription) == 1
    [request] = receiver.requests
    assert request.headers["webhook-id"] == f"evt_{event.position}"
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload == {
        "id": event.position, "type": "lead.created", "lead": lead.pk, "actor": None,
        "data": {"source": "web_form"}, "at": payload["at"],
    }
    assert payload["at"].endswith("Z")
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(request.body, request.headers)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.last_status_code == 200
    assert Attempt.objects.get().is_success


def test_a_500_then_200_is_retried_within_a_minute_with_the_same_webhook_id(receiver, subscribe, make_events):
    subscription, secret = subscribe(receiver.url)
    receiver.answer(Answer(500, b"database down"))
    [event] = make_events({"lead_id": None})
    consumer.consume([event])
    assert _send(subscription) == 0
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.last_status_code == 500
    assert timezone.now() < delivery.next_attempt_at < timezone.now() + dt.timedelta(seconds=60)
    assert _send(subscription) == 0  # not due yet: nothing sent
    assert len(receiver.requests) == 1
    with time_machine.travel(delivery.next_attempt_at + dt.timedelta(seconds=1)):
        assert tasks.sweep() == 1  # the sweep finds the due retry
        assert _send(subscription) == 1
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == f"evt_{event.position}"
    assert first.body == second.body
    Webhook(secret).verify(first.body, first.headers)
    log = list(Attempt.objects.order_by("at").values_list("status_code", "response_excerpt", "is_success"))
    assert log == [(500, "database down", False), (200, "ok", True)]
    assert Subscription.objects.get().failure_count == 0


def test_deliveries_arrive_in_event_order_once_each_and_a_redelivery_keeps_the_id(
    receiver, subscribe, make_events, admin_user
):
    subscription, _secret = subscribe(receiver.url)
    batch = make_events(*[{"lead_id": n} for n in range(5)])
    consumer.consume(batch)
    consumer.consume(batch)  # the outbox hands a batch again after a failure: no second delivery
    assert Delivery.objects.count() == 5
    assert _send(subscription) == 5
    assert [r.headers["webhook-id"] for r in receiver.requests] == [f"evt_{e.position}" for e in batch]
    from integrations import services

    delivery = Delivery.objects.get(event_position=batch[2].position)
    assert services.redeliver(by=admin_user, subscription_id=subscription.pk, delivery_id=delivery.pk) == 1
    assert _send(subscription) == 1
    assert receiver.requests[-1].headers["webhook-id"] == f"evt_{batch[2].position}"
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 5  # a receiver dedupes by id


def test_a_410_disables_the_subscription_and_tells_the_admins(receiver, subscribe, make_events, admin_user):
    subscription, _secret = subscribe(receiver.url)
    receiver.answer(Answer(410, b"gone"))
    consumer.consume(make_events({}, {}))
    assert _send(subscription) == 0
    subscription.refresh_from_db()
    assert not subscription.is_active and subscription.disabled_at is not None
    assert "410" in subscription.disabled_reason
    assert len(receiver.requests) == 1
    assert sorted(Delivery.objects.values_list("status", flat=True)) == [DeliveryStatus.FAILED] * 2
    note = Notification.objects.get(user=admin_user)
    assert note.kind == NotificationKind.WEBHOOK_DISABLED and str(subscription.pk) in note.message
    consumer.consume(make_events({}))  # a disabled subscription gets no new deliveries
    assert Delivery.objects.count() == 2


def test_a_redirect_is_not_followed_and_counts_as_a_failure(receiver, subscribe, make_events):
    subscription, _secret = subscribe(receiver.url)
    receiver.answer(Answer(302, b"", {"Location": receiver.url + "/elsewhere"}))
    consumer.consume(make_events({}))
    _send(subscription)
    assert [r.path for r in receiver.requests] == ["/hook"]
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_status_code == 302 and "redirect" in delivery.last_error


def test_a_receiver_that_times_out_is_retried(receiver, subscribe, make_events, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    subscription, _secret = subscribe(receiver.url)
    receiver.answer(Answer(200, delay=2.5))
    consumer.consume(make_events({}))
    _send(subscription)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and "timed out" in delivery.last_error
    assert delivery.last_status_code is None


def test_a_worker_killed_mid_delivery_leaves_it_claimable_with_the_same_id(receiver, subscribe, make_events):
    subscription, secret = subscribe(receiver.url)
    [event] = make_events({})
    consumer.consume([event])
    delivery = Delivery.objects.get()
    assert deliveries.claim(delivery.pk) is not None  # a worker took it ... and died before recording anything
    assert deliveries.claim(delivery.pk) is None  # nobody else takes it while the lease runs
    assert _send(subscription) == 0 and receiver.requests == []
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=deliveries.lease_seconds() + 1)):
        assert deliveries.subscriptions_with_due_work() == [subscription.pk]
        assert _send(subscription) == 1
    [request] = receiver.requests
    assert request.headers["webhook-id"] == f"evt_{event.position}"
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.status == DeliveryStatus.DELIVERED


def test_a_day_of_failures_disables_the_subscription(receiver, subscribe, make_events, admin_user):
    subscription, _secret = subscribe(receiver.url)
    receiver.default = Answer(503)
    Subscription.objects.filter(pk=subscription.pk).update(
        failure_count=deliveries.DISABLE_MIN_FAILURES - 2, failing_since=timezone.now() - dt.timedelta(hours=20)
    )
    consumer.consume(make_events({}, {}))
    _send(subscription)
    subscription.refresh_from_db()
    assert subscription.is_active  # failing for 20 hours only
    with time_machine.travel(timezone.now() + dt.timedelta(hours=5)):
        _send(subscription)
    subscription.refresh_from_db()
    assert not subscription.is_active and "a day" in subscription.disabled_reason
    assert Notification.objects.filter(user=admin_user, kind=NotificationKind.WEBHOOK_DISABLED).count() == 1


def test_a_success_ends_the_run_of_failures(receiver, subscribe, make_events):
    subscription, _secret = subscribe(receiver.url)
    Subscription.objects.filter(pk=subscription.pk).update(failure_count=7, failing_since=timezone.now())
    consumer.consume(make_events({}))
    _send(subscription)
    subscription.refresh_from_db()
    assert subscription.failure_count == 0 and subscription.failing_since is None


def test_the_retry_schedule_spans_about_a_day_and_then_gives_up(receiver, subscribe, make_events):
    assert deliveries.retry_delay(1) < 60
    total = sum(deliveries.RETRY_DELAYS)
    assert 20 * 3600 < total < 30 * 3600
    subscription, _secret = subscribe(receiver.url)
    receiver.default = Answer(500)
    consumer.consume(make_events({}))
    now = timezone.now()
    for _attempt in range(deliveries.MAX_ATTEMPTS):
        delivery = Delivery.objects.get()
        now = max(now, delivery.next_attempt_at) + dt.timedelta(seconds=1)
        with time_machine.travel(now):
            _send(subscription)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == deliveries.MAX_ATTEMPTS
    assert len(receiver.requests) == deliveries.MAX_ATTEMPTS
    with time_machine.travel(now + dt.timedelta(days=2)):
        assert _send(subscription) == 0
    assert len(receiver.requests) == deliveries.MAX_ATTEMPTS


def test_during_a_rotation_both_secrets_sign(receiver, subscribe, make_events, admin_user):
    from integrations import services

    subscription, old = subscribe(receiver.url)
    _sub, new = services.rotate_secret(by=admin_user, subscription_id=subscription.pk)
    consumer.consume(make_events({}))
    _send(subscription)
    request = receiver.requests[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(request.body, request.headers)
    Webhook(new).verify(request.body, request.headers)
    with time_machine.travel(timezone.now() + services.ROTATION_OVERLAP + dt.timedelta(minutes=1)):
        consumer.consume(make_events({}))
        _send(subscription)
        request = receiver.requests[-1]
        assert len(request.headers["webhook-signature"].split(" ")) == 1
        Webhook(new).verify(request.body, request.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(request.body, request.headers)


def test_filters_on_stage_and_team_and_an_erasure_reaches_every_subscriber(receiver, subscribe, make_events, sdr):
    from routing.models import Rep, Team

    team = Team.objects.create(name="Inside", slug="inside")
    Rep.objects.create(user=sdr, team=team)
    in_team = LeadFactory(stage=Stage.SAL, owner=sdr)
    elsewhere = LeadFactory(stage=Stage.SAL, owner=None)
    known = LeadFactory(stage=Stage.KNOWN)
    types = ("lead.created", "lead.stage_changed", "lead.erased")
    by_team, _s = subscribe(receiver.url, types, team=team.pk)
    by_stage, _s = subscribe(receiver.url, types, stages=["sql"])
    consumer.consume(make_events(
        {"lead_id": in_team.pk}, {"lead_id": elsewhere.pk}, {"lead_id": known.pk},
        {"type": "lead.stage_changed", "lead_id": known.pk, "payload": {"target": "sql"}},
        {"type": "lead.erased", "lead_id": 999999},
    ))
    assert sorted(Delivery.objects.filter(subscription=by_team).values_list("event_type", "lead_id")) == [
        ("lead.created", in_team.pk), ("lead.erased", 999999)
    ]
    assert sorted(Delivery.objects.filter(subscription=by_stage).values_list("event_type", "lead_id")) == [
        ("lead.erased", 999999), ("lead.stage_changed", known.pk)
    ]


def test_only_subscribed_types_become_deliveries(receiver, subscribe, make_events):
    subscribe(receiver.url, ["lead.stage_changed"])
    consumer.consume(make_events({"type": "lead.created"}, {"type": "activity.logged"}))
    assert Delivery.objects.count() == 0


def test_the_payload_is_the_same_bytes_on_every_attempt(receiver, subscribe, make_events):
    subscription, _secret = subscribe(receiver.url)
    consumer.consume(make_events({"payload": {"fields": ["phone", "city"], "by": "capture"}}))
    delivery = Delivery.objects.get()
    body = deliveries.standard_body(delivery)
    delivery.refresh_from_db()
    assert deliveries.standard_body(delivery) == body
    assert json.loads(body)["data"] == {"fields": ["phone", "city"], "by": "capture"}


def test_the_delivery_log_is_kept_as_long_as_the_events(receiver, subscribe, make_events, settings):
    settings.OUTBOX_RETENTION_DAYS = 30
    subscription, _secret = subscribe(receiver.url)
    consumer.consume(make_events({}, {}))
    _send(subscription)
    old, new = Delivery.objects.order_by("event_position")
    Delivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=31))
    assert tasks.purge() == 2  # the delivery and its attempt
    assert list(Delivery.objects.values_list("pk", flat=True)) == [new.pk]
    assert Attempt.objects.filter(delivery=new).exists()


def test_a_failure_holds_back_the_rest_of_the_batch_untried(receiver, subscribe, make_events):
    subscription, _secret = subscribe(receiver.url)
    receiver.answer(Answer(503))
    batch = make_events({}, {}, {})
    consumer.consume(batch)
    assert _send(subscription) == 0
    assert len(receiver.requests) == 1  # a receiver that is down gets one attempt, not a burst
    rows = list(Delivery.objects.order_by("event_position").values_list("status", "attempts", "claimed_until"))
    assert rows == [(DeliveryStatus.PENDING, 1, None), (DeliveryStatus.PENDING, 0, None),
                    (DeliveryStatus.PENDING, 0, None)]
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=40)):
        assert _send(subscription) == 3
    assert [r.headers["webhook-id"] for r in receiver.requests[1:]] == [f"evt_{e.position}" for e in batch]

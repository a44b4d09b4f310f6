"""Sending deliveries: claim one (a conditional UPDATE with a lease), sign it per Standard Webhooks, POST it
to a checked address, record the attempt, and decide what next.

- 2xx: delivered. The subscription's run of failures ends.
- 410 Gone: the receiver asks us to stop: the delivery fails and the subscription is disabled.
- anything else (3xx: redirects are never followed, 4xx, 5xx, timeout, refused connection, a URL that no
  longer passes the address check): retried after RETRY_DELAYS (with +-20 % jitter), ~27 hours in all;
  after the last attempt the delivery is failed (an admin may redeliver it).
- a subscription that has failed every attempt for DISABLE_AFTER (and at least DISABLE_MIN_FAILURES times)
  is disabled, and every admin is notified.

At least once: the lease (`claimed_until`) outlives the send; a worker killed mid-send leaves the row
`sending` with an expired lease, and the next sweep claims it again. The `webhook-id` is the event's, so
the receiver drops the duplicate if the first send did arrive.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks import Webhook

from core.vocabulary import NotificationKind
from integrations import chat, sender, urls_check
from integrations.models import Attempt, Delivery, DeliveryStatus, Format, Subscription
from leads import lifecycle

log = logging.getLogger(__name__)

# Seconds to wait after attempt 1, 2, ...: 8 attempts over about 27 hours; the first retry within a minute.
RETRY_DELAYS = (30, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.2
DISABLE_AFTER = dt.timedelta(days=1)
DISABLE_MIN_FAILURES = 10
LOCK_KEY = 0x7768  # "wh": one sender per subscription at a time (session advisory lock with the id)


def lease_seconds() -> int:
    return settings.WEBHOOK_TIMEOUT_SECONDS * 3 + 30


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` attempts, with jitter (spreads a recovering
    receiver's load)."""
    base = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    return base * random.uniform(1 - JITTER, 1 + JITTER)


def _claimable(now) -> Q:
    return Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, claimed_until__lt=now
    )


def claim(delivery_id: int) -> Delivery | None:
    """Take the delivery for one attempt, or None when it is not due, done, or another worker has it."""
    now = timezone.now()
    claimed = (
        Delivery.objects.filter(_claimable(now), pk=delivery_id, subscription__is_active=True)
        .update(status=DeliveryStatus.SENDING, claimed_until=now + dt.timedelta(seconds=lease_seconds()),
                attempts=F("attempts") + 1)
    )
    if not claimed:
        return None
    return Delivery.objects.select_related("subscription").get(pk=delivery_id)


def standard_body(delivery: Delivery) -> str:
    """The event as the events feed shows it; the same bytes on every attempt."""
    return json.dumps(
        {
            "id": delivery.event_position, "type": delivery.event_type,
            "at": delivery.event_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "lead": delivery.lead_id, "actor": delivery.actor_id, "data": delivery.data,
        },
        separators=(",", ":"), sort_keys=True,
    )


def signature(secrets: list[str], *, webhook_id: str, at: dt.datetime, body: str) -> str:
    """`webhook-signature`: one `v1,<base64>` per secret, space-separated (both during a rotation)."""
    return " ".join(Webhook(secret).sign(webhook_id, at, body) for secret in secrets)


def request_for(delivery: Delivery, *, at: dt.datetime) -> tuple[str, dict[str, str]] | None:
    """(body, headers) of the delivery's next attempt; None when a chat message has nothing to say."""
    subscription = delivery.subscription
    if subscription.format == Format.STANDARD:
        body = standard_body(delivery)
        at = at.astimezone(dt.UTC)
        return body, {
            "webhook-id": delivery.webhook_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature(subscription.secrets(at), webhook_id=delivery.webhook_id, at=at, body=body),
        }
    kind = chat.kind_of(delivery.event_type, delivery.data)
    payload = chat.body(subscription.format, kind, lead_id=delivery.lead_id, data=delivery.data) if kind else None
    if payload is None:
        return None
    return json.dumps(payload, separators=(",", ":")), {}


def _record(delivery: Delivery, outcome: sender.Outcome, *, ok: bool) -> None:
    Attempt.objects.create(
        delivery=delivery, status_code=outcome.status_code, error=outcome.error[:300],
        response_excerpt=outcome.body_excerpt[:500], duration_ms=outcome.duration_ms, is_success=ok,
    )


def attempt(delivery_id: int) -> str | None:
    """One attempt of one delivery; returns its status afterwards, or None when it was not claimable."""
    delivery = claim(delivery_id)
    if delivery is None:
        return None
    status, outcome = _send(delivery)
    if status == DeliveryStatus.DELIVERED:
        return _succeeded([(delivery, outcome, timezone.now())])
    return status


def _send(delivery: Delivery) -> tuple[str, sender.Outcome | None]:
    """Send one claimed delivery. A failure is recorded at once; a success is returned for the caller to
    record (`_succeeded`, batched by `send_due`)."""
    subscription = delivery.subscription
    built = request_for(delivery, at=timezone.now())
    if built is None:
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED, claimed_until=None, last_error="the lead no longer exists; nothing sent"
        )
        return DeliveryStatus.FAILED, None
    body, headers = built
    try:
        target = urls_check.check(subscription.url)
    except urls_check.Refused as refused:
        outcome = sender.Outcome(None, "", refused.message, 0)
    else:
        outcome = sender.post(
            target, body=body.encode(), headers=headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS
        )
    code = outcome.status_code
    if code is not None and 200 <= code < 300:
        return DeliveryStatus.DELIVERED, outcome
    if code is not None and 300 <= code < 400:
        outcome = sender.Outcome(code, outcome.body_excerpt, f"redirect ({code}) not followed", outcome.duration_ms)
    elif code is not None and not outcome.error:
        outcome = sender.Outcome(code, outcome.body_excerpt, f"answered {code}", outcome.duration_ms)
    log.warning(
        "webhook delivery %s (subscription %s, attempt %s) failed: %s",
        delivery.pk, subscription.pk, delivery.attempts, outcome.error,
    )
    if code == 410:
        return _gone(delivery, outcome), outcome
    return _failed(delivery, outcome), outcome


def _succeeded(done: list[tuple[Delivery, sender.Outcome, dt.datetime]]) -> str:
    """Record successful sends (delivery, outcome, when sent), one transaction for a batch: their attempts,
    their status, and the end of the subscription's run of failures."""
    if not done:
        return DeliveryStatus.DELIVERED
    with transaction.atomic():
        Attempt.objects.bulk_create([
            Attempt(delivery=delivery, at=at, status_code=outcome.status_code, is_success=True,
                    response_excerpt=outcome.body_excerpt[:500], duration_ms=outcome.duration_ms)
            for delivery, outcome, at in done
        ])
        by_code: dict[int, list[int]] = {}
        for delivery, outcome, _at in done:
            by_code.setdefault(outcome.status_code, []).append(delivery.pk)
        for code, ids in by_code.items():
            Delivery.objects.filter(pk__in=ids).update(
                status=DeliveryStatus.DELIVERED, claimed_until=None, delivered_at=timezone.now(),
                last_status_code=code, last_error="",
            )
        subscription = done[0][0].subscription
        if subscription.failure_count or subscription.failing_since:
            Subscription.objects.filter(pk=subscription.pk).update(failure_count=0, failing_since=None)
            subscription.failure_count, subscription.failing_since = 0, None
    return DeliveryStatus.DELIVERED


def _gone(delivery: Delivery, outcome: sender.Outcome) -> str:
    with transaction.atomic():
        _record(delivery, outcome, ok=False)
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED, claimed_until=None, last_status_code=410, last_error=outcome.error[:300]
        )
        disable(delivery.subscription_id, reason=_("the receiver answered 410 Gone"))
    return DeliveryStatus.FAILED


def _failed(delivery: Delivery, outcome: sender.Outcome) -> str:
    now = timezone.now()
    final = delivery.attempts >= MAX_ATTEMPTS
    with transaction.atomic():
        _record(delivery, outcome, ok=False)
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED if final else DeliveryStatus.PENDING, claimed_until=None,
            next_attempt_at=now if final else now + dt.timedelta(seconds=retry_delay(delivery.attempts)),
            last_status_code=outcome.status_code, last_error=outcome.error[:300],
        )
        subscription = Subscription.objects.select_for_update().get(pk=delivery.subscription_id)
        subscription.failure_count += 1
        subscription.failing_since = subscription.failing_since or now
        subscription.save(update_fields=["failure_count", "failing_since"])
        if (
            subscription.is_active and subscription.failure_count >= DISABLE_MIN_FAILURES
            and now - subscription.failing_since >= DISABLE_AFTER
        ):
            disable(subscription.pk, reason=_("every delivery failed for a day (%(count)s attempts in a row)")
                    % {"count": subscription.failure_count})
    return DeliveryStatus.FAILED if final else DeliveryStatus.PENDING


def disable(subscription_id: int, *, reason: str) -> bool:
    """Switch the subscription off, fail what was waiting for it, and tell every admin (once per disabling)."""
    now = timezone.now()
    with transaction.atomic():
        changed = Subscription.objects.filter(pk=subscription_id, is_active=True).update(
            is_active=False, disabled_at=now, disabled_reason=reason[:300]
        )
        if not changed:
            return False
        Delivery.objects.filter(
            subscription_id=subscription_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]
        ).update(status=DeliveryStatus.FAILED, claimed_until=None, last_error=_("the subscription was disabled"))
        subscription = Subscription.objects.get(pk=subscription_id)
        message = _("Webhook %(id)s (%(url)s) was disabled: %(reason)s.") % {
            "id": subscription.pk, "url": subscription.url[:120], "reason": reason,
        }
        for admin in get_user_model().objects.filter(is_superuser=True, is_active=True):
            lifecycle.notify(
                user=admin, lead=None, kind=NotificationKind.WEBHOOK_DISABLED,
                key=f"webhook-disabled:{subscription.pk}:{int(now.timestamp())}", message=message[:300],
            )
    log.warning("webhook subscription %s disabled: %s", subscription_id, reason)
    return True


def _lock(subscription_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_KEY, subscription_id])
        return cursor.fetchone()[0]


def _unlock(subscription_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_KEY, subscription_id])


CLAIM_BATCH = 25  # deliveries claimed (and their successes recorded) per transaction


def claim_batch(subscription_id: int, *, limit: int = CLAIM_BATCH) -> list[Delivery]:
    """Take the subscription's next due deliveries, in event order, for one attempt each: one SELECT ... FOR
    UPDATE SKIP LOCKED and one UPDATE. The lease covers sending them all one after the other."""
    now = timezone.now()
    with transaction.atomic():
        batch = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",)).select_related("subscription")
            .filter(_claimable(now), subscription_id=subscription_id, subscription__is_active=True)
            .order_by("event_position")[:limit]
        )
        if not batch:
            return []
        lease = dt.timedelta(seconds=lease_seconds() + settings.WEBHOOK_TIMEOUT_SECONDS * len(batch))
        Delivery.objects.filter(pk__in=[delivery.pk for delivery in batch]).update(
            status=DeliveryStatus.SENDING, claimed_until=now + lease, attempts=F("attempts") + 1
        )
    for delivery in batch:
        delivery.status, delivery.attempts = DeliveryStatus.SENDING, delivery.attempts + 1
    return batch


def _release(deliveries: list[Delivery]) -> None:
    """Hand back claimed deliveries that were not tried (they keep their attempt count and webhook-id)."""
    if deliveries:
        Delivery.objects.filter(pk__in=[d.pk for d in deliveries], status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.PENDING, claimed_until=None, attempts=F("attempts") - 1
        )


def send_due(subscription_id: int, *, budget_seconds: float) -> int:
    """Send the subscription's due deliveries in event order until none is left, one fails (the rest wait
    for the next sweep: a receiver that is down gets one attempt per sweep, not a burst), or the budget ends.
    One sender per subscription at a time; returns how many were delivered."""
    if not _lock(subscription_id):
        return 0
    delivered, started = 0, time.monotonic()
    try:
        while time.monotonic() - started < budget_seconds:
            batch = claim_batch(subscription_id)
            if not batch:
                break
            done, stop = [], False
            try:
                for index, delivery in enumerate(batch):
                    if time.monotonic() - started >= budget_seconds:
                        _release(batch[index:])
                        stop = True
                        break
                    status, outcome = _send(delivery)
                    if status == DeliveryStatus.DELIVERED:
                        done.append((delivery, outcome, timezone.now()))
                        continue
                    # A failure: the receiver is down (the rest waits for the next sweep), the subscription was
                    # disabled (its waiting deliveries are failed already), or only this delivery gave up.
                    active = Subscription.objects.filter(pk=subscription_id, is_active=True).exists()
                    if status == DeliveryStatus.PENDING or not active:
                        _release(batch[index + 1:])
                        stop = True
                        break
            finally:
                _succeeded(done)  # also when a send raised: what was delivered is recorded
            delivered += len(done)
            if stop:
                break
    finally:
        _unlock(subscription_id)
    return delivered


def subscriptions_with_due_work() -> list[int]:
    return list(
        Delivery.objects.filter(_claimable(timezone.now()), subscription__is_active=True)
        .order_by().values_list("subscription_id", flat=True).distinct()
    )


def purge(*, older_than_days: int | None = None) -> int:
    """Delete finished deliveries (and their attempts) older than the events' retention
    (OUTBOX_RETENTION_DAYS): the log is kept as long as the events it delivered."""
    days = settings.OUTBOX_RETENTION_DAYS if older_than_days is None else older_than_days
    deleted, _by_model = Delivery.objects.filter(
        status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.FAILED],
        created_at__lt=timezone.now() - dt.timedelta(days=days),
    ).delete()
    return deleted

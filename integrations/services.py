"""Writing subscriptions: create (the secret is shown once), rotate the secret with an overlap, delete, and
redeliver. Admins only (superusers); every refusal names the field."""

from __future__ import annotations

import base64
import datetime as dt
import secrets as random_secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Invalid, NotFound, NotPermitted
from core.tasks import enqueue_on_commit
from core.vocabulary import EventType
from integrations import chat, urls_check
from integrations.models import STAGE_VALUES, Delivery, DeliveryStatus, Format, Subscription
from routing.models import Team

ROTATION_OVERLAP = dt.timedelta(hours=24)
FIELDS = {"url", "events", "format", "stages", "team", "description"}


def new_secret() -> str:
    return "whsec_" + base64.b64encode(random_secrets.token_bytes(24)).decode()


def _require_admin(by) -> None:
    if not getattr(by, "is_superuser", False):
        raise NotPermitted(_("Only admins may manage webhooks."))


def _list_of_strings(value, name: str, errors: dict) -> list[str] | None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        errors[name] = [_("Send a list of names.")]
        return None
    return list(dict.fromkeys(value))


def clean(data: dict) -> dict:
    """Validated fields of a new subscription, or `Invalid` naming every bad one."""
    errors: dict[str, list[str]] = {}
    for name in sorted(set(data) - FIELDS):
        errors[name] = [_("Unknown field.")]
    fmt = data.get("format", Format.STANDARD)
    if fmt not in Format.values:
        errors["format"] = [_("Choose one of: %(values)s.") % {"values": ", ".join(Format.values)}]
    events = _list_of_strings(data.get("events"), "events", errors) if "events" in data else None
    if "events" not in data:
        errors["events"] = [_("Name at least one event type.")]
    elif events is not None:
        unknown = [name for name in events if name not in EventType.ALL]
        if not events:
            errors["events"] = [_("Name at least one event type.")]
        elif unknown:
            errors["events"] = [_("Unknown event type: %(types)s.") % {"types": ", ".join(unknown[:5])}]
        elif fmt in (Format.SLACK, Format.TEAMS) and set(events) - set(chat.CHAT_EVENT_TYPES):
            names = ", ".join(chat.CHAT_EVENT_TYPES)
            errors["events"] = [_("A chat target formats only: %(types)s.") % {"types": names}]
    stages = _list_of_strings(data.get("stages", []), "stages", errors)
    if stages and set(stages) - set(STAGE_VALUES):
        errors["stages"] = [_("Unknown stage; choose from: %(values)s.") % {"values": ", ".join(STAGE_VALUES)}]
    team = None
    if data.get("team") is not None:
        raw = data["team"]
        if isinstance(raw, bool) or not isinstance(raw, int):
            errors["team"] = [_("Send a team id.")]
        else:
            team = Team.objects.filter(pk=raw).first()
            if team is None:
                errors["team"] = [_("No such team.")]
    description = data.get("description", "")
    if not isinstance(description, str) or len(description) > 200:
        errors["description"] = [_("Send a text of at most 200 characters.")]
    url = data.get("url")
    if not isinstance(url, str) or len(url) > 2000:
        errors["url"] = [_("The url is required (a text of at most 2000 characters).")]
    else:
        try:
            urls_check.check(url)
        except urls_check.Refused as refused:
            errors.update(refused.errors)
    if errors:
        raise Invalid(errors)
    return {"url": url.strip(), "event_types": events, "format": fmt, "stages": stages or [], "team": team,
            "description": description}


def create_subscription(*, by, data: dict) -> tuple[Subscription, str]:
    """A new subscription and its secret (stored to sign with; shown to the caller once)."""
    _require_admin(by)
    fields = clean(data)
    secret = new_secret()
    subscription = Subscription.objects.create(**fields, secret=secret, created_by=by)
    return subscription, secret


def get(*, by, subscription_id: int) -> Subscription:
    _require_admin(by)
    subscription = Subscription.objects.filter(pk=subscription_id).first()
    if subscription is None:
        raise NotFound(_("No such webhook."))
    return subscription


def delete_subscription(*, by, subscription_id: int) -> None:
    get(by=by, subscription_id=subscription_id).delete()


@transaction.atomic
def rotate_secret(*, by, subscription_id: int) -> tuple[Subscription, str]:
    """A new secret; deliveries are signed with the old and the new one for ROTATION_OVERLAP."""
    get(by=by, subscription_id=subscription_id)
    subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
    secret = new_secret()
    subscription.previous_secret, subscription.secret = subscription.secret, secret
    subscription.previous_secret_until = timezone.now() + ROTATION_OVERLAP
    subscription.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    return subscription, secret


@transaction.atomic
def enable(*, by, subscription_id: int) -> Subscription:
    """Switch a disabled subscription on again (its failed deliveries stay failed: redeliver them)."""
    get(by=by, subscription_id=subscription_id)
    Subscription.objects.filter(pk=subscription_id).update(
        is_active=True, disabled_at=None, disabled_reason="", failure_count=0, failing_since=None
    )
    return Subscription.objects.get(pk=subscription_id)


@transaction.atomic
def redeliver(*, by, subscription_id: int, delivery_id: int | None = None) -> int:
    """Send one delivery (any status but in flight) or every failed one again, with a fresh retry schedule
    and the same webhook-id. Returns how many were queued."""
    subscription = get(by=by, subscription_id=subscription_id)
    deliveries = Delivery.objects.filter(subscription=subscription)
    if delivery_id is not None:
        deliveries = deliveries.filter(pk=delivery_id)
        if not deliveries.exists():
            raise NotFound(_("No such delivery."))
        deliveries = deliveries.exclude(status=DeliveryStatus.SENDING)
    else:
        deliveries = deliveries.filter(status=DeliveryStatus.FAILED)
    count = deliveries.update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), claimed_until=None
    )
    if count and subscription.is_active:
        enqueue_on_commit("integrations.tasks.send", subscription.pk)
    return count

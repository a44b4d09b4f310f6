"""Site tracking: page views (and other tracked events) of anonymous and known visitors."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Invalid
from core.parsers import bad_text
from core.vocabulary import TRACKED_KINDS, ActivityKind, EventType
from leads.activities import after_activity
from leads.models import Activity, CaptureForm, Lead, Visitor
from leads.validation import clean_activity, clean_url, clean_visitor_id
from outbox import events as outbox_events


@transaction.atomic
def track(*, form: CaptureForm, raw: dict) -> Visitor:
    """Record a page view (or other tracked event) of an anonymous or known visitor."""
    errors: dict[str, list[str]] = {}
    if not isinstance(raw, dict):
        raise Invalid({"non_field_errors": [_("Send a JSON object.")]})
    for key in sorted(set(raw) - {"visitor_id", "kind", "url", "occurred_at", "title", "referrer"}):
        errors[key] = [_("Unknown field.")]
    anonymous_id = clean_visitor_id(raw.get("visitor_id"), "visitor_id", errors)
    if not anonymous_id and "visitor_id" not in errors:
        errors["visitor_id"] = [_("The visitor id is required.")]
    now = timezone.now()
    activity = clean_activity(
        {k: raw.get(k) for k in ("kind", "url", "occurred_at") if raw.get(k) is not None} | {
            "kind": raw.get("kind") or ActivityKind.PAGE_VIEW
        },
        errors, now=now, allowed=TRACKED_KINDS,
    )
    title = raw.get("title")
    title = "" if title is None else title
    if not isinstance(title, str) or len(title) > 300 or bad_text(title):
        errors.setdefault("title", []).append(_("Enter text of at most 300 characters."))
        title = ""
    referrer = clean_url(raw.get("referrer"), "referrer", errors)
    if errors:
        raise Invalid({key.replace("activity.", ""): value for key, value in errors.items()})
    visitor, created = Visitor.objects.get_or_create(
        anonymous_id=anonymous_id, defaults={"capture_form": form, "first_seen_at": now, "last_seen_at": now}
    )
    if not created:
        Visitor.objects.filter(pk=visitor.pk).update(last_seen_at=now)
    recorded = Activity.objects.create(
        visitor=visitor, lead_id=visitor.lead_id, kind=activity.kind, url=activity.url,
        occurred_at=activity.occurred_at, data={k: v for k, v in {"title": title, "referrer": referrer}.items() if v},
    )
    if visitor.lead_id:
        outbox_events.record(
            EventType.ACTIVITY_LOGGED, lead_id=visitor.lead_id, payload={"activity": recorded.pk, "kind": recorded.kind}
        )
        Lead.objects.filter(pk=visitor.lead_id, last_touch_at__lt=activity.occurred_at).update(
            last_touch_at=activity.occurred_at, updated_at=timezone.now()
        )
        after_activity(lead_id=visitor.lead_id, activity=recorded)
    return visitor

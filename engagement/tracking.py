"""What comes back: opens (pixel), clicks (signed redirects), unsubscribes, and the ESP's tracking events.

Opens and clicks are recorded on the message (`TrackingEvent`) and as lead activities (`email_open`,
`email_click`), which score as engagement and may make an MQL (leads.activities.after_activity). A hard
bounce marks the message `bounced`: eligibility refuses every further send to the lead. A complaint or an
unsubscribe withdraws marketing consent in the consent log and ends the enrolment.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.vocabulary import ActivityKind, EventType
from engagement import engine
from engagement.models import Enrolment, Message, TrackingEvent
from leads import activities
from leads.models import Activity, Lead
from outbox import events as outbox_events
from privacy import consent

ACTIVITY_OF = {TrackingEvent.Kind.OPENED: ActivityKind.EMAIL_OPEN, TrackingEvent.Kind.CLICKED: ActivityKind.EMAIL_CLICK}


def record(*, message_id: int, kind: str, url: str = "", ip_address: str | None = None, user_agent: str = "") -> bool:
    """Record one event for a message; opens count once per message (a second open adds nothing)."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .select_related("enrolment__programme", "enrolment__lead")
            .filter(pk=message_id)
            .first()
        )
        if message is None or message.enrolment.lead.erased_at:
            return False
        if kind == TrackingEvent.Kind.OPENED and message.events.filter(kind=kind).exists():
            return False
        TrackingEvent.objects.create(message=message, kind=kind, url=url[:2000])
        lead = message.enrolment.lead
        if kind in ACTIVITY_OF:
            activity = Activity.objects.create(
                lead=lead, kind=ACTIVITY_OF[kind], occurred_at=timezone.now(), url=url[:2000],
                data={"message": message.pk, "programme": message.enrolment.programme.slug},
            )
            outbox_events.record(
                EventType.ACTIVITY_LOGGED, lead_id=lead.pk, payload={"activity": activity.pk, "kind": activity.kind}
            )
            activities.after_activity(activity=activity, lead_id=lead.pk)
        elif kind == TrackingEvent.Kind.BOUNCED:
            Message.objects.filter(pk=message.pk).update(status=Message.Status.BOUNCED, reason="hard bounce")
            _end_all(lead.pk, "address bounced")
        elif kind in (TrackingEvent.Kind.COMPLAINED, TrackingEvent.Kind.UNSUBSCRIBED):
            unsubscribe(lead=lead, ip_address=ip_address, user_agent=user_agent, record_event=False)
    return True


def _end_all(lead_id: int, reason: str) -> None:
    for enrolment in Enrolment.objects.select_for_update().filter(lead_id=lead_id, status=Enrolment.Status.ACTIVE):
        engine.end(enrolment=enrolment, reason=reason)


def unsubscribe(*, lead: Lead, ip_address: str | None, user_agent: str, message_id: int | None = None,
                record_event: bool = True) -> None:
    """One click: every marketing purpose withdrawn in the consent log, every enrolment of the lead ended."""
    with transaction.atomic():
        consent.unsubscribe(lead=lead, ip_address=ip_address, user_agent=user_agent)
        if record_event and message_id is not None:
            TrackingEvent.objects.create(message_id=message_id, kind=TrackingEvent.Kind.UNSUBSCRIBED)
        _end_all(lead.pk, "unsubscribed")



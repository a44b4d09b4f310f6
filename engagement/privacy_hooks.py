"""Engagement's personal data for privacy: the registry lists its tables (export and the record of
processing follow it), and erasure, heard through the outbox (`lead.erased`), deletes the person's
enrolments, messages, tracking events and cadence tasks. Nothing is mailed to an erased lead meanwhile:
eligibility refuses it at send time."""

from django.db import transaction

from core.vocabulary import EventType
from engagement.models import CadenceTask, Enrolment, Message, TrackingEvent
from privacy import registry

PURPOSE = "E-mail marketing (nurture programmes) and sales cadences, with consent for marketing_email"


def register_tables() -> None:
    registry.register(
        registry.Table(
            Enrolment, "lead", ("exit_reason",), ("id", "status", "enrolled_at", "ended_at"),
            category="Nurture and cadence enrolments", purpose=PURPOSE, retention="With the lead; deleted on erasure",
        )
    )
    registry.register(
        registry.Table(
            Message, "enrolment__lead", ("subject", "message_id", "reason"), ("id", "status", "sent_at", "language"),
            category="Marketing e-mails sent or skipped, with the reason", purpose=PURPOSE,
            retention="With the lead; deleted on erasure",
        )
    )
    registry.register(
        registry.Table(
            TrackingEvent, "message__enrolment__lead", ("url",), ("id", "kind", "at"),
            category="Opens, clicks, bounces of marketing e-mails", purpose=PURPOSE,
            retention="With the lead; deleted on erasure",
        )
    )
    registry.register(
        registry.Table(
            CadenceTask, "lead", ("script",), ("id", "channel", "due_on", "done_at"),
            category="Cadence tasks for the lead's owner", purpose=PURPOSE,
            retention="With the lead; deleted on erasure",
        )
    )


def erase(lead_id: int) -> None:
    with transaction.atomic():
        CadenceTask.objects.filter(lead_id=lead_id).delete()
        TrackingEvent.objects.filter(message__enrolment__lead_id=lead_id).delete()
        Message.objects.filter(enrolment__lead_id=lead_id).delete()
        Enrolment.objects.filter(lead_id=lead_id).delete()


def consume(events) -> None:
    for event in events:
        if event.type == EventType.LEAD_ERASED and event.lead_id:
            erase(event.lead_id)

"""What engagement shows on the lead page (registered in EngagementConfig.ready): the lead's enrolments with a
manual enrolment form, and every message (sent, opened, clicked, skipped and why) in the timeline."""

from django.db.models import Prefetch

from engagement import selectors, services
from engagement.models import Enrolment, Message, Programme, TrackingEvent
from leads import extensions


def section(lead, user) -> dict:
    enrolments = list(
        Enrolment.objects.filter(lead_id=lead.pk).select_related("programme").order_by("-enrolled_at")[:20]
    )
    active = {e.programme_id for e in enrolments if e.status == Enrolment.Status.ACTIVE}
    programmes = list(Programme.objects.filter(is_active=True).exclude(pk__in=active).order_by("name"))
    return {
        "lead": lead,
        "enrolments": enrolments,
        "programmes": programmes if services.may_enrol(user, lead) else [],
        "may_enrol": services.may_enrol(user, lead),
    }


def timeline(lead) -> list[extensions.TimelineEntry]:
    messages = (
        Message.objects.filter(enrolment__lead_id=lead.pk)
        .select_related("enrolment__programme", "template")
        .prefetch_related(Prefetch("events", queryset=TrackingEvent.objects.order_by("at")))
        .order_by("-created_at")[:100]
    )
    return [
        extensions.TimelineEntry(
            type="message", at=message.sent_at or message.created_at, item=message,
            template="engagement/_timeline_message.html",
        )
        for message in messages
    ]


def queue_tasks(user, today) -> dict:
    """My queue: the cadence tasks (call, e-mail, LinkedIn with the script) due today or overdue."""
    return {"tasks": list(selectors.tasks_due_today(user, today=today)[:50]), "today": today}

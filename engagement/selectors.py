"""Reads of the engagement app: the programme list's figures, a programme's figures by step and variant,
a lead's messages, the owner's cadence tasks due today, the preview context."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from engagement.models import CadenceTask, Enrolment, Message, Programme, TrackingEvent


def programme_rows():
    return Programme.objects.annotate(
        active=Count("enrolments", filter=Q(enrolments__status=Enrolment.Status.ACTIVE)),
        enrolled=Count("enrolments"),
    ).order_by("name")


def programme_figures(programme: Programme) -> list[dict]:
    """Per step and variant: messages, sent, skipped, failed, bounced, opened, clicked (distinct messages: the
    join with the events repeats a message once per event)."""
    rows = (
        Message.objects.filter(enrolment__programme=programme)
        .values("step__position", "variant")
        .annotate(
            messages=Count("id", distinct=True),
            sent=Count("id", filter=Q(status__in=[Message.Status.SENT, Message.Status.BOUNCED]), distinct=True),
            skipped=Count("id", filter=Q(status=Message.Status.SKIPPED), distinct=True),
            failed=Count("id", filter=Q(status=Message.Status.FAILED), distinct=True),
            bounced=Count("id", filter=Q(status=Message.Status.BOUNCED), distinct=True),
            opened=Count("id", filter=Q(events__kind=TrackingEvent.Kind.OPENED), distinct=True),
            clicked=Count("id", filter=Q(events__kind=TrackingEvent.Kind.CLICKED), distinct=True),
        )
        .order_by("step__position", "variant")
    )
    return list(rows)


def visible_messages(lead):
    return (
        Message.objects.filter(enrolment__lead=lead)
        .select_related("enrolment__programme", "step")
        .order_by("-created_at", "-id")
    )


def tasks_due_today(user, today=None):
    today = today or timezone.localdate()
    return (
        CadenceTask.objects.filter(owner=user, lead__owner=user, done_at__isnull=True, due_on__lte=today,
                                   enrolment__status=Enrolment.Status.ACTIVE)
        .select_related("lead", "enrolment__programme")
        .order_by("due_on", "id")
    )


def preview_context(lead, user) -> dict:
    """Merge data for a preview: the lead's (a real lead) or sample values; links point to this site."""
    name = user.get_full_name() or user.get_username()
    sample = lead is None
    token = "preview"  # noqa: S105 - never the lead's own token: a preview's link must not change their consent
    return {
        "first_name": "Alex" if sample else lead.first_name,
        "last_name": "Muster" if sample else lead.last_name,
        "company": "Beispiel GmbH" if sample else lead.company,
        "owner_name": name if sample or lead.owner is None else (lead.owner.get_full_name() or lead.owner.username),
        "owner_signature": name,
        "unsubscribe_url": settings.SITE_URL + reverse("privacy:unsubscribe", args=[token]),
        "preferences_url": settings.SITE_URL + reverse("privacy:preferences", args=[token]),
    }

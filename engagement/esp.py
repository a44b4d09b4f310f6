"""E-mail service providers through django-anymail: their tracking webhooks come back as our tracking events.

Sending goes through whatever `EMAIL_BACKEND` names (SMTP by default, or an anymail backend such as
`anymail.backends.postmark.EmailBackend`); the id the provider gives a message is stored on it
(`Message.esp_message_id`). The webhooks of the providers below are mounted under `/anymail/<esp>/tracking/`
when `ANYMAIL_WEBHOOK_SECRET` is set (HTTP basic auth `user:password`, anymail checks it; without it the
endpoints answer 404). anymail announces each normalised event through its `tracking` signal: that is the
library's interface, so it is connected here (EngagementConfig.ready) and handed to `tracking.record`, the
same path our own pixel and redirects take: opens and clicks become lead activities, a bounce stops every
further send, a complaint or unsubscribe withdraws marketing consent.
"""

from __future__ import annotations

from anymail.webhooks.brevo import BrevoTrackingWebhookView
from anymail.webhooks.mailjet import MailjetTrackingWebhookView
from anymail.webhooks.postmark import PostmarkTrackingWebhookView
from anymail.webhooks.sendgrid import SendGridTrackingWebhookView
from django.conf import settings
from django.db.models import Q
from django.http import Http404

from engagement import tracking
from engagement.models import Message, TrackingEvent

VIEWS = {
    "postmark": PostmarkTrackingWebhookView,
    "sendgrid": SendGridTrackingWebhookView,
    "brevo": BrevoTrackingWebhookView,
    "mailjet": MailjetTrackingWebhookView,
}

# anymail's normalised event types -> ours (the others, e.g. queued or deferred, change nothing)
KINDS = {
    "opened": TrackingEvent.Kind.OPENED,
    "clicked": TrackingEvent.Kind.CLICKED,
    "delivered": TrackingEvent.Kind.DELIVERED,
    "bounced": TrackingEvent.Kind.BOUNCED,
    "complained": TrackingEvent.Kind.COMPLAINED,
    "unsubscribed": TrackingEvent.Kind.UNSUBSCRIBED,
}


def webhook(esp: str):
    """The provider's tracking webhook view, or a 404 while no webhook secret is configured."""
    view = VIEWS[esp].as_view()

    def endpoint(request, *args, **kwargs):
        if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
            raise Http404("ESP webhooks are off (ANYMAIL_WEBHOOK_SECRET is not set).")
        return view(request, *args, **kwargs)

    return endpoint


def on_tracking(sender, event, esp_name, **kwargs) -> None:
    """anymail's `tracking` signal: one normalised event of a message we sent."""
    kind = KINDS.get(event.event_type)
    if kind is None or not event.message_id:
        return
    message_id = (
        Message.objects.filter(Q(esp_message_id=event.message_id) | Q(message_id=event.message_id))
        .values_list("pk", flat=True)
        .first()
    )
    if message_id is None:
        return  # not one of ours (the opt-in mail, a report e-mail)
    tracking.record(message_id=message_id, kind=kind, url=event.click_url or "")

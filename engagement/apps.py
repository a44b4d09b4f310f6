from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EngagementConfig(AppConfig):
    name = "engagement"
    verbose_name = _("Engagement")

    def ready(self):
        from anymail import signals as anymail_signals

        from core.vocabulary import EventType
        from engagement import esp, lead_page, privacy_hooks
        from leads import extensions
        from outbox import events

        # Erasure takes the person out of every enrolment and message (heard through the outbox).
        events.register_consumer("engagement.erasure", privacy_hooks.consume, types=[EventType.LEAD_ERASED])
        privacy_hooks.register_tables()
        # E-mail service providers' tracking webhooks (django-anymail announces them with its signal).
        anymail_signals.tracking.connect(esp.on_tracking, dispatch_uid="engagement.esp")
        extensions.register_timeline("engagement", lead_page.timeline)
        extensions.register_queue_section(
            extensions.Section(
                name="cadence_tasks", template="engagement/queue_tasks.html", context=lead_page.queue_tasks, order=50
            )
        )
        extensions.register_section(
            extensions.Section(
                name="engagement", template="engagement/lead_section.html", context=lead_page.section, order=55
            )
        )

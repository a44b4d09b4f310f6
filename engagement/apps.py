from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EngagementConfig(AppConfig):
    name = "engagement"
    verbose_name = _("Engagement")

    def ready(self):
        from core.vocabulary import EventType
        from engagement import lead_page, privacy_hooks
        from leads import extensions
        from outbox import events

        # Erasure takes the person out of every enrolment and message (heard through the outbox).
        events.register_consumer("engagement.erasure", privacy_hooks.consume, types=[EventType.LEAD_ERASED])
        privacy_hooks.register_tables()
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

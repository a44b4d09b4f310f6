from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    name = "sales"
    verbose_name = _("Sales")

    def ready(self):
        from core.vocabulary import EventType
        from leads import extensions
        from outbox import events
        from sales import handoff, lead_page, privacy

        privacy.register_tables()  # contacts, opportunities, accounts: erasure and export cover them

        # The hand-off hears of qualify / open_opportunity and of meetings through the transactional outbox.
        events.register_consumer(
            "sales.handoff", handoff.consume, types=[EventType.LEAD_STAGE_CHANGED, EventType.ACTIVITY_LOGGED]
        )

        extensions.register_section(
            extensions.Section(
                name="opportunities", template="sales/lead_section.html", context=lead_page.section, order=60
            )
        )

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Integrations")

    def ready(self):
        from core.vocabulary import EventType
        from integrations import consumer
        from outbox import events

        # Webhooks and chat targets hear of every event type through the transactional outbox.
        events.register_consumer(consumer.NAME, consumer.consume, types=EventType.ALL)

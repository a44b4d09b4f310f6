"""The transactional outbox: one row per domain event, written in the transaction of the change it
describes, read in order by the apps and systems that must hear of it (webhooks, the events feed, sales,
engagement). See docs/integrations.md.

`record`, `record_many` and `register_consumer` live in `outbox.events`; they are re-exported here lazily
(Django imports this package before its models are ready).
"""

_EXPORTS = {"record", "record_many", "register_consumer"}


def __getattr__(name):
    if name in _EXPORTS:
        from outbox import events

        return getattr(events, name)
    raise AttributeError(name)

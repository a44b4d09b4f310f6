"""What privacy shows on the lead page (registered with `leads.extensions` in `PrivacyConfig.ready`): the
consent per purpose and the consent log in the timeline, both read from the consent log, the one source the
proof page reads too."""

from core.vocabulary import ConsentPurpose, ConsentStatus
from leads import extensions
from privacy import consent, suppression
from privacy.models import ConsentEvent


def consent_section(lead, user) -> dict:
    """The consent status per purpose, derived from the log: (purpose label, status value, status label)."""
    labels = dict(ConsentStatus.choices)
    return {
        "consents": [
            (ConsentPurpose(purpose).label, status, labels.get(status, status))
            for purpose, status in consent.statuses(lead.pk).items()
        ]
    }


def consent_timeline(lead) -> list[extensions.TimelineEntry]:
    events = ConsentEvent.objects.filter(lead_id=lead.pk).select_related("recorded_by").order_by("-at", "-id")[:100]
    return [
        extensions.TimelineEntry(type="consent", at=event.at, item=event, template="privacy/_timeline_consent.html")
        for event in events
    ]


def register() -> None:
    extensions.register_section(
        extensions.Section(name="consent", template="privacy/_lead_consent.html", context=consent_section, order=10)
    )
    extensions.register_timeline("consent", consent_timeline)
    extensions.register_contact_check("suppression", suppression.contact_check)

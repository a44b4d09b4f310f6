"""May this lead be mailed now? The one place that says so: the enrolment (a programme that mails) and the
send tick, in the transaction that claims the message with the lead's row locked, both ask `problem`.

E-mail marketing follows the consent log (privacy.consent) and privacy's one rule for it
(`consent.is_contactable`, the record of processing in docs/privacy.md): the purpose `marketing_email`
given and its double opt-in confirmed (the log says `pending` until then; consent given without a double
opt-in is not enough for marketing e-mail). Never mailed: an erased lead, an address on the suppression
list, an address that bounced hard.
"""

from __future__ import annotations

from core.vocabulary import ConsentPurpose, ConsentStatus
from engagement.models import Message
from leads.models import Lead
from privacy import consent, suppression

NO_CONSENT = "no consent for marketing e-mail"
WITHDRAWN = "consent withdrawn"
UNCONFIRMED = "double opt-in not confirmed"
ERASED = "erased"
SUPPRESSED = "suppressed address"
BOUNCED = "address bounced"


def problem(lead: Lead) -> str:
    """Why this lead may not get marketing e-mail now ("" when it may). Reasons are stable words (recorded on
    skipped messages and returned by the API)."""
    if lead.erased_at:
        return ERASED
    if suppression.suppressed(email=lead.email):
        return SUPPRESSED
    if Message.objects.filter(enrolment__lead_id=lead.pk, status=Message.Status.BOUNCED).exists():
        return BOUNCED
    current = consent.statuses(lead.pk)[ConsentPurpose.MARKETING_EMAIL]
    if current == ConsentStatus.WITHDRAWN:
        return WITHDRAWN
    if current in (ConsentStatus.PENDING, ConsentStatus.GIVEN):
        return UNCONFIRMED
    if not consent.is_contactable(current):
        return NO_CONSENT
    return ""


# Reasons that end the enrolment (not just skip one message).
EXITS = frozenset({NO_CONSENT, WITHDRAWN, ERASED, SUPPRESSED, BOUNCED, UNCONFIRMED})

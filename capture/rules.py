"""The capture rules: one home for what the single submit (`capture.submissions`) and the bulk path
(`capture.bulk`, the CSV import) both apply, so the two cannot drift apart.

- where a lead comes from (`source_of`, `campaign_of`), its company domain (`company_domain`);
- the fill-only-empty merge of a later submission (`leads.fields.FILL_EMPTY`, also the merge of two leads);
- what the touchpoint records (`touchpoint_data`);
- the advisory lock that serialises captures of one address (`LOCK_ADDRESS_SQL`, `LOCK_ADDRESSES_SQL`);
- the answer for an erased (suppressed) person without fresh consent (`suppressed_errors`).

`tests/capture/test_capture_rules.py` runs the same submissions through both paths and compares the leads,
touchpoints and outcomes they leave.
"""

from django.utils.translation import gettext as _

from core.vocabulary import Channel
from leads.validation import SOURCES, email_domain, is_free_mail, website_domain

# Captures of one normalised e-mail take this transaction-scoped advisory lock, so concurrent submissions
# of a new address create one lead (a row lock cannot serialise a row that does not exist yet).
LOCK_ADDRESS_SQL = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
# The same locks for a batch of addresses, in one statement, in the order given (callers sort: no deadlock).
LOCK_ADDRESSES_SQL = (
    "SELECT count(pg_advisory_xact_lock(hashtextextended(address, 0))) FROM unnest(%s::text[]) AS address"
)
# The touchpoint keeps these campaign-tracking values of the submission (not the person's data).
TOUCHPOINT_UTM = ("utm_source", "utm_medium", "utm_campaign")


def source_of(*, reported: str, form=None, channel: str) -> str:
    """The lead's source: what the submission says, else the form's, else the channel it came through;
    anything unknown is `other`."""
    source = reported or (form.source if form is not None else "") or channel
    return source if source in SOURCES else Channel.OTHER.value


def campaign_of(*, reported, form=None):
    """The campaign the submission names, else the form's."""
    return reported or (form.campaign if form is not None else None)


def company_domain(*, website: str, email: str) -> str:
    """The company's domain: the website's, else the e-mail's; free-mail domains name no company."""
    domain = website_domain(website) if website else email_domain(email)
    return "" if is_free_mail(domain) else domain


def touchpoint_data(*, submission_id: int, channel: str, source: str, campaign, clean: dict) -> dict:
    """`Activity.data` of a capture's touchpoint: where it came from, never the person's data."""
    return {
        "submission": submission_id, "channel": channel, "source": source,
        "campaign": campaign.slug if campaign is not None else None,
        **{name: clean[name] for name in TOUCHPOINT_UTM if clean[name]},
    }


def suppressed_errors() -> dict[str, list[str]]:
    """An erased person is not captured again without fresh consent: the answer names `consent`."""
    return {
        "consent": [_("This person asked for their data to be erased; capture them again only with their consent.")]
    }

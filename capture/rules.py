"""The capture rules: one home for what the single submit (`capture.submissions`) and the bulk path
(`capture.bulk`, the CSV import) both apply, so the two cannot drift apart.

- where a lead comes from (`source_of`, `campaign_of`), its company domain (`company_domain`);
- the fill-only-empty merge of a later submission (`leads.fields.FILL_EMPTY`, also the merge of two leads);
- what the touchpoint records (`touchpoint_data`: origin, campaign tracking, the topic of interest);
- the advisory lock that serialises captures of one address (`LOCK_ADDRESS_SQL`, `LOCK_ADDRESSES_SQL`);
- the answer for an erased (suppressed) person without fresh consent (`suppressed_errors`);
- what is kept of a rejected submission (`rejected_record`): a bounded excerpt and at most
  `MAX_ERROR_FIELDS` named errors, and nothing of a suppressed person at all.

`tests/capture/test_capture_rules.py` runs the same submissions through both paths and compares the leads,
touchpoints and outcomes they leave.
"""

import json

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.vocabulary import Channel
from leads import fields, validation
from leads.validation import SOURCES

# Captures of one normalised e-mail take this transaction-scoped advisory lock, so concurrent submissions
# of a new address create one lead (a row lock cannot serialise a row that does not exist yet).
# The lead edit (`leads.edits`) takes the same lock when it changes an e-mail address.
LOCK_ADDRESS_SQL = fields.LOCK_ADDRESS_SQL
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
    return validation.company_domain(website=website, email=email)


def touchpoint_data(
    *, submission_id: int, channel: str, source: str, campaign, clean: dict, file_name: str = ""
) -> dict:
    """`Activity.data` of a capture's touchpoint: where it came from (the imported file's name, shown on the
    timeline as "Imported from ..."), never the person's data."""
    return {
        "submission": submission_id, "channel": channel, "source": source,
        "campaign": campaign.slug if campaign is not None else None,
        **{name: clean[name] for name in TOUCHPOINT_UTM if clean[name]},
        **({"topic": clean["topic"]} if clean.get("topic") else {}),
        **({"file": file_name[:255]} if file_name else {}),
    }


def new_note(note: str, held: set[str]) -> str:
    """The touchpoint's note, or "" when the lead already holds this very note: importing a file again (or
    sending a form twice) does not add its notes again."""
    return "" if note and note in held else note


def suppressed_errors() -> dict[str, list[str]]:
    """An erased person is not captured again without fresh consent: the answer names `consent`, in words
    that do not tell a holder of the public form key that the address was a lead and asked for erasure."""
    return {"consent": [_("Please tick the consent box so that we may contact you.")]}


# At most this many fields are named in a rejection (answer and record); the rest are counted.
MAX_ERROR_FIELDS = 20
# What is kept of a rejected body: its hash (`Submission.payload_hash`) and this many characters of it.
EXCERPT_CHARS = 2000
# A rejected submission of a suppressed (erased) person keeps only this payload: no personal data.
SUPPRESSED_PAYLOAD = {"suppressed": True}


def is_suppressed(errors: dict) -> bool:
    return errors == suppressed_errors()


def capped_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """The errors as answered and stored: the first MAX_ERROR_FIELDS fields (sorted), then a count."""
    if len(errors) <= MAX_ERROR_FIELDS:
        return errors
    names = sorted(errors, key=lambda name: (name != "non_field_errors", name))
    kept = {name: errors[name] for name in names[:MAX_ERROR_FIELDS]}
    more = len(errors) - MAX_ERROR_FIELDS
    kept.setdefault("non_field_errors", []).append(
        ngettext("%(count)s more field has an error.", "%(count)s more fields have errors.", more) % {"count": more}
    )
    return kept


def rejected_record(payload, errors: dict[str, list[str]]) -> tuple[dict, dict]:
    """(payload, errors) to store for a rejected submission: a suppressed person's data is not kept at all;
    a large body only as an excerpt (the full body's hash stays in `payload_hash`)."""
    if is_suppressed(errors):
        return dict(SUPPRESSED_PAYLOAD), errors
    errors = capped_errors(errors)
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    if len(text) <= EXCERPT_CHARS and isinstance(payload, dict):
        return payload, errors
    return {"excerpt": text[:EXCERPT_CHARS], "truncated": len(text) > EXCERPT_CHARS, "characters": len(text)}, errors

"""The lead's field groups that more than one writer shares, and the fill-only-empty rule.

A later submission (single or bulk capture) and a merge both fill a lead's empty fields from the other side
and never overwrite what it holds: `FILL_EMPTY` names those fields once, `fill_empty` is the rule in
Python and `capture.bulk` renders the same rule in SQL from the same list.
"""

from dataclasses import dataclass

# Every writer of a lead's e-mail address (capture, the lead edit) takes this transaction-scoped advisory
# lock on the normalised address first, so two writers of one new address cannot both pass the duplicate check.
LOCK_ADDRESS_SQL = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"

# Contact, company and campaign-tracking fields a later source fills while the lead's own are empty.
FILL_EMPTY = (
    "first_name", "last_name", "company", "job_title", "phone", "country", "industry", "company_size",
    "website", "street", "postcode", "city", "region", "utm_source", "utm_medium", "utm_campaign", "utm_term",
    "utm_content",
)
# Of those, the one that is a number (null when empty); the others are text ("" when empty).
FILL_EMPTY_NUMBERS = ("company_size",)
FILL_EMPTY_TEXT = tuple(name for name in FILL_EMPTY if name not in FILL_EMPTY_NUMBERS)


def is_empty(value) -> bool:
    return value is None or value == ""


def fill_empty(lead, values: dict, names=FILL_EMPTY) -> list[str]:
    """Set each of `names` that is empty on `lead` and given (non-empty) in `values`; returns the names set."""
    changed = []
    for name in names:
        if name in values and not is_empty(values[name]) and is_empty(getattr(lead, name)):
            setattr(lead, name, values[name])
            changed.append(name)
    return changed


def first_values(rows: list[dict], names=FILL_EMPTY) -> dict:
    """What a run of submissions of one address leaves on an empty lead: the first non-empty value of each
    field wins (a later one only fills what is still empty)."""
    values: dict = {}
    for row in rows:
        for name in names:
            if name not in values and not is_empty(row.get(name)):
                values[name] = row[name]
    return values


# --- what people edit on a lead (`leads.edits`, the lead page's Edit, PATCH /api/v1/leads/{id}/) ---------
# The owning SDR edits the contact fields; marketing, managers and admins every editable field. These are
# also the fields whose changes the field history records (`leads.models.LeadFieldEvent`), and nothing else:
# score columns stay out, so rescoring writes no history.
CONTACT_FIELDS = (
    "email", "first_name", "last_name", "phone", "job_title", "street", "postcode", "city", "region", "language",
)
COMPANY_FIELDS = ("company", "website", "industry", "company_size", "country")
EDITABLE_FIELDS = CONTACT_FIELDS + COMPANY_FIELDS
# Fields the scoring model reads (`leads.scores.facts_of`): editing one rescores the lead.
FIT_FIELDS = ("email", "job_title", "company_size", "industry", "country")


# --- what a capture form asks (`leads.models.CaptureFormField`, the hosted form, capture's validation) ------
# The fields a capture form may ask besides the e-mail (always asked, always required), in display order.
FORM_FIELDS = (
    "first_name", "last_name", "company", "company_size", "industry", "job_title", "phone", "country", "street",
    "postcode", "city", "region", "topic", "message",
)
# What a form without a chosen set asks: the fields every form asked before forms chose theirs (optional).
DEFAULT_FORM_FIELDS = ("first_name", "last_name", "company", "job_title", "phone", "country", "message")
# Asked on every submission whatever the lead already holds: they belong to this request, not to the person.
PER_SUBMISSION_FIELDS = ("topic", "message")


@dataclass(frozen=True)
class AskedField:
    """One field of a capture form: its name (`FORM_FIELDS`), whether it is required, its own labels."""

    name: str
    required: bool = False
    label_en: str = ""
    label_de: str = ""

    def label_in(self, language: str) -> str:
        """The form's own label in this language ("" when it has none: the standard label applies)."""
        return self.label_de if (language or "").lower().startswith("de") else self.label_en


def fields_to_ask(chosen: list[AskedField], *, known: dict | None, limit: int) -> list[AskedField]:
    """Progressive profiling: what a form asks a visitor. An unknown visitor (`known` None), or a form that does
    not profile (`limit` 0), gets every chosen field. A known lead (`known`: its values) gets, of the fields
    about the person, only up to `limit` it does not have yet (the required ones first), plus the fields about
    this request (`PER_SUBMISSION_FIELDS`); the order stays the form's."""
    if known is None or limit <= 0:
        return list(chosen)
    missing = [f for f in chosen if f.name not in PER_SUBMISSION_FIELDS and is_empty(known.get(f.name))]
    picked = {f.name for f in sorted(missing, key=lambda f: not f.required)[:limit]}
    return [f for f in chosen if f.name in PER_SUBMISSION_FIELDS or f.name in picked]

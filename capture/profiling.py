"""What a capture form asks whom: its chosen fields, and progressive profiling for a known visitor.

A visitor is known when the tracking script's visitor id is stitched to a lead (an e-mail address in the
form's URL is not read: no personal data in URLs). A known lead is asked up to the form's
`progressive_fields` fields it does not have yet instead of the ones it has (`leads.fields.fields_to_ask`).
The hosted form shows what `asked_fields` returns; capture validates against the same function, computed for
the lead of the e-mail that was sent (`required_fields`), so a field the form did not show is never required,
and a required field it showed is refused when missing (400 naming it). Only which fields appear depends on
the lead; none of its values is ever shown.
"""

from core.parsers import bad_text
from leads.fields import FORM_FIELDS, AskedField, fields_to_ask
from leads.models import CaptureForm, Lead, Visitor
from leads.validation import VISITOR_ID, normalize_email

_KNOWN_COLUMNS = tuple(name for name in FORM_FIELDS if name not in ("topic", "message"))


def _values(leads) -> dict | None:
    return leads.filter(erased_at__isnull=True).values(*_KNOWN_COLUMNS).first()


def known_lead_values(*, email=None, visitor_id=None) -> dict | None:
    """The form fields' values of the lead this visitor is (by e-mail first, else by the stitched visitor
    id); None for a visitor nobody knows (and for an address that cannot be one: capture refuses it)."""
    if isinstance(email, str) and email.strip() and len(email) <= 254 and not bad_text(email):
        return _values(Lead.objects.filter(email_normalized=normalize_email(email)))
    if isinstance(visitor_id, str) and VISITOR_ID.match(visitor_id):
        lead_id = Visitor.objects.filter(anonymous_id=visitor_id).values_list("lead_id", flat=True).first()
        return _values(Lead.objects.filter(pk=lead_id)) if lead_id else None
    return None


def asked_fields(form: CaptureForm, *, email=None, visitor_id=None) -> list[AskedField]:
    """The fields (besides the e-mail) the form asks this visitor, in the form's order."""
    chosen = form.chosen_fields()
    if form.progressive_fields <= 0:
        return chosen
    known = known_lead_values(email=email, visitor_id=visitor_id)
    return fields_to_ask(chosen, known=known, limit=form.progressive_fields)


def required_fields(form: CaptureForm | None, payload) -> tuple[str, ...]:
    """The names capture requires of a submission through `form`: the required fields it asks the lead of
    the submitted e-mail (a new address: every required field)."""
    if form is None:
        return ()
    email = payload.get("email") if isinstance(payload, dict) else None
    return tuple(field.name for field in asked_fields(form, email=email) if field.required)

"""Writes on a rep's presence: available or not, capacity, out-of-office dates.

One function behind the manager board and `PATCH /api/v1/reps/{username}/`, so a phone system, a calendar
and a manager all change presence the same way. Routing reads these fields on the next decision; nothing
else is touched (leads keep their owners; the rotation floor keeps a returning rep from being flooded).
"""

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import Invalid, NotPermitted
from leads import roles
from routing.models import Rep

FIELDS = ("available", "capacity", "out_of_office_from", "out_of_office_until")  # as the API names them
_MODEL_FIELD = {"available": "is_available"}
MAX_CAPACITY = 10_000


@transaction.atomic
def update_presence(*, rep_id: int, by, changes: dict) -> Rep:
    """Apply `changes` (a subset of FIELDS, already typed) to one rep as manager or admin `by`.

    The out-of-office range is replaced as a whole: giving one end without the other clears the other, so
    `{"out_of_office_until": null}` means "present" and `{"out_of_office_until": "2026-12-04"}` means "away
    until the 4th". Raises NotPermitted, or InvalidInput naming the field.
    """
    if not roles.is_manager(by):
        raise NotPermitted(_("Only managers and admins can change a rep's presence."))
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise Invalid({key: [_("Unknown field.")] for key in unknown})
    rep = Rep.objects.select_for_update().select_related("user", "team").get(pk=rep_id)
    values = dict(changes)
    if "out_of_office_from" in values or "out_of_office_until" in values:
        values.setdefault("out_of_office_from", None)
        values.setdefault("out_of_office_until", None)
    errors = _errors(values)
    if errors:
        raise Invalid(errors)
    fields = [_MODEL_FIELD.get(name, name) for name in values]
    for field, value in zip(fields, values.values(), strict=True):
        setattr(rep, field, value)
    if fields:
        rep.save(update_fields=fields)
    return rep


def _errors(values: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if "available" in values and not isinstance(values["available"], bool):
        errors["available"] = [_("Enter true or false.")]
    capacity = values.get("capacity", 1)
    if isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= MAX_CAPACITY:
        errors["capacity"] = [_("Enter a whole number from 1 to %(max)s.") % {"max": MAX_CAPACITY}]
    for field in ("out_of_office_from", "out_of_office_until"):
        value = values.get(field)
        if value is not None and (not isinstance(value, dt.date) or isinstance(value, dt.datetime)):
            errors[field] = [_("Enter a date as YYYY-MM-DD.")]
    starts, ends = values.get("out_of_office_from"), values.get("out_of_office_until")
    if not errors and starts and ends and ends < starts:
        errors["out_of_office_until"] = [_("The last day out of office must not be before the first.")]
    return errors

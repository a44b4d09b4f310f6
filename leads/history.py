"""Reading the field history (`leads.models.LeadFieldEvent`): who changed which field from what to what.

Each history row holds the editable fields as they were *before* one change; the values after it are the
next row's (or, for the latest change, the lead's own). So a row's changes are the fields that differ
between it and what follows. Who: the `pghistory` context the edit service sets (`{"user": id, "via":
"edit"}`); a change without one came from capture filling an empty field, a merge or the system.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from leads.fields import EDITABLE_FIELDS
from leads.models import Lead, LeadFieldEvent

LIMIT = 200  # the latest changes shown (a lead is edited by hand; more means a script, see the admin)


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    old: object
    new: object


@dataclass(frozen=True)
class Change:
    id: int
    at: dt.datetime
    actor: object | None  # the user, or None (capture, merge, system)
    via: str  # "edit", or "" when no context names it
    fields: list[FieldChange] = field(default_factory=list)


def changes_of(lead: Lead, *, limit: int = LIMIT) -> list[Change]:
    """The lead's field changes, newest first (at most `limit`); two queries."""
    events = LeadFieldEvent.objects.filter(pgh_obj_id=lead.pk).select_related("pgh_context")
    rows = list(events.order_by("-pgh_id")[:limit])
    user_ids = {_context(row).get("user") for row in rows} - {None}
    users = get_user_model().objects.in_bulk([uid for uid in user_ids if isinstance(uid, int)])
    changes = []
    after = lead  # the values after the newest change are the lead's own
    for row in rows:  # newest first: each row's "after" is the row read before it
        fields = [
            FieldChange(name, str(Lead._meta.get_field(name).verbose_name), getattr(row, name), getattr(after, name))
            for name in EDITABLE_FIELDS
            if getattr(row, name) != getattr(after, name)
        ]
        context = _context(row)
        if fields:
            changes.append(Change(row.pgh_id, row.pgh_created_at, users.get(context.get("user")),
                                  str(context.get("via") or ""), fields))
        after = row
    return changes


def _context(row) -> dict:
    return (row.pgh_context.metadata or {}) if row.pgh_context_id and row.pgh_context else {}

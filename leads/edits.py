"""Editing a lead's contact and company fields: the lead page's Edit and `PATCH /api/v1/leads/{id}/`.

`edit(lead_id=..., by=..., changes=..., version=...)` in one transaction: the lead is found among those the
user sees (`selectors.visible_leads`: another SDR's lead is a 404) and locked; the fields are checked
(unknown, read-only, not the user's to edit: refused naming them); the version the caller read is compared
(`version_of`: a stale one is `Stale`, 412); the values are validated by the one validation of every
channel (`leads.validation.clean_edit`); a new e-mail address is checked against the other leads (a
duplicate is a `Conflict` naming the other lead and how to merge) and, like a new phone number, against the
apps above (`extensions.contact_problems`: privacy's suppression list). Only then is anything written: the
changed fields, the field history row (the database trigger, with who did it from `pghistory.context`),
a rescore when a fit field changed (and the MQL hand-off when the new score crosses the threshold), and
the outbox event `lead.updated` naming the changed fields. Any refusal writes nothing.

Who edits what: marketing, managers and admins every editable field (`fields.EDITABLE_FIELDS`); the owning
SDR the contact fields (`fields.CONTACT_FIELDS`); nobody else, and nobody an erased lead.
"""

import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass

import pghistory
from django.db import connection, transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from core.errors import Conflict, Invalid, NotPermitted, Refused, Stale
from core.vocabulary import EventType
from leads import extensions, lifecycle, roles, scores, selectors, validation
from leads.fields import CONTACT_FIELDS, EDITABLE_FIELDS, FIT_FIELDS, LOCK_ADDRESS_SQL
from leads.models import Lead
from outbox import events as outbox_events

# Every name of the lead's own columns that is not editable: refused as read-only (stage, score, owner, ...).
MODEL_READ_ONLY = frozenset(
    name for field in Lead._meta.concrete_fields for name in (field.name, field.attname)
) - set(EDITABLE_FIELDS)
VIA = "edit"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass
class EditResult:
    lead: Lead
    changed: list[str]  # the fields whose values changed (empty: nothing was written)
    rescored: bool = False


def version_of(lead: Lead) -> str:
    """The lead's version as the API's ETag and the edit form carry it: its last change, in microseconds.
    Every writer of the lead's fields moves `updated_at` (capture, merge, transitions, this edit)."""
    return str((lead.updated_at - EPOCH) // dt.timedelta(microseconds=1))


def editable_fields(user, lead: Lead) -> tuple[str, ...]:
    """The fields `user` may edit on `lead` (empty: none)."""
    if lead.erased_at is not None or user is None or not user.is_authenticated:
        return ()
    if roles.is_staff_role(user):
        return EDITABLE_FIELDS
    if roles.is_sdr(user) and lead.owner_id == user.pk:
        return CONTACT_FIELDS
    return ()


def check_names(changes, *, read_only=frozenset()) -> None:
    """Refuse a body that is not an object, or names unknown or read-only fields (each named)."""
    if not isinstance(changes, dict):
        raise Invalid({"non_field_errors": [_("Send a JSON object.")]})
    errors: dict[str, list[str]] = {}
    for name in sorted(changes):
        if name in EDITABLE_FIELDS:
            continue
        if name in MODEL_READ_ONLY or name in read_only:
            errors[name] = [_("This field cannot be edited; stage, owner and score change through their actions.")]
        else:
            errors[name] = [_("Unknown field.")]
    if errors:
        raise Invalid(errors)
    if not changes:
        raise Invalid({"non_field_errors": [_("Send at least one field to change.")]})


def edit(*, lead_id, by, changes, version: str | None = None, read_only=frozenset()) -> EditResult:
    """Change the lead's editable fields (see the module docstring). `version`: what `version_of` gave when
    the caller read the lead (None: not checked). Raises NotFound, NotPermitted, Invalid, Stale, Conflict."""
    check_names(changes, read_only=read_only)
    with transaction.atomic():
        lead = selectors.visible_leads(by).select_for_update(of=("self",)).filter(pk=_id(lead_id)).first()
        if lead is None:
            raise lifecycle.LeadNotFound(_("No such lead."))
        if lead.erased_at is not None:
            raise Refused(_("This lead was erased; its data cannot be edited."))
        allowed = editable_fields(by, lead)
        if not allowed:
            raise NotPermitted(_("Only the owner, marketing and managers can edit this lead."))
        forbidden = sorted(set(changes) - set(allowed))
        if forbidden:
            raise NotPermitted(
                _("You may edit the contact fields only; not: %(fields)s.") % {"fields": ", ".join(forbidden)}
            )
        if version is not None and version != version_of(lead):
            raise Stale(_("The lead was changed by someone else since you opened it. Reload it and edit again."))
        clean = validation.clean_edit(changes, country=lead.country)
        changed = [name for name in EDITABLE_FIELDS if name in clean and getattr(lead, name) != clean[name]]
        if not changed:
            return EditResult(lead, [])
        _check_contact(lead, clean, changed)
        for name in changed:
            setattr(lead, name, clean[name])
        update_fields = [*changed, "updated_at"]
        if "email" in changed:
            lead.email_normalized = validation.normalize_email(lead.email)
            update_fields.append("email_normalized")
        if "email" in changed or "website" in changed:
            domain = validation.company_domain(website=lead.website, email=lead.email)
            if domain != lead.company_domain:
                lead.company_domain = domain
                update_fields.append("company_domain")
        with attributed(by, via=VIA):
            lead.save(update_fields=update_fields)
        rescored = bool(set(changed) & set(FIT_FIELDS))
        if rescored:
            _rescore(lead)
        outbox_events.record(
            EventType.LEAD_UPDATED, lead_id=lead.pk, actor_id=by.pk, payload={"fields": changed, "by": VIA}
        )
    return EditResult(lead, changed, rescored)


# pghistory keeps its context in transaction-local settings until the transaction ends: a later write to the
# lead in the same transaction (a capture, a merge) would be attributed to this edit. The context covers the
# edit's own statement only; an empty id attaches no context (`_pgh_attach_context` returns NULL).
END_CONTEXT_SQL = (
    "SELECT set_config('pghistory.context_id', '', true), set_config('pghistory.context_metadata', '', true)"
)


@contextmanager
def attributed(user, *, via: str):
    """Field-history rows written inside are attributed to `user` (`via` says where: edit, admin), and only
    those: the context ends with the block, not with the transaction."""
    with pghistory.context(user=user.pk if user is not None else None, via=via):
        yield
    # After a failure the transaction (or its savepoint) rolls back, and the settings with it.
    with connection.cursor() as cursor:
        cursor.execute(END_CONTEXT_SQL)


def _id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise lifecycle.LeadNotFound(_("No such lead."))


def _check_contact(lead: Lead, clean: dict, changed: list[str]) -> None:
    """A new e-mail address must not be another lead's (a duplicate: merge instead); a new address or phone
    number must not be one the apps above refuse (an erased person's)."""
    email = clean["email"] if "email" in changed else ""
    phone = clean["phone"] if "phone" in changed else ""
    if email:
        normalized = validation.normalize_email(email)
        with connection.cursor() as cursor:  # capture's lock on the address: no capture creates it meanwhile
            cursor.execute(LOCK_ADDRESS_SQL, [normalized])
        other = Lead.objects.filter(email_normalized=normalized).exclude(pk=lead.pk).first()
        if other is not None:
            raise Conflict(
                _("Another lead (#%(id)s) has this e-mail address. Merge the two leads instead.") % {"id": other.pk},
                data={
                    "field": "email",
                    "duplicate": {
                        "id": other.pk,
                        "url": reverse("leads:detail", args=[other.pk]),
                        "merge_url": reverse("leads:merge_candidates"),
                        "merge": {"url": reverse("leads:merge"), "first_id": min(lead.pk, other.pk),
                                  "second_id": max(lead.pk, other.pk)},
                    },
                },
            )
    if email or phone:
        problems = extensions.contact_problems(email=email, phone=phone)
        if problems:
            raise Invalid(problems)


def _rescore(lead: Lead) -> None:
    """A fit field changed: the score now, and the MQL hand-off as a new score would give it anywhere."""
    spec = scores.active_spec()
    if spec is None:
        return
    scores.rescore(lead, spec=spec)
    threshold = lifecycle.mql_threshold(spec)
    if lead.stage in lifecycle.TRANSITIONS["mark_mql"][0] and lead.score >= threshold:
        lifecycle.try_mark_mql(lead=lead, locked=True, threshold=threshold)

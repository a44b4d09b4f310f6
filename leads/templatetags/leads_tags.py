"""Small presentation helpers for the lead pages."""

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.vocabulary import ActivityKind, Channel
from leads import embed
from leads.forms import OWNER_CHANGE_LABELS, TRANSITION_LABELS

register = template.Library()


@register.simple_tag(takes_context=True)
def embed_snippet(context, capture_form) -> str:
    """The capture form's embed snippet (`leads.embed.snippet`) for this request's address, as text to show
    inside <code> (`&`, `<`, `>` escaped; the quotes stay readable)."""
    return embed.display(embed.snippet(capture_form, request=context.get("request")))


@register.filter
def age(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """How long ago, compact: "12 min", "3 h", "2 d"."""
    if not value:
        return ""
    seconds = max(0, int(((now or timezone.now()) - value).total_seconds()))
    minutes = seconds // 60
    if minutes < 60:
        return _("%(count)s min") % {"count": max(minutes, 1)}
    hours = minutes // 60
    if hours < 48:
        return _("%(count)s h") % {"count": hours}
    days = hours // 24
    return ngettext("%(count)s day", "%(count)s days", days) % {"count": days}


@register.filter
def age_class(value: dt.datetime | None) -> str:
    """A CSS hint for how urgent waiting is: fresh, aging (4 h), overdue (24 h)."""
    if not value:
        return ""
    hours = (timezone.now() - value).total_seconds() / 3600
    if hours >= 24:
        return "age-overdue"
    if hours >= 4:
        return "age-aging"
    return "age-fresh"


@register.filter
def transition_label(name: str) -> str:
    return str(TRANSITION_LABELS.get(name) or OWNER_CHANGE_LABELS.get(name) or name.replace("_", " "))


@register.filter
def is_owner_change(name: str) -> bool:
    return name in OWNER_CHANGE_LABELS


@register.filter
def initials(user) -> str:
    if not user:
        return ""
    full = (user.get_full_name() or user.get_username()).split()
    return "".join(part[0] for part in full[:2]).upper()


@register.simple_tag
def widget(bound_field, **attrs):
    """Render a form field's input, marked invalid (Pico shows it red) and tied to its errors when it has any."""
    if bound_field.errors:
        attrs["aria-invalid"] = "true"
        attrs["aria-describedby"] = f"{bound_field.auto_id}-errors"
    return bound_field.as_widget(attrs=attrs)


@register.filter
def lookup(mapping: dict, key):
    return mapping.get(key) if mapping else None


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


@register.filter
def activity_label(activity) -> str:
    """What the timeline says of an activity: a capture's touchpoint names how the lead came in ("Imported
    from fair.csv", "Entered by Anna Berg") instead of "Form submitted"; anything else its kind."""
    data = activity.data if isinstance(activity.data, dict) else {}
    if activity.kind == ActivityKind.FORM_SUBMIT and data.get("submission"):
        channel = data.get("channel")
        if channel == Channel.IMPORT:
            if data.get("file"):
                return _("Imported from %(file)s") % {"file": data["file"]}
            return _("Imported from a file")
        if channel == Channel.MANUAL:
            if activity.created_by_id:
                return _("Entered by %(user)s") % {"user": _name(activity.created_by)}
            return _("Entered by hand")
    return activity.get_kind_display()

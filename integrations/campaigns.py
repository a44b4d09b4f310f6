"""Campaigns through the API, with their cost, so ad platforms (or the integrator's middleware) can push
spend: `POST /api/v1/campaigns/` creates a campaign or, for a slug that exists, updates its name, channel,
cost and dates (the cost is the campaign's total spend so far, not an increment: a repeated push is
harmless). Marketing, managers and admins."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import Invalid, NotPermitted
from core.vocabulary import Channel
from leads import roles
from leads.models import Campaign

FIELDS = {"slug", "name", "channel", "cost", "starts_on", "ends_on"}
MAX_COST = Decimal("9999999999.99")


def visible_campaigns(user):
    if not roles.is_staff_role(user):
        raise NotPermitted(_("Only marketing, managers and admins may read campaigns and their costs."))
    return Campaign.objects.order_by("slug")


def _date(value, name: str, errors: dict) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    errors[name] = [_("Enter a date as YYYY-MM-DD.")]
    return None


def _cost(value, errors: dict) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        errors["cost"] = [_("Enter the spend as a number, e.g. 1250.00.")]
        return None
    try:
        cost = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        errors["cost"] = [_("Enter the spend as a number, e.g. 1250.00.")]
        return None
    if not cost.is_finite() or cost < 0 or cost > MAX_COST:
        errors["cost"] = [_("Enter a spend from 0 to %(max)s.") % {"max": MAX_COST}]
        return None
    return cost


@transaction.atomic
def upsert(*, by, data: dict) -> tuple[Campaign, bool]:
    """(campaign, created). Every bad field is named; nothing is written then."""
    if not roles.is_staff_role(by):
        raise NotPermitted(_("Only marketing, managers and admins may change campaigns."))
    errors: dict[str, list[str]] = {key: [_("Unknown field.")] for key in sorted(set(data) - FIELDS)}
    slug = data.get("slug")
    try:
        if not isinstance(slug, str) or not slug or len(slug) > 80:
            raise ValidationError("")
        validate_slug(slug)
    except ValidationError:
        errors["slug"] = [_("Enter a slug: letters, digits, hyphens or underscores, at most 80.")]
        slug = None
    existing = Campaign.objects.select_for_update().filter(slug=slug).first() if slug else None
    name = data.get("name", existing.name if existing else None)
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors["name"] = [_("Enter a name of at most 200 characters.")]
    channel = data.get("channel", existing.channel if existing else Channel.OTHER)
    if channel not in Channel.values:
        errors["channel"] = [_("Choose one of: %(values)s.") % {"values": ", ".join(Channel.values)}]
    cost = _cost(data.get("cost"), errors)
    starts_on = _date(data.get("starts_on"), "starts_on", errors) if "starts_on" in data else (
        existing.starts_on if existing else None)
    ends_on = _date(data.get("ends_on"), "ends_on", errors) if "ends_on" in data else (
        existing.ends_on if existing else None)
    if starts_on and ends_on and ends_on < starts_on and "ends_on" not in errors:
        errors["ends_on"] = [_("The end is before the start.")]
    if errors:
        raise Invalid(errors)
    campaign = existing or Campaign(slug=slug)
    campaign.name, campaign.channel, campaign.starts_on, campaign.ends_on = name.strip(), channel, starts_on, ends_on
    if cost is not None:
        campaign.cost = cost
    campaign.save()
    return campaign, existing is None

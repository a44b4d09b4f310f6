"""Changing the definitions: every changed value is logged (who, when, from, to) in the same transaction,
and this process's cached rules are dropped on commit."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from definitions import rules
from definitions.models import DefinitionChange, HotIntentRule, Review, StageDefinition

REVIEW_EVERY_DAYS = 90

TRACKED = {
    StageDefinition: ("label", "description", "entry_criteria", "exit_criteria", "owner"),
    HotIntentRule: ("pricing_views", "within_days", "kinds"),
}


def _subject(obj) -> str:
    return f"stage:{obj.stage}" if isinstance(obj, StageDefinition) else "hot_intent"


def _text(value) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(sorted(str(v) for v in value))
    return "" if value is None else str(value)


@transaction.atomic
def save(obj, *, by) -> list[DefinitionChange]:
    """Save a validated StageDefinition or HotIntentRule, logging each changed field."""
    fields = TRACKED[type(obj)]
    before = type(obj).objects.select_for_update().filter(pk=obj.pk).values(*fields).first() or {}
    changes = [
        DefinitionChange(by=by, subject=_subject(obj), field=name, old=_text(before.get(name)),
                         new=_text(getattr(obj, name)))
        for name in fields
        if _text(before.get(name)) != _text(getattr(obj, name))
    ]
    obj.save()
    DefinitionChange.objects.bulk_create(changes)
    transaction.on_commit(rules.forget)
    rules.forget()
    return changes


def last_review() -> Review | None:
    return Review.objects.order_by("-at", "-id").first()


@transaction.atomic
def record_review(review: Review, *, by) -> Review:
    """Save a review (notes filled in by the reviewer) with who, when and the changes made since the review
    before, in words."""
    review.by = by
    review.at = review.at or timezone.now()
    previous = last_review()
    changed = DefinitionChange.objects.filter(at__lte=review.at).order_by("at", "id")
    if previous is not None:
        changed = changed.filter(at__gt=previous.at)
    review.changes = "\n".join(f"{c.subject} {c.field}: {c.old or '-'} -> {c.new or '-'}" for c in changed[:500])
    review.save()
    return review


def review_due_at() -> dt.datetime | None:
    previous = last_review()
    return None if previous is None else previous.at + dt.timedelta(days=REVIEW_EVERY_DAYS)

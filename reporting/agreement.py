"""The Definitions page: the agreement between marketing and sales as it is in force, read from the
definitions the teams own, the active scoring model, the lifecycle's guards, the SLA policies and the
recycling rule (seed 000: stage names, definitions, entry and exit criteria, SLAs, owner per stage,
recycling rules; reviewed quarterly)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from core.vocabulary import ActivityKind, NotificationKind, Role, Stage
from definitions import rules, services
from definitions.models import DefinitionChange, StageDefinition
from leads import guards, lifecycle
from routing.models import RecyclingRule, SlaPolicy
from scoring.models import ScoringModel


@dataclass
class StageRow:
    stage: str
    label: str
    definition: StageDefinition | None
    entered_by: list[tuple[str, str]] = field(default_factory=list)  # (transition, guard in words)
    left_by: list[str] = field(default_factory=list)
    slas: list[SlaPolicy] = field(default_factory=list)


def hot_intent_in_words() -> str:
    rule = rules.hot_intent()
    kinds = ", ".join(str(ActivityKind(kind).label) for kind in sorted(rule.kinds))
    views = _("%(count)s pricing-page views within %(days)s days") % {
        "count": rule.pricing_views, "days": rule.within_days
    }
    if not kinds:
        return views
    return _("%(kinds)s since the lead entered its stage, or %(views)s") % {"kinds": kinds, "views": views}


def agreement() -> dict:
    definitions = {d.stage: d for d in StageDefinition.objects.all()}
    labels = rules.stage_labels()
    slas: dict[str, list[SlaPolicy]] = {}
    for policy in SlaPolicy.objects.filter(is_active=True).select_related("calendar").order_by("name"):
        slas.setdefault(policy.stage, []).append(policy)
    stages = []
    for stage in Stage:
        row = StageRow(stage=stage.value, label=labels.get(stage.value) or str(stage.label),
                       definition=definitions.get(stage.value), slas=slas.get(stage.value, []))
        for name, (sources, target) in lifecycle.TRANSITIONS.items():
            if target == stage.value:
                words = hot_intent_in_words() if name == "mark_mql" else str(guards.IN_WORDS.get(name, ""))
                row.entered_by.append((name, words))
            if stage.value in sources:
                row.left_by.append(name)
        stages.append(row)
    model = ScoringModel.active()
    return {
        "stages": stages,
        "scoring_model": model,
        "scoring_rules": [r for r in model.rules.all() if r.is_enabled] if model else [],
        "hot_intent": hot_intent_in_words(),
        "recycling": RecyclingRule.objects.filter(is_enabled=True).order_by("id").first(),
        "last_review": services.last_review(),
        "review_due_at": services.review_due_at(),
        "last_change": DefinitionChange.objects.select_related("by").first(),
    }


@transaction.atomic
def remind_review(*, now: dt.datetime | None = None) -> int:
    """90 days after the last review, tell marketing and the sales managers (once per review) that the
    definitions are due for their quarterly review. Returns how many were told."""
    now = now or timezone.now()
    previous = services.last_review()
    due = services.review_due_at()
    if previous is None or due is None or now < due:
        return 0
    people = get_user_model().objects.filter(is_active=True, groups__name__in=[Role.MARKETING, Role.MANAGER])
    told = 0
    message = _("The definitions were last reviewed on %(date)s: time for the quarterly review.") % {
        "date": formats.date_format(timezone.localtime(previous.at).date(), "SHORT_DATE_FORMAT")
    }
    for user in people.distinct().order_by("pk"):
        note = lifecycle.notify(
            user=user, lead=None, kind=NotificationKind.DEFINITIONS_REVIEW,
            key=f"definitions-review:{previous.pk}:{user.pk}", message=message,
        )
        told += note is not None
    return told

"""Reps' recent conversion for performance-weighted routing (`routing.performance` shrinks it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from core.vocabulary import Stage, TransitionName
from leads.models import LeadTransition
from routing import performance


def sal_to_sql(user_ids: Collection[int], *, now: dt.datetime | None = None,
               days: int = performance.WINDOW_DAYS) -> dict[int, tuple[int, int]]:
    """{user id: (leads of theirs that reached SQL, leads they accepted)} for accepts in the last `days`."""
    now = now or timezone.now()
    qualified = LeadTransition.objects.filter(lead_id=OuterRef("lead_id"), target=Stage.SQL, at__gte=OuterRef("at"))
    rows = (LeadTransition.objects.filter(name=TransitionName.ACCEPT, actor_id__in=list(user_ids),
                                          at__gte=now - dt.timedelta(days=days), at__lte=now)
            .annotate(reached=Exists(qualified)).values("actor_id")
            .annotate(accepted=Count("id"), sqls=Count("id", filter=Q(reached=True)))
            .values_list("actor_id", "sqls", "accepted"))
    return {actor_id: (sqls, accepted) for actor_id, sqls, accepted in rows}

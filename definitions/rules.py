"""The definitions as the rest of the code reads them, cached per process for a short while.

The hot-intent rule is read on every capture, so it is kept for `TTL` seconds in the process: a change in
the admin takes effect at once in the process that made it and within `TTL` seconds everywhere else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from core.vocabulary import HOT_INTENT_KINDS
from definitions.models import HotIntentRule, StageDefinition

TTL = 30.0


@dataclass(frozen=True)
class HotIntent:
    pricing_views: int
    within_days: int
    kinds: frozenset[str]


DEFAULT_HOT_INTENT = HotIntent(pricing_views=3, within_days=7, kinds=frozenset(HOT_INTENT_KINDS))

_cache: dict[str, tuple[float, object]] = {}


def forget() -> None:
    """Drop this process's cached definitions (after a change, and between tests)."""
    _cache.clear()


def _cached(key: str, load):
    hit = _cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < TTL:
        return hit[1]
    value = load()
    _cache[key] = (now, value)
    return value


def hot_intent() -> HotIntent:
    def load() -> HotIntent:
        row = HotIntentRule.objects.filter(pk=1).values_list("pricing_views", "within_days", "kinds").first()
        if row is None:
            return DEFAULT_HOT_INTENT
        return HotIntent(pricing_views=row[0], within_days=row[1], kinds=frozenset(row[2]))

    return _cached("hot_intent", load)


def stage_labels() -> dict[str, str]:
    """Stage value -> the label the teams agreed on, for the stages that have one (the others keep their
    built-in, translated name)."""

    def load() -> dict[str, str]:
        return dict(StageDefinition.objects.exclude(label="").values_list("stage", "label"))

    return _cached("stage_labels", load)


def label_of(stage: str, default: str) -> str:
    return stage_labels().get(stage) or default

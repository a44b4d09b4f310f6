"""The definitions as the rest of the code reads them, cached per process for a short while.

The hot-intent rule is read on every capture, so it is kept for `TTL` seconds in the process: a change in
the admin takes effect at once in the process that made it and within `TTL` seconds everywhere else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from core.vocabulary import HOT_INTENT_KINDS
from definitions.models import REASON_OTHER, HotIntentRule, ReasonCode, StageDefinition

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


@dataclass(frozen=True)
class Reason:
    code: str
    label: str
    is_active: bool = True

    @property
    def needs_text(self) -> bool:
        return self.code == REASON_OTHER


OTHER_LABEL = "Other"


def _reason_codes() -> dict[str, dict[str, Reason]]:
    def load() -> dict[str, dict[str, Reason]]:
        found: dict[str, dict[str, Reason]] = {}
        for transition, code, label, is_active in ReasonCode.objects.values_list(
            "transition", "code", "label", "is_active"
        ):
            found.setdefault(transition, {})[code] = Reason(code=code, label=label, is_active=is_active)
        return found

    return _cached("reason_codes", load)


def reason_codes(transition: str, *, offered_only: bool = True) -> list[Reason]:
    """The reason list of a transition in its order, "other" last; `offered_only=False` adds the codes no
    longer offered (for reports of the past). "Other" is always there, even if an admin deleted its row."""
    codes = [r for r in _reason_codes().get(transition, {}).values() if r.is_active or not offered_only]
    if not any(r.code == REASON_OTHER for r in codes):
        codes.append(Reason(code=REASON_OTHER, label=OTHER_LABEL))
    return sorted(codes, key=lambda r: r.code == REASON_OTHER)  # stable: the admins' order, "other" last


def reason(transition: str, code: str) -> Reason | None:
    """The offered reason `code` of `transition`, or None when there is no such (offered) code."""
    return next((r for r in reason_codes(transition) if r.code == code), None)


def reason_label(transition: str, code: str) -> str:
    """The label of any code ever used (offered or not); the code itself when it is gone."""
    found = next((r for r in reason_codes(transition, offered_only=False) if r.code == code), None)
    return found.label if found else code

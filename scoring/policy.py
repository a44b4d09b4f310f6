"""Pure lead scoring: a lead's facts and a scoring model in, a score with its explanation out.

No database, no clock: the caller passes `at`, and only activities that happened at or before it
count, so the score of any past moment can be recomputed from the activity log and equals what was
stored then. `leads` builds `LeadFacts` and a `ModelSpec` (`ScoringModel.to_spec()`), calls `score()`
and stores the result.

How a score is made
-------------------
* A **fit** rule tests one lead field with an operator; when it matches it adds its points (once).
* An **engagement** rule counts activities of one kind (optionally only those whose URL matches a
  regular expression). Each counted occurrence adds the rule's points times its decay factor:
  ``0.5 ** (age_days / half_life_days)`` with a half-life, 1 without. With a window only occurrences
  at most `window_days` old count. With `max_occurrences` only the most recent N count.
* Group sums: fit = sum of the fit rules that matched; engagement = sum of the engagement
  contributions. A group cap limits the group from above only: a group never exceeds its cap, while a
  negative sum is never raised. The engagement part is then rounded half away from zero, the fit part
  is already whole. The score is fit + engagement, limited from above by the total cap.
* The breakdown lists every rule that counted, plus one line per cap that took points away, so the
  breakdown adds up to the score before rounding (always less than half a point away).
* Sums use `math.fsum` (exactly rounded), so the result does not depend on the order of the
  activities: scoring the same facts twice, or with later activities added, gives the same number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils.translation import gettext as _

from core.errors import Invalid
from scoring.defaults import (
    ACTIVITY_KINDS,
    BETWEEN,
    COLD,
    CONTAINS,
    EMAIL_DOMAIN_TYPES,
    ENGAGEMENT,
    EQUALS,
    FIELD_CHOICES,
    FIELD_TYPES,
    FIT,
    GTE,
    HOT,
    IN_LIST,
    IS_EMPTY,
    IS_NOT_EMPTY,
    LTE,
    NUMBER,
    OPERATOR_CHOICES,
    TEXT,
    WARM,
)

OPERATORS_FOR_TYPE = {
    NUMBER: (EQUALS, GTE, LTE, BETWEEN, IS_EMPTY, IS_NOT_EMPTY),
    TEXT: (EQUALS, IN_LIST, CONTAINS, IS_EMPTY, IS_NOT_EMPTY),
}
OPERATORS_FOR_FIELD = {name: OPERATORS_FOR_TYPE[kind] for name, kind in FIELD_TYPES.items()}
NO_VALUE_OPERATORS = (IS_EMPTY, IS_NOT_EMPTY)
ENGAGEMENT_ONLY_ATTRIBUTES = ("max_occurrences", "url_pattern", "half_life_days", "window_days")
SECONDS_PER_DAY = 86400.0


# --- Facts and specs ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActivityFact:
    kind: str
    occurred_at: datetime
    url: str = ""


@dataclass(frozen=True, kw_only=True)
class LeadFacts:
    """What a lead is, as scoring sees it. Empty text is "", an unknown company size is None."""

    company_size: int | None = None
    industry: str = ""
    country: str = ""
    job_title: str = ""
    source: str = ""
    campaign: str = ""
    email_domain_type: str = ""
    activities: Sequence[ActivityFact] = ()


@dataclass(frozen=True, kw_only=True)
class RuleSpec:
    """One rule. Fit rules use field/operator/value; engagement rules use activity_kind and the rest."""

    id: int | None
    name: str
    group: str
    points: int
    field: str = ""
    operator: str = ""
    value: Any = None
    activity_kind: str = ""
    max_occurrences: int | None = None
    url_pattern: str = ""
    half_life_days: float | None = None
    window_days: float | None = None


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    version: int
    mql_threshold: int
    warm_from: int
    hot_from: int
    total_cap: int | None = None
    fit_cap: int | None = None
    engagement_cap: int | None = None
    rules: tuple[RuleSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class BreakdownItem:
    """A rule that counted (or a cap that took points away: rule_id None, group fit/engagement/total)."""

    rule_id: int | None
    rule: str
    group: str
    points: float
    occurrences: int
    decay_factor: float

    def as_dict(self) -> dict:
        return {
            "rule_id": self.rule_id,
            "rule": self.rule,
            "group": self.group,
            "points": round(self.points, 2),
            "occurrences": self.occurrences,
            "decay_factor": round(self.decay_factor, 4),
        }


@dataclass(frozen=True, slots=True)
class ScoreResult:
    score: int
    fit: int
    engagement: int
    temperature: str
    reaches_threshold: bool
    model_version: int
    breakdown: list[BreakdownItem] = field(default_factory=list)

    def breakdown_as_list(self) -> list[dict]:
        """JSON-ready breakdown (points to 2 decimals, decay factor to 4) for `Lead.score_breakdown`."""
        return [item.as_dict() for item in self.breakdown]


@dataclass(frozen=True, slots=True)
class Problem:
    """A reason a rule or model is refused; `field` names the form field it belongs to (or None)."""

    field: str | None
    message: str


class InvalidModel(Invalid):
    """Raised by `score()` for a model with invalid rules (activation refuses such models)."""


# --- Scoring ----------------------------------------------------------------------------------------


def score(facts: LeadFacts, model: ModelSpec, *, at: datetime) -> ScoreResult:
    """Score `facts` with `model` as of `at` (aware datetime; later activities are ignored)."""
    compiled = _compiled(model)
    breakdown: list[BreakdownItem] = []

    fit_raw = 0
    for rule, attribute, matches in compiled.fit:
        if matches(getattr(facts, attribute)):
            fit_raw += rule.points
            breakdown.append(BreakdownItem(rule.id, rule.name, FIT, rule.points, 1, 1.0))

    by_kind: dict[str, list[ActivityFact]] = {}
    for activity in facts.activities:
        if activity.kind in compiled.kinds and activity.occurred_at <= at:
            by_kind.setdefault(activity.kind, []).append(activity)
    for activities in by_kind.values():
        activities.sort(key=_occurred_at, reverse=True)

    contributions: list[float] = []
    for rule, url_re in compiled.engagement:
        activities = by_kind.get(rule.activity_kind)
        if not activities:
            continue
        oldest = at - timedelta(days=rule.window_days) if rule.window_days else None
        factors: list[float] = []
        for activity in activities:
            if oldest is not None and activity.occurred_at < oldest:
                break  # newest first: everything after this is older still
            if url_re is not None and not url_re.search(activity.url or ""):
                continue
            if rule.half_life_days:
                age_days = (at - activity.occurred_at).total_seconds() / SECONDS_PER_DAY
                factors.append(0.5 ** (age_days / rule.half_life_days))
            else:
                factors.append(1.0)
            if rule.max_occurrences is not None and len(factors) >= rule.max_occurrences:
                break
        if factors:
            factor_sum = math.fsum(factors)
            points = rule.points * factor_sum
            contributions.append(points)
            breakdown.append(
                BreakdownItem(rule.id, rule.name, ENGAGEMENT, points, len(factors), factor_sum / len(factors))
            )

    fit = fit_raw
    if model.fit_cap is not None and fit_raw > model.fit_cap:
        fit = model.fit_cap
        breakdown.append(BreakdownItem(None, _("Fit cap (%(cap)s)") % {"cap": fit}, FIT, fit - fit_raw, 0, 1.0))

    engagement_raw = math.fsum(contributions)
    engagement_capped = engagement_raw
    if model.engagement_cap is not None and engagement_raw > model.engagement_cap:
        engagement_capped = float(model.engagement_cap)
        breakdown.append(
            BreakdownItem(
                None,
                _("Engagement cap (%(cap)s)") % {"cap": model.engagement_cap},
                ENGAGEMENT,
                engagement_capped - engagement_raw,
                0,
                1.0,
            )
        )
    engagement = round_half_away_from_zero(engagement_capped)

    total = fit + engagement
    if model.total_cap is not None and total > model.total_cap:
        breakdown.append(
            BreakdownItem(
                None, _("Total cap (%(cap)s)") % {"cap": model.total_cap}, "total", model.total_cap - total, 0, 1.0
            )
        )
        total = model.total_cap

    return ScoreResult(
        score=total,
        fit=fit,
        engagement=engagement,
        temperature=temperature(total, model),
        reaches_threshold=total >= model.mql_threshold,
        model_version=model.version,
        breakdown=breakdown,
    )


def temperature(score: float, model: ModelSpec) -> str:
    """cold below `warm_from`, warm from `warm_from`, hot from `hot_from`."""
    if score >= model.hot_from:
        return HOT
    if score >= model.warm_from:
        return WARM
    return COLD


def round_half_away_from_zero(value: float) -> int:
    if value >= 0:
        return int(math.floor(value + 0.5))
    return -int(math.floor(-value + 0.5))


def _occurred_at(activity: ActivityFact) -> datetime:
    return activity.occurred_at


@dataclass(frozen=True, slots=True)
class _Compiled:
    fit: list[tuple[RuleSpec, str, Callable[[Any], bool]]]
    engagement: list[tuple[RuleSpec, re.Pattern | None]]
    kinds: frozenset[str]


def _compiled(model: ModelSpec) -> _Compiled:
    """Matchers for the model's rules, built once per ModelSpec object (kept on the object)."""
    cached = model.__dict__.get("_compiled")
    if cached is not None:
        return cached
    fit, engagement = [], []
    for rule in model.rules:
        problems = rule_problems(rule)
        if problems:
            raise InvalidModel({"rules": [f"Rule {rule.name!r}: " + " ".join(p.message for p in problems)]})
        if rule.group == FIT:
            fit.append((rule, rule.field, _matcher(rule.field, rule.operator, rule.value)))
        else:
            url_re = re.compile(rule.url_pattern, re.IGNORECASE) if rule.url_pattern else None
            engagement.append((rule, url_re))
    compiled = _Compiled(fit, engagement, frozenset(rule.activity_kind for rule, _re in engagement))
    object.__setattr__(model, "_compiled", compiled)
    return compiled


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip().casefold()


def _matcher(field_name: str, operator: str, value: Any) -> Callable[[Any], bool]:
    if operator == IS_EMPTY:
        return lambda v: _text(v) == ""
    if operator == IS_NOT_EMPTY:
        return lambda v: _text(v) != ""
    if FIELD_TYPES[field_name] == NUMBER:
        if operator == BETWEEN:
            low, high = value
            return lambda v: v is not None and low <= v <= high
        if operator == GTE:
            return lambda v: v is not None and v >= value
        if operator == LTE:
            return lambda v: v is not None and v <= value
        return lambda v: v is not None and v == value
    if operator == IN_LIST:
        allowed = frozenset(_text(item) for item in value)
        return lambda v: _text(v) in allowed
    if operator == CONTAINS:
        needles = tuple(_text(item) for item in ([value] if isinstance(value, str) else value))
        return lambda v: any(needle in _text(v) for needle in needles)
    target = _text(value)
    return lambda v: _text(v) == target


# --- Validation -------------------------------------------------------------------------------------


def validate_rule(rule: RuleSpec) -> list[str]:
    """Why `rule` is refused, in words for the admin; empty when it is fine."""
    return [problem.message for problem in rule_problems(rule)]


def validate_model(model: ModelSpec) -> list[str]:
    """Why `model` cannot be activated: its settings, its reachable range and each rule; empty when fine."""
    return [problem.message for problem in model_problems(model)]


def model_problems(model: ModelSpec) -> list[Problem]:
    problems = settings_problems(model) + range_problems(model)
    for rule in model.rules:
        problems += [
            Problem(None, _("Rule “%(rule)s”: %(message)s") % {"rule": rule.name, "message": p.message})
            for p in rule_problems(rule)
        ]
    return problems


def settings_problems(model: ModelSpec) -> list[Problem]:
    """Checks of the model's own numbers that need no rules (bands, caps, threshold above zero)."""
    problems = []
    if model.mql_threshold < 1:
        problems.append(
            Problem("mql_threshold", _("The MQL threshold must be at least 1, or every new lead would be an MQL."))
        )
    if model.warm_from >= model.hot_from:
        problems.append(Problem("hot_from", _("“Hot from” must be above “warm from”.")))
    for name, label in (
        ("total_cap", _("total cap")),
        ("fit_cap", _("fit cap")),
        ("engagement_cap", _("engagement cap")),
    ):
        cap = getattr(model, name)
        if cap is not None and cap < 1:
            problems.append(
                Problem(name, _("The %(cap)s must be at least 1; leave it empty for no cap.") % {"cap": label})
            )
    return problems


def range_problems(model: ModelSpec) -> list[Problem]:
    """Checks against the reachable score range: the threshold and the bands must be reachable."""
    low, high = reachable_range(model)
    problems = []
    values = {"low": _format_bound(low), "high": _format_bound(high)}
    if model.mql_threshold > high:
        problems.append(
            Problem(
                "mql_threshold",
                _(
                    "The MQL threshold (%(threshold)s) is above the highest reachable score (%(high)s): "
                    "no lead could ever become an MQL."
                )
                % {"threshold": model.mql_threshold, **values},
            )
        )
    elif model.mql_threshold <= low:
        problems.append(
            Problem(
                "mql_threshold",
                _(
                    "The MQL threshold (%(threshold)s) is at or below the lowest reachable score (%(low)s): "
                    "every lead would be an MQL."
                )
                % {"threshold": model.mql_threshold, **values},
            )
        )
    if model.hot_from > high:
        problems.append(
            Problem(
                "hot_from",
                _("“Hot from” (%(hot)s) is above the highest reachable score (%(high)s): no lead could be hot.")
                % {"hot": model.hot_from, **values},
            )
        )
    if model.warm_from <= low:
        problems.append(
            Problem(
                "warm_from",
                _("“Warm from” (%(warm)s) is at or below the lowest reachable score (%(low)s): no lead could be cold.")
                % {"warm": model.warm_from, **values},
            )
        )
    return problems


def _format_bound(value: float) -> str:
    if value == math.inf:
        return _("unlimited")
    if value == -math.inf:
        return _("unlimited below")
    return str(int(value))


def reachable_range(model: ModelSpec) -> tuple[float, float]:
    """Lowest and highest score the model can give (math.inf when unbounded).

    A bound, assuming every rule can fire at once: two rules that exclude each other (industry is A,
    industry is B) are both counted. An engagement rule without `max_occurrences` is unbounded unless
    the engagement or total cap bounds it.
    """
    fit_low = fit_high = 0
    engagement_low = engagement_high = 0.0
    for rule in model.rules:
        if not rule.points:
            continue
        if rule.group == FIT:
            if rule.points > 0:
                fit_high += rule.points
            else:
                fit_low += rule.points
        elif rule.group == ENGAGEMENT:
            most = rule.points * rule.max_occurrences if rule.max_occurrences else math.copysign(math.inf, rule.points)
            if rule.points > 0:
                engagement_high += most
            else:
                engagement_low += most
    fit_low, fit_high = _cap(fit_low, model.fit_cap), _cap(fit_high, model.fit_cap)
    engagement_low = _cap(engagement_low, model.engagement_cap)
    engagement_high = _cap(engagement_high, model.engagement_cap)
    low = _cap(fit_low + engagement_low, model.total_cap)
    high = _cap(fit_high + engagement_high, model.total_cap)
    return low, high


def _cap(value: float, cap: int | None) -> float:
    return value if cap is None else min(value, cap)


def rule_problems(rule: RuleSpec) -> list[Problem]:
    """Why `rule` is refused, each with the name of the form field it belongs to."""
    problems = []
    if not isinstance(rule.points, int) or rule.points == 0:
        problems.append(
            Problem("points", _("A rule worth 0 points has no effect: give it positive or negative points."))
        )
    if rule.group == FIT:
        problems += _fit_problems(rule)
    elif rule.group == ENGAGEMENT:
        problems += _engagement_problems(rule)
    else:
        problems.append(Problem("group", _("Choose whether the rule scores fit or engagement.")))
    return problems


def _fit_problems(rule: RuleSpec) -> list[Problem]:
    problems = []
    if not rule.field:
        problems.append(Problem("field", _("A fit rule needs the lead field it tests.")))
    elif rule.field not in FIELD_TYPES:
        problems.append(Problem("field", _("Unknown lead field “%(field)s”.") % {"field": rule.field}))
    elif not rule.operator:
        problems.append(Problem("operator", _("Choose an operator.")))
    elif rule.operator not in OPERATORS_FOR_FIELD[rule.field]:
        problems.append(
            Problem(
                "operator",
                _("The operator “%(operator)s” does not fit the field “%(field)s”; use one of: %(allowed)s.")
                % {
                    "operator": _label(OPERATOR_CHOICES, rule.operator),
                    "field": _label(FIELD_CHOICES, rule.field),
                    "allowed": ", ".join(_label(OPERATOR_CHOICES, op) for op in OPERATORS_FOR_FIELD[rule.field]),
                },
            )
        )
    else:
        problems += [Problem("value", message) for message in _value_problems(rule.field, rule.operator, rule.value)]
    if rule.activity_kind:
        problems.append(Problem("activity_kind", _("A fit rule tests a lead field: leave the activity kind empty.")))
    for attribute in ENGAGEMENT_ONLY_ATTRIBUTES:
        if getattr(rule, attribute) not in (None, ""):
            problems.append(Problem(attribute, _("Only engagement rules use this; leave it empty for a fit rule.")))
    return problems


def _engagement_problems(rule: RuleSpec) -> list[Problem]:
    problems = []
    if not rule.activity_kind:
        problems.append(Problem("activity_kind", _("An engagement rule needs the activity kind it counts.")))
    elif rule.activity_kind not in ACTIVITY_KINDS:
        problems.append(Problem("activity_kind", _("Unknown activity kind “%(kind)s”.") % {"kind": rule.activity_kind}))
    if rule.field:
        problems.append(Problem("field", _("An engagement rule counts activities: leave the lead field empty.")))
    if rule.operator:
        problems.append(Problem("operator", _("An engagement rule counts activities: leave the operator empty.")))
    if rule.value not in (None, "", [], ()):
        problems.append(Problem("value", _("An engagement rule counts activities: leave the value empty.")))
    if rule.max_occurrences is not None and rule.max_occurrences < 1:
        problems.append(Problem("max_occurrences", _("Count at least 1 occurrence, or leave it empty for no limit.")))
    if rule.half_life_days is not None and rule.half_life_days <= 0:
        problems.append(Problem("half_life_days", _("The half-life must be more than 0 days.")))
    if rule.window_days is not None and rule.window_days <= 0:
        problems.append(Problem("window_days", _("The window must be more than 0 days.")))
    if rule.half_life_days is not None and rule.window_days is not None:
        problems.append(
            Problem(
                "window_days",
                _("Choose either a half-life (points fade) or a window (only recent ones count), not both."),
            )
        )
    if rule.url_pattern:
        try:
            re.compile(rule.url_pattern)
        except re.error as error:
            problems.append(
                Problem(
                    "url_pattern", _("The URL pattern is not a valid regular expression: %(error)s.") % {"error": error}
                )
            )
    return problems


def _label(choices, key: str) -> str:
    return str(dict(choices).get(key, key))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _value_problems(field_name: str, operator: str, value: Any) -> list[str]:
    if operator in NO_VALUE_OPERATORS:
        if value in (None, "", [], ()):
            return []
        return [
            _("“%(operator)s” takes no value: leave the value empty.")
            % {"operator": _label(OPERATOR_CHOICES, operator)}
        ]
    if FIELD_TYPES[field_name] == NUMBER:
        if operator == BETWEEN:
            if not (isinstance(value, list | tuple) and len(value) == 2 and all(_is_number(v) for v in value)):
                return [_("Enter the range as two numbers, lowest first, e.g. 50, 500.")]
            if value[0] > value[1]:
                return [_("The range starts above its end: put the lower number first.")]
            return []
        if not _is_number(value):
            return [_("Enter one number, e.g. 50.")]
        return []
    if operator == EQUALS:
        texts = [value] if isinstance(value, str) else None
        shape = _("Enter one value, e.g. Software.")
    elif operator == IN_LIST:
        texts = list(value) if isinstance(value, list | tuple) and value else None
        shape = _("Enter a list of values separated by commas, e.g. Software, IT.")
    else:  # CONTAINS
        texts = (
            [value] if isinstance(value, str) else (list(value) if isinstance(value, list | tuple) and value else None)
        )
        shape = _("Enter one text or several separated by commas, e.g. CEO, Head, Director.")
    if texts is None or not all(isinstance(text, str) and text.strip() for text in texts):
        return [shape]
    if field_name == "email_domain_type":
        unknown = [text for text in texts if _text(text) not in EMAIL_DOMAIN_TYPES]
        if unknown:
            return [
                _("Unknown e-mail domain type “%(value)s”; use one of: %(allowed)s.")
                % {"value": unknown[0], "allowed": ", ".join(EMAIL_DOMAIN_TYPES)}
            ]
    return []


def normalise_value(field_name: str, operator: str, value: Any) -> Any:
    """Turn what an admin typed into the value the operator expects, leaving anything doubtful alone.

    Comma-separated text becomes a list for "in list", "contains" and "between"; numbers typed as text
    become numbers for number fields; a number becomes text for text fields; empty becomes None.
    """
    if value in ("", [], ()):
        return None
    if field_name not in FIELD_TYPES or operator in NO_VALUE_OPERATORS:
        return value
    if isinstance(value, str) and operator in (IN_LIST, CONTAINS, BETWEEN) and "," in value:
        value = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, str) and operator == IN_LIST:
        value = [value.strip()]
    if FIELD_TYPES[field_name] == NUMBER:
        if isinstance(value, list):
            return [_as_number(item) for item in value]
        return _as_number(value)
    if _is_number(value):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return value


def _as_number(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        for convert in (int, float):
            try:
                return convert(text)
            except ValueError:
                continue
    return value

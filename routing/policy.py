"""Who gets a lead: pure routing decisions, no database.

`choose_owner(facts, candidates, rules, now=...)` takes small dataclasses and returns a `Decision` with a
human sentence that explains it. The first enabled rule (by position) whose conditions all match wins; its
target is a team (picked by a method), a named rep, or the pool. Reps who are unavailable, out of office,
off shift or at capacity are skipped; when nobody is left the lead goes to the pool and the team's manager
is to be told.

Fairness (round-robin and weighted round-robin) works on a per-team *virtual time*: every rep has a
position in the rotation (`Candidate.rotation`, None before their first lead in the team) and the team has
a clock (`Candidate.team_clock`), the lowest position among the reps who were in line at the last
assignment. A rep's start is `max(rotation, team_clock)`, so a rep who joins later or comes back from an
absence starts at the current minimum instead of being flooded with "missed" leads, and nothing is reset
when the roster changes. Round-robin picks the lowest start and advances it by 1 (every rep stays within one
lead of the others); weighted round-robin picks the lowest finish `start + 1/weight` and advances to it (a
rep with weight 2 gets twice the leads of a rep with weight 1). `advance_rotation` returns the values to
store; `routing.rotation.record_assignment` stores them under a row lock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers

from routing import performance

# --- vocabulary -----------------------------------------------------------------------------------------

ROUND_ROBIN = "round_robin"
WEIGHTED_ROUND_ROBIN = "weighted_round_robin"
LEAST_LOADED = "least_loaded"
ACCOUNT_OWNER_FIRST = "account_owner_first"
PERFORMANCE = "performance"  # weighted round-robin with weights from recent conversion (routing.performance)
METHODS = (ROUND_ROBIN, WEIGHTED_ROUND_ROBIN, LEAST_LOADED, ACCOUNT_OWNER_FIRST, PERFORMANCE)

TARGET_TEAM = "team"
TARGET_REP = "rep"
TARGET_POOL = "pool"
TARGET_TYPES = (TARGET_TEAM, TARGET_REP, TARGET_POOL)
# Team kinds: SDR teams work new MQLs; closing teams (account executives) get the opportunities (sales hand-off)
TEAM_SDR = "sdr"
TEAM_CLOSING = "closing"

# How the owner was actually chosen (Decision.chosen_by): a method above, or one of these.
CHOSEN_AS_ACCOUNT_OWNER = "account_owner"
CHOSEN_AS_NAMED_REP = "named_rep"
CHOSEN_POOL = "pool"

METHOD_WORDS = {
    ROUND_ROBIN: "round-robin",
    WEIGHTED_ROUND_ROBIN: "weighted round-robin",
    LEAST_LOADED: "least loaded",
    ACCOUNT_OWNER_FIRST: "account owner first",
    PERFORMANCE: "performance-weighted round-robin",
}

# Named regions a rule or a rep's territory may use beside ISO 3166 country codes. Keys are matched
# case-insensitively; none of them is a two-letter code, so they never clash with a country.
REGIONS: dict[str, frozenset[str]] = {
    "DACH": frozenset({"DE", "AT", "CH"}),
    "Nordics": frozenset({"DK", "FI", "IS", "NO", "SE"}),
    "Benelux": frozenset({"BE", "NL", "LU"}),
    "UKI": frozenset({"GB", "IE"}),
    "Iberia": frozenset({"ES", "PT"}),
    "Baltics": frozenset({"EE", "LV", "LT"}),
    "CEE": frozenset({"PL", "CZ", "SK", "HU", "RO", "BG", "SI", "HR", "EE", "LV", "LT"}),
    "EU": frozenset({
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT",
        "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    }),
    "North America": frozenset({"US", "CA"}),
    "LATAM": frozenset({
        "MX", "GT", "BZ", "SV", "HN", "NI", "CR", "PA", "CU", "DO", "PR", "CO", "VE", "EC", "PE", "BO", "BR",
        "PY", "UY", "AR", "CL",
    }),
    "ANZ": frozenset({"AU", "NZ"}),
    "APAC": frozenset({
        "AU", "NZ", "JP", "KR", "CN", "HK", "TW", "SG", "MY", "TH", "ID", "PH", "VN", "IN",
    }),
    "MENA": frozenset({
        "AE", "SA", "QA", "KW", "BH", "OM", "IL", "JO", "LB", "EG", "MA", "TN", "DZ", "TR",
    }),
}
_REGION_NAMES = {name.casefold(): name for name in REGIONS}
_COUNTRY_ALIASES = {"UK": "GB"}
COUNTRY_CODES = frozenset(phonenumbers.SUPPORTED_REGIONS)  # the same list lead capture validates against

CONDITION_KEYS = (
    "country", "region", "industry", "company_size_min", "company_size_max", "score_min", "source", "campaign",
    "probability_min",
)
_LIST_CONDITIONS = ("country", "region", "industry", "source", "campaign")
_NUMBER_CONDITIONS = ("company_size_min", "company_size_max", "score_min", "probability_min")

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


# --- input and output -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadFacts:
    """What routing may know about a lead; the leads app builds it."""

    country: str = ""  # ISO 3166 alpha-2
    industry: str = ""
    company_size: int | None = None
    score: int | None = None
    source: str = ""  # channel value, e.g. "web_form"
    campaign: str = ""  # campaign slug
    email_domain: str = ""
    website_domain: str = ""
    account_owner_id: int | None = None  # user id of the owner of the account the domain matched
    lead_id: int | None = None  # for experiments (the arm is a hash of it)
    conversion_probability: float | None = None  # 0..1 from the active predictive model, None when it has none


@dataclass(frozen=True)
class Candidate:
    """A rep as routing sees them at one moment (the selector fills in the time-dependent flags)."""

    rep_id: int
    user_id: int
    username: str
    team_id: int
    is_available: bool = True
    out_of_office: bool = False
    on_shift: bool = True  # always True for reps who do not respect working hours
    open_load: int = 0  # open MQL + SAL leads they own
    capacity: int = 25
    weight: int = 1
    rotation: float | None = None  # position in the team's rotation; None before their first lead there
    team_clock: float = 0.0  # the team's rotation floor (see module docstring)
    specialties: tuple[str, ...] = ()
    territories: tuple[str, ...] = ()
    record: tuple[int, int] | None = None  # (SAL->SQL, SAL) over the performance window, for PERFORMANCE
    performance_weight: float | None = None  # set by choose_owner for PERFORMANCE


@dataclass(frozen=True)
class RuleSpec:
    id: int | None
    name: str
    position: int
    conditions: Mapping[str, Any] = field(default_factory=dict)
    target_type: str = TARGET_POOL
    target_team_id: int | None = None
    target_rep_id: int | None = None
    method: str = ROUND_ROBIN
    is_enabled: bool = True


@dataclass(frozen=True)
class RotationUpdate:
    """New rotation values to store after an assignment by round-robin or weighted round-robin."""

    team_id: int
    rep_id: int
    user_id: int
    virtual_time: float  # the chosen rep's new position
    clock: float  # the team's new floor


@dataclass(frozen=True)
class Decision:
    owner_user_id: int | None  # None: the lead goes to the pool
    owner_username: str
    rule_id: int | None
    rule_name: str
    method: str  # the matched rule's method ("" when no rule matched)
    chosen_by: str  # how the owner was chosen: a method, "account_owner", "named_rep" or "pool"
    reason: str
    matched: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (username, why)
    to_pool: bool = False
    notify_manager_of_team_id: int | None = None
    rotation: RotationUpdate | None = None  # store with routing.rotation.record_assignment
    at: dt.datetime | None = None
    experiment: tuple[int, str, str] | None = None  # (experiment id, name, arm) when an experiment chose the method

    def as_trace(self) -> dict[str, Any]:
        """The JSON-ready decision trace to keep with the lead (API field `assignment`)."""
        return {
            "rule": self.rule_name,
            "method": self.method,
            "chosen_by": self.chosen_by,
            "owner": self.owner_username or None,
            "reason": self.reason,
            "skipped": [list(pair) for pair in self.skipped],
            "at": self.at.isoformat() if self.at else None,
        } | ({"experiment": {"id": self.experiment[0], "name": self.experiment[1], "arm": self.experiment[2]}}
             if self.experiment else {})


# --- normalising and validating configuration (used by the models' clean()) -----------------------------


def normalize_country(value: str) -> str:
    code = str(value or "").strip().upper()
    return _COUNTRY_ALIASES.get(code, code)


def region_name(value: str) -> str | None:
    """The canonical name of a named region, or None."""
    return _REGION_NAMES.get(str(value or "").strip().casefold())


def normalize_countries(values: Iterable[str]) -> list[str]:
    """Upper-case ISO codes, duplicates removed; ValueError names the unknown ones."""
    codes = _unique(normalize_country(v) for v in values if str(v).strip())
    unknown = [c for c in codes if c not in COUNTRY_CODES]
    if unknown:
        raise ValueError(f"Unknown country code(s): {', '.join(unknown)}. Use ISO codes such as DE, AT, CH.")
    return codes


def normalize_regions(values: Iterable[str]) -> list[str]:
    names, unknown = [], []
    for value in values:
        if not str(value).strip():
            continue
        name = region_name(value)
        (names if name else unknown).append(name or str(value).strip())
    if unknown:
        raise ValueError(f"Unknown region(s): {', '.join(unknown)}. Known regions: {', '.join(REGIONS)}.")
    return _unique(names)


def normalize_territories(values: Iterable[str]) -> list[str]:
    """Country codes and region names, each in its canonical spelling."""
    result, unknown = [], []
    for value in values:
        text = str(value or "").strip()
        if not text:
            continue
        name = region_name(text)
        code = normalize_country(text)
        if name:
            result.append(name)
        elif code in COUNTRY_CODES:
            result.append(code)
        else:
            unknown.append(text)
    if unknown:
        raise ValueError(
            f"Unknown territory: {', '.join(unknown)}. Use ISO country codes (DE) or regions ({', '.join(REGIONS)})."
        )
    return _unique(result)


def normalize_words(values: Iterable[str]) -> list[str]:
    """Free-text list entries (industries, products, sources, campaign slugs), trimmed, duplicates removed."""
    return _unique(str(v).strip() for v in values if str(v).strip())


def normalize_conditions(conditions: Mapping[str, Any]) -> dict[str, Any]:
    """A rule's conditions in canonical form; ValueError with a sentence when something is wrong."""
    if not isinstance(conditions, Mapping):
        raise ValueError("Conditions must be an object such as {\"country\": [\"DE\"]}.")
    unknown = sorted(set(conditions) - set(CONDITION_KEYS))
    if unknown:
        raise ValueError(f"Unknown condition(s): {', '.join(unknown)}. Allowed: {', '.join(CONDITION_KEYS)}.")
    result: dict[str, Any] = {}
    for key in _LIST_CONDITIONS:
        values = conditions.get(key)
        if values in (None, "", []):
            continue
        if isinstance(values, str) or not isinstance(values, Iterable):
            raise ValueError(f"The condition {key} must be a list.")
        if key == "country":
            values = normalize_countries(values)
        elif key == "region":
            values = normalize_regions(values)
        else:
            values = normalize_words(values)
        if values:
            result[key] = values
    for key in _NUMBER_CONDITIONS:
        value = conditions.get(key)
        if value in (None, ""):
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"The condition {key} must be a number of 0 or more.")
        result[key] = int(value)
    if result.get("probability_min", 0) > 100:
        raise ValueError("The condition probability_min is a percentage: 0 to 100.")
    low, high = result.get("company_size_min"), result.get("company_size_max")
    if low is not None and high is not None and low > high:
        raise ValueError("The smallest company size must not be larger than the largest.")
    return result


def is_valid_time_zone(name: str) -> bool:
    names = _time_zone_names()
    if not name or (names and name not in names):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def time_zone_choices() -> list[str]:
    return sorted(_time_zone_names())


def normalize_working_hours(value: Mapping[str, Any]) -> dict[str, list[list[str]]]:
    """{"mon": ["09:00", "17:00"]} or several windows {"mon": [["09:00", "12:00"], ["13:00", "17:00"]]}.

    Stored as lists of windows. A window whose end is before its start runs past midnight. ValueError
    with a sentence when something is wrong.
    """
    if not isinstance(value, Mapping):
        raise ValueError("Working hours must be an object such as {\"mon\": [\"09:00\", \"17:00\"]}.")
    unknown = sorted(set(value) - set(WEEKDAYS))
    if unknown:
        raise ValueError(f"Unknown day(s) {', '.join(unknown)}; use {', '.join(WEEKDAYS)}.")
    result: dict[str, list[list[str]]] = {}
    for day in WEEKDAYS:
        if day not in value or value[day] in (None, [], ""):
            continue
        windows = []
        for window in shift_windows(value[day]):
            if len(window) != 2 or not all(isinstance(t, str) and _TIME.match(t) for t in window):
                raise ValueError(f"{day}: write each shift as two times HH:MM, e.g. [\"09:00\", \"17:00\"].")
            if window[0] == window[1]:
                raise ValueError(f"{day}: a shift must not start and end at the same time.")
            if window[0] == "24:00":
                raise ValueError(f"{day}: a shift cannot start at 24:00.")
            windows.append([window[0], window[1]])
        result[day] = windows
    return result


# --- time -----------------------------------------------------------------------------------------------


def is_on_shift(working_hours: Mapping[str, Any] | None, time_zone: str, now: dt.datetime) -> bool:
    """Whether `now` (aware) falls in one of the rep's shifts in their time zone.

    No working hours configured means always on shift. A shift ending before it starts runs past midnight
    (fri 22:00-06:00 covers Saturday 05:00).
    """
    if not working_hours:
        return True
    try:
        zone = ZoneInfo(time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    minute = local.hour * 60 + local.minute
    today, yesterday = WEEKDAYS[local.weekday()], WEEKDAYS[(local.weekday() - 1) % 7]
    for start, end in _shifts(working_hours.get(today)):
        if (start < end and start <= minute < end) or (end < start and minute >= start):
            return True
    for start, end in _shifts(working_hours.get(yesterday)):
        if end < start and minute < end:
            return True
    return False


def is_out_of_office(starts: dt.date | None, ends: dt.date | None, today: dt.date) -> bool:
    """Inclusive date range; an open start means "until `ends`", an open end means "from `starts` on"."""
    if starts is None and ends is None:
        return False
    return (starts is None or starts <= today) and (ends is None or today <= ends)


# --- rules ----------------------------------------------------------------------------------------------


def matches(rule: RuleSpec, facts: LeadFacts) -> tuple[bool, list[str]]:
    """Whether every condition of the rule holds, and the phrases that say what matched."""
    conditions = rule.conditions or {}
    if set(conditions) - set(CONDITION_KEYS):
        return False, []  # fail closed on a condition this code does not know
    phrases: list[str] = []
    country = normalize_country(facts.country)

    if conditions.get("country"):
        if country not in {normalize_country(c) for c in conditions["country"]}:
            return False, []
        phrases.append(f"country {country}")
    if conditions.get("region"):
        hit = next((region_name(r) for r in conditions["region"] if country in REGIONS.get(region_name(r), ())), None)
        if hit is None:
            return False, []
        phrases.append(f"region {hit} ({country})")
    for key, word in (("industry", "industry"), ("source", "source"), ("campaign", "campaign")):
        if conditions.get(key):
            value = str(getattr(facts, key) or "").strip()
            if not value or value.casefold() not in {str(v).strip().casefold() for v in conditions[key]}:
                return False, []
            phrases.append(f"{word} {value}")
    low, high = conditions.get("company_size_min"), conditions.get("company_size_max")
    if low is not None or high is not None:
        size = facts.company_size
        if size is None or (low is not None and size < low) or (high is not None and size > high):
            return False, []
        phrases.append(f"size {size}")
    if conditions.get("score_min") is not None:
        if facts.score is None or facts.score < conditions["score_min"]:
            return False, []
        phrases.append(f"score {facts.score}")
    if conditions.get("probability_min") is not None:
        probability = facts.conversion_probability
        if probability is None or 100 * probability < conditions["probability_min"]:
            return False, []
        phrases.append(f"conversion probability {100 * probability:.0f} %")
    return True, phrases


def first_match(facts: LeadFacts, rules: Iterable[RuleSpec]) -> tuple[RuleSpec | None, list[str]]:
    """The first enabled rule, by position, whose conditions all hold."""
    for rule in sorted((r for r in rules if r.is_enabled), key=lambda r: (r.position, r.id or 0)):
        ok, phrases = matches(rule, facts)
        if ok:
            return rule, phrases
    return None, []


# --- candidates -----------------------------------------------------------------------------------------


def covers_country(territories: Iterable[str], country: str) -> bool:
    country = normalize_country(country)
    for territory in territories:
        name = region_name(territory)
        if (name and country in REGIONS[name]) or normalize_country(territory) == country:
            return True
    return False


def why_not_eligible(candidate: Candidate, facts: LeadFacts | None = None) -> str | None:
    """None when the rep can take the lead now, else the reason in a few words.

    Territory counts only when `facts` is given, the rep has territories and the lead's country is known.
    """
    if not candidate.is_available:
        return "unavailable"
    if candidate.out_of_office:
        return "out of office"
    if not candidate.on_shift:
        return "off shift"
    if candidate.open_load >= candidate.capacity:
        return f"at capacity ({candidate.open_load}/{candidate.capacity})"
    if facts is not None and candidate.territories and facts.country:
        if not covers_country(candidate.territories, facts.country):
            return "outside territory"
    return None


def rotation_start(candidate: Candidate) -> float:
    """Where the rep stands in the rotation now: never below the team's floor."""
    if candidate.rotation is None:
        return candidate.team_clock
    return max(candidate.rotation, candidate.team_clock)


def rotation_step(candidate: Candidate, method: str) -> float:
    if method == PERFORMANCE:
        return 1.0 / (candidate.performance_weight or 1.0)
    if method == WEIGHTED_ROUND_ROBIN:
        return 1.0 / max(candidate.weight, 1)
    return 1.0


def advance_rotation(chosen: Candidate, in_line: Sequence[Candidate], method: str) -> RotationUpdate:
    """The values to store after `chosen` got a lead by `method`, out of the reps `in_line` for it.

    The chosen rep moves on by one step (1, or 1/weight for weighted round-robin); the team's floor becomes
    the lowest position among the reps in line, so someone who was not in line (absent, full, new) later
    starts there instead of far behind.
    """
    positions = {c.rep_id: rotation_start(c) for c in in_line if c.team_id == chosen.team_id}
    new_position = rotation_start(chosen) + rotation_step(chosen, method)
    positions[chosen.rep_id] = new_position
    return RotationUpdate(
        team_id=chosen.team_id,
        rep_id=chosen.rep_id,
        user_id=chosen.user_id,
        virtual_time=new_position,
        clock=min(positions.values()),
    )


def pick(in_line: Sequence[Candidate], method: str) -> Candidate:
    """The next rep by `method` among reps who can all take the lead (ties broken by username)."""
    if method == LEAST_LOADED:
        return min(
            in_line, key=lambda c: (c.open_load / max(c.capacity, 1), c.open_load, _r(rotation_start(c)), c.username)
        )
    if method in (WEIGHTED_ROUND_ROBIN, PERFORMANCE):
        return min(in_line, key=lambda c: (_r(rotation_start(c) + rotation_step(c, method)), c.username))
    return min(in_line, key=lambda c: (_r(rotation_start(c)), c.username))


# --- the decision ---------------------------------------------------------------------------------------


def choose_owner(
    facts: LeadFacts,
    candidates: Sequence[Candidate],
    rules: Iterable[RuleSpec],
    *,
    now: dt.datetime | None = None,
) -> Decision:
    """Who gets the lead, and why. Pure: the caller stores the owner and the rotation update."""
    rule, matched = first_match(facts, rules)
    if rule is None:
        return Decision(
            owner_user_id=None, owner_username="", rule_id=None, rule_name="", method="", chosen_by=CHOSEN_POOL,
            reason="no routing rule matched: sent to the pool", to_pool=True, at=now,
        )

    story = _Story(rule, matched, now)

    if rule.method == ACCOUNT_OWNER_FIRST:
        owner = _account_owner(facts, candidates, story)
        if owner is not None:
            return story.owner(owner, CHOSEN_AS_ACCOUNT_OWNER, f"{owner.username} chosen as account owner")

    if rule.target_type == TARGET_POOL:
        return story.pool("sent to the pool by the rule")

    if rule.target_type == TARGET_REP:
        rep = next((c for c in candidates if c.rep_id == rule.target_rep_id), None)
        if rep is None:
            return story.pool("the rule's rep is not a routable rep: sent to the pool")
        if not story.already_skipped(rep):
            why = why_not_eligible(rep)  # named by the rule: territory does not apply
            if why is None:
                return story.owner(rep, CHOSEN_AS_NAMED_REP, f"{rep.username} chosen as the rule's rep")
            story.skip(rep, why)
        return story.pool("nobody left: sent to the pool, manager notified", notify_team_id=rep.team_id)

    # A team: everybody in it who can take the lead now, then the method.
    team = sorted((c for c in candidates if c.team_id == rule.target_team_id), key=lambda c: c.username)
    in_line = []
    for candidate in team:
        if story.already_skipped(candidate):
            continue
        why = why_not_eligible(candidate, facts)
        if why is None:
            in_line.append(candidate)
        else:
            story.skip(candidate, why)
    if not in_line:
        return story.pool("nobody left: sent to the pool, manager notified", notify_team_id=rule.target_team_id)

    industry = (facts.industry or "").strip().casefold()
    specialists = [c for c in in_line if industry and industry in {s.casefold() for s in c.specialties}]
    if specialists and len(specialists) < len(in_line):
        story.note(f"specialists in {facts.industry.strip()} preferred")
        in_line = specialists

    method = rule.method if rule.method != ACCOUNT_OWNER_FIRST else ROUND_ROBIN
    if method == PERFORMANCE:
        # Weights against the whole team's record (reps in line or not), bounded by the fairness floor.
        found = performance.weights({c.rep_id: c.record or (0, 0) for c in team})
        in_line = [dataclasses.replace(c, performance_weight=found[c.rep_id].weight) for c in in_line]
        chosen = pick(in_line, method)
        return story.owner(
            chosen, method, f"{chosen.username} chosen by {METHOD_WORDS[method]} ({found[chosen.rep_id].explain()})",
            rotation=advance_rotation(chosen, in_line, method),
        )
    chosen = pick(in_line, method)
    if method == LEAST_LOADED:
        return story.owner(
            chosen, method, f"{chosen.username} chosen by least loaded ({chosen.open_load}/{chosen.capacity} open)"
        )
    return story.owner(
        chosen, method, f"{chosen.username} chosen by {METHOD_WORDS[method]}",
        rotation=advance_rotation(chosen, in_line, method),
    )


class _Story:
    """Collects what happened while deciding, and writes the Decision with its sentence."""

    def __init__(self, rule: RuleSpec, matched: list[str], now: dt.datetime | None):
        self.rule, self.matched, self.now = rule, matched, now
        self.skipped: list[tuple[Candidate, str]] = []
        self.notes: list[str] = []

    def skip(self, candidate: Candidate, why: str) -> None:
        self.skipped.append((candidate, why))

    def already_skipped(self, candidate: Candidate) -> bool:
        """A rep already skipped (as account owner) is not judged twice."""
        return any(c.rep_id == candidate.rep_id for c, _why in self.skipped)

    def note(self, phrase: str) -> None:
        self.notes.append(phrase)

    def owner(self, candidate: Candidate, chosen_by: str, phrase: str, *, rotation=None) -> Decision:
        return self._decision(candidate, chosen_by, phrase, rotation=rotation)

    def pool(self, phrase: str, *, notify_team_id: int | None = None) -> Decision:
        return self._decision(None, CHOSEN_POOL, phrase, notify_team_id=notify_team_id)

    def _decision(self, candidate, chosen_by, phrase, *, rotation=None, notify_team_id=None) -> Decision:
        rule = self.rule
        head = f"rule '{rule.name}' matched"
        head += f": {', '.join(self.matched)}" if self.matched else " (no conditions)"
        parts = [head]
        unique_skips = [(c.username, why) for c, why in self.skipped]
        if unique_skips:
            parts.append(", ".join(f"{name} {why}" for name, why in unique_skips))
        parts.extend(self.notes)
        parts.append(phrase)
        return Decision(
            owner_user_id=candidate.user_id if candidate else None,
            owner_username=candidate.username if candidate else "",
            rule_id=rule.id,
            rule_name=rule.name,
            method=rule.method,
            chosen_by=chosen_by,
            reason="; ".join(parts),
            matched=tuple(self.matched),
            skipped=tuple(unique_skips),
            to_pool=candidate is None,
            notify_manager_of_team_id=notify_team_id,
            rotation=rotation,
            at=self.now,
        )


def _account_owner(facts: LeadFacts, candidates: Sequence[Candidate], story: _Story) -> Candidate | None:
    if facts.account_owner_id is None:
        story.note("no account owner known")
        return None
    owner = next((c for c in candidates if c.user_id == facts.account_owner_id), None)
    if owner is None:
        story.note("the account owner is not a routable rep")
        return None
    why = why_not_eligible(owner)  # territory does not apply: the account is theirs
    if why is None:
        return owner
    story.skip(owner, f"{why} (account owner)")
    return None


# --- helpers --------------------------------------------------------------------------------------------


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _r(value: float) -> float:
    """Round away float noise (1/3 + 1/3 + 1/3) so ties stay ties."""
    return round(value, 9)


def shift_windows(value: Any) -> list[Sequence[str]]:
    """A day's shifts as a list of [start, end] pairs, whether stored as one pair or several."""
    if not value:
        return []
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(t, str) for t in value):
        return [value]
    if isinstance(value, list | tuple):
        return [w if isinstance(w, list | tuple) else [w] for w in value]
    return [[value]]


def _shifts(value: Any) -> list[tuple[int, int]]:
    """(start, end) in minutes after midnight; malformed windows are left out, never raised."""
    shifts = []
    for window in shift_windows(value):
        if len(window) == 2 and all(isinstance(t, str) and _TIME.match(t) for t in window):
            shifts.append((_minutes(window[0]), _minutes(window[1])))
    return shifts


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


_ZONES: frozenset[str] | None = None


def _time_zone_names() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES

"""Routing policy: pure decisions, no database. Property-based where a property says more than examples."""

import datetime as dt
from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing import policy
from routing.policy import Candidate, LeadFacts, RuleSpec, choose_owner

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)  # a Monday, 11:00 in Berlin
TEAM = 1


def rep(number: int, **fields) -> Candidate:
    fields.setdefault("team_id", TEAM)
    fields.setdefault("capacity", 1000)
    return Candidate(rep_id=number, user_id=100 + number, username=f"sdr{number}", **fields)


def team_rule(method=policy.ROUND_ROBIN, *, name="Everyone", position=10, conditions=None, team_id=TEAM, rule_id=1):
    return RuleSpec(
        id=rule_id, name=name, position=position, conditions=conditions or {}, target_type=policy.TARGET_TEAM,
        target_team_id=team_id, method=method,
    )


DEFAULT = RuleSpec(id=999, name="Default", position=1000, target_type=policy.TARGET_POOL)


class Rotation:
    """An in-memory stand-in for the stored RotationState rows and the team's floor."""

    def __init__(self):
        self.positions: dict[int, float] = {}
        self.clock = 0.0
        self.counts: Counter[str] = Counter()

    def view(self, reps):
        return [replace(c, rotation=self.positions.get(c.rep_id), team_clock=self.clock) for c in reps]

    def route(self, reps, rules, facts=None):
        decision = choose_owner(facts or LeadFacts(), self.view(reps), rules, now=NOW)
        if decision.rotation is not None:
            self.positions[decision.rotation.rep_id] = decision.rotation.virtual_time
            self.clock = max(self.clock, decision.rotation.clock)
        if decision.owner_username:
            self.counts[decision.owner_username] += 1
        return decision


def spread(counts: Counter, names) -> int:
    values = [counts[name] for name in names]
    return max(values) - min(values)


# --- fairness -------------------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=8))
def test_round_robin_over_n_reps_ends_even_and_stays_within_one_at_every_step(n):
    reps = [rep(i) for i in range(1, n + 1)]
    names = [c.username for c in reps]
    rotation = Rotation()
    for _ in range(3 * n):
        rotation.route(reps, [team_rule()])
        assert spread(rotation.counts, names) <= 1
    assert all(rotation.counts[name] == 3 for name in names)


def test_three_available_reps_share_thirty_leads_ten_each():
    reps = [rep(1), rep(2), rep(3)]
    rotation = Rotation()
    owners = [rotation.route(reps, [team_rule(), DEFAULT]).owner_username for _ in range(30)]
    assert rotation.counts == Counter({"sdr1": 10, "sdr2": 10, "sdr3": 10})
    assert owners[:6] == ["sdr1", "sdr2", "sdr3", "sdr1", "sdr2", "sdr3"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=5), min_size=2, max_size=5))
def test_weighted_round_robin_respects_weights_in_the_long_run(weights):
    reps = [rep(i, weight=w) for i, w in enumerate(weights, start=1)]
    rotation = Rotation()
    for _ in range(1000):
        rotation.route(reps, [team_rule(policy.WEIGHTED_ROUND_ROBIN)])
    total = sum(weights)
    for candidate in reps:
        expected = 1000 * candidate.weight / total
        assert abs(rotation.counts[candidate.username] - expected) <= 2, (weights, rotation.counts)


def test_weighted_round_robin_is_smooth_not_bursty():
    reps = [rep(1, weight=1), rep(2, weight=2)]
    rotation = Rotation()
    owners = [rotation.route(reps, [team_rule(policy.WEIGHTED_ROUND_ROBIN)]).owner_username for _ in range(6)]
    assert owners == ["sdr2", "sdr1", "sdr2", "sdr2", "sdr1", "sdr2"]


@given(st.integers(min_value=2, max_value=6), st.integers(min_value=0, max_value=40), st.integers(1, 40))
def test_a_rep_added_mid_way_neither_resets_the_others_nor_is_flooded(n, before, after):
    reps = [rep(i) for i in range(1, n + 1)]
    rotation = Rotation()
    for _ in range(before):
        rotation.route(reps, [team_rule()])
    counts_before = Counter(rotation.counts)
    newcomer = rep(n + 1)
    everyone = [*reps, newcomer]
    for _ in range(after):
        rotation.route(everyone, [team_rule()])
        since_join = rotation.counts - counts_before
        # everyone gets an equal share of the leads since the join: the newcomer is not flooded with
        # "missed" leads, and the others did not start again from zero
        assert spread(since_join, [c.username for c in everyone]) <= 1
    assert all(rotation.counts[c.username] >= counts_before[c.username] for c in reps)


def test_a_rep_back_from_absence_is_not_flooded():
    reps = [rep(1), rep(2), rep(3)]
    rotation = Rotation()
    for _ in range(3):
        rotation.route(reps, [team_rule()])
    away = [rep(1), rep(2), rep(3, out_of_office=True)]
    for _ in range(30):
        rotation.route(away, [team_rule()])
    assert rotation.counts == Counter({"sdr1": 16, "sdr2": 16, "sdr3": 1})
    back = Counter(rotation.counts)
    for _ in range(12):
        rotation.route(reps, [team_rule()])
        assert spread(rotation.counts - back, ["sdr1", "sdr2", "sdr3"]) <= 1
    assert rotation.counts - back == Counter({"sdr1": 4, "sdr2": 4, "sdr3": 4})


def test_a_rep_who_was_full_is_not_flooded_when_capacity_frees_up():
    rotation = Rotation()
    for _ in range(20):
        rotation.route([rep(1), rep(2, open_load=5, capacity=5)], [team_rule()])
    assert rotation.counts["sdr2"] == 0
    before = Counter(rotation.counts)
    for _ in range(10):
        rotation.route([rep(1), rep(2)], [team_rule()])
    assert rotation.counts - before == Counter({"sdr1": 5, "sdr2": 5})


def test_advance_rotation_moves_the_chosen_rep_by_one_step_and_raises_the_floor():
    one, two = rep(1, rotation=4.0, team_clock=3.0), rep(2, rotation=None, team_clock=3.0)
    update = policy.advance_rotation(two, [one, two], policy.ROUND_ROBIN)
    assert (update.rep_id, update.virtual_time, update.clock) == (2, 4.0, 4.0)
    heavy = rep(3, rotation=1.0, weight=4)
    assert policy.advance_rotation(heavy, [heavy], policy.WEIGHTED_ROUND_ROBIN).virtual_time == 1.25


# --- who may be chosen ----------------------------------------------------------------------------------

candidate_flags = st.builds(
    dict,
    is_available=st.booleans(),
    out_of_office=st.booleans(),
    on_shift=st.booleans(),
    open_load=st.integers(min_value=0, max_value=6),
    capacity=st.integers(min_value=1, max_value=5),
    weight=st.integers(min_value=1, max_value=4),
    rotation=st.none() | st.floats(min_value=0, max_value=50, allow_nan=False),
)


@given(
    st.lists(candidate_flags, min_size=0, max_size=6),
    st.sampled_from([*policy.METHODS]),
    st.none() | st.integers(min_value=1, max_value=6),
)
def test_never_assigns_to_an_unavailable_absent_off_shift_or_full_rep(flags, method, owner_number):
    reps = [rep(i, **f) for i, f in enumerate(flags, start=1)]
    facts = LeadFacts(account_owner_id=100 + owner_number if owner_number else None)
    decision = choose_owner(facts, reps, [team_rule(method)], now=NOW)
    eligible = {c.user_id for c in reps if policy.why_not_eligible(c) is None}
    if eligible:
        assert decision.owner_user_id in eligible
        assert not decision.to_pool
    else:
        assert decision.owner_user_id is None
        assert decision.to_pool and decision.notify_manager_of_team_id == TEAM
    chosen = next((c for c in reps if c.user_id == decision.owner_user_id), None)
    if chosen is not None:
        assert chosen.is_available and not chosen.out_of_office and chosen.on_shift
        assert chosen.open_load < chosen.capacity


def test_everyone_full_or_away_sends_the_lead_to_the_pool_and_tells_the_manager():
    reps = [rep(1, open_load=5, capacity=5), rep(2, is_available=False), rep(3, on_shift=False)]
    decision = choose_owner(LeadFacts(), reps, [team_rule(), DEFAULT], now=NOW)
    assert decision.to_pool and decision.owner_user_id is None
    assert decision.notify_manager_of_team_id == TEAM
    assert decision.rule_name == "Everyone"
    assert decision.skipped == (("sdr1", "at capacity (5/5)"), ("sdr2", "unavailable"), ("sdr3", "off shift"))
    assert decision.rotation is None
    assert decision.reason == (
        "rule 'Everyone' matched (no conditions); sdr1 at capacity (5/5), sdr2 unavailable, sdr3 off shift; "
        "nobody left: sent to the pool, manager notified"
    )


def test_an_empty_team_sends_to_the_pool_and_tells_the_manager():
    decision = choose_owner(LeadFacts(), [], [team_rule()], now=NOW)
    assert decision.to_pool and decision.notify_manager_of_team_id == TEAM


def test_the_pool_rule_sends_to_the_pool_without_telling_anyone():
    decision = choose_owner(LeadFacts(country="DE"), [rep(1)], [DEFAULT], now=NOW)
    assert decision.to_pool and decision.notify_manager_of_team_id is None
    assert decision.reason == "rule 'Default' matched (no conditions); sent to the pool by the rule"


def test_no_rule_at_all_means_the_pool():
    decision = choose_owner(LeadFacts(), [rep(1)], [], now=NOW)
    assert decision.to_pool and decision.rule_name == "" and decision.notify_manager_of_team_id is None
    assert decision.reason == "no routing rule matched: sent to the pool"


def test_least_loaded_picks_the_lowest_share_of_capacity():
    reps = [rep(1, open_load=4, capacity=10), rep(2, open_load=3, capacity=5), rep(3, open_load=1, capacity=2)]
    decision = choose_owner(LeadFacts(), reps, [team_rule(policy.LEAST_LOADED)], now=NOW)
    assert decision.owner_username == "sdr1"
    assert decision.chosen_by == policy.LEAST_LOADED and decision.rotation is None
    assert decision.reason.endswith("sdr1 chosen by least loaded (4/10 open)")


def test_a_rep_outside_their_territory_is_skipped():
    reps = [rep(1, territories=("Nordics",)), rep(2, territories=("DACH", "FR"))]
    decision = choose_owner(LeadFacts(country="at"), reps, [team_rule()], now=NOW)
    assert decision.owner_username == "sdr2"
    assert ("sdr1", "outside territory") in decision.skipped


def test_territories_do_not_exclude_a_lead_without_a_country():
    decision = choose_owner(LeadFacts(), [rep(1, territories=("Nordics",))], [team_rule()], now=NOW)
    assert decision.owner_username == "sdr1"


def test_specialists_in_the_industry_are_preferred():
    reps = [rep(1), rep(2, specialties=("Fintech",))]
    decision = choose_owner(LeadFacts(industry="fintech"), reps, [team_rule()], now=NOW)
    assert decision.owner_username == "sdr2"
    assert "specialists in fintech preferred" in decision.reason
    general = choose_owner(LeadFacts(industry="retail"), reps, [team_rule()], now=NOW)
    assert general.owner_username == "sdr1"


# --- account owner first and named reps -----------------------------------------------------------------


def test_the_account_owner_gets_the_lead_when_available():
    owner = rep(4, team_id=2, rotation=99.0)  # in another team, far behind in any rotation
    decision = choose_owner(
        LeadFacts(account_owner_id=owner.user_id, email_domain="acme.com"),
        [rep(1), rep(2), owner],
        [team_rule(policy.ACCOUNT_OWNER_FIRST)],
        now=NOW,
    )
    assert decision.owner_user_id == owner.user_id
    assert decision.chosen_by == policy.CHOSEN_AS_ACCOUNT_OWNER
    assert decision.rotation is None
    assert decision.reason == "rule 'Everyone' matched (no conditions); sdr4 chosen as account owner"


def test_an_absent_account_owner_falls_back_to_round_robin_in_the_team():
    owner = rep(3, out_of_office=True)
    decision = choose_owner(
        LeadFacts(account_owner_id=owner.user_id), [rep(1), rep(2), owner], [team_rule(policy.ACCOUNT_OWNER_FIRST)],
        now=NOW,
    )
    assert decision.owner_username == "sdr1"
    assert decision.chosen_by == policy.ROUND_ROBIN and decision.rotation is not None
    assert decision.skipped == (("sdr3", "out of office (account owner)"),)
    assert decision.reason == (
        "rule 'Everyone' matched (no conditions); sdr3 out of office (account owner); sdr1 chosen by round-robin"
    )


def test_an_account_owner_who_is_no_rep_falls_back_to_the_team():
    decision = choose_owner(LeadFacts(account_owner_id=5555), [rep(1)], [team_rule(policy.ACCOUNT_OWNER_FIRST)])
    assert decision.owner_username == "sdr1"
    assert "the account owner is not a routable rep" in decision.reason


def test_a_rule_can_name_one_rep():
    rule = RuleSpec(id=3, name="Key accounts", position=5, target_type=policy.TARGET_REP, target_rep_id=2)
    decision = choose_owner(LeadFacts(), [rep(1), rep(2)], [rule], now=NOW)
    assert decision.owner_username == "sdr2" and decision.chosen_by == policy.CHOSEN_AS_NAMED_REP
    away = choose_owner(LeadFacts(), [rep(1), rep(2, is_available=False)], [rule], now=NOW)
    assert away.to_pool and away.notify_manager_of_team_id == TEAM
    assert away.skipped == (("sdr2", "unavailable"),)


# --- rules ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "facts", "phrases"),
    [
        ({"country": ["DE", "AT"]}, LeadFacts(country="de"), ["country DE"]),
        ({"region": ["DACH"]}, LeadFacts(country="CH"), ["region DACH (CH)"]),
        ({"region": ["nordics", "Benelux"]}, LeadFacts(country="NL"), ["region Benelux (NL)"]),
        ({"industry": ["Software", "Fintech"]}, LeadFacts(industry="software"), ["industry software"]),
        ({"company_size_min": 500}, LeadFacts(company_size=500), ["size 500"]),
        ({"company_size_min": 50, "company_size_max": 499}, LeadFacts(company_size=499), ["size 499"]),
        ({"score_min": 60}, LeadFacts(score=72), ["score 72"]),
        ({"probability_min": 30}, LeadFacts(conversion_probability=0.42), ["conversion probability 42 %"]),
        ({"source": ["web_form"]}, LeadFacts(source="web_form"), ["source web_form"]),
        ({"campaign": ["spring-fair"]}, LeadFacts(campaign="Spring-Fair"), ["campaign Spring-Fair"]),
        (
            {"country": ["DE"], "company_size_min": 500, "score_min": 50},
            LeadFacts(country="DE", company_size=800, score=50),
            ["country DE", "size 800", "score 50"],
        ),
        ({}, LeadFacts(), []),
    ],
)
def test_a_rule_matches_when_every_condition_holds(conditions, facts, phrases):
    assert policy.matches(team_rule(conditions=conditions), facts) == (True, phrases)


@pytest.mark.parametrize(
    ("conditions", "facts"),
    [
        ({"country": ["DE", "AT"]}, LeadFacts(country="FR")),
        ({"country": ["DE"]}, LeadFacts()),
        ({"region": ["DACH"]}, LeadFacts(country="NL")),
        ({"industry": ["Software"]}, LeadFacts(industry="Retail")),
        ({"company_size_min": 500}, LeadFacts(company_size=499)),
        ({"company_size_max": 49}, LeadFacts(company_size=50)),
        ({"company_size_min": 1}, LeadFacts()),
        ({"score_min": 60}, LeadFacts(score=59)),
        ({"score_min": 60}, LeadFacts()),
        ({"probability_min": 50}, LeadFacts(conversion_probability=0.49)),
        ({"probability_min": 10}, LeadFacts()),  # no prediction: a probability condition does not hold
        ({"source": ["event"]}, LeadFacts(source="web_form")),
        ({"campaign": ["spring-fair"]}, LeadFacts(campaign="")),
        ({"country": ["DE"], "score_min": 50}, LeadFacts(country="DE", score=10)),
        ({"colour": ["blue"]}, LeadFacts()),  # unknown condition: fail closed
    ],
)
def test_a_rule_does_not_match_when_any_condition_fails(conditions, facts):
    assert policy.matches(team_rule(conditions=conditions), facts) == (False, [])


def test_the_first_matching_rule_by_position_wins():
    rules = [
        DEFAULT,
        team_rule(name="Germany", position=20, conditions={"country": ["DE"]}, team_id=2, rule_id=2),
        team_rule(name="DACH enterprise", position=10, conditions={"region": ["DACH"], "company_size_min": 500}),
    ]
    reps = [rep(1), rep(2, team_id=2)]
    assert choose_owner(LeadFacts(country="DE", company_size=900), reps, rules).rule_name == "DACH enterprise"
    assert choose_owner(LeadFacts(country="DE", company_size=10), reps, rules).owner_username == "sdr2"
    assert choose_owner(LeadFacts(country="US"), reps, rules).to_pool


def test_a_disabled_rule_is_skipped():
    rules = [replace(team_rule(name="Off", position=1), is_enabled=False), DEFAULT]
    assert choose_owner(LeadFacts(), [rep(1)], rules).rule_name == "Default"


def test_the_reason_names_the_rule_the_skipped_reps_and_the_method():
    rule = team_rule(name="DACH enterprise", conditions={"country": ["DE"], "company_size_min": 500})
    reps = [rep(1), rep(2, open_load=10, capacity=10), rep(3, out_of_office=True)]
    decision = choose_owner(LeadFacts(country="DE", company_size=500), reps, [rule], now=NOW)
    assert decision.reason == (
        "rule 'DACH enterprise' matched: country DE, size 500; sdr2 at capacity (10/10), sdr3 out of office; "
        "sdr1 chosen by round-robin"
    )
    assert decision.as_trace() == {
        "rule": "DACH enterprise",
        "method": "round_robin",
        "chosen_by": "round_robin",
        "owner": "sdr1",
        "reason": decision.reason,
        "skipped": [["sdr2", "at capacity (10/10)"], ["sdr3", "out of office"]],
        "at": NOW.isoformat(),
    }


# --- configuration and time -----------------------------------------------------------------------------


def test_conditions_are_normalised():
    assert policy.normalize_conditions(
        {"country": ["de", "uk"], "region": ["dach"], "industry": [" Software ", "Software"], "score_min": 40}
    ) == {"country": ["DE", "GB"], "region": ["DACH"], "industry": ["Software"], "score_min": 40}


@pytest.mark.parametrize(
    "conditions",
    [
        {"country": ["XX"]},
        {"region": ["Atlantis"]},
        {"colour": ["blue"]},
        {"country": "DE"},
        {"company_size_min": 500, "company_size_max": 50},
        {"score_min": -1},
        {"score_min": "high"},
        {"probability_min": 101},
        {"probability_min": -5},
    ],
)
def test_wrong_conditions_are_refused_with_a_sentence(conditions):
    with pytest.raises(ValueError, match=r"\w+ \w+"):
        policy.normalize_conditions(conditions)


def test_territories_mix_countries_and_regions():
    assert policy.normalize_territories(["de", "nordics", "UK", "DACH"]) == ["DE", "Nordics", "GB", "DACH"]
    with pytest.raises(ValueError, match="Mars"):
        policy.normalize_territories(["DE", "Mars"])
    assert policy.covers_country(["Nordics"], "se") and not policy.covers_country(["Nordics", "AT"], "DE")


@pytest.mark.parametrize(
    ("hours", "zone", "now", "on_shift"),
    [
        ({"mon": ["09:00", "17:00"]}, "Europe/Berlin", NOW, True),  # 11:00 Berlin
        ({"mon": ["09:00", "17:00"]}, "America/New_York", NOW, False),  # 05:00 New York
        ({"mon": ["09:00", "17:00"]}, "Europe/Berlin", NOW.replace(hour=16), False),  # 17:00 Berlin: over
        ({"tue": ["09:00", "17:00"]}, "Europe/Berlin", NOW, False),
        ({"mon": [["08:00", "10:00"], ["10:30", "12:00"]]}, "Europe/Berlin", NOW, True),
        ({"mon": [["08:00", "10:00"], ["12:00", "14:00"]]}, "Europe/Berlin", NOW, False),
        ({"sun": ["22:00", "12:00"]}, "Europe/Berlin", NOW, True),  # overnight from Sunday
        ({"mon": ["22:00", "06:00"]}, "UTC", NOW.replace(hour=23), True),
        ({"mon": ["00:00", "24:00"]}, "UTC", NOW.replace(hour=23, minute=59), True),
        ({}, "UTC", NOW, True),  # no hours: always on shift
    ],
)
def test_is_on_shift_reads_the_working_hours_in_the_reps_time_zone(hours, zone, now, on_shift):
    assert policy.is_on_shift(hours, zone, now) is on_shift


def test_working_hours_are_validated():
    assert policy.normalize_working_hours({"mon": ["09:00", "17:00"]}) == {"mon": [["09:00", "17:00"]]}
    for wrong in ({"monday": ["09:00", "17:00"]}, {"mon": ["9", "17:00"]}, {"mon": ["09:00", "09:00"]}, ["mon"]):
        with pytest.raises(ValueError):
            policy.normalize_working_hours(wrong)


def test_out_of_office_dates_are_inclusive_and_may_be_open():
    day = dt.date(2026, 11, 23)
    assert policy.is_out_of_office(day, day, day)
    assert policy.is_out_of_office(None, day, day - dt.timedelta(days=30))
    assert policy.is_out_of_office(day, None, day + dt.timedelta(days=30))
    assert not policy.is_out_of_office(day, day, day + dt.timedelta(days=1))
    assert not policy.is_out_of_office(None, None, day)


def test_time_zones_are_checked_against_the_iana_database():
    assert policy.is_valid_time_zone("Europe/Berlin")
    assert not policy.is_valid_time_zone("Mars/Olympus")
    assert not policy.is_valid_time_zone("")

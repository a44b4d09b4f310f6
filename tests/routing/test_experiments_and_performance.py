"""Experiments and performance weights, pure: deterministic arms, hand-computed statistics, shrinkage."""

import math
from collections import Counter

import pytest

from routing import experiments, performance, policy
from routing.policy import LeadFacts
from tests.routing.test_routing_policy import Rotation, rep, team_rule

ARMS = [{"name": "A", "share": 50, "method": "round_robin"}, {"name": "B", "share": 50, "method": "performance"}]


def test_arms_are_assigned_by_a_hash_of_the_lead_id_deterministically_and_by_share():
    arms = experiments.parse_arms([{"name": "A", "share": 70, "method": "round_robin"},
                                   {"name": "B", "share": 30, "method": "least_loaded"}])
    first = [experiments.assign(7, lead_id, arms).name for lead_id in range(10000)]
    again = [experiments.assign(7, lead_id, arms).name for lead_id in reversed(range(10000))][::-1]
    assert first == again
    counts = Counter(first)
    assert 6800 <= counts["A"] <= 7200 and counts["A"] + counts["B"] == 10000
    other = [experiments.assign(8, lead_id, arms).name for lead_id in range(10000)]
    assert other != first  # another experiment splits independently


@pytest.mark.parametrize(("arms", "message"), [
    ([{"name": "A", "share": 100, "method": "round_robin"}], "at least two arms"),
    ([{"name": "A", "share": 50, "method": "round_robin"}, {"name": "B", "share": 40, "method": "performance"}],
     "add up to 90 %; they must add up to 100 %"),
    ([{"name": "A", "share": 50, "method": "round_robin"}, {"name": "a", "share": 50, "method": "performance"}],
     "Two arms are called"),
    ([{"name": "A", "share": 50, "method": "fastest"}, {"name": "B", "share": 50, "method": "performance"}],
     "needs a routing method"),
    ([{"name": "A", "share": "50", "method": "round_robin"}, {"name": "B", "share": 50, "method": "performance"}],
     "whole percentage"),
    ("A/B", "at least two arms"),
])
def test_bad_arms_are_refused_with_a_sentence(arms, message):
    with pytest.raises(ValueError, match=message):
        experiments.parse_arms(arms)


def test_the_two_proportion_test_matches_a_hand_computed_case():
    # 60 of 200 against 40 of 200: pooled p = 0.25, se = sqrt(0.25 * 0.75 * (1/200 + 1/200)) = 0.0433013,
    # z = (0.30 - 0.20) / 0.0433013 = 2.3094, two-sided p = 0.02092.
    z, p = experiments.two_proportions(60, 200, 40, 200)
    assert z == pytest.approx(2.3094011, abs=1e-6)
    assert p == pytest.approx(0.020921, abs=1e-5)
    assert experiments.two_proportions(0, 0, 3, 10) is None


def test_the_wilson_interval_matches_a_hand_computed_case():
    # 60 of 200, z = 1.96: centre = (0.3 + 1.92/200) / 1.0192 = 0.30377, half = 0.06294.
    low, high = experiments.wilson(60, 200)
    assert low == pytest.approx(0.2404, abs=5e-4) and high == pytest.approx(0.3672, abs=5e-4)
    assert experiments.wilson(0, 0) is None


def test_the_sample_size_still_needed_matches_the_textbook_formula():
    # p1 = 0.20, p2 = 0.30, 5 % two-sided and 80 % power: 294 per arm (Fleiss without continuity correction).
    assert experiments.sample_size_per_arm(0.20, 0.30) == 294
    assert experiments.sample_size_per_arm(0.2, 0.2) is None


def test_means_are_compared_with_welch():
    first = experiments.summarise([10.0, 12.0, 14.0, 16.0])
    second = experiments.summarise([20.0, 22.0, 24.0, 26.0])
    assert first.mean == 13.0 and first.variance == pytest.approx(20 / 3)
    z, p = experiments.two_means(second, first)
    assert z == pytest.approx(10 / math.sqrt(2 * (20 / 3) / 4))
    assert p < 0.001


def test_performance_weights_shrink_towards_the_team_mean():
    found = performance.weights({1: (4, 4), 2: (30, 100), 3: (10, 100)}, prior_strength=20)
    mean = 44 / 204
    assert found[1].team_mean == pytest.approx(mean)
    # A rep with 4 of 4 (100 %) is shrunk hard: (4 + 20 * mean) / 24.
    assert found[1].shrunk_rate == pytest.approx((4 + 20 * mean) / 24)
    assert found[1].weight == pytest.approx(min(2.0, (4 + 20 * mean) / 24 / mean))
    # 30 of 100 moves less far from its raw rate than 4 of 4 does.
    assert found[2].shrunk_rate == pytest.approx((30 + 20 * mean) / 120)
    assert found[3].weight == pytest.approx(max(0.5, (10 + 20 * mean) / 120 / mean))
    assert found[2].weight > 1 > found[3].weight
    assert found[2].explain() == ("weight 1.33: 30% SAL→SQL (30 of 100) over 90 days against a team mean of 22%, "
                                  "shrunk to 29%")


def test_performance_weights_are_bounded_by_the_fairness_floor_and_ceiling():
    found = performance.weights({1: (0, 500), 2: (400, 500)})
    assert found[1].weight == performance.FLOOR and found[2].weight <= performance.CEILING
    assert all(w.weight == 1.0 for w in performance.weights({1: (0, 0), 2: (0, 5)}).values())


def test_the_performance_method_gives_better_reps_more_leads_and_says_why():
    reps = [rep(1, record=(30, 100)), rep(2, record=(10, 100)), rep(3, record=(20, 100))]
    rotation, rules = Rotation(), [team_rule(policy.PERFORMANCE)]
    decisions = [rotation.route(reps, rules) for _ in range(600)]
    counts = rotation.counts
    assert counts["sdr1"] > counts["sdr3"] > counts["sdr2"]
    assert counts["sdr2"] >= 0.5 / (0.5 + 1 + 1.5) * 600 * 0.9  # the fairness floor holds
    reason = next(d.reason for d in decisions if d.owner_username == "sdr1")
    assert "performance-weighted round-robin" in reason and "30% SAL→SQL (30 of 100) over 90 days" in reason
    assert "against a team mean of 20%" in reason


def test_a_rep_at_capacity_gets_nothing_whatever_the_performance():
    reps = [rep(1, record=(90, 100), open_load=5, capacity=5), rep(2, record=(10, 100))]
    decision = Rotation().route(reps, [team_rule(policy.PERFORMANCE)], LeadFacts())
    assert decision.owner_username == "sdr2"
    assert ("sdr1", "at capacity (5/5)") in decision.skipped

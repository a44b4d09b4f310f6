"""The pure scorer and its validation: no database (pytest-django refuses queries here)."""

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import defaults, policy
from scoring.policy import ActivityFact, LeadFacts, ModelSpec, RuleSpec

AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def fit_rule(field, operator, value, points=10, rule_id=1, name=None):
    return RuleSpec(
        id=rule_id,
        name=name or f"{field} {operator}",
        group="fit",
        field=field,
        operator=operator,
        value=value,
        points=points,
    )


def engagement_rule(kind, points=5, rule_id=1, name=None, **options):
    return RuleSpec(id=rule_id, name=name or kind, group="engagement", activity_kind=kind, points=points, **options)


def model_of(*rules, threshold=50, warm_from=25, hot_from=50, **caps):
    return ModelSpec(
        version=7, mql_threshold=threshold, warm_from=warm_from, hot_from=hot_from, rules=tuple(rules), **caps
    )


def seen(kind, days_ago=0.0, url=""):
    return ActivityFact(kind=kind, occurred_at=AT - timedelta(days=days_ago), url=url)


def score_of(facts, *rules, **model_options):
    return policy.score(facts, model_of(*rules, **model_options), at=AT)


# --- Fit rules ---


def test_a_fit_rule_adds_its_points_once_when_the_field_matches():
    result = score_of(LeadFacts(company_size=120), fit_rule("company_size", "gte", 50, points=10))

    assert (result.score, result.fit, result.engagement) == (10, 10, 0)
    assert result.breakdown == [policy.BreakdownItem(1, "company_size gte", "fit", 10, 1, 1.0)]


def test_a_fit_rule_that_does_not_match_adds_nothing_and_is_not_in_the_breakdown():
    result = score_of(LeadFacts(company_size=20), fit_rule("company_size", "gte", 50))

    assert result.score == 0
    assert result.breakdown == []


@pytest.mark.parametrize(
    ("operator", "value", "size", "matches"),
    [
        ("equals", 50, 50, True),
        ("equals", 50, 51, False),
        ("gte", 50, 50, True),
        ("gte", 50, 49, False),
        ("lte", 50, 50, True),
        ("lte", 50, 51, False),
        ("between", [50, 500], 50, True),
        ("between", [50, 500], 500, True),
        ("between", [50, 500], 501, False),
        ("gte", 50, None, False),
        ("between", [0, 10], None, False),
        ("is_empty", None, None, True),
        ("is_empty", None, 0, False),
        ("is_not_empty", None, 0, True),
        ("is_not_empty", None, None, False),
    ],
)
def test_number_operators(operator, value, size, matches):
    result = score_of(LeadFacts(company_size=size), fit_rule("company_size", operator, value, points=5))

    assert result.fit == (5 if matches else 0)


@pytest.mark.parametrize(
    ("operator", "value", "industry", "matches"),
    [
        ("equals", "Software", " software ", True),
        ("equals", "Software", "Software house", False),
        ("in_list", ["Software", "IT"], "it", True),
        ("in_list", ["Software", "IT"], "Retail", False),
        ("contains", "soft", "SOFTWARE", True),
        ("contains", ["ceo", "head"], "Head of Sales", True),
        ("contains", ["ceo", "head"], "Intern", False),
        ("contains", "soft", "", False),
        ("is_empty", None, "  ", True),
        ("is_empty", None, "IT", False),
        ("is_not_empty", None, "IT", True),
    ],
)
def test_text_operators_ignore_case_and_surrounding_spaces(operator, value, industry, matches):
    result = score_of(LeadFacts(industry=industry), fit_rule("industry", operator, value, points=5))

    assert result.fit == (5 if matches else 0)


def test_umlauts_in_job_titles_match_without_regard_to_case():
    rule = fit_rule("job_title", "contains", ["Geschäftsführer", "CEO"], points=10)

    assert score_of(LeadFacts(job_title="GESCHÄFTSFÜHRERIN"), rule).fit == 10


def test_a_negative_fit_rule_lowers_the_score():
    result = score_of(LeadFacts(email_domain_type="free"), fit_rule("email_domain_type", "equals", "free", points=-10))

    assert (result.score, result.fit) == (-10, -10)


# --- Engagement rules ---


def test_an_engagement_rule_adds_its_points_per_occurrence():
    facts = LeadFacts(activities=[seen("pricing_view"), seen("pricing_view", 1), seen("page_view")])

    result = score_of(facts, engagement_rule("pricing_view", points=10))

    assert result.engagement == 20
    assert result.breakdown[0].occurrences == 2


def test_only_the_most_recent_occurrences_count_up_to_the_maximum():
    facts = LeadFacts(activities=[seen("page_view", days) for days in (40, 0, 30, 10)])

    result = score_of(facts, engagement_rule("page_view", points=8, max_occurrences=2, half_life_days=10))

    # the two newest: today (factor 1) and 10 days ago (factor 0.5)
    assert result.engagement == 12
    assert result.breakdown[0].occurrences == 2
    assert result.breakdown[0].decay_factor == pytest.approx(0.75)


def test_points_halve_after_each_half_life():
    rule = engagement_rule("download", points=8, half_life_days=14)

    assert score_of(LeadFacts(activities=[seen("download", 0)]), rule).engagement == 8
    assert score_of(LeadFacts(activities=[seen("download", 14)]), rule).engagement == 4
    assert score_of(LeadFacts(activities=[seen("download", 28)]), rule).engagement == 2


def test_five_pages_this_week_beat_five_pages_six_months_ago():
    rule = engagement_rule("page_view", points=4, half_life_days=30)
    this_week = LeadFacts(activities=[seen("page_view", day) for day in range(5)])
    half_a_year_ago = LeadFacts(activities=[seen("page_view", 180 + day) for day in range(5)])

    assert score_of(this_week, rule).score > score_of(half_a_year_ago, rule).score


def test_a_window_counts_only_occurrences_inside_it():
    facts = LeadFacts(activities=[seen("email_click", 1), seen("email_click", 7), seen("email_click", 8)])

    result = score_of(facts, engagement_rule("email_click", points=3, window_days=7))

    assert result.engagement == 6
    assert result.breakdown[0].decay_factor == 1.0


def test_a_url_pattern_counts_only_matching_urls():
    facts = LeadFacts(
        activities=[seen("page_view", url="https://x.test/Pricing/"), seen("page_view", url="https://x.test/blog/")]
    )

    result = score_of(facts, engagement_rule("page_view", points=10, url_pattern=r"/(pricing|preise)\b"))

    assert result.engagement == 10


def test_activities_after_the_scoring_time_are_ignored():
    facts = LeadFacts(activities=[seen("demo_request", -1)])

    assert score_of(facts, engagement_rule("demo_request", points=25)).score == 0


def test_several_rules_can_count_the_same_activity():
    facts = LeadFacts(activities=[seen("page_view", url="/pricing")])
    rules = (
        engagement_rule("page_view", points=1, rule_id=1),
        engagement_rule("page_view", points=9, rule_id=2, url_pattern="pricing"),
    )

    assert score_of(facts, *rules).engagement == 10


# --- Caps, rounding, temperature ---


def test_group_caps_limit_each_group_and_appear_in_the_breakdown():
    facts = LeadFacts(company_size=100, industry="IT", activities=[seen("pricing_view", d) for d in range(5)])
    rules = (
        fit_rule("company_size", "gte", 50, points=20, rule_id=1),
        fit_rule("industry", "equals", "it", points=20, rule_id=2),
        engagement_rule("pricing_view", points=10, rule_id=3),
    )

    result = score_of(facts, *rules, fit_cap=30, engagement_cap=25)

    assert (result.fit, result.engagement, result.score) == (30, 25, 55)
    caps = [item for item in result.breakdown if item.rule_id is None]
    assert [(item.group, item.points) for item in caps] == [("fit", -10), ("engagement", -25)]


def test_the_total_cap_limits_the_score_and_appears_in_the_breakdown():
    facts = LeadFacts(company_size=100, activities=[seen("demo_request")])
    rules = (fit_rule("company_size", "gte", 50, points=30), engagement_rule("demo_request", points=25, rule_id=2))

    result = score_of(facts, *rules, total_cap=40)

    assert result.score == 40
    assert result.breakdown[-1].group == "total"
    assert result.breakdown[-1].points == -15


def test_caps_never_raise_a_negative_sum():
    facts = LeadFacts(email_domain_type="student")

    result = score_of(facts, fit_rule("email_domain_type", "equals", "student", points=-20), fit_cap=5, total_cap=5)

    assert result.score == -20


@pytest.mark.parametrize(("value", "rounded"), [(2.5, 3), (2.4999, 2), (-2.5, -3), (-2.4, -2), (0.5, 1), (0.0, 0)])
def test_rounding_is_half_away_from_zero(value, rounded):
    assert policy.round_half_away_from_zero(value) == rounded


def test_the_engagement_part_is_rounded_half_away_from_zero():
    facts = LeadFacts(activities=[seen("download", 14)])

    assert score_of(facts, engagement_rule("download", points=5, half_life_days=14)).engagement == 3  # 2.5


@pytest.mark.parametrize(("score", "band"), [(-5, "cold"), (24, "cold"), (25, "warm"), (49, "warm"), (50, "hot")])
def test_temperature_bands(score, band):
    assert policy.temperature(score, model_of(warm_from=25, hot_from=50)) == band


def test_the_result_says_whether_the_threshold_is_reached_and_which_version_made_it():
    facts = LeadFacts(activities=[seen("demo_request")])

    result = score_of(facts, engagement_rule("demo_request", points=50), threshold=50)

    assert result.reaches_threshold
    assert result.model_version == 7
    assert result.temperature == "hot"


def test_the_breakdown_is_ready_for_json():
    facts = LeadFacts(activities=[seen("download", 10)])

    result = score_of(facts, engagement_rule("download", points=8, half_life_days=14, rule_id=3, name="Download"))

    assert result.breakdown_as_list() == [
        {
            "rule_id": 3,
            "rule": "Download",
            "group": "engagement",
            "points": 4.88,
            "occurrences": 1,
            "decay_factor": 0.6095,
        }
    ]


def test_scoring_refuses_a_model_with_an_invalid_rule():
    with pytest.raises(policy.InvalidModel, match="does not fit"):
        score_of(LeadFacts(), fit_rule("company_size", "contains", "5"))


# --- Rule validation ---


def test_a_valid_fit_rule_and_a_valid_engagement_rule_pass():
    assert policy.validate_rule(fit_rule("industry", "in_list", ["Software"])) == []
    assert policy.validate_rule(engagement_rule("page_view", max_occurrences=10, half_life_days=30)) == []


def test_every_field_has_operators_and_a_label():
    assert set(policy.OPERATORS_FOR_FIELD) == set(defaults.FIELD_TYPES) == {key for key, _ in defaults.FIELD_CHOICES}
    operators = {key for key, _ in defaults.OPERATOR_CHOICES}
    assert all(set(ops) <= operators for ops in policy.OPERATORS_FOR_FIELD.values())


@pytest.mark.parametrize(
    ("field", "operator"),
    [("company_size", "contains"), ("company_size", "in_list"), ("industry", "gte"), ("job_title", "between")],
)
def test_an_operator_that_does_not_fit_the_field_is_refused(field, operator):
    problems = policy.rule_problems(fit_rule(field, operator, 5))

    assert [p.field for p in problems] == ["operator"]
    assert "does not fit the field" in problems[0].message


@pytest.mark.parametrize(
    ("field", "operator", "value"),
    [
        ("company_size", "gte", "fifty"),
        ("company_size", "gte", None),
        ("company_size", "gte", True),
        ("company_size", "between", [500, 50]),
        ("company_size", "between", [50]),
        ("company_size", "between", 50),
        ("industry", "equals", ""),
        ("industry", "equals", ["Software"]),
        ("industry", "in_list", []),
        ("industry", "in_list", "Software"),
        ("industry", "in_list", ["Software", ""]),
        ("job_title", "contains", None),
        ("industry", "is_empty", "Software"),
        ("email_domain_type", "equals", "gmail"),
    ],
)
def test_a_value_that_does_not_fit_the_operator_is_refused(field, operator, value):
    problems = policy.rule_problems(fit_rule(field, operator, value))

    assert [p.field for p in problems] == ["value"]


def test_a_rule_with_no_points_is_refused():
    problems = policy.rule_problems(engagement_rule("page_view", points=0))

    assert [p.field for p in problems] == ["points"]
    assert "no effect" in problems[0].message


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"max_occurrences": 0}, "max_occurrences"),
        ({"half_life_days": 0}, "half_life_days"),
        ({"window_days": -1}, "window_days"),
        ({"half_life_days": 14, "window_days": 30}, "window_days"),
        ({"url_pattern": "(unclosed"}, "url_pattern"),
        ({"field": "industry"}, "field"),
        ({"operator": "equals"}, "operator"),
        ({"value": "x"}, "value"),
    ],
)
def test_engagement_rule_settings_are_checked(options, field):
    problems = policy.rule_problems(engagement_rule("page_view", **options))

    assert [p.field for p in problems] == [field]


def test_an_engagement_rule_needs_a_known_activity_kind():
    assert [p.field for p in policy.rule_problems(engagement_rule(""))] == ["activity_kind"]
    assert [p.field for p in policy.rule_problems(engagement_rule("tweet"))] == ["activity_kind"]


def test_a_fit_rule_may_not_use_engagement_settings():
    rule = RuleSpec(
        id=1,
        name="x",
        group="fit",
        field="industry",
        operator="equals",
        value="IT",
        points=5,
        max_occurrences=3,
        activity_kind="page_view",
    )

    assert {p.field for p in policy.rule_problems(rule)} == {"max_occurrences", "activity_kind"}


def test_a_rule_needs_a_group():
    rule = RuleSpec(id=1, name="x", group="", points=5)

    assert [p.field for p in policy.rule_problems(rule)] == ["group"]


@pytest.mark.parametrize(
    ("field", "operator", "typed", "value"),
    [
        ("industry", "in_list", "Software, IT ,", ["Software", "IT"]),
        ("industry", "in_list", "Software", ["Software"]),
        ("job_title", "contains", "CEO, Head", ["CEO", "Head"]),
        ("job_title", "contains", " CEO ", "CEO"),
        ("company_size", "between", "50, 500", [50, 500]),
        ("company_size", "gte", "50", 50),
        ("company_size", "gte", "fifty", "fifty"),
        ("country", "equals", 49, "49"),
        ("industry", "is_empty", "", None),
    ],
)
def test_what_an_admin_types_is_normalised_to_what_the_operator_expects(field, operator, typed, value):
    assert policy.normalise_value(field, operator, typed) == value


# --- Model validation and reachable range ---


def test_the_reachable_range_adds_up_the_rules_and_their_maxima():
    model = model_of(
        fit_rule("company_size", "gte", 50, points=10),
        fit_rule("email_domain_type", "equals", "free", points=-10, rule_id=2),
        engagement_rule("pricing_view", points=10, max_occurrences=3, rule_id=3),
        engagement_rule("email_open", points=-2, max_occurrences=5, rule_id=4),
    )

    assert policy.reachable_range(model) == (-20, 40)


def test_an_engagement_rule_without_a_maximum_is_unbounded_unless_capped():
    rule = engagement_rule("page_view", points=1)

    assert policy.reachable_range(model_of(rule)) == (0, math.inf)
    assert policy.reachable_range(model_of(rule, engagement_cap=30)) == (0, 30)
    assert policy.reachable_range(model_of(rule, total_cap=20)) == (0, 20)


def test_a_threshold_above_the_reachable_range_is_refused():
    model = model_of(engagement_rule("page_view", points=1, max_occurrences=10), threshold=50, hot_from=10, warm_from=5)

    problems = policy.model_problems(model)

    assert [p.field for p in problems] == ["mql_threshold"]
    assert "above the highest reachable score (10)" in problems[0].message


def test_a_threshold_at_or_below_the_lowest_score_is_refused():
    model = model_of(
        fit_rule("email_domain_type", "equals", "free", points=-10),
        engagement_rule("page_view", points=1, rule_id=2),
        threshold=-10,
        warm_from=5,
        hot_from=10,
    )

    fields = [p.field for p in policy.model_problems(model)]

    assert "mql_threshold" in fields


def test_bands_must_be_ordered_and_reachable():
    model = model_of(
        engagement_rule("page_view", points=1, max_occurrences=60), threshold=50, warm_from=70, hot_from=60
    )

    assert {p.field for p in policy.model_problems(model)} == {"hot_from"}
    unreachable_hot = model_of(engagement_rule("page_view", points=1, max_occurrences=60), warm_from=10, hot_from=90)
    assert [p.field for p in policy.model_problems(unreachable_hot)] == ["hot_from"]


def test_caps_must_be_at_least_one():
    model = model_of(engagement_rule("page_view", points=1), total_cap=0, fit_cap=0, engagement_cap=100)

    assert {p.field for p in policy.settings_problems(model)} == {"total_cap", "fit_cap"}


def test_model_validation_names_each_invalid_rule():
    model = model_of(engagement_rule("page_view", points=0, name="Page view"), engagement_rule("demo_request", 60))

    assert policy.validate_model(model) == [
        "Rule “Page view”: A rule worth 0 points has no effect: give it positive or negative points."
    ]


def test_a_valid_model_has_no_problems():
    model = model_of(
        fit_rule("company_size", "gte", 50, points=10),
        engagement_rule("demo_request", points=25, max_occurrences=1, rule_id=2),
        engagement_rule("pricing_view", points=10, max_occurrences=3, half_life_days=14, rule_id=3),
        threshold=40,
    )

    assert policy.validate_model(model) == []


# --- Properties ---

KINDS = ("page_view", "pricing_view", "download")
activities_st = st.lists(
    st.builds(
        ActivityFact,
        kind=st.sampled_from(KINDS),
        occurred_at=st.integers(0, 400 * 86400).map(lambda seconds: AT - timedelta(seconds=seconds)),
        url=st.sampled_from(["", "/pricing", "/blog/post"]),
    ),
    max_size=25,
)
facts_st = st.builds(
    LeadFacts,
    company_size=st.none() | st.integers(0, 5000),
    industry=st.sampled_from(["", "Software", "Retail"]),
    email_domain_type=st.sampled_from(["", "business", "free"]),
    activities=activities_st,
)
caps_st = st.none() | st.integers(1, 120)
POSITIVE_POINTS = st.integers(1, 30)
ANY_POINTS = st.integers(-30, 30).filter(bool)


@st.composite
def engagement_rules_st(draw, points=POSITIVE_POINTS):
    timing = draw(
        st.sampled_from(["none", "half_life", "window"]),
    )
    return RuleSpec(
        id=draw(st.integers(1, 1000)),
        name="engagement",
        group="engagement",
        activity_kind=draw(st.sampled_from(KINDS)),
        points=draw(points),
        max_occurrences=draw(st.none() | st.integers(1, 6)),
        url_pattern=draw(st.sampled_from(["", "pricing"])),
        half_life_days=draw(st.integers(1, 90)) if timing == "half_life" else None,
        window_days=draw(st.integers(1, 120)) if timing == "window" else None,
    )


fit_rules_st = st.one_of(
    st.builds(
        fit_rule,
        field=st.just("company_size"),
        operator=st.just("gte"),
        value=st.integers(0, 1000),
        points=st.integers(-30, 30).filter(bool),
    ),
    st.builds(
        fit_rule,
        field=st.just("industry"),
        operator=st.just("equals"),
        value=st.just("software"),
        points=st.integers(-30, 30).filter(bool),
    ),
    st.builds(
        fit_rule,
        field=st.just("email_domain_type"),
        operator=st.just("equals"),
        value=st.just("free"),
        points=st.integers(-30, -1),
    ),
)


@st.composite
def models_st(draw, engagement_points=POSITIVE_POINTS):
    rules = draw(st.lists(fit_rules_st, max_size=3)) + draw(
        st.lists(engagement_rules_st(points=engagement_points), max_size=4)
    )
    return ModelSpec(
        version=1,
        mql_threshold=50,
        warm_from=25,
        hot_from=50,
        rules=tuple(rules),
        total_cap=draw(caps_st),
        fit_cap=draw(caps_st),
        engagement_cap=draw(caps_st),
    )


@settings(max_examples=200)
@given(facts=facts_st, model=models_st(engagement_points=ANY_POINTS))
def test_property_caps_are_never_exceeded(facts, model):
    result = policy.score(facts, model, at=AT)

    if model.fit_cap is not None:
        assert result.fit <= model.fit_cap
    if model.engagement_cap is not None:
        assert result.engagement <= model.engagement_cap
    if model.total_cap is not None:
        assert result.score <= model.total_cap
    low, high = policy.reachable_range(model)
    assert low <= result.score <= high


@settings(max_examples=200)
@given(facts=facts_st, model=models_st(), later=st.integers(0, 200 * 86400))
def test_property_decay_never_raises_a_score(facts, model, later):
    now = policy.score(facts, model, at=AT)
    after = policy.score(facts, model, at=AT + timedelta(seconds=later))

    assert after.engagement <= now.engagement
    assert after.score <= now.score


@settings(max_examples=200)
@given(facts=facts_st, model=models_st(), extra=activities_st.filter(bool))
def test_property_adding_a_positive_activity_never_lowers_the_score(facts, model, extra):
    more = LeadFacts(**{**facts.__dict__, "activities": [*facts.activities, *extra]})

    assert policy.score(more, model, at=AT).score >= policy.score(facts, model, at=AT).score


@settings(max_examples=200)
@given(
    facts=facts_st,
    model=models_st(engagement_points=ANY_POINTS),
    back=st.integers(0, 300 * 86400),
    seed=st.integers(0, 2**32),
)
def test_property_replay_as_of_a_past_time_equals_the_score_stored_then(facts, model, back, seed):
    then = AT - timedelta(seconds=back)
    stored = policy.score(facts, model, at=then)
    later_activities = [ActivityFact("pricing_view", then + timedelta(hours=h), "/pricing") for h in (1, 30, 500)]
    log = [*facts.activities, *later_activities]
    random.Random(seed).shuffle(log)

    replayed = policy.score(LeadFacts(**{**facts.__dict__, "activities": log}), model, at=then)

    assert replayed == stored
    assert policy.score(facts, model, at=then) == stored


@settings(max_examples=200)
@given(facts=facts_st, model=models_st(engagement_points=ANY_POINTS))
def test_property_the_breakdown_adds_up_to_the_score(facts, model):
    result = policy.score(facts, model, at=AT)

    assert abs(math.fsum(item.points for item in result.breakdown) - result.score) <= 0.5
    assert result.fit + result.engagement >= result.score

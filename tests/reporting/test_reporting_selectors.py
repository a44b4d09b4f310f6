"""Report figures on small histories built by hand, checked against numbers worked out on paper.

The range is March 2026 (Europe/Berlin); T0 is Monday 2 March, 09:00. Transitions are written directly
with chosen times, as the lifecycle would have written them.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from psycopg import sql

from core.vocabulary import Channel, Stage
from leads.models import Activity, Lead, LeadTransition, Visitor
from reporting import filters, selectors
from reporting.models import StageBenchmark
from routing.models import Rep, Team
from tests.factories import CampaignFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = timezone.make_aware(dt.datetime(2026, 3, 2, 9, 0))
MARCH = {"start": dt.date(2026, 3, 1), "end": dt.date(2026, 3, 31)}


def at(days=0.0, minutes=0.0) -> dt.datetime:
    return T0 + dt.timedelta(days=days, minutes=minutes)


def march(**kwargs) -> filters.Filters:
    return filters.build(**MARCH, **kwargs)


def new_lead(*, created=T0, stage=Stage.KNOWN, **fields):
    return LeadFactory(created_at=created, first_touch_at=created, stage_entered_at=created, stage=stage, **fields)


def walk(lead, *steps, actor=None):
    """steps: (transition name, target, at, reason, reason code); sources follow from the previous target."""
    source = Stage.KNOWN
    for name, target, when, *reason in steps:
        reason = [*reason, "", ""]
        LeadTransition.objects.create(
            lead=lead, name=name, source=source, target=target, at=when, actor=actor, reason=reason[0],
            data={"reason_code": reason[1]} if reason[1] else {},
        )
        source = target


def assign(lead, user, when, *, name="assign", actor=None):
    LeadTransition.objects.create(
        lead=lead, name=name, source=lead.stage, target=lead.stage, at=when, actor=actor,
        data={"from_owner": None, "to_owner": user.username, "rule": "", "method": name},
    )


@pytest.fixture
def history(sdr):
    """Five leads created in March, one created in February that moves in March.

    B: known -> mql -> recycled (rejected); C: all the way to customer (10,000); D: reached SAL, recycled,
    MQL again; E: reached opportunity, lost; A: known only; F: created 1 February, MQL in March.
    """
    a = new_lead(source=Channel.ORGANIC_SEARCH)
    b = new_lead(stage=Stage.RECYCLED, source=Channel.PAID_SEARCH)
    walk(b, ("mark_mql", Stage.MQL, at(1)), ("reject", Stage.RECYCLED, at(4), "Zu früh"), actor=sdr)
    c = new_lead(stage=Stage.CUSTOMER, source=Channel.PAID_SEARCH, owner=sdr, deal_value=Decimal("10000"),
                 industry="Maschinenbau")
    walk(c, ("mark_mql", Stage.MQL, at(1)), ("accept", Stage.SAL, at(2)), ("qualify", Stage.SQL, at(5)),
         ("open_opportunity", Stage.OPPORTUNITY, at(12)), ("win", Stage.CUSTOMER, at(22)), actor=sdr)
    assign(c, sdr, at(1, minutes=60))  # owner changes never count as stage changes
    d = new_lead(stage=Stage.MQL, source=Channel.WEB_FORM)
    walk(d, ("mark_mql", Stage.MQL, at(2)), ("accept", Stage.SAL, at(4)),
         ("recycle", Stage.RECYCLED, at(5), "No contact after 3 attempts", "no_contact"),
         ("mark_mql", Stage.MQL, at(6)), actor=sdr)
    e = new_lead(stage=Stage.LOST, source=Channel.WEB_FORM)
    walk(e, ("mark_mql", Stage.MQL, at(3)), ("accept", Stage.SAL, at(3.5)), ("qualify", Stage.SQL, at(8.5)),
         ("open_opportunity", Stage.OPPORTUNITY, at(10.5)),
         ("lose", Stage.LOST, at(16.5), "Competitor", "competitor"), actor=sdr)
    f = new_lead(created=at(-29), stage=Stage.MQL, source=Channel.EVENT)
    walk(f, ("mark_mql", Stage.MQL, at(2)))
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f}


def counts(funnel) -> dict:
    return {row["stage"]: row["count"] for row in funnel["stages"]}


def rates(funnel) -> dict:
    return {(row["source"], row["target"]): (row["rate"], row["flag"]) for row in funnel["conversions"]}


# --- funnel ---------------------------------------------------------------------------------------------


def test_cohort_funnel_counts_leads_created_in_the_range_that_ever_reached_each_stage(history):
    assert counts(selectors.funnel(march())) == {
        "visitors": 0, "known": 5, "mql": 4, "sal": 3, "sql": 2, "opportunity": 2, "customer": 1,
    }


def test_flow_funnel_counts_stage_entries_in_the_range(history):
    # MQL: B, C, D twice, E, F; known: the five leads created in March.
    assert counts(selectors.funnel(march(), view="flow")) == {
        "visitors": 0, "known": 5, "mql": 6, "sal": 3, "sql": 2, "opportunity": 2, "customer": 1,
    }


def test_flow_funnel_counts_a_reopened_lead_as_an_entry_into_known(history):
    g = new_lead(created=at(-60), stage=Stage.MQL)  # created before March: not among the five
    walk(g, ("disqualify", Stage.DISQUALIFIED, at(-50)), actor=None)
    LeadTransition.objects.create(lead=g, name="reopen", source=Stage.DISQUALIFIED, target=Stage.KNOWN, at=at(3))
    LeadTransition.objects.create(lead=g, name="mark_mql", source=Stage.KNOWN, target=Stage.MQL, at=at(3))
    funnel = selectors.funnel(march(), view="flow")
    assert counts(funnel)["known"] == 6 and counts(funnel)["mql"] == 7
    assert funnel["reentries"] == 1
    assert selectors.funnel(march())["reentries"] is None  # the cohort view has none


def test_conversion_is_marked_outside_the_benchmark_band_and_admin_bands_win(history):
    StageBenchmark.objects.create(stage=Stage.OPPORTUNITY, conversion_min=40, conversion_max=60)
    found = rates(selectors.funnel(march()))
    assert found[("known", "mql")] == (80.0, "")
    assert found[("mql", "sal")] == (75.0, "above")  # 3 of 4, band 15-30
    assert found[("sal", "sql")] == (66.7, "above")  # 2 of 3, band 40-60
    assert found[("sql", "opportunity")] == (100.0, "above")
    assert found[("opportunity", "customer")] == (50.0, "")  # 1 of 2, inside the admin's 40-60


def test_visitors_first_seen_in_the_range_and_the_share_that_identified_themselves(history):
    for number in range(4):
        Visitor.objects.create(anonymous_id=f"v{number}", first_seen_at=at(number),
                               lead=history["a"] if number == 0 else None)
    Visitor.objects.create(anonymous_id="february", first_seen_at=at(-20))
    funnel = selectors.funnel(march())
    assert counts(funnel)["visitors"] == 4
    assert rates(funnel)[("visitors", "known")] == (25.0, "")


# --- velocity -------------------------------------------------------------------------------------------


def test_days_in_each_stage_median_mean_and_90th_percentile(history):
    stages = {row["stage"]: row for row in selectors.velocity(march())["stages"]}
    # known stays: C 1, B 1, D 2, E 3, F 31 days -> median 2, mean 7.6, p90 3 + 0.6 * 28 = 19.8
    assert (stages["known"]["stays"], stages["known"]["median_days"], stages["known"]["mean_days"],
            stages["known"]["p90_days"]) == (5, 2.0, 7.6, 19.8)
    assert stages["known"]["flag"] == ""
    # MQL stays: E 0.5, C 1, D 2, B 3 -> median 1.5, mean 1.625, p90 2 + 0.7 * 1 = 2.7
    assert (stages["mql"]["median_days"], stages["mql"]["p90_days"]) == (1.5, 2.7)
    assert stages["mql"]["mean_days"] == pytest.approx(1.625, abs=0.01)
    # SAL: D 1, C 3, E 5; SQL: E 2, C 7; opportunity: E 6, C 10
    assert (stages["sal"]["median_days"], stages["sal"]["mean_days"], stages["sal"]["p90_days"]) == (3.0, 3.0, 4.6)
    assert (stages["sql"]["median_days"], stages["sql"]["p90_days"]) == (4.5, 6.5)
    assert (stages["opportunity"]["median_days"], stages["opportunity"]["p90_days"]) == (8.0, 9.6)
    assert (stages["sal"]["benchmark_days_min"], stages["sal"]["benchmark_days_max"]) == (7, 14)


def test_a_median_above_the_benchmark_is_marked_slow(history):
    StageBenchmark.objects.create(stage=Stage.SAL, days_min=1, days_max=2)
    stages = {row["stage"]: row for row in selectors.velocity(march())["stages"]}
    assert stages["sal"]["flag"] == "slow"


def test_first_touch_to_won_by_source_campaign_and_industry(history):
    rows = selectors.velocity(march())["to_won"]
    by = {(row["dimension"], row["label"]): (row["won"], row["median_days"]) for row in rows}
    assert by[("source", "Paid search")] == (1, 22.0)
    assert by[("campaign", "(no campaign)")] == (1, 22.0)
    assert by[("industry", "Maschinenbau")] == (1, 22.0)
    assert len(rows) == 3


# --- stalls ---------------------------------------------------------------------------------------------


def test_stall_rate_per_stage_and_the_stalled_leads_furthest_over_first(db):
    now = at(60)
    fresh = new_lead(stage=Stage.MQL, created=now - dt.timedelta(days=1))
    mql_4 = new_lead(stage=Stage.MQL, created=now - dt.timedelta(days=4))
    mql_10 = new_lead(stage=Stage.MQL, created=now - dt.timedelta(days=10))
    sal_20 = new_lead(stage=Stage.SAL, created=now - dt.timedelta(days=20))
    new_lead(stage=Stage.SAL, created=now - dt.timedelta(days=2))
    new_lead(stage=Stage.CUSTOMER, created=now - dt.timedelta(days=400))  # no stall in a final stage
    stages = {row["stage"]: row for row in selectors.stalls(march(), now=now)["stages"]}
    assert (stages["mql"]["in_stage"], stages["mql"]["stalled"], stages["mql"]["rate"]) == (3, 2, 66.7)
    assert (stages["sal"]["in_stage"], stages["sal"]["stalled"], stages["sal"]["rate"]) == (2, 1, 50.0)
    assert (stages["sql"]["in_stage"], stages["sql"]["rate"]) == (0, None)
    assert stages["mql"]["threshold_days"] == 3
    # over by: MQL 10 days -> 7, SAL 20 days -> 6, MQL 4 days -> 1
    assert [lead.pk for lead in selectors.stalled_leads(march(), now=now)] == [mql_10.pk, sal_20.pk, mql_4.pk]
    assert fresh.pk not in {lead.pk for lead in selectors.stalled_leads(march(), now=now)}


def _stalled_by_hand(leads, now):
    """The stalled leads in the order worked out here: furthest over the stage's threshold first, then id."""
    thresholds = {Stage.KNOWN: 30, Stage.MQL: 3, Stage.SAL: 14, Stage.SQL: 42, Stage.OPPORTUNITY: 180}
    over = {lead.pk: (now - lead.stage_entered_at) - dt.timedelta(days=thresholds[lead.stage])
            for lead in leads if lead.stage in thresholds}
    return sorted((pk for pk, by in over.items() if by > dt.timedelta(0)), key=lambda pk: (-over[pk], pk))


@pytest.fixture
def stalled_history(sdr, other_sdr):
    """Leads in every stage, over their thresholds by different amounts, with ties within and across stages."""
    now = at(400).astimezone(dt.UTC)  # day arithmetic in UTC: no daylight-saving hour in the differences
    spec = [  # stage, days in stage, owner, source
        (Stage.KNOWN, 31, sdr, Channel.WEB_FORM), (Stage.KNOWN, 45, None, Channel.WEB_FORM),
        (Stage.KNOWN, 10, sdr, Channel.WEB_FORM), (Stage.MQL, 10, sdr, Channel.PAID_SEARCH),
        (Stage.MQL, 10, other_sdr, Channel.PAID_SEARCH), (Stage.MQL, 2, sdr, Channel.PAID_SEARCH),
        (Stage.SAL, 21, other_sdr, Channel.EVENT), (Stage.SAL, 60, sdr, Channel.EVENT),
        (Stage.SQL, 49, sdr, Channel.WEB_FORM), (Stage.SQL, 43, other_sdr, Channel.PAID_SEARCH),
        (Stage.OPPORTUNITY, 187, sdr, Channel.EVENT), (Stage.OPPORTUNITY, 100, sdr, Channel.EVENT),
        (Stage.CUSTOMER, 900, sdr, Channel.EVENT), (Stage.MQL, 4, None, Channel.WEB_FORM),
    ]
    leads = [new_lead(stage=stage, created=now - dt.timedelta(days=days), owner=owner, source=source)
             for stage, days, owner, source in spec]
    return {"now": now, "leads": leads}


def test_stalled_leads_come_page_by_page_in_one_order_across_stages(stalled_history):
    now, leads = stalled_history["now"], stalled_history["leads"]
    expected = _stalled_by_hand(leads, now)
    # known 45 (15 over), SAL 60 (46 over), ... ties: MQL 10 x2 and SAL 21 and SQL 49 are all 7 days over
    assert len(expected) == 10
    stalled = selectors.stalled_leads(march(), now=now)  # each stage's index walked in order
    everything = selectors.stalled_leads(march(), now=now, within=Lead.objects.all())  # found, then sorted
    assert not stalled.narrow and everything.narrow
    for leads in (stalled, everything):
        assert leads.count() == 10
        for size in (1, 3, 4, 10, 25):
            pages = [lead.pk for start in range(0, 12, size) for lead in leads[start:start + size]]
            assert pages == expected, size
    first = stalled[0:1][0]
    assert first.over_by == dt.timedelta(days=46) and first.owner is not None


def test_stalled_leads_follow_the_filters_and_the_leads_a_user_may_open(stalled_history, sdr, other_sdr):
    now, leads = stalled_history["now"], stalled_history["leads"]
    own = [lead for lead in leads if lead.owner_id == sdr.pk]
    assert [lead.pk for lead in selectors.stalled_leads(march(rep_id=sdr.pk), now=now)] == _stalled_by_hand(own, now)
    paid = [lead for lead in leads if lead.source == Channel.PAID_SEARCH]
    by_source = selectors.stalled_leads(march(source=Channel.PAID_SEARCH), now=now)
    assert [lead.pk for lead in by_source] == _stalled_by_hand(paid, now) and by_source.count() == 3
    theirs = [lead for lead in leads if lead.owner_id == other_sdr.pk]
    within = selectors.stalled_leads(march(), now=now, within=Lead.objects.filter(owner=other_sdr))
    assert [lead.pk for lead in within[0:50]] == _stalled_by_hand(theirs, now)
    assert within.count() == 3
    nobody = Team.objects.create(name="Empty", slug="empty")  # a team without reps: no lead at all
    assert list(selectors.stalled_leads(march(team_id=nobody.pk), now=now)) == []
    assert selectors.stalled_leads(march(team_id=nobody.pk), now=now).count() == 0


def test_the_stall_counts_give_the_stalled_leads_count_without_counting_again(
    stalled_history, django_assert_num_queries
):
    now = stalled_history["now"]
    data = selectors.stalls(march(), now=now)
    assert sum(stage["stalled"] for stage in data["stages"]) == 10
    stalled = selectors.stalled_leads(march(), now=now, stall_data=data)
    with django_assert_num_queries(0):
        assert stalled.count() == 10
    later = selectors.stalled_leads(march(), now=now + dt.timedelta(days=1), stall_data=data)  # another moment
    with django_assert_num_queries(1):
        assert later.count() == 10


def test_stalled_leads_refuse_a_single_index_or_a_step(stalled_history):
    stalled = selectors.stalled_leads(march(), now=stalled_history["now"])
    with pytest.raises(TypeError):
        stalled[0]
    with pytest.raises(TypeError):
        stalled[0:4:2]
    assert stalled[5:5] == [] and stalled[8:100] == stalled[8:10]


# --- speed-to-lead --------------------------------------------------------------------------------------


@pytest.fixture
def touches(sdr, other_sdr):
    team = Team.objects.create(name="Inside Sales", slug="inside")
    Rep.objects.create(user=sdr, team=team)

    def touch(lead, kind, minutes, by):
        Activity.objects.create(lead=lead, kind=kind, occurred_at=at(minutes=minutes), created_by=by)

    l1, l2, l3, l4 = (new_lead(stage=Stage.SAL) for _ in range(4))
    for lead in (l1, l2, l3, l4):
        walk(lead, ("mark_mql", Stage.MQL, at()))
    assign(l1, sdr, at(minutes=1))
    touch(l1, "call", 3, sdr)
    assign(l2, other_sdr, at(minutes=10), name="claim", actor=other_sdr)
    touch(l2, "email", 30, other_sdr)
    touch(l2, "call", 45, other_sdr)
    assign(l3, sdr, at())  # never touched
    assign(l4, sdr, at(minutes=2))
    Activity.objects.create(lead=l4, kind="page_view", occurred_at=at(minutes=1))  # not a touch
    Activity.objects.create(lead=l4, kind="call", occurred_at=at(minutes=1))  # logged by nobody: not a touch
    touch(l4, "meeting", 6, sdr)
    new_lead()  # known only: never reached sales
    return team


def test_speed_to_lead_medians_percentiles_and_share_within_five_minutes(touches):
    overall = selectors.speed_to_lead(march())["overall"]
    # capture -> touch: 3, 30, 6 minutes (one lead untouched); assignment -> touch: 2, 20, 4
    assert (overall["leads"], overall["touched"]) == (4, 3)
    assert (overall["capture_median_minutes"], overall["capture_p90_minutes"]) == (6.0, 25.2)
    assert (overall["capture_within_share"], overall["capture_flag"]) == (25.0, "below")
    assert (overall["assignment_median_minutes"], overall["assignment_p90_minutes"]) == (4.0, 16.8)
    assert (overall["assignment_within_share"], overall["assignment_flag"]) == (50.0, "")


def test_speed_to_lead_per_rep_and_team(touches, sdr, other_sdr):
    data = selectors.speed_to_lead(march())
    reps = {row["key"]: row for row in data["by_rep"]}
    assert (reps["sdr1"]["leads"], reps["sdr1"]["capture_median_minutes"]) == (3, 4.5)
    assert reps["sdr1"]["assignment_within_share"] == 66.7
    assert (reps["sdr2"]["leads"], reps["sdr2"]["capture_median_minutes"]) == (1, 30.0)
    teams = {row["label"]: row["leads"] for row in data["by_team"]}
    assert teams == {"Inside Sales": 3, "(no team)": 1}


# --- acceptance and reasons -----------------------------------------------------------------------------


def test_acceptance_rate_and_reasons(history):
    data = selectors.acceptance(march())
    assert (data["accepted"], data["rejected"], data["rate"]) == (3, 1, 75.0)
    assert data["by_rep"] == [{"key": "sdr1", "label": "sdr1", "accepted": 3, "rejected": 1, "rate": 75.0}]
    # a free-text reason from before reason codes counts as "other"
    assert data["reasons"]["reject"] == [{"code": "other", "reason": "Other", "count": 1, "share": 100.0}]
    assert data["reasons"]["recycle"][0] == {
        "code": "no_contact", "reason": "No contact after several attempts", "count": 1, "share": 100.0,
    }
    assert data["reasons"]["lose"] == [
        {"code": "competitor", "reason": "Chose a competitor", "count": 1, "share": 100.0},
    ]
    assert data["reasons"]["disqualify"] == []


def test_reasons_are_grouped_by_code_whatever_the_words(db):
    for text in ("Preis zu hoch", "zu teuer", "price too high"):
        walk(new_lead(), ("mark_mql", Stage.MQL, at(1)), ("accept", Stage.SAL, at(2)),
             ("qualify", Stage.SQL, at(3)), ("open_opportunity", Stage.OPPORTUNITY, at(4)),
             ("lose", Stage.LOST, at(5), text, "price"))
    walk(new_lead(), ("disqualify", Stage.DISQUALIFIED, at(2), "Spam"), ("disqualify", Stage.DISQUALIFIED, at(3)))
    data = selectors.acceptance(march())
    assert data["reasons"]["lose"] == [{"code": "price", "reason": "Price", "count": 3, "share": 100.0}]
    assert data["reasons"]["disqualify"] == [{"code": "other", "reason": "Other", "count": 2, "share": 100.0}]
    assert data["reason_totals"]["lose"] == 3


# --- sources, costs, attribution ------------------------------------------------------------------------


@pytest.fixture
def campaign_history():
    ads = CampaignFactory(slug="ads", name="Ads", channel=Channel.PAID_SEARCH, cost=Decimal("1200"),
                          starts_on=dt.date(2026, 3, 1), ends_on=dt.date(2026, 3, 31))
    new_lead(source=Channel.PAID_SEARCH, campaign=ads)
    mql = new_lead(stage=Stage.MQL, source=Channel.PAID_SEARCH, campaign=ads)
    walk(mql, ("mark_mql", Stage.MQL, at(1)))
    recycled = new_lead(stage=Stage.RECYCLED, source=Channel.PAID_SEARCH, campaign=ads)
    walk(recycled, ("mark_mql", Stage.MQL, at(1)), ("accept", Stage.SAL, at(2)), ("qualify", Stage.SQL, at(3)),
         ("recycle", Stage.RECYCLED, at(4), "Budget frozen"))
    won = new_lead(stage=Stage.CUSTOMER, source=Channel.PAID_SEARCH, campaign=ads, deal_value=Decimal("5000"))
    walk(won, ("mark_mql", Stage.MQL, at(1)), ("accept", Stage.SAL, at(2)), ("qualify", Stage.SQL, at(3)),
         ("open_opportunity", Stage.OPPORTUNITY, at(4)), ("win", Stage.CUSTOMER, at(9)))
    new_lead(source=Channel.ORGANIC_SEARCH)
    return ads


def test_campaign_roi_cost_per_lead_mql_sql_cac(campaign_history):
    data = selectors.sources(march())
    ads = next(row for row in data["by_campaign"] if row["label"] == "Ads")
    assert (ads["leads"], ads["mqls"], ads["sqls"], ads["opportunities"], ads["customers"]) == (4, 3, 2, 1, 1)
    assert ads["revenue"] == Decimal("5000.00")
    assert ads["cost"] == Decimal("1200.00")
    assert (ads["cost_per_lead"], ads["cost_per_mql"], ads["cost_per_sql"], ads["cac"]) == (
        Decimal("300.00"), Decimal("400.00"), Decimal("600.00"), Decimal("1200.00"),
    )
    assert ads["roi"] == 316.7  # (5000 - 1200) / 1200
    paid = next(row for row in data["by_source"] if row["key"] == Channel.PAID_SEARCH)
    assert (paid["leads"], paid["cost"], paid["cost_per_sql"]) == (4, Decimal("1200.00"), Decimal("600.00"))
    organic = next(row for row in data["by_source"] if row["key"] == Channel.ORGANIC_SEARCH)
    assert (organic["leads"], organic["cost"], organic["cost_per_lead"]) == (1, Decimal("0.00"), None)
    assert (data["total"]["leads"], data["total"]["cost"], data["total"]["revenue"]) == (
        5, Decimal("1200.00"), Decimal("5000.00"),
    )


def test_campaign_cost_counts_the_share_of_its_run_inside_the_range(db):
    fair = CampaignFactory(cost=Decimal("3100"), starts_on=dt.date(2026, 3, 1), ends_on=dt.date(2026, 3, 31))
    costs = selectors.campaign_costs(filters.build(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 10)))
    assert costs[fair.pk]["cost_in_range"] == Decimal("1000")
    outside = selectors.campaign_costs(filters.build(start=dt.date(2026, 4, 1), end=dt.date(2026, 4, 30)))
    assert outside[fair.pk]["cost_in_range"] == 0


def test_last_touch_attribution_credits_the_last_touchpoint_before_the_lead_became_mql(db):
    newsletter = CampaignFactory(slug="newsletter", channel=Channel.EMAIL)
    webinar = CampaignFactory(slug="webinar", channel=Channel.WEB_FORM)
    moved = new_lead(stage=Stage.MQL, source=Channel.EMAIL, campaign=newsletter)
    for minutes, source, slug in ((0, "email", "newsletter"), (60, "web_form", "webinar"),
                                  (3000, "paid_social", None)):
        Activity.objects.create(lead=moved, kind="form_submit", occurred_at=at(minutes=minutes),
                                data={"source": source, "campaign": slug})
    Activity.objects.create(lead=moved, kind="page_view", occurred_at=at(minutes=120))  # no source: no touchpoint
    walk(moved, ("mark_mql", Stage.MQL, at(minutes=130)))
    new_lead(source=Channel.EMAIL, campaign=newsletter)  # no touchpoints: its own source
    first = selectors.sources(march(), attribution="first")
    last = selectors.sources(march(), attribution="last")

    def leads_by(data, group):
        return {row["label"]: (row["leads"], row["mqls"]) for row in data[group] if row["leads"]}

    assert leads_by(first, "by_source") == {"E-mail": (2, 1)}
    assert leads_by(last, "by_source") == {"E-mail": (1, 0), "Web form": (1, 1)}
    assert leads_by(last, "by_campaign") == {newsletter.name: (1, 0), webinar.name: (1, 1)}


# --- rep and team filters -------------------------------------------------------------------------------


def test_a_rep_counts_leads_owned_now_or_before_so_rejects_stay_in_their_figures(history, sdr, other_sdr):
    assign(history["b"], sdr, at(1, minutes=5), name="claim", actor=sdr)  # B was sdr1's, rejected: no owner now
    moved_on = history["e"]
    assign(moved_on, sdr, at(3, minutes=1))
    assign(moved_on, other_sdr, at(4))
    own = counts(selectors.funnel(march(rep_id=sdr.pk)))
    assert own["known"] == 3  # B (rejected), C (owns), E (owned before)
    assert counts(selectors.funnel(march(rep_id=other_sdr.pk)))["known"] == 1
    assert own["visitors"] is None  # not per rep
    assert selectors.acceptance(march(rep_id=sdr.pk))["rejected"] == 1


def test_a_team_counts_the_leads_of_its_reps(history, sdr, other_sdr):
    team = Team.objects.create(name="DACH", slug="dach")
    Rep.objects.create(user=other_sdr, team=team)
    assign(history["a"], other_sdr, at(1))
    assert counts(selectors.funnel(march(team_id=team.pk)))["known"] == 1
    empty = Team.objects.create(name="Empty", slug="empty")
    assert counts(selectors.funnel(march(team_id=empty.pk)))["known"] == 0
    assert selectors.speed_to_lead(march(team_id=empty.pk))["overall"]["leads"] == 0


def test_the_source_filter_selects_leads_by_their_source(history):
    assert counts(selectors.funnel(march(source=Channel.WEB_FORM))) == {
        "visitors": 0, "known": 2, "mql": 2, "sal": 2, "sql": 1, "opportunity": 1, "customer": 0,
    }


def test_sla_compliance_per_policy_and_rep_and_the_breaches(sdr):
    from leads.models import SlaClock as clock_model
    from routing.models import SlaPolicy

    policy = SlaPolicy.objects.order_by("name").first()

    def clock(due, *, met=None, stopped=None, breached=False, owner=sdr):
        return clock_model.objects.create(
            lead=new_lead(stage=Stage.MQL, owner=owner), policy=policy, stage=Stage.MQL, owner=owner,
            started_at=at(due - 1), due_at=at(due), met_at=met, stopped_at=stopped or met, breached=breached,
        )

    clock(1, met=at(0.5))  # met in time
    late = clock(2, met=at(3), breached=True, owner=None)  # met late
    overdue = clock(4)  # running past its due, the sweep has not looked yet
    clock(5, stopped=at(4.5))  # cancelled: the lead left the stage another way
    clock(20)  # running, due later
    clock(45)  # due in April: not in the range
    data = selectors.sla_compliance(march(), now=at(10))
    assert data["overall"] == {"total": 5, "met": 1, "breached": 2, "open": 1, "cancelled": 1, "compliance": 33.3}
    assert [(row["label"], row["total"], row["breached"]) for row in data["by_policy"]] == [(policy.name, 5, 2)]
    assert {row["label"]: (row["total"], row["compliance"]) for row in data["by_rep"]} == {
        "sdr1": (4, 50.0), "(pool)": (1, 0.0),
    }
    assert [c.pk for c in selectors.sla_breaches(march(), now=at(10))] == [overdue.pk, late.pk]


def test_daily_figures_count_each_local_day(history):
    days = {row["day"]: row for row in selectors.daily_figures(march().with_range(dt.date(2026, 3, 2),
                                                                                 dt.date(2026, 3, 6)))}
    assert len(days) == 5
    assert days[dt.date(2026, 3, 2)]["leads"] == 5
    assert days[dt.date(2026, 3, 3)]["mqls"] == 2  # B and C
    assert days[dt.date(2026, 3, 4)]["accepted"] == 1  # C
    assert (days[dt.date(2026, 3, 6)]["rejected"], days[dt.date(2026, 3, 6)]["accepted"]) == (1, 1)  # B, D
    user = UserFactory()
    assert filters.for_scope(user, "own", start=MARCH["start"], end=MARCH["end"]).owner_ids == (user.pk,)


# --- filters: every figure of a filtered scope equals the same figure on a history holding only that scope --


def _scope_figures(f) -> dict:
    """The figures that depend only on which leads count (visitors, costs and stalls follow other rules)."""
    def without_visitors(funnel):
        return {key: value for key, value in counts(funnel).items() if key != "visitors"}

    def roi(rows):
        keep = ("label", "leads", "mqls", "sqls", "opportunities", "customers", "revenue")
        return sorted(tuple(row[key] for key in keep) for row in rows if row["leads"])

    sources_first, sources_last = selectors.sources(f), selectors.sources(f, attribution="last")
    return {
        "cohort": without_visitors(selectors.funnel(f)), "flow": without_visitors(selectors.funnel(f, view="flow")),
        "velocity": selectors.velocity(f), "speed": selectors.speed_to_lead(f), "acceptance": selectors.acceptance(f),
        "sources": [roi(data[key]) for data in (sources_first, sources_last) for key in ("by_source", "by_campaign")],
        "daily": selectors.daily_figures(f),
    }


def _figures_of_only(lead_ids) -> dict:
    """The unfiltered figures on the same history with every other lead deleted (then restored)."""
    savepoint = transaction.savepoint()
    Lead.objects.exclude(pk__in=lead_ids).delete()
    figures = _scope_figures(march())
    transaction.savepoint_rollback(savepoint)
    return figures


@pytest.fixture
def owned_history(history, sdr, other_sdr):
    """The history plus leads of another rep: one the SDR had before (it counts for both), one in a campaign."""
    team = Team.objects.create(name="Inside Sales", slug="inside")
    Rep.objects.create(user=sdr, team=team)
    ads = CampaignFactory(slug="ads", name="Ads", channel=Channel.PAID_SEARCH, cost=Decimal("900"))
    handed_on = new_lead(stage=Stage.SAL, source=Channel.PAID_SEARCH, owner=other_sdr, campaign=ads)
    walk(handed_on, ("mark_mql", Stage.MQL, at(1)), ("accept", Stage.SAL, at(1.5)), actor=sdr)
    assign(handed_on, sdr, at(1, minutes=5))
    assign(handed_on, other_sdr, at(1, minutes=50), name="claim", actor=other_sdr)
    Activity.objects.create(lead=handed_on, kind="call", occurred_at=at(1, minutes=55), created_by=other_sdr)
    theirs = new_lead(stage=Stage.MQL, source=Channel.WEB_FORM, owner=other_sdr, campaign=ads)
    walk(theirs, ("mark_mql", Stage.MQL, at(7)))
    assign(theirs, other_sdr, at(7, minutes=2))
    Activity.objects.create(lead=theirs, kind="email", occurred_at=at(7, minutes=20), created_by=other_sdr)
    assign(history["b"], sdr, at(1, minutes=30))  # rejected later: the owner is cleared, the lead stays the SDR's
    return {**history, "handed_on": handed_on, "theirs": theirs, "team": team, "ads": ads}


def test_filtered_figures_equal_the_figures_of_a_history_holding_only_the_filtered_leads(
    owned_history, sdr, other_sdr
):
    h = owned_history
    cases = [
        (march(rep_id=sdr.pk), ["b", "c", "handed_on"]),
        (march(rep_id=other_sdr.pk), ["handed_on", "theirs"]),
        (march(team_id=h["team"].pk), ["b", "c", "handed_on"]),
        (filters.for_scope(sdr, "own", **MARCH), ["b", "c", "handed_on"]),  # what an SDR's report shows
        (march(source=Channel.PAID_SEARCH), ["b", "c", "handed_on"]),
        (march(campaign_id=h["ads"].pk), ["handed_on", "theirs"]),
        (march(source=Channel.WEB_FORM, rep_id=other_sdr.pk), ["theirs"]),
    ]
    for f, names in cases:
        filtered = _scope_figures(f)
        assert filtered == _figures_of_only([h[name].pk for name in names]), names
        assert filtered["flow"]["known"] == sum(1 for name in names if name != "f")


def test_a_team_without_reps_has_the_figures_of_a_history_without_leads(owned_history):
    nobody = Team.objects.create(name="Empty", slug="empty")  # no rep: no lead is the team's, on every path
    assert _scope_figures(march(team_id=nobody.pk)) == _figures_of_only([])


# --- long ranges: one pass over the transition log instead of a lookup per lead ---------------------------


def test_a_range_longer_than_the_threshold_is_large_unless_it_selects_a_reps_leads(sdr):
    days = selectors.LARGE_RANGE_DAYS
    start = dt.date(2026, 1, 1)
    assert not selectors._is_large(filters.build(start=start, end=start + dt.timedelta(days=days - 1)))
    assert selectors._is_large(filters.build(start=start, end=start + dt.timedelta(days=days)))
    assert selectors._is_large(filters.build(start=start, end=start + dt.timedelta(days=days), source="event"))
    assert not selectors._is_large(filters.build(start=start, end=start + dt.timedelta(days=days), rep_id=sdr.pk))


def test_two_years_count_every_lead_created_in_them_on_the_large_path(history):
    two_years = filters.build(start=dt.date(2025, 1, 1), end=dt.date(2026, 12, 31))
    assert selectors._is_large(two_years)
    # F, created 1 February, joins the March cohort; owner changes (C's assignment) still do not count
    assert counts(selectors.funnel(two_years)) == {
        "visitors": 0, "known": 6, "mql": 5, "sal": 3, "sql": 2, "opportunity": 2, "customer": 1,
    }
    total = selectors.sources(two_years)["total"]
    assert (total["leads"], total["mqls"], total["sqls"], total["customers"], total["revenue"]) == (
        6, 5, 2, 1, Decimal("10000.00")
    )


def test_the_large_path_gives_the_figures_of_the_per_lead_lookups(owned_history, sdr, other_sdr, monkeypatch):
    h = owned_history
    # two owner changes at the same moment: the first written (lower id) is the first assignment on both paths
    twice = new_lead(stage=Stage.MQL, source=Channel.PAID_SEARCH)
    walk(twice, ("mark_mql", Stage.MQL, at(3)))
    assign(twice, other_sdr, at(3, minutes=1))
    assign(twice, sdr, at(3, minutes=1), name="claim", actor=sdr)
    Activity.objects.create(lead=twice, kind="call", occurred_at=at(3, minutes=9), created_by=sdr)
    cases = [
        march(), march(source=Channel.PAID_SEARCH), march(campaign_id=h["ads"].pk),
        filters.build(start=dt.date(2025, 1, 1), end=dt.date(2026, 12, 31)),
    ]
    for f in cases:
        monkeypatch.setattr(selectors, "LARGE_RANGE_DAYS", 10_000)
        assert not selectors._is_large(f)
        per_lead = _scope_figures(f)
        monkeypatch.setattr(selectors, "LARGE_RANGE_DAYS", 1)
        assert selectors._is_large(f)
        assert _scope_figures(f) == per_lead, f
    assert per_lead["speed"]["overall"]["assigned"] == 5  # B, C, handed_on, theirs, twice
    # the first assignee counts: B, C and handed_on for sdr1; theirs and twice (assigned before claimed) for sdr2
    by_rep = {row["key"]: row["leads"] for row in per_lead["speed"]["by_rep"] if row["key"]}
    assert by_rep == {"sdr1": 3, "sdr2": 2}


def test_the_sources_cohort_gives_the_cohort_funnel_the_overview_shows(owned_history, sdr):
    cases = [
        march(), march(source=Channel.PAID_SEARCH), march(rep_id=sdr.pk),
        filters.build(start=dt.date(2025, 1, 1), end=dt.date(2026, 12, 31)),  # the large path
        march(source=Channel.PARTNER),  # nobody: every stage 0
    ]
    for f in cases:
        alone = counts(selectors.funnel(f))
        for attribution in ("first", "last"):
            reached = selectors.sources(f, attribution=attribution)["reached"]
            assert counts(selectors.funnel(f, reached=reached)) == alone, (f, attribution)
    assert alone["known"] == 0
    assert counts(selectors.funnel(cases[0]))["known"] == 7


def test_the_cohort_columns_have_a_covering_index_for_long_ranges(db):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'leads_lead' AND indexname = %s",
                       ["reporting_lead_created_cover"])
        (definition,) = cursor.fetchone()
    assert "(created_at) INCLUDE (id, stage, stage_entered_at, source, campaign_id, deal_value)" in definition


# --- raw SQL: composed from the models, values as parameters -------------------------------------------


def test_the_sql_rank_of_every_stage_is_its_funnel_rank_and_zero_off_the_main_path(db):
    statement = sql.SQL("SELECT {rank} AS r").format(rank=selectors._rank(sql.Placeholder()))
    for stage in [*Stage, "no such stage"]:
        (row,) = selectors._rows(statement, [str(stage), *selectors.RANK_PARAMS])
        assert row["r"] == selectors.RANK.get(stage, 0), stage
    assert selectors.RANK[Stage.LOST] == selectors.RANK[Stage.OPPORTUNITY]  # a lost lead was an opportunity


def test_report_statements_run_with_the_report_work_mem(db):
    (row,) = selectors._rows(sql.SQL("SELECT current_setting('work_mem') AS work_mem"), [])
    assert row["work_mem"] == selectors.REPORT_WORK_MEM == "64MB"

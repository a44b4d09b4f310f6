"""The pure SLA decisions: which clocks an event stops, when steps run, recycling, stalls. No database."""

import datetime as dt

from routing import calendar, sla_policy
from routing.sla_policy import Attempt, PolicySpec, RecyclingSpec, RunningClock, StepSpec, Stop

UTC = dt.UTC
NOW = dt.datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
ALWAYS = calendar.CalendarSpec.build(time_zone="UTC", always_open=True)


def clock(number, *, stage="mql", owner=1, starts_on="owner_assigned", stops_on="stage_exit"):
    return RunningClock(id=number, policy_id=number, stage=stage, owner_id=owner, starts_on=starts_on,
                        stops_on=stops_on)


def test_leaving_the_stage_meets_stage_exit_clocks_only():
    clocks = [clock(1), clock(2, stops_on="contact_attempt")]
    assert sla_policy.stops_for_transition(clocks, name="accept", source="mql", target="sal", owner_id=1) == [
        Stop(1, True, "accept")
    ]


def test_closing_the_lead_cancels_what_it_does_not_meet():
    clocks = [clock(1), clock(2, stops_on="contact_attempt")]
    assert sla_policy.stops_for_transition(clocks, name="reject", source="mql", target="recycled", owner_id=None) == [
        Stop(1, True, "reject"), Stop(2, False, "lead_closed")
    ]


def test_an_owner_clock_ends_with_its_owner():
    clocks = [clock(1, stops_on="contact_attempt"), clock(2, starts_on="stage_entered", stage="sal")]
    assert sla_policy.stops_for_owner_change(clocks, new_owner_id=2) == [Stop(1, False, "owner_changed")]
    assert sla_policy.stops_for_owner_change(clocks, new_owner_id=None) == [Stop(1, False, "owner_removed")]
    assert sla_policy.stops_for_owner_change(clocks, new_owner_id=1) == []


def test_a_contact_attempt_meets_only_the_clocks_waiting_for_it():
    clocks = [clock(1), clock(2, stops_on="contact_attempt")]
    assert sla_policy.stops_for_contact_attempt(clocks) == [Stop(2, True, "contact_attempt")]


FOUR_HOURS = calendar.Duration(4, "hours")


def policy(*steps, duration=FOUR_HOURS, counts_from="event"):
    return PolicySpec(
        id=1, name="p", stage="opportunity", starts_on="stage_entered", stops_on="stage_exit", duration=duration,
        calendar=ALWAYS, counts_from=counts_from, steps=sla_policy.ordered_steps(steps),
    )


def step(after, unit="hours", action="warn_owner"):
    return StepSpec(number=0, after=calendar.Duration(after, unit), action=action)


def test_steps_run_after_the_due_in_order_and_never_before_an_earlier_one():
    subject = policy(step(0), step(2), step(1, action="notify_manager"))
    due = NOW + dt.timedelta(hours=4)
    assert [sla_policy.step_time(subject, due_at=due, number=n) for n in (1, 2, 3, 4)] == [
        due, due + dt.timedelta(hours=2), due + dt.timedelta(hours=2), None
    ]


def test_a_step_at_the_due_is_the_due_itself_but_zero_working_days_wait_for_the_opening():
    nine_to_five = calendar.CalendarSpec.build(time_zone="Europe/Berlin", working_hours={
        day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")})
    friday_close = dt.datetime(2026, 6, 12, 15, 0, tzinfo=UTC)  # 17:00 in Berlin
    for unit in ("minutes", "hours"):
        subject = PolicySpec(id=1, name="p", stage="mql", starts_on="owner_assigned", stops_on="stage_exit",
                             duration=calendar.Duration(1), calendar=nine_to_five,
                             steps=sla_policy.ordered_steps([step(0, unit)]))
        assert sla_policy.step_time(subject, due_at=friday_close, number=1) == friday_close
        assert calendar.due_at(friday_close, calendar.Duration(0, unit), nine_to_five) == friday_close
    subject = PolicySpec(id=1, name="p", stage="mql", starts_on="owner_assigned", stops_on="stage_exit",
                         duration=calendar.Duration(1), calendar=nine_to_five,
                         steps=sla_policy.ordered_steps([step(0, "days")]))
    assert sla_policy.step_time(subject, due_at=friday_close, number=1) == dt.datetime(2026, 6, 15, 7, 0, tzinfo=UTC)


def test_the_sweep_looks_at_the_due_first_then_at_each_step():
    subject = policy(step(1), step(3))
    due = NOW
    assert sla_policy.next_sweep_point(subject, due_at=due, steps_done=0, breach_recorded=False) == due
    assert sla_policy.next_sweep_point(subject, due_at=due, steps_done=0, breach_recorded=True) == (
        due + dt.timedelta(hours=1))
    assert sla_policy.next_sweep_point(subject, due_at=due, steps_done=2, breach_recorded=True) is None


def test_deal_ageing_counts_from_the_end_of_the_close_date():
    subject = policy(duration=calendar.Duration(30, "days"), counts_from="close_date")
    assert sla_policy.due(subject, event_at=NOW, close_date=dt.date(2026, 7, 31)) == dt.datetime(
        2026, 8, 31, tzinfo=UTC)
    assert sla_policy.due(subject, event_at=NOW, close_date=None) is None


def attempts(*days, connected=()):
    return [Attempt(at=NOW - dt.timedelta(days=d), connected=d in connected) for d in days]


def test_recycling_needs_enough_unanswered_attempts_inside_the_window():
    rule = RecyclingSpec(attempts=6, days=14)
    since = NOW - dt.timedelta(days=30)
    assert sla_policy.recycling_decision(rule, attempts(0, 1, 2, 3, 4, 5), since=since, now=NOW).attempts == 6
    assert sla_policy.recycling_decision(rule, attempts(0, 1, 2, 3, 4), since=since, now=NOW) is None
    assert sla_policy.recycling_decision(rule, attempts(0, 1, 2, 3, 4, 15), since=since, now=NOW) is None
    assert sla_policy.recycling_decision(rule, attempts(0, 1, 2, 3, 4, 5, connected=[3]), since=since, now=NOW) is None
    assert sla_policy.recycling_decision(rule, attempts(0, 1, 2, 3, 4, 5), since=NOW - dt.timedelta(days=3),
                                         now=NOW) is None
    off = RecyclingSpec(attempts=1, days=14, is_enabled=False)
    assert sla_policy.recycling_decision(off, attempts(0), since=since, now=NOW) is None


def test_a_lead_is_stalled_only_past_its_stages_threshold():
    thresholds = {"mql": 3}
    assert sla_policy.is_stalled("mql", NOW - dt.timedelta(days=3, seconds=1), thresholds, NOW)
    assert not sla_policy.is_stalled("mql", NOW - dt.timedelta(days=3), thresholds, NOW)
    assert not sla_policy.is_stalled("lost", NOW - dt.timedelta(days=300), thresholds, NOW)


def test_configurations_that_cannot_work_are_explained():
    assert sla_policy.policy_problems(stage="", starts_on="stage_entered", stops_on="stage_exit", counts_from="event",
                                      actions=[]) == {"stage": "Choose the stage whose entry starts the clock."}
    assert "steps" in sla_policy.policy_problems(stage="sal", starts_on="stage_entered", stops_on="stage_exit",
                                                 counts_from="event", actions=["release"])
    assert "counts_from" in sla_policy.policy_problems(stage="sql", starts_on="stage_entered", stops_on="stage_exit",
                                                       counts_from="close_date", actions=[])
    assert sla_policy.policy_problems(stage="mql", starts_on="owner_assigned", stops_on="stage_exit",
                                      counts_from="event", actions=["warn_owner", "reassign", "release"]) == {}

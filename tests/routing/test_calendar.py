"""The business calendar's due-time function: pure, on Europe/Berlin across DST changes and holidays."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.calendar import (
    CalendarNeverOpen,
    CalendarSpec,
    Duration,
    add_working_time,
    due_at,
    holiday_problem,
    is_closed_day,
    is_open,
    is_working_day,
    next_open_moment,
    working_time_between,
)

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NINE_TO_FIVE = {day: ["09:00", "17:00"] for day in WEEKDAYS[:5]}
MUNICH = CalendarSpec.build(time_zone="Europe/Berlin", working_hours=NINE_TO_FIVE, country="DE", subdivision="BY")
AROUND_THE_CLOCK = CalendarSpec.build(time_zone="Europe/Berlin", always_open=True)


def berlin(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


def local(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(BERLIN)


# --- the done criterion and other worked examples -------------------------------------------------------


def test_four_business_hours_from_friday_1650_are_due_monday_1250():
    assert local(due_at(berlin(2026, 6, 12, 16, 50), Duration(4, "hours"), MUNICH)) == berlin(2026, 6, 15, 12, 50)


def test_whit_monday_in_bavaria_is_skipped():
    assert local(due_at(berlin(2026, 5, 22, 16, 50), Duration(4, "hours"), MUNICH)) == berlin(2026, 5, 26, 12, 50)


def test_corpus_christi_counts_in_bavaria_but_not_in_berlin():
    berlin_state = CalendarSpec.build(time_zone="Europe/Berlin", working_hours=NINE_TO_FIVE, country="DE",
                                      subdivision="BE")
    start = berlin(2026, 6, 3, 16, 0)  # Wednesday; Thursday 4 June is Corpus Christi in Bavaria only
    assert local(due_at(start, Duration(2, "hours"), MUNICH)) == berlin(2026, 6, 5, 10, 0)
    assert local(due_at(start, Duration(2, "hours"), berlin_state)) == berlin(2026, 6, 4, 10, 0)


def test_a_start_outside_hours_counts_from_the_next_opening():
    saturday = berlin(2026, 6, 13, 11, 0)
    assert local(due_at(saturday, Duration(5, "minutes"), MUNICH)) == berlin(2026, 6, 15, 9, 5)


def test_a_due_at_closing_time_stays_at_closing_time():
    assert local(due_at(berlin(2026, 6, 15, 9, 0), Duration(8, "hours"), MUNICH)) == berlin(2026, 6, 15, 17, 0)


def test_zero_duration_is_due_at_the_start():
    start = berlin(2026, 6, 13, 11, 0)
    assert due_at(start, Duration(0, "minutes"), MUNICH) == start


def test_24_hours_around_the_clock_across_the_spring_change_are_24_real_hours():
    start = berlin(2026, 3, 28, 12, 0)  # the clocks go forward in the night to Sunday 29 March
    due = due_at(start, Duration(24, "hours"), AROUND_THE_CLOCK)
    assert due - start == dt.timedelta(hours=24)
    assert local(due) == berlin(2026, 3, 29, 13, 0)


def test_one_day_around_the_clock_across_the_autumn_change_keeps_the_time_of_day():
    start = berlin(2026, 10, 24, 12, 0)  # the clocks go back in the night to Sunday 25 October
    due = due_at(start, Duration(1, "days"), AROUND_THE_CLOCK)
    assert local(due) == berlin(2026, 10, 25, 12, 0)
    assert due - start == dt.timedelta(hours=25)


def test_a_day_with_the_change_has_its_real_length():
    day = working_time_between(berlin(2026, 3, 29, 0, 0), berlin(2026, 3, 30, 0, 0), AROUND_THE_CLOCK)
    assert day == dt.timedelta(hours=23)
    day = working_time_between(berlin(2026, 10, 25, 0, 0), berlin(2026, 10, 26, 0, 0), AROUND_THE_CLOCK)
    assert day == dt.timedelta(hours=25)


def test_ten_business_days_keep_the_time_of_day_and_skip_holidays():
    # Friday before Whit Monday; Thursday 4 June is Corpus Christi in Bavaria.
    assert local(due_at(berlin(2026, 5, 22, 10, 30), Duration(10, "days"), MUNICH)) == berlin(2026, 6, 9, 10, 30)


def test_business_days_from_outside_hours_count_from_the_next_opening():
    assert local(due_at(berlin(2026, 6, 13, 20, 0), Duration(1, "days"), MUNICH)) == berlin(2026, 6, 16, 9, 0)


def test_business_days_onto_a_shorter_day_are_due_at_its_close():
    short_friday = dict(NINE_TO_FIVE, fri=["09:00", "13:00"])
    spec = CalendarSpec.build(time_zone="Europe/Berlin", working_hours=short_friday)
    assert local(due_at(berlin(2026, 6, 11, 16, 0), Duration(1, "days"), spec)) == berlin(2026, 6, 12, 13, 0)


def test_company_closures_are_skipped_like_holidays():
    spec = CalendarSpec.build(time_zone="Europe/Berlin", working_hours=NINE_TO_FIVE, country="DE", subdivision="BY",
                              closures=[(dt.date(2026, 12, 24), dt.date(2026, 12, 31))])
    assert local(due_at(berlin(2026, 12, 23, 16, 0), Duration(2, "hours"), spec)) == berlin(2027, 1, 4, 10, 0)


def test_a_window_past_midnight_runs_into_the_next_day():
    night = CalendarSpec.build(time_zone="Europe/Berlin", working_hours={"fri": ["22:00", "06:00"]})
    assert local(due_at(berlin(2026, 6, 12, 23, 0), Duration(3, "hours"), night)) == berlin(2026, 6, 13, 2, 0)
    assert is_open(berlin(2026, 6, 13, 5, 59), night)
    assert not is_open(berlin(2026, 6, 13, 6, 0), night)


def test_a_calendar_that_never_opens_says_so():
    closed = CalendarSpec.build(time_zone="Europe/Berlin", working_hours=NINE_TO_FIVE,
                                closures=[(dt.date(2026, 1, 1), dt.date(2031, 1, 1))])
    with pytest.raises(CalendarNeverOpen):
        due_at(berlin(2026, 6, 1, 10, 0), Duration(1, "minutes"), closed)


def test_a_naive_start_is_refused():
    with pytest.raises(ValueError):
        due_at(dt.datetime(2026, 6, 1, 10, 0), Duration(1, "minutes"), MUNICH)


def test_unknown_holiday_regions_are_explained():
    assert holiday_problem("DE", "BY") is None
    assert holiday_problem("", "") is None
    assert "XX" in holiday_problem("XX", "")
    assert "ZZ" in holiday_problem("DE", "ZZ")


# --- properties across DST changes and holidays ---------------------------------------------------------

# Days around both DST changes of 2026 and 2027 in Europe/Berlin, Easter, Whitsun, Corpus Christi,
# All Saints, Christmas and New Year (Bavarian holidays).
PERIODS = [
    (dt.date(2026, 3, 20), 24), (dt.date(2026, 5, 20), 20), (dt.date(2026, 10, 20), 16),
    (dt.date(2026, 12, 20), 20), (dt.date(2027, 3, 22), 12),
]


@st.composite
def starts(draw):
    first, length = draw(st.sampled_from(PERIODS))
    day = first + dt.timedelta(days=draw(st.integers(0, length)))
    minute = draw(st.integers(0, 24 * 60 - 1))
    naive = dt.datetime.combine(day, dt.time(minute // 60, minute % 60))
    fold = draw(st.integers(0, 1))
    return naive.replace(tzinfo=BERLIN, fold=fold).astimezone(UTC)


@st.composite
def calendars(draw):
    if draw(st.integers(0, 5)) == 0:
        return CalendarSpec.build(time_zone="Europe/Berlin", always_open=True, country="DE", subdivision="BY"), {
            day: [(0, 24)] for day in WEEKDAYS
        }
    hours = {}
    for day in WEEKDAYS:
        if draw(st.booleans()) or day in ("tue", "wed", "thu"):
            first = draw(st.integers(0, 22))
            last = draw(st.integers(first + 1, 24))
            windows = [(first, last)]
            if last <= 21 and draw(st.booleans()):
                second = draw(st.integers(last + 1, 23))
                windows.append((second, draw(st.integers(second + 1, 24))))
            hours[day] = windows
    spec = CalendarSpec.build(
        time_zone="Europe/Berlin", country="DE", subdivision="BY",
        working_hours={day: [[f"{a:02d}:00", f"{b:02d}:00"] for a, b in windows] for day, windows in hours.items()},
    )
    return spec, hours


def wall_clock_is_open(moment: dt.datetime, hours: dict, spec: CalendarSpec) -> bool:
    """An independent oracle: read the local wall clock and compare with the configured hours."""
    here = moment.astimezone(BERLIN)
    if is_closed_day(spec, here.date()):
        return False
    minutes = here.hour * 60 + here.minute
    return any(a * 60 <= minutes < b * 60 for a, b in hours.get(WEEKDAYS[here.weekday()], []))


def open_minutes(start: dt.datetime, end: dt.datetime, hours: dict, spec: CalendarSpec) -> int:
    count, moment = 0, start
    while moment < end:
        count += wall_clock_is_open(moment, hours, spec)
        moment += dt.timedelta(minutes=1)
    return count


@settings(max_examples=80, deadline=None)
@given(start=starts(), calendar=calendars(), minutes=st.integers(0, 8 * 60))
def test_the_due_is_the_first_moment_with_exactly_that_much_open_time(start, calendar, minutes):
    spec, hours = calendar
    due = due_at(start, Duration(minutes, "minutes"), spec)
    assert due >= start
    assert open_minutes(start, due, hours, spec) == minutes
    if minutes:
        assert wall_clock_is_open(due - dt.timedelta(minutes=1), hours, spec)


@settings(max_examples=150, deadline=None)
@given(start=starts(), calendar=calendars(), first=st.integers(0, 3000), second=st.integers(0, 3000))
def test_adding_twice_is_adding_the_sum(start, calendar, first, second):
    spec, _hours = calendar
    step = add_working_time(add_working_time(start, dt.timedelta(minutes=first), spec),
                            dt.timedelta(minutes=second), spec)
    assert step == add_working_time(start, dt.timedelta(minutes=first + second), spec)


@settings(max_examples=150, deadline=None)
@given(start=starts(), calendar=calendars(), minutes=st.integers(0, 5000))
def test_the_open_time_up_to_the_due_is_the_duration(start, calendar, minutes):
    spec, _hours = calendar
    due = due_at(start, Duration(minutes, "minutes"), spec)
    assert working_time_between(start, due, spec) == dt.timedelta(minutes=minutes)


@settings(max_examples=150, deadline=None)
@given(first=starts(), second=starts(), calendar=calendars(), minutes=st.integers(0, 3000))
def test_a_later_start_is_never_due_earlier(first, second, calendar, minutes):
    spec, _hours = calendar
    early, late = sorted([first, second])
    assert due_at(early, Duration(minutes), spec) <= due_at(late, Duration(minutes), spec)


@settings(max_examples=150, deadline=None)
@given(start=starts(), calendar=calendars(), days=st.integers(1, 15))
def test_business_days_land_on_the_nth_working_day(start, calendar, days):
    spec, _hours = calendar
    due = due_at(start, Duration(days, "days"), spec)
    opening = local(next_open_moment(start, spec))
    day, counted = opening.date(), 0
    while counted < days:
        day += dt.timedelta(days=1)
        counted += is_working_day(spec, day)
    midnight_after = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=BERLIN)
    assert local(due).date() == day or due == midnight_after  # (a window closing at 24:00)
    same_time = dt.datetime.combine(day, opening.time(), tzinfo=BERLIN)
    if is_open(same_time, spec):
        assert due == same_time.astimezone(dt.UTC)  # not `==` across zones: a repeated wall time never equals (PEP 495)


@settings(max_examples=100, deadline=None)
@given(start=starts(), minutes=st.integers(1, 600))
def test_no_working_time_falls_on_a_bavarian_holiday(start, minutes):
    due = due_at(start, Duration(minutes, "minutes"), MUNICH)
    assert not is_closed_day(MUNICH, local(due - dt.timedelta(microseconds=1)).date())
    if is_closed_day(MUNICH, local(start).date()):
        assert not is_open(start, MUNICH)
        assert local(next_open_moment(start, MUNICH)).date() > local(start).date()

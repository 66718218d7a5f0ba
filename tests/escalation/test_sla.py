"""The pure deadline arithmetic: explicit cases, DST, holidays, pauses, and properties."""

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from escalation import sla

LONDON = ZoneInfo("Europe/London")
WEEKDAYS_9_TO_6 = {day: ((time(9), time(18)),) for day in range(5)}
BUSINESS = sla.Calendar(time_zone="Europe/London", always_open=False, hours=WEEKDAYS_9_TO_6)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def london(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


class TestAlwaysOpen:
    def test_adds_wall_clock_time(self):
        start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        assert sla.add(sla.ALWAYS, start, 15 * M) == start + 15 * M

    def test_across_the_spring_dst_change_elapsed_time_is_real_time(self):
        # 29 March 2026: London clocks go from 01:00 to 02:00.
        start = london(2026, 3, 29, 0, 30)
        due = sla.add(sla.ALWAYS, start, 2 * H)
        assert due == start.astimezone(UTC) + 2 * H
        assert due.astimezone(LONDON).hour == 3

    def test_rejects_naive_datetimes(self):
        with pytest.raises(ValueError, match="aware"):
            sla.add(sla.ALWAYS, datetime(2026, 3, 2, 9), H)


class TestBusinessHours:
    def test_p3_filed_friday_1730_with_24_business_hours_is_due_wednesday_1430(self):
        # Fri 17:30-18:00 (0.5 h) + Mon 9 h + Tue 9 h + Wed 5.5 h = 24 h.
        due = sla.add(BUSINESS, london(2026, 3, 6, 17, 30), 24 * H)
        assert due == london(2026, 3, 11, 14, 30)

    def test_filed_at_night_starts_counting_at_opening(self):
        assert sla.add(BUSINESS, london(2026, 3, 3, 22, 0), 4 * H) == london(2026, 3, 4, 13, 0)

    def test_exactly_at_closing_time_rolls_to_next_opening(self):
        assert sla.add(BUSINESS, london(2026, 3, 3, 18, 0), 1 * M) == london(2026, 3, 4, 9, 1)

    def test_deadline_that_ends_exactly_at_closing_stays_at_closing(self):
        assert sla.add(BUSINESS, london(2026, 3, 3, 17, 0), H) == london(2026, 3, 3, 18, 0)

    def test_weekend_is_skipped(self):
        assert sla.add(BUSINESS, london(2026, 3, 7, 12, 0), H) == london(2026, 3, 9, 10, 0)

    def test_holidays_are_skipped(self):
        calendar = sla.Calendar(
            "Europe/London", False, WEEKDAYS_9_TO_6, frozenset({date(2026, 4, 3), date(2026, 4, 6)})
        )
        # Thursday 2 April 17:00 + 2 h: Thu 1 h, Good Friday and Easter Monday closed, Tue 1 h.
        assert sla.add(calendar, london(2026, 4, 2, 17, 0), 2 * H) == london(2026, 4, 7, 10, 0)

    def test_business_hours_follow_local_time_across_dst(self):
        # Friday 27 March (GMT) to Monday 30 March (BST): opening stays 09:00 local.
        due = sla.add(BUSINESS, london(2026, 3, 27, 17, 0), 2 * H)
        assert due == london(2026, 3, 30, 10, 0)
        assert due.astimezone(UTC) == datetime(2026, 3, 30, 9, 0, tzinfo=UTC)

    def test_calendar_with_no_hours_has_no_deadline(self):
        empty = sla.Calendar("Europe/London", always_open=False, hours={})
        assert sla.add(empty, london(2026, 3, 2, 9, 0), H) is None

    def test_overnight_shift_closing_at_midnight(self):
        evenings = sla.Calendar("Europe/London", False, {0: ((time(20), time(0)),)})
        assert sla.add(evenings, london(2026, 3, 2, 23, 0), 2 * H) == london(2026, 3, 9, 21, 0)


class TestPauses:
    def test_a_closed_pause_pushes_the_deadline_by_its_length(self):
        start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        pause = sla.Pause(start + 10 * M, start + 40 * M)
        assert sla.add(sla.ALWAYS, start, H, (pause,)) == start + H + 30 * M

    def test_an_open_pause_before_the_deadline_means_no_deadline_yet(self):
        start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        assert sla.add(sla.ALWAYS, start, H, (sla.Pause(start + 10 * M),)) is None

    def test_a_pause_after_the_deadline_changes_nothing(self):
        start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        assert sla.add(sla.ALWAYS, start, H, (sla.Pause(start + 2 * H),)) == start + H

    def test_pause_outside_business_hours_costs_nothing(self):
        start = london(2026, 3, 2, 17, 0)
        night = sla.Pause(london(2026, 3, 2, 19, 0), london(2026, 3, 3, 8, 0))
        assert sla.add(BUSINESS, start, 2 * H, (night,)) == sla.add(BUSINESS, start, 2 * H)

    def test_overlapping_pauses_count_once(self):
        start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        pauses = (sla.Pause(start + 10 * M, start + 30 * M), sla.Pause(start + 20 * M, start + 40 * M))
        assert sla.add(sla.ALWAYS, start, H, pauses) == start + H + 30 * M


class TestDeadlines:
    TARGETS = sla.Targets(first_response=15 * M, resolution=2 * H, update=30 * M)
    T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def test_first_response_and_resolution_from_creation(self):
        d = sla.deadlines(self.TARGETS, sla.ALWAYS, sla.History(created_at=self.T0))
        assert (d.first_response_due_at, d.resolution_due_at) == (self.T0 + 15 * M, self.T0 + 2 * H)
        assert d.next_update_due_at is None

    def test_update_timer_restarts_from_the_latest_agent_reply(self):
        history = sla.History(
            created_at=self.T0, first_responded_at=self.T0 + 5 * M, last_agent_reply_at=self.T0 + 50 * M
        )
        assert sla.deadlines(self.TARGETS, sla.ALWAYS, history).next_update_due_at == self.T0 + 80 * M

    def test_tier_response_runs_from_entering_the_tier_until_an_agent_replies_there(self):
        entered = self.T0 + 30 * M
        waiting = sla.History(created_at=self.T0, tier_entered_at=entered, tier_target=30 * M)
        assert sla.deadlines(self.TARGETS, sla.ALWAYS, waiting).tier_response_due_at == entered + 30 * M
        answered = sla.History(
            created_at=self.T0,
            tier_entered_at=entered,
            tier_target=30 * M,
            first_responded_at=self.T0 + 5 * M,
            last_agent_reply_at=entered + 10 * M,
        )
        assert sla.deadlines(self.TARGETS, sla.ALWAYS, answered).tier_response_due_at is None

    def test_resolution_stops_the_update_timer(self):
        history = sla.History(created_at=self.T0, first_responded_at=self.T0 + M, resolved_at=self.T0 + H)
        assert sla.deadlines(self.TARGETS, sla.ALWAYS, history).next_update_due_at is None


# --- properties -----------------------------------------------------------------

ZONES = st.sampled_from(["Europe/London", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"])
instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)
durations = st.integers(min_value=0, max_value=60 * 24 * 10).map(lambda m: timedelta(minutes=m))


@st.composite
def calendars(draw):
    if draw(st.booleans()):
        return sla.Calendar(time_zone=draw(ZONES))
    hours = {}
    for day in draw(st.sets(st.integers(0, 6), min_size=1, max_size=7)):
        opens = draw(st.integers(0, 22))
        closes = draw(st.integers(opens + 1, 24))
        hours[day] = ((time(opens), time(0) if closes == 24 else time(closes)),)
    holidays = frozenset(draw(st.sets(st.dates(date(2025, 1, 1), date(2029, 1, 1)), max_size=20)))
    return sla.Calendar(time_zone=draw(ZONES), always_open=False, hours=hours, holidays=holidays)


@st.composite
def closed_pauses(draw, start):
    pauses = []
    for _ in range(draw(st.integers(0, 3))):
        begin = start + timedelta(minutes=draw(st.integers(0, 60 * 24 * 5)))
        pauses.append(sla.Pause(begin, begin + timedelta(minutes=draw(st.integers(1, 60 * 24)))))
    return tuple(pauses)


class TestProperties:
    @settings(max_examples=100, deadline=None)
    @given(calendars(), instants, st.lists(durations, min_size=1, max_size=6), st.data())
    def test_several_targets_in_one_walk_are_each_their_own_deadline(self, calendar, start, targets, data):
        pauses = data.draw(closed_pauses(start))
        if data.draw(st.booleans()):  # sometimes the clock stops for good
            pauses = (*pauses, sla.Pause(start + timedelta(minutes=data.draw(st.integers(0, 60 * 24 * 20)))))
        together = sla.add_many(calendar, start, targets, pauses)
        assert together == [sla.add_many(calendar, start, [target], pauses)[0] for target in targets]
        for target, due in zip(targets, together, strict=True):
            if due is not None:
                assert due >= start
                assert sla.elapsed(calendar, start, due, pauses) == target

    @settings(max_examples=50, deadline=None)
    @given(calendars(), instants, durations, durations)
    def test_the_warnings_of_the_one_walk_are_warning_at(self, calendar, start, first, resolution):
        targets = sla.Targets(first_response=first, resolution=resolution)
        due, first_warn, resolution_warn = sla.deadlines_and_warnings(targets, calendar, sla.History(created_at=start))
        assert due == sla.deadlines(targets, calendar, sla.History(created_at=start))
        assert first_warn == sla.warning_at(calendar, start, first)
        assert resolution_warn == sla.warning_at(calendar, start, resolution)

    def test_opening_hours_given_as_lists_count_the_same(self):
        as_lists = sla.Calendar(
            time_zone="Europe/London", always_open=False, hours={day: [[time(9), time(18)]] for day in range(5)}
        )
        start = london(2026, 3, 27, 17, 0)  # a Friday; the clocks go forward on Sunday
        assert sla.add(as_lists, start, 20 * H) == sla.add(BUSINESS, start, 20 * H) == london(2026, 4, 1, 10, 0)

    @settings(max_examples=100, deadline=None)
    @given(calendars(), instants, durations)
    def test_never_before_the_start_and_exactly_that_much_clock_time(self, calendar, start, duration):
        due = sla.add(calendar, start, duration)
        if due is None:
            reject()
        assert due >= start
        assert sla.elapsed(calendar, start, due) == duration

    @settings(max_examples=100, deadline=None)
    @given(calendars(), instants, durations, durations)
    def test_monotonic_in_the_target(self, calendar, start, a, b):
        short, long = sorted((a, b))
        due_short, due_long = sla.add(calendar, start, short), sla.add(calendar, start, long)
        if due_short is None or due_long is None:
            reject()
        assert due_short <= due_long

    @settings(max_examples=100, deadline=None)
    @given(calendars(), instants, durations, st.data())
    def test_pausing_never_shortens_and_extends_by_exactly_the_paused_clock_time(self, calendar, start, duration, data):
        pauses = data.draw(closed_pauses(start))
        plain, paused = sla.add(calendar, start, duration), sla.add(calendar, start, duration, pauses)
        if plain is None or paused is None:
            reject()
        assert paused >= plain
        # The clock time that ran (pauses excluded) up to the paused deadline is the target itself.
        assert sla.elapsed(calendar, start, paused, pauses) == duration


# --- pauses that start together, overlap or nest ----------------------------------

T_PAUSE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday, 08:00 in London


class TestPausesStartingTogether:
    def test_a_waiting_then_resolved_ticket_in_one_instant_keeps_its_deadline(self):
        # Set waiting and resolved at the same moment: the first pause ends as the second starts, both at t.
        t = T_PAUSE + 10 * M
        pauses = (sla.Pause(t, t), sla.Pause(t))
        assert sla.add(sla.ALWAYS, T_PAUSE, 5 * M, pauses) == T_PAUSE + 5 * M
        assert sla.add(sla.ALWAYS, T_PAUSE, H, pauses) is None
        assert sla.elapsed(sla.ALWAYS, T_PAUSE, T_PAUSE + H, pauses) == 10 * M

    def test_a_closed_and_an_open_pause_from_the_same_instant_stop_the_clock(self):
        t = T_PAUSE + 10 * M
        pauses = (sla.Pause(t), sla.Pause(t, t + 20 * M))
        assert sla.add(sla.ALWAYS, T_PAUSE, H, pauses) is None
        assert sla.merge_pauses(pauses) == (sla.Pause(t),)

    def test_nested_and_touching_pauses_become_one_segment(self):
        a = T_PAUSE
        pauses = (sla.Pause(a + 30 * M, a + 40 * M), sla.Pause(a, a + H), sla.Pause(a + H, a + 2 * H))
        assert sla.merge_pauses(pauses) == (sla.Pause(a, a + 2 * H),)


def _open_minutes(calendar: sla.Calendar, start: datetime, end: datetime) -> set[datetime]:
    minutes: set[datetime] = set()
    for begin, finish in sla.open_intervals(calendar, start, end):
        moment = begin
        while moment < finish:
            minutes.add(moment)
            moment += M
    return minutes


def _unpaused_minutes(calendar: sla.Calendar, start: datetime, end: datetime, pauses) -> int:
    """The clock time by brute force: every open minute not inside any pause."""
    return sum(
        1
        for minute in _open_minutes(calendar, start, end)
        if not any(p.start <= minute and (p.end is None or minute < p.end) for p in pauses)
    )


@st.composite
def tangled_pauses(draw):
    """Pauses on a few shared instants: equal starts, equal ends, zero length, nested, overlapping, open."""
    instants = draw(st.lists(st.integers(0, 60 * 30), min_size=1, max_size=4))
    pauses = []
    for _ in range(draw(st.integers(1, 6))):
        begins = draw(st.sampled_from(instants))
        end = draw(
            st.one_of(
                st.none(),
                st.just(begins),  # ends as it starts
                st.sampled_from([m for m in instants if m >= begins]),  # ends where another starts
                st.integers(1, 60 * 10).map(begins.__add__),
            )
        )
        at = T_PAUSE + timedelta(minutes=begins)
        pauses.append(sla.Pause(at, None if end is None else T_PAUSE + timedelta(minutes=end)))
    return pauses


PAUSE_CALENDARS = st.sampled_from([sla.ALWAYS, BUSINESS])


class TestPauseSequences:
    @settings(max_examples=200, deadline=None)
    @given(PAUSE_CALENDARS, tangled_pauses(), st.integers(0, 60 * 20), st.randoms(use_true_random=False))
    def test_the_clock_is_open_time_outside_every_pause_whatever_their_order(self, calendar, pauses, minutes, rng):
        target = timedelta(minutes=minutes)
        shuffled = list(pauses)
        rng.shuffle(shuffled)
        due = sla.add(calendar, T_PAUSE, target, tuple(pauses))
        assert sla.add(calendar, T_PAUSE, target, tuple(shuffled)) == due
        end = T_PAUSE + timedelta(days=3)
        expected = _unpaused_minutes(calendar, T_PAUSE, end, pauses)
        assert sla.elapsed(calendar, T_PAUSE, end, tuple(shuffled)) == timedelta(minutes=expected)
        if due is not None:
            assert sla.elapsed(calendar, T_PAUSE, due, tuple(pauses)) == target
            assert _unpaused_minutes(calendar, T_PAUSE, due, pauses) == minutes
        else:  # only a pause that never ends keeps the clock from reaching the target
            assert any(p.end is None for p in pauses)
            assert expected <= minutes

    @settings(max_examples=100, deadline=None)
    @given(tangled_pauses())
    def test_merged_pauses_are_ordered_disjoint_and_cover_the_same_time(self, pauses):
        merged = sla.merge_pauses(pauses)
        for before, after in itertools.pairwise(merged):
            assert before.end is not None
            assert before.end < after.start
        assert all(p.end is None or p.start < p.end for p in merged)
        end = T_PAUSE + timedelta(days=3)
        assert _unpaused_minutes(sla.ALWAYS, T_PAUSE, end, merged) == _unpaused_minutes(
            sla.ALWAYS, T_PAUSE, end, pauses
        )


# --- business days ------------------------------------------------------------------

DAYS = sla.BusinessDays


class TestBusinessDays:
    """On a business-hours calendar, days and weeks count business days; under a day, business hours."""

    FRIDAY_1730 = london(2026, 3, 6, 17, 30)

    def test_p3_filed_friday_1730_is_due_for_response_monday_1730(self):
        assert sla.add(BUSINESS, self.FRIDAY_1730, DAYS(1)) == london(2026, 3, 9, 17, 30)

    def test_p3_filed_friday_1730_is_due_for_resolution_the_next_friday_1730(self):
        assert sla.add(BUSINESS, self.FRIDAY_1730, DAYS(5)) == london(2026, 3, 13, 17, 30)

    def test_p2_filed_friday_1730_is_due_for_response_monday_1230(self):
        assert sla.add(BUSINESS, self.FRIDAY_1730, 4 * H) == london(2026, 3, 9, 12, 30)

    def test_p2_filed_friday_1730_is_due_for_resolution_monday_1730(self):
        assert sla.add(BUSINESS, self.FRIDAY_1730, DAYS(1)) == london(2026, 3, 9, 17, 30)

    def test_p3_filed_on_a_saturday_is_due_at_the_end_of_the_fifth_business_day(self):
        # Saturday 5 December 2026: the week runs Monday 09:00 to Friday 18:00 (not Thursday 31 December).
        assert sla.add(BUSINESS, london(2026, 12, 5, 11, 0), DAYS(5)) == london(2026, 12, 11, 18, 0)

    def test_a_week_across_the_clocks_going_forward_keeps_the_local_time(self):
        due = sla.add(BUSINESS, london(2026, 3, 27, 17, 30), DAYS(5))
        assert due == london(2026, 4, 3, 17, 30)
        assert due.astimezone(LONDON).utcoffset() == H

    def test_holidays_are_not_business_days(self):
        easter = sla.Calendar("Europe/London", False, WEEKDAYS_9_TO_6, frozenset({date(2026, 4, 3), date(2026, 4, 6)}))
        assert sla.add(easter, london(2026, 4, 2, 10, 0), DAYS(1)) == london(2026, 4, 7, 10, 0)

    def test_a_pause_on_a_business_day_pushes_the_deadline_by_its_business_time(self):
        pause = sla.Pause(london(2026, 3, 9, 10, 0), london(2026, 3, 9, 12, 0))
        assert sla.add(BUSINESS, self.FRIDAY_1730, DAYS(1), (pause,)) == london(2026, 3, 10, 10, 30)

    def test_the_warning_comes_when_three_quarters_of_the_days_have_run(self):
        # 3.75 of 5 business days from Friday 17:30: Thursday 17:30 less a quarter of a 9-hour day.
        assert sla.warning_at(BUSINESS, self.FRIDAY_1730, DAYS(5)) == london(2026, 3, 12, 15, 15)

    def test_on_a_24x7_calendar_a_day_is_24_hours(self):
        start = london(2026, 3, 27, 17, 30)  # the clocks go forward on Sunday: 24 h, not one calendar day
        due = sla.add(sla.ALWAYS, start, DAYS(5))
        assert due == start.astimezone(UTC) + 5 * 24 * H
        assert due.astimezone(LONDON).hour == 18
        assert sla.warning_at(sla.ALWAYS, start, DAYS(1)) == start.astimezone(UTC) + 18 * H

    def test_shorter_and_longer_days_each_count_as_one(self):
        saturday_morning = sla.Calendar("Europe/London", False, {**WEEKDAYS_9_TO_6, 5: ((time(10), time(13)),)})
        # Friday 17:30 is 17/18 of Friday: 1/18 left there, 17/18 of Saturday's three hours (2 h 50 min).
        assert sla.add(saturday_morning, self.FRIDAY_1730, DAYS(1)) == london(2026, 3, 7, 12, 50)
        assert sla.elapsed_days(saturday_morning, self.FRIDAY_1730, london(2026, 3, 7, 12, 50)) == 1

    def test_one_walk_mixes_hours_and_days(self):
        assert sla.add_many(BUSINESS, self.FRIDAY_1730, [DAYS(5), 4 * H, DAYS(1), 0 * H]) == [
            london(2026, 3, 13, 17, 30),
            london(2026, 3, 9, 12, 30),
            london(2026, 3, 9, 17, 30),
            self.FRIDAY_1730,
        ]

    @pytest.mark.parametrize(
        ("amount", "unit", "expected"),
        [(15, "minutes", 15 * M), (4, "hours", 4 * H), (5, "business_days", DAYS(5))],
    )
    def test_a_stored_target_names_its_unit(self, amount, unit, expected):
        assert sla.target(amount, unit) == expected

    def test_an_unknown_unit_is_refused(self):
        with pytest.raises(ValueError, match="unit"):
            sla.target(1, "weeks")

    def test_negative_days_are_refused(self):
        with pytest.raises(ValueError, match="negative"):
            DAYS(-1)


@st.composite
def regular_calendars(draw):
    """The same opening hours every open weekday, clear of the night's DST changes, with holidays."""
    opens = draw(st.integers(6, 12))
    closes = draw(st.integers(opens + 1, 22))
    days = draw(st.sets(st.integers(0, 6), min_size=1, max_size=7))
    holidays = frozenset(draw(st.sets(st.dates(date(2025, 1, 1), date(2029, 1, 1)), max_size=30)))
    hours = {day: ((time(opens), time(closes)),) for day in days}
    return sla.Calendar(time_zone=draw(ZONES), always_open=False, hours=hours, holidays=holidays)


def _is_business_day(calendar: sla.Calendar, day: date) -> bool:
    return day.weekday() in calendar.hours and day not in calendar.holidays


class TestBusinessDayProperties:
    @settings(max_examples=150, deadline=None)
    @given(regular_calendars(), st.dates(date(2025, 1, 1), date(2028, 12, 31)), st.integers(1, 30), st.data())
    def test_n_business_days_later_is_the_nth_business_day_at_the_same_time_of_day(self, calendar, day, n, data):
        while not _is_business_day(calendar, day):
            day += timedelta(days=1)
        ((opens, closes),) = calendar.hours[day.weekday()]
        minute = data.draw(st.integers(opens.hour * 60 + 1, closes.hour * 60 - 1), label="minute of the day")
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=calendar.zone)
        start = local.astimezone(UTC)
        due = sla.add(calendar, start, DAYS(n))
        if due is None:
            reject()
        landed = due.astimezone(calendar.zone)
        assert landed.time() == local.time()
        day, counted = local.date(), 0
        while counted < n:
            day += timedelta(days=1)
            counted += _is_business_day(calendar, day)
        assert landed.date() == day

    @settings(max_examples=150, deadline=None)
    @given(calendars(), instants, st.integers(0, 20), st.data())
    def test_the_deadline_is_the_first_instant_n_business_days_have_run(self, calendar, start, n, data):
        pauses = data.draw(closed_pauses(start))
        due = sla.add(calendar, start, DAYS(n), pauses)
        if due is None:
            reject()
        assert due >= start
        assert sla.elapsed_days(calendar, start, due, pauses) >= n
        if n and due > start:  # (zero days run out at the first open moment, like zero hours)
            assert sla.elapsed_days(calendar, start, due - timedelta(microseconds=1), pauses) < n
        if not calendar.always_open and n:
            # It lands in (or at the close of) an open stretch of a business day.
            assert any(b <= due <= e for b, e in sla.open_intervals(calendar, due - DAY_SPAN, due + DAY_SPAN))

    @settings(max_examples=100, deadline=None)
    @given(calendars(), instants, instants, st.integers(0, 15), st.integers(0, 15))
    def test_monotonic_in_the_days_and_in_the_start(self, calendar, a, b, m, n):
        early, late = sorted((a, b))
        fewer, more = sorted((m, n))
        due_fewer, due_more = sla.add(calendar, early, DAYS(fewer)), sla.add(calendar, early, DAYS(more))
        later = sla.add(calendar, late, DAYS(fewer))
        if due_fewer is None or due_more is None or later is None:
            reject()
        assert due_fewer <= due_more
        assert due_fewer <= later

    @settings(max_examples=100, deadline=None)
    @given(calendars(), instants, st.lists(st.one_of(durations, st.integers(0, 10).map(DAYS)), min_size=1, max_size=5))
    def test_days_and_hours_in_one_walk_are_each_their_own_deadline(self, calendar, start, targets):
        assert sla.add_many(calendar, start, targets) == [sla.add(calendar, start, t) for t in targets]


DAY_SPAN = timedelta(days=1)

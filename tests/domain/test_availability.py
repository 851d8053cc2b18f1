"""Availability: local weekly windows become UTC quarter-hour masks on the real calendar, so a
member's evening stays their evening across daylight-saving switches, to the minute in every
zone (Kathmandu +05:45 and Chatham +12:45/+13:45 included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.domain.availability import (
    SLOT_MINUTES,
    SLOTS_PER_WEEK,
    Window,
    coming_weeks,
    mask_to_utc_intervals,
    overlap_minutes,
    same_mask_every_week,
    slot_runs,
    utc_slot_mask,
    week_start_of,
)

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/St_Johns",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "UTC",
]
# Weeks with a spring-forward switch somewhere (US, EU, Chatham, Lord Howe), weeks where clocks
# go back (Lord Howe and Chatham in April, EU in late October, US on 1 November) or none.
WEEKS = [
    datetime(2026, 3, 2, tzinfo=UTC),
    datetime(2026, 3, 9, tzinfo=UTC),
    datetime(2026, 3, 23, tzinfo=UTC),
    datetime(2026, 3, 30, tzinfo=UTC),
    datetime(2026, 6, 1, tzinfo=UTC),
    datetime(2026, 9, 21, tzinfo=UTC),
    datetime(2026, 9, 28, tzinfo=UTC),
    datetime(2026, 10, 19, tzinfo=UTC),
    datetime(2026, 10, 26, tzinfo=UTC),
]


def _inside(windows: list[Window], instant: datetime, tz: ZoneInfo) -> bool:
    """Is this instant inside a local window? When clocks go back, a wall-clock time in the
    repeated period occurs twice; the rule is that a window runs from the FIRST occurrence of its
    start to the FIRST occurrence of its end. So the second pass (fold=1) through the repeated
    period belongs to a window only if the window started before the period ended and runs at
    least to its end (the wall time at which the second pass is over)."""
    local = instant.astimezone(tz)
    minute = local.hour * 60 + local.minute
    if local.fold == 0:
        return any(w.day == local.weekday() and w.start <= minute < w.end for w in windows)
    after = instant
    while after.astimezone(tz).fold == 1:  # walk to the end of the repeated period
        after += timedelta(minutes=15)
    end = after.astimezone(tz)
    r1 = end.hour * 60 + end.minute
    return any(w.day == end.weekday() and w.start < r1 <= w.end for w in windows)


def reference_mask(windows: list[Window], zone: str, week_start: datetime) -> int:
    """Slot by slot, quarter-hour by quarter-hour: is this instant inside a local window?"""
    tz = ZoneInfo(zone)
    mask = 0
    for i in range(SLOTS_PER_WEEK):
        start = week_start + timedelta(minutes=SLOT_MINUTES * i)
        # Windows and offsets lie on quarter hours, so one probe per quarter hour suffices.
        probes = range(SLOT_MINUTES // 15)
        if all(_inside(windows, start + timedelta(minutes=15 * step), tz) for step in probes):
            mask |= 1 << i
    return mask


windows_on_quarter_hours = st.lists(
    st.builds(
        lambda day, a, length: Window(day, a * 15, min(a * 15 + length * 15, 1440)),
        st.integers(0, 6),
        st.integers(0, 95),
        st.integers(1, 24),
    ),
    min_size=0,
    max_size=5,
)


@settings(max_examples=60, deadline=None)
@given(windows_on_quarter_hours, st.sampled_from(ZONES), st.sampled_from(WEEKS))
# Found on a CI run: Sunday 00:00-01:30 in New York on the night clocks go back (1 November
# 2026) is 04:00-05:30 UTC; the old reference also counted 06:00-06:30 UTC, the second time the
# clock showed 01:00-01:30, although the window had ended half an hour before.
@example([Window(6, 0, 90)], "America/New_York", datetime(2026, 10, 26, tzinfo=UTC))
@example([Window(6, 75, 180)], "America/New_York", datetime(2026, 10, 26, tzinfo=UTC))
# Clocks going forward skip wall times: a window ending in the skipped period ends at the switch
# (Chatham, 27 September 2026, 02:45 -> 03:45; New York, 8 March 2026, 02:00 -> 03:00).
@example([Window(6, 0, 195)], "Pacific/Chatham", datetime(2026, 9, 21, tzinfo=UTC))
@example([Window(6, 90, 150), Window(6, 150, 240)], "America/New_York",
         datetime(2026, 3, 2, tzinfo=UTC))
def test_mask_matches_an_instant_by_instant_reference(
    windows: list[Window], zone: str, week: datetime
) -> None:
    assert utc_slot_mask(windows, zone, week) == reference_mask(windows, zone, week)


@settings(max_examples=60, deadline=None)
@given(windows_on_quarter_hours, st.sampled_from(ZONES), st.sampled_from(WEEKS),
       st.integers(1, 3))
def test_a_zone_without_a_switch_gives_the_same_mask_every_week(
    windows: list[Window], zone: str, week: datetime, ahead: int
) -> None:
    weeks = (week, week + timedelta(days=7 * ahead))
    if same_mask_every_week(zone, weeks):
        assert utc_slot_mask(windows, zone, weeks[0]) == utc_slot_mask(windows, zone, weeks[1])


def test_berlin_and_new_york_overlap_differently_while_only_the_us_has_switched() -> None:
    berlin = [Window(1, 18 * 60, 20 * 60)]  # Tuesday 18-20 in Berlin
    new_york = [Window(1, 13 * 60, 15 * 60)]  # Tuesday 13-15 in New York

    def shared(week: datetime) -> int:
        return overlap_minutes(
            utc_slot_mask(berlin, "Europe/Berlin", week),
            utc_slot_mask(new_york, "America/New_York", week),
        )

    assert shared(datetime(2026, 2, 2, tzinfo=UTC)) == 60  # both on winter time
    assert shared(datetime(2026, 3, 23, tzinfo=UTC)) == 120  # US on summer time, EU not yet
    assert shared(datetime(2026, 3, 30, tzinfo=UTC)) == 60  # both on summer time


def test_when_clocks_go_back_a_window_runs_from_its_start_to_its_end_wall_time() -> None:
    """New York, Sunday 1 November 2026: 02:00 EDT becomes 01:00 EST. A window 00:00-03:00 spans
    four real hours, 04:00-08:00 UTC; a window ending in the repeated hour ends at its first
    occurrence."""
    week = datetime(2026, 10, 26, tzinfo=UTC)
    night = utc_slot_mask([Window(6, 0, 180)], "America/New_York", week)
    assert mask_to_utc_intervals(night, week) == [
        (datetime(2026, 11, 1, 4, tzinfo=UTC), datetime(2026, 11, 1, 8, tzinfo=UTC))
    ]
    short = utc_slot_mask([Window(6, 0, 90)], "America/New_York", week)
    assert overlap_minutes(short, short) == 90


def test_a_window_spilling_from_the_next_local_monday_counts_in_this_utc_week() -> None:
    week = datetime(2026, 6, 1, tzinfo=UTC)
    mask = utc_slot_mask([Window(0, 60, 180)], "Asia/Tokyo", week)  # Monday 01:00-03:00 JST
    # = Sunday 16:00-18:00 UTC, the last Sunday of this UTC week.
    per_day = 24 * 60 // SLOT_MINUTES
    per_hour = 60 // SLOT_MINUTES
    assert slot_runs(mask) == [(6 * per_day + 16 * per_hour, 6 * per_day + 18 * per_hour)]


def test_a_window_split_at_midnight_still_covers_the_quarter_hours_across_it() -> None:
    """Kathmandu (UTC+5:45) 22:00-02:00 is four whole hours; half-hour slots made it 3.5 h."""
    week = datetime(2026, 6, 1, tzinfo=UTC)
    split = [Window(0, 22 * 60, 1440), Window(1, 0, 120)]
    mask = utc_slot_mask(split, "Asia/Kathmandu", week)  # UTC+5:45
    assert overlap_minutes(mask, mask) == 4 * 60
    assert mask_to_utc_intervals(mask, week) == [
        (datetime(2026, 6, 1, 16, 15, tzinfo=UTC), datetime(2026, 6, 1, 20, 15, tzinfo=UTC))
    ]


def test_intervals_and_runs_describe_the_mask() -> None:
    week = datetime(2026, 6, 1, tzinfo=UTC)
    mask = utc_slot_mask([Window(2, 9 * 60, 11 * 60 + 30)], "UTC", week)
    assert mask_to_utc_intervals(mask, week) == [
        (datetime(2026, 6, 3, 9, tzinfo=UTC), datetime(2026, 6, 3, 11, 30, tzinfo=UTC))
    ]
    assert overlap_minutes(mask, mask) == 150


@pytest.mark.parametrize(
    ("day", "start", "end"), [(7, 0, 60), (-1, 0, 60), (0, 60, 60), (0, 0, 1441), (0, -30, 60)]
)
def test_a_window_rejects_impossible_values(day: int, start: int, end: int) -> None:
    with pytest.raises(ValueError):
        Window(day, start, end)


def test_week_starts_must_be_monday_midnight_utc() -> None:
    with pytest.raises(ValueError):
        utc_slot_mask([], "UTC", datetime(2026, 6, 2, tzinfo=UTC))
    monday = week_start_of(datetime(2026, 6, 4, 15, tzinfo=UTC))
    assert monday == datetime(2026, 6, 1, tzinfo=UTC)
    assert coming_weeks(datetime(2026, 6, 4, 15, tzinfo=UTC), 2) == (
        datetime(2026, 6, 8, tzinfo=UTC),
        datetime(2026, 6, 15, tzinfo=UTC),
    )
    assert coming_weeks(datetime(2026, 6, 8, tzinfo=UTC), 1) == (datetime(2026, 6, 8, tzinfo=UTC),)

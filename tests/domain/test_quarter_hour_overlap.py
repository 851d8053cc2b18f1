"""Overlap is exact to the minute in zones whose offset is not a whole or half hour.

Availability used to be 336 half-hour UTC slots a week, so a window starting at :15 or :45 UTC
was rounded inwards: two Kathmandu (+05:45) members free 18:00-21:00 were told 18:15-20:45,
Kathmandu with Kolkata (+05:30) showed 12.5 h for a real 13.75 h, and two Kathmandu members free
18:00-19:00 were told nobody shares their time. Slots are now quarter hours (672 a week), and the
property below checks the bitsets against plain interval arithmetic on real dates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.domain.availability import (
    SLOT_MINUTES,
    SLOTS_PER_WEEK,
    Window,
    mask_to_utc_intervals,
    overlap_minutes,
    utc_slot_mask,
)
from bot.domain.availability_text import parse_availability
from bot.domain.errors import AvailabilityError
from bot.domain.matching import CommunitySettings, Seeker, match_pool
from bot.domain.matching.features import encode
from bot.domain.matching.poolfile import PoolFormatError, parse_pool
from bot.domain.matching.scoring import evaluate_pairs
from bot.domain.partnership import suggest_slots
from bot.domain.posts import overlap_summary
from bot.domain.profile import PublicProfile
from bot.domain.recurrence import local_to_utc

Interval = tuple[datetime, datetime]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def profile(user_id: int, zone: str, availability: str) -> PublicProfile:
    return PublicProfile(
        user_id=user_id, timezone=zone, windows=parse_availability(availability),
        goal_areas=("writing",), intro=None, goals_text=None, rhythm="weekly", medium="video",
        languages=("English",),
    )


def seeker(name: str, zone: str, availability: str) -> Seeker:
    return Seeker(id=name, zone=zone, windows=parse_availability(availability))


# ------------------------------------------------------------ an independent exact reference


def exact_intervals(windows: Sequence[Window], zone: str, week: datetime) -> list[Interval]:
    """The member's free time in the UTC week, as merged UTC intervals, by interval arithmetic:
    every window on every real local date near the week, through `local_to_utc` (first
    occurrence of a repeated wall time, the switch itself for a skipped one), clipped."""
    tz = ZoneInfo(zone)
    end_of_week = week + timedelta(days=7)
    spans: list[Interval] = []
    for offset in range(-1, 9):
        day: date = week.date() + timedelta(days=offset)
        for w in windows:
            if w.day != day.weekday():
                continue
            start = local_to_utc(day, dt.time(w.start // 60, w.start % 60), tz)
            end = (local_to_utc(day + timedelta(days=1), dt.time(0), tz) if w.end == 1440
                   else local_to_utc(day, dt.time(w.end // 60, w.end % 60), tz))
            start, end = max(start, week), min(end, end_of_week)
            if end > start:
                spans.append((start, end))
    merged: list[Interval] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    out = []
    for s1, e1 in a:
        for s2, e2 in b:
            s, e = max(s1, s2), min(e1, e2)
            if e > s:
                out.append((s, e))
    return sorted(out)


def minutes(intervals: list[Interval]) -> int:
    return sum(int((e - s).total_seconds()) // 60 for s, e in intervals)


# ------------------------------------------------------------ the reported cases


def test_two_kathmandu_members_free_18_to_21_overlap_18_to_21_not_18_15_to_20_45() -> None:
    week = utc(2026, 6, 1)
    both = [Window(0, 18 * 60, 21 * 60)]
    shared = utc_slot_mask(both, "Asia/Kathmandu", week)
    # 18:00-21:00 at +05:45 is 12:15-15:15 UTC.
    assert mask_to_utc_intervals(shared, week) == [
        (utc(2026, 6, 1, 12, 15), utc(2026, 6, 1, 15, 15))
    ]
    assert overlap_minutes(shared, shared) == 180
    # What the request card and the forum read: the same three hours.
    now = utc(2026, 6, 1, 6)
    minutes_shown, lines = overlap_summary(
        profile(1, "Asia/Kathmandu", "Mon 18:00-21:00"),
        profile(2, "Asia/Kathmandu", "Mon 18:00-21:00"), now,
    )
    assert minutes_shown == 180
    start, end = int(utc(2026, 6, 1, 12, 15).timestamp()), int(utc(2026, 6, 1, 15, 15).timestamp())
    assert lines == [f"• <t:{start}:F> – <t:{end}:t>"]


def test_kathmandu_with_kolkata_is_13_75_hours_where_it_really_is_not_12_5() -> None:
    """Kolkata 18:00 is Kathmandu 18:15: both free Mon-Fri 18:00-21:00 local share 2 h 45 min
    a day, 13.75 h a week. Half-hour slots counted 2.5 h a day, 12.5 h."""
    a = seeker("asha", "Asia/Kathmandu", "Mon-Fri 18:00-21:00")
    b = seeker("dev", "Asia/Kolkata", "Mon-Fri 18:00-21:00")
    now = utc(2026, 6, 1, 6)
    result = match_pool([a, b], CommunitySettings(), now=now, seed=0)
    [group] = result.groups
    assert group.explanation.weekly_overlap_minutes == 13 * 60 + 45
    first_week = group.explanation.weeks[0]
    # Monday: Kolkata 18:00-21:00 = 12:30-15:30 UTC, Kathmandu = 12:15-15:15 UTC.
    assert first_week.intervals[0] == (utc(2026, 6, 8, 12, 30), utc(2026, 6, 8, 15, 15))
    shown, _ = overlap_summary(profile(1, a.zone, "Mon-Fri 18:00-21:00"),
                               profile(2, b.zone, "Mon-Fri 18:00-21:00"), utc(2026, 6, 7, 20))
    assert shown == 13 * 60 + 45  # the forum card says the same as the round


def test_two_kathmandu_members_free_18_to_19_are_matched_not_told_nobody_shares_time() -> None:
    pool = [seeker(name, "Asia/Kathmandu", "Mon-Fri 18:00-19:00") for name in ("asha", "bikash")]
    result = match_pool(pool, CommunitySettings(), now=utc(2026, 6, 1, 6), seed=0)
    assert [g.members for g in result.groups] == [("asha", "bikash")]
    assert result.unmatched == ()
    assert result.groups[0].explanation.weekly_overlap_minutes == 5 * 60


def test_chatham_overlap_follows_its_daylight_saving_change_to_the_minute() -> None:
    """Pacific/Chatham moves from +12:45 to +13:45 on Sunday 27 September 2026. Monday
    19:00-21:00 there is 06:15-08:15 UTC before and 05:15-07:15 UTC after; a UTC member free
    Monday 05:00-08:00 shares 1 h 45 min, then 2 h (half-hour slots said 1.5 h both weeks)."""
    chatham = seeker("chatham", "Pacific/Chatham", "Mon 19:00-21:00")
    london = seeker("utc", "UTC", "Mon 05:00-08:00")
    now = utc(2026, 9, 18, 12)
    result = match_pool([chatham, london], CommunitySettings(), now=now, seed=0)
    [group] = result.groups
    weeks = group.explanation.weeks
    assert [w.week_start for w in weeks] == [utc(2026, 9, 21), utc(2026, 9, 28)]
    assert [w.minutes for w in weeks] == [105, 120]
    assert weeks[0].intervals == ((utc(2026, 9, 21, 6, 15), utc(2026, 9, 21, 8)),)
    assert weeks[1].intervals == ((utc(2026, 9, 28, 5, 15), utc(2026, 9, 28, 7, 15)),)
    assert group.explanation.weekly_overlap_minutes == 105
    # The switch night itself: Sunday 02:00-04:00 Chatham loses the skipped hour 02:45-03:45,
    # so it runs 13:15 UTC (02:00 at +12:45) to 14:15 UTC (04:00 at +13:45): one real hour.
    night = utc_slot_mask([Window(6, 120, 240)], "Pacific/Chatham", utc(2026, 9, 21))
    assert mask_to_utc_intervals(night, utc(2026, 9, 21)) == [
        (utc(2026, 9, 26, 13, 15), utc(2026, 9, 26, 14, 15))
    ]


def test_a_meeting_is_suggested_on_the_quarter_hour_when_the_overlap_starts_there() -> None:
    """Kathmandu 18:15-19:15 (a Kolkata partner's 18:00-19:00) had no room for an hour on the
    hour or half hour; the quarter hour fits."""
    runs = [(utc(2026, 6, 8, 12, 30), utc(2026, 6, 8, 13, 30))]
    assert suggest_slots(runs, minutes=60, zone="Asia/Kathmandu") == [utc(2026, 6, 8, 12, 30)]


# ------------------------------------------------------------ the property


ODD_ZONES = [
    "Asia/Kathmandu", "Asia/Kolkata", "Pacific/Chatham", "Australia/Eucla", "Australia/Adelaide",
    "Australia/Lord_Howe", "America/St_Johns", "Pacific/Marquesas", "Asia/Tehran",
    "Asia/Yangon", "Europe/Berlin", "America/New_York", "UTC", "Pacific/Kiritimati",
]
# Weeks with a switch in some of those zones (Chatham and Lord Howe in April and September,
# Adelaide in April and October, St John's and New York in March and November, Berlin in March
# and October) and weeks without one.
SWITCH_WEEKS = [
    utc(2026, 3, 2), utc(2026, 3, 23), utc(2026, 3, 30), utc(2026, 4, 6), utc(2026, 6, 1),
    utc(2026, 9, 21), utc(2026, 9, 28), utc(2026, 10, 5), utc(2026, 10, 26), utc(2026, 11, 2),
]
quarter_windows = st.lists(
    st.builds(
        lambda day, a, length: Window(day, a * 15, min(a * 15 + length * 15, 1440)),
        st.integers(0, 6), st.integers(0, 95), st.integers(1, 40),
    ),
    min_size=1, max_size=4,
)
any_week = st.sampled_from(SWITCH_WEEKS) | st.integers(0, 104).map(
    lambda k: utc(2026, 1, 5) + timedelta(days=7 * k)
)


@settings(max_examples=150, deadline=None)
@given(quarter_windows, st.sampled_from(ODD_ZONES), quarter_windows, st.sampled_from(ODD_ZONES),
       any_week)
@example([Window(0, 18 * 60, 21 * 60)], "Asia/Kathmandu", [Window(0, 18 * 60, 21 * 60)],
         "Asia/Kolkata", utc(2026, 6, 1))
@example([Window(6, 120, 240)], "Pacific/Chatham", [Window(5, 0, 1440), Window(6, 0, 1440)],
         "UTC", utc(2026, 9, 21))
def test_bitset_overlap_equals_exact_interval_arithmetic_in_any_zone(
    a: list[Window], zone_a: str, b: list[Window], zone_b: str, week: datetime
) -> None:
    mask_a, mask_b = utc_slot_mask(a, zone_a, week), utc_slot_mask(b, zone_b, week)
    exact = intersect(exact_intervals(a, zone_a, week), exact_intervals(b, zone_b, week))
    merged: list[Interval] = []
    for s, e in exact:  # touching pieces read as one, as the mask's runs do
        if merged and merged[-1][1] == s:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    assert mask_to_utc_intervals(mask_a & mask_b, week) == merged
    assert overlap_minutes(mask_a, mask_b) == minutes(exact)
    # The matcher's vectorised masks and popcounts count the same minutes.
    p = encode([Seeker("a", zone_a, tuple(a)), Seeker("b", zone_b, tuple(b))],
               CommunitySettings(overlap_weeks=1), [week], week - timedelta(days=1))
    i = next(k for k, s in enumerate(p.seekers) if s.id == "a")
    j = 1 - i
    slots = evaluate_pairs(p, np.array([i]), np.array([j])).overlap_slots
    assert int(slots[0]) * SLOT_MINUTES == minutes(exact)
    assert p.week_masks(i) == [mask_a] and p.week_masks(j) == [mask_b]


def test_every_zone_offset_in_use_is_a_whole_number_of_slots() -> None:
    """The resolution's premise: every IANA zone's UTC offset, at every switch in 2026-2027,
    is a multiple of SLOT_MINUTES (so quarter-hour wall times map onto whole UTC slots)."""
    from zoneinfo import available_timezones

    assert SLOTS_PER_WEEK * SLOT_MINUTES == 7 * 24 * 60
    for name in sorted(available_timezones()):
        tz = ZoneInfo(name)
        moment = utc(2026, 1, 1)
        while moment < utc(2028, 1, 1):
            offset = moment.astimezone(tz).utcoffset()
            assert offset is not None
            assert offset.total_seconds() % (SLOT_MINUTES * 60) == 0, (name, moment, offset)
            moment += timedelta(days=7)


# ------------------------------------------------------------ input off the quarter hour


@pytest.mark.parametrize(
    ("text", "suggested", "typed"),
    [("Mon 18:10-19:00", "18:15", "18:10"), ("Tue 6pm-7:20pm", "19:15", "7:20pm"),
     ("weekdays 18:00-21:05", "21:00", "21:05")],
)
def test_times_off_the_quarter_hour_are_refused_politely_not_rounded(
    text: str, suggested: str, typed: str
) -> None:
    with pytest.raises(AvailabilityError) as caught:
        parse_availability(text, quarter_hours=True)
    message = str(caught.value)
    assert "quarter hour" in message and f"{suggested} instead of {typed}" in message
    assert caught.value.part == text
    # Quarter hours pass, and text saved before the rule still reads.
    assert parse_availability("Mon 18:15-19:45", quarter_hours=True) == (Window(0, 1095, 1185),)
    assert parse_availability(text)


def test_a_pool_window_off_the_quarter_hour_names_the_member_and_field() -> None:
    raw = {"members": [{"id": "ana", "zone": "UTC",
                        "availability": [{"day": "mon", "start": "18:10", "end": "19:00"}]}]}
    with pytest.raises(PoolFormatError) as caught:
        parse_pool(raw)
    assert (caught.value.member, caught.value.field) == ("ana", "availability[0].start")
    assert "quarter hour" in caught.value.problem


def test_the_next_7_days_count_a_run_at_the_horizon_only_up_to_it() -> None:
    """At 12:30 UTC on a Monday two Kathmandu members free Mon-Fri 18:00-19:00 (12:15-13:15
    UTC) share 45 min today and 15 min next Monday before the 7 days end: 5 h in all, not the
    5 h 45 min counted when next Monday's run was kept whole."""
    a = profile(1, "Asia/Kathmandu", "Mon-Fri 18:00-19:00")
    b = profile(2, "Asia/Kathmandu", "Mon-Fri 18:00-19:00")
    now = utc(2026, 6, 1, 12, 30)
    shown, lines = overlap_summary(a, b, now)
    assert shown == 5 * 60
    horizon = int(utc(2026, 6, 8, 12, 30).timestamp())
    assert lines[-1].endswith(f"<t:{horizon}:t>")
    assert lines[0] == (f"• <t:{int(now.timestamp())}:F> – "
                        f"<t:{int(utc(2026, 6, 1, 13, 15).timestamp())}:t>")

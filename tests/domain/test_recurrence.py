"""Meetings keep their local wall time across daylight-saving changes and fire once each."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.errors import RecurrenceError, TimeZoneError
from bot.domain.recurrence import (
    Recurrence,
    local_to_utc,
    next_occurrence,
    occurrence_key,
    occurrences,
)

TUESDAY, SUNDAY = 1, 6


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


# --- weekly meetings across the changes, in both hemispheres ---------------------------------


@pytest.mark.parametrize(
    ("zone", "changes"),
    [
        ("Europe/Berlin", (date(2026, 3, 29), date(2026, 10, 25))),
        ("America/New_York", (date(2026, 3, 8), date(2026, 11, 1))),
        ("Australia/Sydney", (date(2026, 4, 5), date(2026, 10, 4))),
    ],
)
def test_a_pair_meeting_every_tuesday_evening_keeps_its_local_time_all_year(
    zone: str, changes: tuple[date, date]
) -> None:
    rec = Recurrence(TUESDAY, time(18, 30), zone)
    found = occurrences(rec, utc(2026, 1, 1), utc(2027, 1, 1))

    assert len(found) == 52  # every Tuesday of 2026, once
    assert all(m.tzinfo is UTC for m in found)
    for moment in found:
        wall = local(moment, zone)
        assert (wall.weekday(), wall.time()) == (TUESDAY, time(18, 30))
    offsets = {local(m, zone).utcoffset() for m in found}
    assert len(offsets) == 2  # the UTC time really did move with the clocks
    for change in changes:
        before = next(m for m in reversed(found) if m.date() < change)
        after = next(m for m in found if m.date() > change)
        assert after - before != timedelta(days=7)


@pytest.mark.parametrize(
    ("zone", "change_day", "wall", "expected_utc"),
    [
        # Sunday morning meetings on the very day of each change.
        ("Europe/Berlin", date(2026, 3, 29), time(9, 0), utc(2026, 3, 29, 7, 0)),
        ("Europe/Berlin", date(2026, 10, 25), time(9, 0), utc(2026, 10, 25, 8, 0)),
        ("America/New_York", date(2026, 3, 8), time(9, 0), utc(2026, 3, 8, 13, 0)),
        ("America/New_York", date(2026, 11, 1), time(9, 0), utc(2026, 11, 1, 14, 0)),
        ("Australia/Sydney", date(2026, 4, 5), time(9, 0), utc(2026, 4, 4, 23, 0)),
        ("Australia/Sydney", date(2026, 10, 4), time(9, 0), utc(2026, 10, 3, 22, 0)),
    ],
)
def test_a_sunday_meeting_on_the_day_the_clocks_change_is_at_the_agreed_time(
    zone: str, change_day: date, wall: time, expected_utc: datetime
) -> None:
    rec = Recurrence(SUNDAY, wall, zone)
    window = occurrences(rec, utc(2026, 1, 1), utc(2027, 1, 1))
    on_the_day = [m for m in window if local(m, zone).date() == change_day]
    assert on_the_day == [expected_utc]


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected_utc", "expected_wall"),
    [
        ("Europe/Berlin", date(2026, 3, 29), time(2, 30), utc(2026, 3, 29, 1, 0), time(3, 0)),
        ("America/New_York", date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 0), time(3, 0)),
        ("Australia/Sydney", date(2026, 10, 4), time(2, 30), utc(2026, 10, 3, 16), time(3, 0)),
        ("Europe/Berlin", date(2026, 3, 29), time(2, 0), utc(2026, 3, 29, 1, 0), time(3, 0)),
        ("Europe/Berlin", date(2026, 3, 29), time(3, 0), utc(2026, 3, 29, 1, 0), time(3, 0)),
    ],
)
def test_a_meeting_in_the_spring_forward_gap_moves_to_the_end_of_the_gap(
    zone: str, day: date, wall: time, expected_utc: datetime, expected_wall: time
) -> None:
    rec = Recurrence(day.weekday(), wall, zone)
    found = occurrences(rec, utc(2026, 1, 1), utc(2027, 1, 1))
    shifted = [m for m in found if local(m, zone).date() == day]
    assert shifted == [expected_utc]
    assert local(shifted[0], zone).time() == expected_wall


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected_utc"),
    [
        ("Europe/Berlin", date(2026, 10, 25), time(2, 30), utc(2026, 10, 25, 0, 30)),
        ("America/New_York", date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30)),
        ("Australia/Sydney", date(2026, 4, 5), time(2, 30), utc(2026, 4, 4, 15, 30)),
    ],
)
def test_a_meeting_in_the_repeated_hour_fires_once_at_the_first_one(
    zone: str, day: date, wall: time, expected_utc: datetime
) -> None:
    rec = Recurrence(SUNDAY, wall, zone)
    found = occurrences(rec, utc(2026, 1, 1), utc(2027, 1, 1))
    on_the_day = [m for m in found if local(m, zone).date() == day]
    assert on_the_day == [expected_utc]
    assert local(expected_utc, zone).fold == 0


# --- every second week -----------------------------------------------------------------------


def test_every_second_sunday_in_kolkata_follows_the_anchor_week() -> None:
    rec = Recurrence(SUNDAY, time(9, 0), "Asia/Kolkata", interval_weeks=2, anchor=date(2026, 3, 1))
    found = occurrences(rec, utc(2026, 2, 1), utc(2026, 5, 1))
    days = [local(m, "Asia/Kolkata").date() for m in found]
    assert days == [date(2026, 3, 1) + timedelta(weeks=2 * k) for k in range(5)]
    assert found[0] == utc(2026, 3, 1, 3, 30)


def test_an_anchor_midweek_starts_on_the_next_meeting_day() -> None:
    rec = Recurrence(SUNDAY, time(9, 0), "Asia/Kolkata", interval_weeks=2, anchor=date(2026, 3, 4))
    assert rec.first_date == date(2026, 3, 8)
    assert next_occurrence(rec, utc(2026, 1, 1)) == utc(2026, 3, 8, 3, 30)


def test_the_other_pair_in_the_off_weeks_never_collides() -> None:
    odd = Recurrence(SUNDAY, time(9, 0), "UTC", interval_weeks=2, anchor=date(2026, 3, 1))
    even = Recurrence(SUNDAY, time(9, 0), "UTC", interval_weeks=2, anchor=date(2026, 3, 8))
    span = (utc(2026, 3, 1), utc(2027, 3, 1))
    assert not set(occurrences(odd, *span)) & set(occurrences(even, *span))
    assert sorted(occurrences(odd, *span) + occurrences(even, *span)) == occurrences(
        Recurrence(SUNDAY, time(9, 0), "UTC", anchor=date(2026, 3, 1)), *span
    )


# --- next occurrence and keys ----------------------------------------------------------------


def test_next_occurrence_is_strictly_after_the_given_moment() -> None:
    rec = Recurrence(TUESDAY, time(18, 30), "America/New_York")
    first = next_occurrence(rec, utc(2026, 3, 1))
    assert first == utc(2026, 3, 3, 23, 30)
    assert next_occurrence(rec, first) == utc(2026, 3, 10, 22, 30)
    assert next_occurrence(rec, first - timedelta(microseconds=1)) == first


def test_the_scheduler_key_names_the_occurrence_in_utc() -> None:
    at = datetime(2026, 3, 29, 18, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert occurrence_key("reminder", "pair42", at) == "reminder:pair42:2026-03-29T16:30Z"
    assert occurrence_key("checkin", 7, at.astimezone(UTC)) == "checkin:7:2026-03-29T16:30Z"
    assert occurrence_key("x", 1, utc(2026, 1, 1, 0, 0, 5)) == "x:1:2026-01-01T00:00:05Z"


@pytest.mark.parametrize(("kind", "target"), [("", "p"), ("a:b", "p"), ("k", "p:q"), ("k", " ")])
def test_keys_refuse_parts_that_could_make_them_collide(kind: str, target: str) -> None:
    with pytest.raises(ValueError):
        occurrence_key(kind, target, utc(2026, 1, 1))


def test_naive_datetimes_are_refused() -> None:
    rec = Recurrence(TUESDAY, time(18, 30), "UTC")
    naive = datetime(2026, 1, 1)  # noqa: DTZ001
    with pytest.raises(ValueError):
        occurrences(rec, naive, utc(2026, 2, 1))
    with pytest.raises(ValueError):
        next_occurrence(rec, naive)
    with pytest.raises(ValueError):
        occurrence_key("k", "t", naive)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"weekday": 7},
        {"weekday": -1},
        {"interval_weeks": 3},
        {"interval_weeks": 0},
        {"time": time(18, 30, 15)},
    ],
)
def test_impossible_rhythms_are_refused_kindly(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"weekday": 1, "time": time(18, 30), "zone": "UTC"} | kwargs
    with pytest.raises(RecurrenceError):
        Recurrence(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("zone", ["europe/berlin", "../../etc/passwd", "Mars/Olympus"])
def test_a_rhythm_in_an_unknown_zone_is_refused(zone: str) -> None:
    with pytest.raises(TimeZoneError):
        Recurrence(TUESDAY, time(18, 30), zone)


def test_describe_reads_like_the_agreement() -> None:
    rec = Recurrence(SUNDAY, time(9, 0), "Asia/Kolkata", interval_weeks=2)
    assert rec.describe() == "every second Sunday at 09:00 (Asia/Kolkata)"


# --- properties ------------------------------------------------------------------------------

ZONES = [
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Santiago",
    "America/Havana",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "Asia/Tehran",
    "Africa/Casablanca",
    "UTC",
]


@st.composite
def rhythms(draw: st.DrawFn) -> Recurrence:
    return Recurrence(
        weekday=draw(st.integers(0, 6)),
        time=time(
            draw(st.one_of(st.integers(0, 3), st.integers(0, 23))),
            draw(st.sampled_from([0, 15, 30, 45, 59])),
        ),
        zone=draw(st.sampled_from(ZONES)),
        interval_weeks=draw(st.sampled_from([1, 2])),
        anchor=draw(st.dates(date(2019, 1, 1), date(2031, 1, 1))),
    )


def _exists(day: date, wall: time, zone: ZoneInfo) -> bool:
    moment = datetime.combine(day, wall, tzinfo=zone)
    return moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == moment.replace(
        tzinfo=None
    )


@settings(deadline=None, max_examples=150)
@given(
    rec=rhythms(),
    start=st.datetimes(
        datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive, results are aware
        datetime(2030, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    days=st.integers(0, 400),
)
def test_every_occurrence_is_the_agreed_local_time_or_the_documented_gap_shift(
    rec: Recurrence, start: datetime, days: int
) -> None:
    zone = ZoneInfo(rec.zone)
    end = start + timedelta(days=days)
    found = occurrences(rec, start, end)

    assert all(start <= m < end and m.utcoffset() == timedelta(0) for m in found)
    assert all(a < b for a, b in itertools.pairwise(found))
    for a, b in itertools.pairwise(found):
        assert b - a >= timedelta(weeks=rec.interval_weeks) - timedelta(hours=3)
    for moment in found:
        wall = moment.astimezone(zone)
        meeting_day = wall.date() if wall.weekday() == rec.weekday else wall.date() - timedelta(1)
        assert meeting_day >= rec.anchor
        assert (meeting_day - rec.first_date).days % (7 * rec.interval_weeks) == 0
        if (wall.weekday(), wall.time()) != (rec.weekday, rec.time):
            assert not _exists(meeting_day, rec.time, zone)
            assert (moment - timedelta(seconds=1)).astimezone(zone).utcoffset() != (
                wall.utcoffset()
            )
            assert moment == local_to_utc(meeting_day, rec.time, zone)
    if found:
        assert next_occurrence(rec, start - timedelta(microseconds=1)) == found[0]
        for a, b in itertools.pairwise(found):
            assert next_occurrence(rec, a) == b
    else:
        assert next_occurrence(rec, start - timedelta(microseconds=1)) >= end


@settings(deadline=None, max_examples=100)
@given(
    day=st.dates(date(2000, 1, 1), date(2040, 1, 1)),
    wall=st.times(),
    zone=st.sampled_from(ZONES),
)
def test_a_local_time_maps_to_itself_or_to_the_end_of_its_gap(
    day: date, wall: time, zone: str
) -> None:
    tz = ZoneInfo(zone)
    wall = wall.replace(microsecond=0)
    moment = local_to_utc(day, wall, tz)
    back = moment.astimezone(tz)
    if _exists(day, wall, tz):
        assert back.replace(tzinfo=None) == datetime.combine(day, wall)
        assert back.fold == 0
    else:
        assert back.replace(tzinfo=None) > datetime.combine(day, wall)
        assert (moment - timedelta(seconds=1)).astimezone(tz).replace(
            tzinfo=None
        ) < datetime.combine(day, wall)


def _transitions(zone: str, first: date, last: date) -> list[datetime]:
    """Instants (UTC) in [first, last) at which ``zone`` changes its UTC offset."""
    tz = ZoneInfo(zone)
    found = []
    moment = datetime.combine(first, time(), tzinfo=UTC)
    while moment.date() < last:
        later = moment + timedelta(days=1)
        if moment.astimezone(tz).utcoffset() != later.astimezone(tz).utcoffset():
            low, high = moment, later
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if middle.astimezone(tz).utcoffset() == low.astimezone(tz).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high.replace(second=0, microsecond=0))
        moment = later
    return found


TRANSITIONS = [
    (zone, change)
    for zone in ZONES
    for change in _transitions(zone, date(2025, 1, 1), date(2028, 1, 1))
]


@settings(deadline=None, max_examples=150)
@given(
    picked=st.sampled_from(TRANSITIONS),
    shift=st.integers(-90, 90),
    interval=st.sampled_from([1, 2]),
    weeks_before=st.integers(0, 3),
)
def test_meetings_right_at_a_clock_change_fire_once_at_the_documented_time(
    picked: tuple[str, datetime], shift: int, interval: int, weeks_before: int
) -> None:
    zone, change = picked
    tz = ZoneInfo(zone)
    # A wall time near the change, read with the offset from before it: inside the gap or fold.
    wall = (change.astimezone(tz) - timedelta(seconds=1)).utcoffset()
    assert wall is not None
    local_wall = (change + wall + timedelta(minutes=shift)).replace(tzinfo=None)
    day, at = local_wall.date(), local_wall.time()
    rec = Recurrence(
        day.weekday(),
        at,
        zone,
        interval_weeks=interval,
        anchor=day - timedelta(weeks=interval * weeks_before),
    )
    found = occurrences(rec, change - timedelta(days=30), change + timedelta(days=30))
    near = [m for m in found if abs(m - change) < timedelta(days=1)]
    assert len(near) == 1
    moment = near[0]
    assert moment == local_to_utc(day, at, tz)
    back = moment.astimezone(tz)
    if _exists(day, at, tz):
        assert (back.date(), back.time(), back.fold) == (day, at, 0)
    else:
        assert moment == change
    assert all(a < b for a, b in itertools.pairwise(found))

"""Weekly availability: windows in a member's local time, and UTC quarter-hour bitmasks.

Members think in their own wall-clock time ("Tuesday evenings"); matching needs one shared axis.
A week is 672 quarter-hour UTC slots starting Monday 00:00 UTC, and a member's availability for
a concrete week is an int with one bit per slot. Every UTC offset in use today is a multiple of
15 minutes (Asia/Kathmandu +05:45, Pacific/Chatham +12:45/+13:45, Australia/Eucla +08:45,
Asia/Kolkata +05:30 ...), and members type times on the quarter hour (the profile form refuses
18:10), so a window maps onto whole slots and the masks are exact to the minute: the overlap the
matcher counts is the overlap members read (docs/availability-resolution.md). Half-hour slots
used to round a window starting at :45 UTC inwards (Kathmandu 18:00-21:00 became 18:15-20:45).

Masks are built on the real calendar dates, so a week in which only one of two zones has
switched to summer time gives a different mask: that is why matching looks at the actual coming
weeks rather than at an abstract week.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

SLOT_MINUTES = 15
"""The resolution of availability and overlap, everywhere (matching, posts, messages)."""
SLOTS_PER_WEEK = 7 * 24 * 60 // SLOT_MINUTES  # 672
MINUTES_PER_DAY = 1440
WEEK = timedelta(days=7)
FULL_WEEK_MASK = (1 << SLOTS_PER_WEEK) - 1


@dataclass(frozen=True, order=True)
class Window:
    """A weekly window in the member's LOCAL time; never crosses midnight (the parser splits)."""

    day: int
    """0=Monday .. 6=Sunday."""
    start: int
    """Minutes after local midnight, 0 <= start < end."""
    end: int
    """Minutes after local midnight, end <= 1440."""

    def __post_init__(self) -> None:
        if not 0 <= self.day <= 6:
            raise ValueError(f"day must be 0..6 (Monday..Sunday), not {self.day}")
        if not 0 <= self.start < self.end <= MINUTES_PER_DAY:
            raise ValueError(
                f"need 0 <= start < end <= 1440 minutes, not start={self.start} end={self.end}"
            )


def _zone(zone: ZoneInfo | str) -> ZoneInfo:
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)


def _check_week_start(week_start: datetime) -> datetime:
    if week_start.tzinfo is None:
        raise ValueError("week_start must be timezone-aware")
    ws = week_start.astimezone(UTC)
    if ws.weekday() != 0 or (ws.hour, ws.minute, ws.second, ws.microsecond) != (0, 0, 0, 0):
        raise ValueError(f"week_start must be a Monday 00:00 UTC, not {ws.isoformat()}")
    return ws


def week_start_of(moment: datetime) -> datetime:
    """Monday 00:00 UTC of the UTC week containing `moment`."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    utc = moment.astimezone(UTC)
    monday = utc.date() - timedelta(days=utc.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)


def coming_weeks(now: datetime, count: int) -> tuple[datetime, ...]:
    """The `count` week starts after `now`: a round's pairs first meet the week after it runs."""
    first = week_start_of(now)
    if first < now:
        first += WEEK
    return tuple(first + i * WEEK for i in range(count))


@lru_cache(maxsize=4096)
def _week_plan(zone: ZoneInfo, week_start: datetime) -> tuple[tuple[tuple[int | None, date], ...],
                                                               ...]:
    """Per weekday (0=Monday), the local dates of that weekday that can touch the UTC week, each
    with the minutes from `week_start` to its local midnight, or None when the UTC offset
    changes that day (then windows take the careful path)."""
    # UTC offsets lie within -12h..+14h, so local dates from the day before to the day after
    # the UTC week cover every window that can reach into it.
    plan: list[list[tuple[int | None, date]]] = [[] for _ in range(7)]
    first = week_start.date() - timedelta(days=1)
    for offset in range(9):
        day = first + timedelta(days=offset)
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        next_midnight = midnight + timedelta(days=1)
        base: int | None = None
        if midnight.utcoffset() == next_midnight.utcoffset():
            base = int((midnight.astimezone(UTC) - week_start).total_seconds()) // 60
        plan[day.weekday()].append((base, day))
    return tuple(tuple(days) for days in plan)


@lru_cache(maxsize=256)
def _valid_week(week_start: datetime) -> datetime:
    return _check_week_start(week_start)


def _first_reaching(zone: ZoneInfo, day: date, minute: int) -> datetime:
    """The first instant the local clock on `day` shows `minute` past midnight or later (UTC).
    Normally that wall time itself (its first occurrence when clocks go back); a wall time
    skipped when clocks go forward is reached at the switch itself."""
    wall = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(minutes=minute)
    early = wall.astimezone(UTC)
    if early.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return early  # the wall time exists (fold=0 is its first occurrence)
    # In a gap: fold=1 reads it with the later offset (before the switch), fold=0 with the
    # earlier one (after it); the switch lies between, found to the minute.
    lo = wall.replace(fold=1).astimezone(UTC)
    hi = early
    naive = wall.replace(tzinfo=None)
    while hi - lo > timedelta(minutes=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return hi


def _switch_day_span(zone: ZoneInfo, day: date, w: Window, ws: datetime) -> tuple[int, int]:
    """A window on a day the clocks change runs from the first instant the local clock shows
    its start to the first instant it shows its end: on the night clocks go back, the first
    occurrence of each; a start or end skipped when clocks go forward is reached at the switch."""
    start = _first_reaching(zone, day, w.start) - ws
    end = _first_reaching(zone, day, w.end) - ws
    return int(start.total_seconds()) // 60, int(end.total_seconds()) // 60


_WEEK_MINUTES = SLOTS_PER_WEEK * SLOT_MINUTES


def utc_slot_mask(windows: Iterable[Window], zone: ZoneInfo | str, week_start: datetime) -> int:
    """672-bit int: bit i set when UTC quarter-hour slot i of the week starting at `week_start` (an
    aware Monday 00:00 UTC) is fully inside the member's local windows placed on the real
    calendar dates of that week (so DST shifts count; windows from adjacent local days that spill
    into this UTC week are included). Touching windows count as one, so a window the parser split
    at midnight still covers the slot across it in zones with a :30 or :45 offset. On the night
    clocks go back, a window runs from the first occurrence of its start to the first occurrence
    of its end, and a start or end the clocks skip when they go forward is reached at the switch."""
    ws = _valid_week(week_start)
    tz = _zone(zone)
    plan = _week_plan(tz, ws)
    spans = []
    for w in windows:
        for base, day in plan[w.day]:
            if base is None:
                start, end = _switch_day_span(tz, day, w, ws)
                if end > start:
                    spans.append((start, end))
            elif base + w.end > 0 and base + w.start < _WEEK_MINUTES:
                spans.append((base + w.start, base + w.end))
    if not spans:
        return 0
    spans.sort()
    mask = 0
    cur_start, cur_end = spans[0]
    for start, end in spans[1:]:
        if start <= cur_end:
            if end > cur_end:
                cur_end = end
            continue
        mask |= _span_bits(cur_start, cur_end)
        cur_start, cur_end = start, end
    return mask | _span_bits(cur_start, cur_end)


def _span_bits(start: int, end: int) -> int:
    first = max(-(-start // SLOT_MINUTES), 0)
    last = min(end // SLOT_MINUTES, SLOTS_PER_WEEK)
    return ((1 << (last - first)) - 1) << first if last > first else 0


@lru_cache(maxsize=4096)
def same_mask_every_week(zone: ZoneInfo | str, weeks: tuple[datetime, ...]) -> bool:
    """True when the zone's UTC offsets around each of `weeks` are those of the first, so any
    windows give the same mask in all of them (no DST switch in between)."""
    tz = _zone(zone)
    plans = [_week_plan(tz, _valid_week(w)) for w in weeks]
    return all(
        [base for day in plan for base, _ in day] == [base for day in plans[0] for base, _ in day]
        and all(base is not None for day in plan for base, _ in day)
        for plan in plans
    )


def overlap_minutes(a: int, b: int) -> int:
    """Minutes of a week two masks share."""
    return SLOT_MINUTES * (a & b).bit_count()


def slot_runs(mask: int) -> list[tuple[int, int]]:
    """Maximal runs of set bits as (first slot, end slot exclusive), in order."""
    runs: list[tuple[int, int]] = []
    i = 0
    while mask:
        low = (mask & -mask).bit_length() - 1
        mask >>= low
        i += low
        length = (~mask & (mask + 1)).bit_length() - 1
        runs.append((i, i + length))
        mask >>= length
        i += length
    return runs


def mask_to_utc_intervals(mask: int, week_start: datetime) -> list[tuple[datetime, datetime]]:
    """The UTC intervals a mask covers in the concrete week, for explanations and meeting slots."""
    ws = _check_week_start(week_start)
    slot = timedelta(minutes=SLOT_MINUTES)
    return [(ws + a * slot, ws + b * slot) for a, b in slot_runs(mask)]

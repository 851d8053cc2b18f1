"""Weekly availability: windows in a member's local time, and UTC half-hour bitmasks.

Members think in their own wall-clock time ("Tuesday evenings"); matching needs one shared axis.
A week is 336 half-hour UTC slots starting Monday 00:00 UTC, and a member's availability for a
concrete week is an int with one bit per slot. Masks are built on the real calendar dates, so a
week in which only one of two zones has switched to summer time gives a different mask: that is
why matching looks at the actual coming weeks rather than at an abstract week.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

SLOTS_PER_WEEK = 336
SLOT_MINUTES = 30
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
def _local_days(zone: ZoneInfo, week_start: datetime) -> tuple[tuple[int, int | None, date], ...]:
    """For each local date that can touch the UTC week: (weekday, minutes from week_start to its
    local midnight when that day has no UTC-offset change, else None, the date)."""
    # UTC offsets lie within -12h..+14h, so local dates from the day before to the day after
    # the UTC week cover every window that can reach into it.
    out = []
    first = week_start.date() - timedelta(days=1)
    for offset in range(9):
        day = first + timedelta(days=offset)
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        next_midnight = midnight + timedelta(days=1)
        base: int | None = None
        if midnight.utcoffset() == next_midnight.utcoffset():
            base = int((midnight.astimezone(UTC) - week_start).total_seconds()) // 60
        out.append((day.weekday(), base, day))
    return tuple(out)


def _utc_intervals(
    windows: Iterable[Window], zone: ZoneInfo, week_start: datetime
) -> Iterator[tuple[int, int]]:
    """Each window placed on each real local date that can touch the UTC week, as minutes from
    `week_start`."""
    by_day: dict[int, list[Window]] = {}
    for w in windows:
        by_day.setdefault(w.day, []).append(w)
    if not by_day:
        return
    for weekday, base, day in _local_days(zone, week_start):
        for w in by_day.get(weekday, ()):
            if base is not None:
                yield base + w.start, base + w.end
                continue
            # A DST switch that day: aware + timedelta is wall-clock arithmetic, so 19:00
            # stays 19:00 and the UTC offset is the one in force at that wall time.
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            start = (midnight + timedelta(minutes=w.start)).astimezone(UTC) - week_start
            end = (midnight + timedelta(minutes=w.end)).astimezone(UTC) - week_start
            if end > start:
                yield int(start.total_seconds()) // 60, int(end.total_seconds()) // 60


def utc_slot_mask(windows: Iterable[Window], zone: ZoneInfo | str, week_start: datetime) -> int:
    """336-bit int: bit i set when UTC half-hour slot i of the week starting at `week_start` (an
    aware Monday 00:00 UTC) is fully inside the member's local windows placed on the real
    calendar dates of that week (so DST shifts count; windows from adjacent local days that spill
    into this UTC week are included). Touching windows count as one, so a window the parser split
    at midnight still covers the slot across it in zones with a :30 or :45 offset."""
    ws = _check_week_start(week_start)
    intervals = sorted(_utc_intervals(windows, _zone(zone), ws))
    mask = 0
    cur_start = cur_end = -(1 << 30)
    for start, end in [*intervals, (1 << 30, 1 << 30)]:
        if start <= cur_end:
            cur_end = max(cur_end, end)
            continue
        if cur_end > cur_start:
            first = max(-(-cur_start // SLOT_MINUTES), 0)
            last = min(cur_end // SLOT_MINUTES, SLOTS_PER_WEEK)
            if last > first:
                mask |= ((1 << (last - first)) - 1) << first
        cur_start, cur_end = start, end
    return mask


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

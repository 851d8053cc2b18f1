"""Recurring local times ("every Tuesday 18:30 in America/New_York") turned into UTC instants.

Pairs agree on a wall-clock time in one member's zone, so occurrences are computed on local dates
and converted to UTC one by one, which keeps them at the agreed local time across daylight-saving
changes. Two rules settle the local times that don't map to exactly one instant:

* **Gap** (spring forward): a local time that doesn't exist moves to the first valid instant after
  the gap — 02:30 on the day Berlin jumps from 02:00 to 03:00 fires at 03:00 local (01:00 UTC).
* **Fold** (fall back): a local time that happens twice fires once, at the first of the two
  (``fold=0``) — 02:30 on the day Berlin goes from 03:00 back to 02:00 fires at 02:30 CEST.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final

from bot.domain.errors import RecurrenceError
from bot.domain.timezones import validate_zone

EPOCH: Final = date(2024, 1, 1)
"""A Monday; the default anchor, so weekly rhythms need none and biweekly ones get a fixed phase."""

_DAY_NAMES: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")


def local_to_utc(day: date, at: dt.time, zone: tzinfo) -> datetime:
    """The UTC instant of wall time ``at`` on ``day`` in ``zone``, by the gap and fold rules."""
    wall = datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=zone)
    first = wall.astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return first
    # In a gap, fold=0 reads the wall time with the offset from before the jump (an instant after
    # it) and fold=1 with the offset from after (an instant before it); the jump lies between.
    low = int(wall.replace(fold=1).timestamp())
    high = int(first.timestamp())
    offset_after = first.astimezone(zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


@dataclass(frozen=True)
class Recurrence:
    """A meeting rhythm: ``weekday`` (0=Monday) at local ``time`` in IANA ``zone``.

    ``interval_weeks`` is 1 (weekly) or 2 (every second week). ``anchor`` is a local date from
    which the rhythm starts: the first occurrence is the first ``weekday`` on or after it, later
    ones every ``interval_weeks`` weeks, and there are none before it. For weekly rhythms the
    default anchor is effectively "always"; for biweekly ones it fixes which weeks.
    """

    weekday: int
    time: dt.time
    zone: str
    interval_weeks: int = 1
    anchor: date = EPOCH

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise RecurrenceError("The meeting day must be one of Monday to Sunday.")
        if self.interval_weeks not in (1, 2):
            raise RecurrenceError("Meetings can be every week or every two weeks.")
        if self.time.tzinfo is not None:
            raise ValueError("Recurrence.time is a local wall time and must be naive")
        if self.time.second or self.time.microsecond:
            raise RecurrenceError("Please give the meeting time in whole minutes, like 18:30.")
        validate_zone(self.zone)

    @property
    def tz(self) -> tzinfo:
        return validate_zone(self.zone)

    @property
    def first_date(self) -> date:
        """The local date of the first occurrence."""
        return self.anchor + timedelta(days=(self.weekday - self.anchor.weekday()) % 7)

    def describe(self) -> str:
        """``"every Tuesday at 18:30 (America/New_York)"`` for messages."""
        every = "every" if self.interval_weeks == 1 else "every second"
        return f"{every} {_DAY_NAMES[self.weekday]} at {self.time:%H:%M} ({self.zone})"


def _dates_from(rec: Recurrence, earliest: date) -> date:
    """The first occurrence date of ``rec`` on or after ``earliest``."""
    step = 7 * rec.interval_weeks
    first = rec.first_date
    if earliest <= first:
        return first
    periods = -(-(earliest - first).days // step)
    return first + timedelta(days=periods * step)


def occurrences(rec: Recurrence, start: datetime, end: datetime) -> list[datetime]:
    """Every occurrence in ``[start, end)``, as aware UTC datetimes, strictly increasing."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    if end <= start:
        return []
    zone = rec.tz
    step = timedelta(days=7 * rec.interval_weeks)
    # A local date's occurrence is at most a day or so away from its UTC date; a two-day margin
    # on both sides is safe for every zone (offsets span -12:00..+14:00).
    day = _dates_from(rec, start.astimezone(zone).date() - timedelta(days=2))
    last_day = end.astimezone(zone).date() + timedelta(days=2)
    found: list[datetime] = []
    while day <= last_day:
        moment = local_to_utc(day, rec.time, zone)
        if start <= moment < end:
            found.append(moment)
        day += step
    return found


def next_occurrence(rec: Recurrence, after: datetime) -> datetime:
    """The first occurrence strictly after ``after``, as an aware UTC datetime."""
    _require_aware(after, "after")
    zone = rec.tz
    step = timedelta(days=7 * rec.interval_weeks)
    day = _dates_from(rec, after.astimezone(zone).date() - timedelta(days=2))
    while True:
        moment = local_to_utc(day, rec.time, zone)
        if moment > after:
            return moment
        day += step


def occurrence_key(kind: str, target: str | int, at: datetime) -> str:
    """A stable unique key for one occurrence, e.g. ``"reminder:pair42:2026-03-29T16:30Z"``.

    ``at`` is written in UTC to the minute (to the second if it has seconds; smaller parts are
    dropped), so the same occurrence always yields the same key whichever zone ``at`` is in.
    ``kind`` and ``target`` may not contain ``:`` so that keys can't collide.
    """
    _require_aware(at, "at")
    target_text = str(target)
    for label, part in (("kind", kind), ("target", target_text)):
        if not part or ":" in part or any(ch.isspace() for ch in part):
            raise ValueError(f"occurrence_key {label} must be non-empty, without ':' or spaces")
    moment = at.astimezone(UTC)
    stamp = f"{moment:%Y-%m-%dT%H:%M}" if moment.second == 0 else f"{moment:%Y-%m-%dT%H:%M:%S}"
    return f"{kind}:{target_text}:{stamp}Z"

"""Weekly availability as members type it, and back as text they can read and edit.

Accepted input is a comma-separated list of presets (see :data:`PRESETS`) and day/time items::

    weekday evenings, weekend mornings
    Mon-Fri 18:00-21:00, Sat 09:00-12:00
    Tue,Thu 19:30-21:00
    Mon 09:00-10:00, 18:00-19:00        (a bare time range reuses the days before it)
    Sun 22:00-01:00                     (past midnight: Sun 22:00-24:00 and Mon 00:00-01:00)
    weekdays 7-9pm, weekends 10am-noon

Days are Mon..Sun (full names, ``Tues``/``Thurs`` and plurals too; ``weekdays``, ``weekends``,
``daily``), day ranges may wrap (``Fri-Mon``), times are 24-hour ``HH:MM`` (also ``18.30``, ``18``)
or 12-hour ``7pm``/``7:30 pm``, plus ``noon`` and ``midnight``. A range whose end is earlier than
its start is read as crossing midnight if it lasts at most 12 hours (``22:00-01:00``); otherwise
(``21:00-18:00``) it is refused as probably reversed. The result is normalised: overlapping or
touching windows of a day are merged and everything is sorted; windows never cross midnight.

Times a member types are kept exactly, so they must fall on a quarter hour (``18:00``, ``18:15``,
``18:30``, ``18:45``): availability and overlap are kept in quarter-hour slots (see
:data:`bot.domain.availability.SLOT_MINUTES` and docs/availability-resolution.md), and a time like
``18:10`` is refused with a friendly message rather than silently rounded. Text saved before that
rule is still read (``quarter_hours=False``); its odd minutes count only the whole quarter hours
inside each window.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final

from bot.domain.availability import SLOT_MINUTES, Window
from bot.domain.errors import AvailabilityError, echo
from bot.domain.recurrence import local_to_utc
from bot.domain.timezones import validate_zone

MINUTES_PER_DAY: Final = 1440
MAX_TEXT: Final = 500
MAX_WINDOWS: Final = 50
MAX_OVERNIGHT: Final = 12 * 60
"""Longest range accepted in the crossing-midnight form, in minutes."""

DAY_NAMES: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WEEKDAYS: Final = (0, 1, 2, 3, 4)
_WEEKEND: Final = (5, 6)
_ALL_DAYS: Final = (0, 1, 2, 3, 4, 5, 6)


def _windows(days: Iterable[int], start: str, end: str) -> tuple[Window, ...]:
    def minutes(text: str) -> int:
        hours, mins = text.split(":")
        return int(hours) * 60 + int(mins)

    return tuple(Window(day, minutes(start), minutes(end)) for day in days)


PRESETS: Final[dict[str, tuple[Window, ...]]] = {
    "weekday mornings": _windows(_WEEKDAYS, "06:00", "09:00"),
    "weekday afternoons": _windows(_WEEKDAYS, "13:00", "17:00"),
    "weekday evenings": _windows(_WEEKDAYS, "18:00", "21:00"),
    "weekend mornings": _windows(_WEEKEND, "09:00", "12:00"),
    "weekend afternoons": _windows(_WEEKEND, "13:00", "17:00"),
    "weekend evenings": _windows(_WEEKEND, "18:00", "21:00"),
    "weekdays": _windows(_WEEKDAYS, "09:00", "21:00"),
    "weekends": _windows(_WEEKEND, "09:00", "21:00"),
    "mornings": _windows(_WEEKDAYS, "06:00", "09:00") + _windows(_WEEKEND, "09:00", "12:00"),
    "afternoons": _windows(_ALL_DAYS, "13:00", "17:00"),
    "evenings": _windows(_ALL_DAYS, "18:00", "21:00"),
    "anytime": _windows(_ALL_DAYS, "00:00", "24:00"),
}
"""Preset phrases and their windows (local time). Mornings are earlier on weekdays (before work)
than at weekends. Singular forms ("weekday evening"), "weeknights" and "any time" work too."""

_PRESET_ALIASES: Final[dict[str, str]] = {
    **{name.removesuffix("s"): name for name in PRESETS},
    **{name: name for name in PRESETS},
    "weeknights": "weekday evenings",
    "weeknight": "weekday evenings",
    "any time": "anytime",
}

_DAY_WORDS: Final[dict[str, tuple[int, ...]]] = {
    **{
        word: (day,)
        for day, words in enumerate(
            (
                ("mon", "monday"),
                ("tue", "tues", "tuesday"),
                ("wed", "weds", "wednesday"),
                ("thu", "thur", "thurs", "thursday"),
                ("fri", "friday"),
                ("sat", "saturday"),
                ("sun", "sunday"),
            )
        )
        for base in words
        for word in (base, base + "s", base + ".")
    },
    "weekday": _WEEKDAYS,
    "weekdays": _WEEKDAYS,
    "weekend": _WEEKEND,
    "weekends": _WEEKEND,
    "daily": _ALL_DAYS,
    "everyday": _ALL_DAYS,
}
_DASH_WORDS: Final = frozenset({"-", "–", "—", "to", "until", "till"})
_FILLER_WORDS: Final = frozenset({"and", "&", "/", "+", "on", "from", "at", "every"})
_NAMED_TIMES: Final = {"noon": 12 * 60, "midday": 12 * 60, "midnight": 0}

_SEGMENT_SPLIT: Final = re.compile(r"[,;\n]")
_TOKEN: Final = re.compile(
    r"""
    (?P<time>\d+(?:[:.]\d+)*(?:\s*[ap]\.?m\b\.?)?)
    | (?P<word>[^\W\d_]+\.?)
    | (?P<dash>[-–—])
    | (?P<other>\S)
    """,
    re.VERBOSE | re.IGNORECASE,
)
_EVERY_DAY: Final = re.compile(r"\bevery\s+day\b", re.IGNORECASE)
_TIME: Final = re.compile(
    r"(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2}))?(?:\s*(?P<meridiem>[ap])\.?m\.?)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Token:
    kind: str  # "day", "time", "dash", "filler", "preset", "sep", "other"
    text: str
    segment: str
    days: tuple[int, ...] = ()
    preset: str = ""


@dataclass(frozen=True)
class _ClockTime:
    hour: int
    minute: int
    meridiem: str | None

    def minutes(self, meridiem: str | None) -> int:
        if meridiem is None:
            return self.hour * 60 + self.minute
        return (self.hour % 12 + (12 if meridiem == "p" else 0)) * 60 + self.minute


def _fail(segment: str, reason: str) -> AvailabilityError:
    return AvailabilityError(f"I couldn't read “{echo(segment)}”: {reason}", part=segment.strip())


def _normal_phrase(text: str) -> str:
    return " ".join(text.casefold().replace("-", " ").replace("_", " ").split())


def _tokens(text: str) -> Iterator[_Token]:
    for raw in _SEGMENT_SPLIT.split(text):
        segment = raw.strip()
        if not segment:
            continue
        phrase = _normal_phrase(segment)
        if phrase in _PRESET_ALIASES:
            yield _Token("preset", segment, segment, preset=_PRESET_ALIASES[phrase])
        else:
            yield from _segment_tokens(segment)
        yield _Token("sep", ",", segment)


def _segment_tokens(segment: str) -> Iterator[_Token]:
    for match in _TOKEN.finditer(_EVERY_DAY.sub("daily", segment)):
        text = match.group()
        lower = text.casefold()
        if match.lastgroup == "time" or lower in _NAMED_TIMES:
            yield _Token("time", text, segment)
        elif lower in _DAY_WORDS:
            yield _Token("day", text, segment, days=_DAY_WORDS[lower])
        elif lower in _DASH_WORDS:
            yield _Token("dash", text, segment)
        elif lower in _FILLER_WORDS:
            yield _Token("filler", text, segment)
        else:
            yield _Token("other", text, segment)


def _unknown(token: _Token) -> AvailabilityError:
    if token.text.rstrip(".").isalpha():
        word = token.text.rstrip(".")
        if not any(ch.isdigit() for ch in token.segment):
            close = difflib.get_close_matches(_normal_phrase(token.segment), list(PRESETS), n=1)
            hint = f"“{close[0]}”" if close else "“weekday evenings”"
            return _fail(
                token.segment,
                f"that isn't a preset I know (try {hint}, or a form like Mon-Fri 18:00-21:00)",
            )
        return _fail(token.segment, f"“{echo(word, 20)}” isn't a day (try Mon, Tue, …)")
    return _fail(token.segment, f"I didn't expect “{echo(token.text, 20)}” there")


def _clock(token: _Token) -> _ClockTime:
    lower = token.text.casefold()
    if lower in _NAMED_TIMES:
        minutes = _NAMED_TIMES[lower]
        return _ClockTime(minutes // 60, minutes % 60, None)
    match = _TIME.fullmatch(token.text)
    bad = _fail(token.segment, f"“{echo(token.text, 20)}” isn't a time (try 18:30 or 6:30pm)")
    if match is None:
        raise bad
    hour = int(match["hour"])
    minute = int(match["minute"] or 0)
    meridiem = match["meridiem"].casefold() if match["meridiem"] else None
    if minute > 59:
        raise bad
    if meridiem is not None and not 1 <= hour <= 12:
        raise bad
    if meridiem is None and (hour > 24 or (hour == 24 and minute)):
        raise bad
    return _ClockTime(hour, minute, meridiem)


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _range(start_token: _Token, end_token: _Token) -> tuple[int, int]:
    """Minutes of a typed range; ``end <= start`` means it ends on the next day."""
    first, last = _clock(start_token), _clock(end_token)
    end = last.minutes(last.meridiem)
    start = first.minutes(first.meridiem)
    bare_hour = first.meridiem is None and not start_token.text.startswith("0")
    if bare_hour and last.meridiem is not None and 1 <= first.hour <= 12:
        borrowed = first.minutes(last.meridiem)
        if borrowed < end:
            start = borrowed
    segment = start_token.segment
    if start >= MINUTES_PER_DAY:
        raise _fail(segment, "24:00 can only end a range")
    if end == MINUTES_PER_DAY:
        return start, end
    if end == start:
        raise _fail(segment, f"{_fmt(start)}-{_fmt(end)} starts and ends at the same time")
    if end < start and MINUTES_PER_DAY - start + end > MAX_OVERNIGHT:
        raise _fail(
            segment,
            f"{_fmt(start)}-{_fmt(end)} ends before it starts "
            "(for a time past midnight write it like 22:00-01:00)",
        )
    return start, end


def _off_quarter(start_token: _Token, end_token: _Token, start: int, end: int) -> AvailabilityError:
    """The polite refusal of a time off the quarter hour, suggesting the nearest one."""
    token, minutes = (start_token, start) if start % SLOT_MINUTES else (end_token, end)
    near = round(minutes / SLOT_MINUTES) * SLOT_MINUTES % MINUTES_PER_DAY
    segment = start_token.segment
    return AvailabilityError(
        f"In “{echo(segment)}”, please pick times on the quarter hour (:00, :15, :30 or :45), "
        f"for example {_fmt(near)} instead of {echo(token.text, 20)}.",
        part=segment.strip(),
    )


def _expand(days: Iterable[int], ranges: Iterable[tuple[int, int]]) -> Iterator[Window]:
    for day in days:
        for start, end in ranges:
            if end > start:
                yield Window(day, start, end)
            else:
                yield Window(day, start, MINUTES_PER_DAY)
                if end > 0:
                    yield Window((day + 1) % 7, 0, end)


def parse_availability(text: str, *, quarter_hours: bool = False) -> tuple[Window, ...]:
    """Windows for what a member typed, normalised; :class:`AvailabilityError` if unreadable.

    ``quarter_hours=True`` (what a member types now) also refuses a time that is not on a
    quarter hour, such as 18:10; without it (text already saved) such a time is read as is."""
    if len(text) > MAX_TEXT:
        raise AvailabilityError(
            f"That's a bit long: please keep your availability under {MAX_TEXT} characters."
        )
    if not text.strip():
        raise AvailabilityError(
            "Please tell me when you're free, for example “weekday evenings” "
            "or Mon-Fri 18:00-21:00."
        )
    tokens = list(_tokens(text))
    windows: list[Window] = []
    days: list[int] = []
    day_token: _Token | None = None
    ranges: list[tuple[int, int]] = []
    i = 0

    def flush() -> None:
        if days and not ranges and day_token is not None:
            raise _fail(day_token.segment, "which times? (try Mon 18:00-21:00)")
        windows.extend(_expand(days, ranges))

    while i < len(tokens):
        token = tokens[i]
        if token.kind == "day":
            if ranges:
                flush()
                days, ranges = [], []
            day_token = token
            following = tokens[i + 2] if i + 2 < len(tokens) else None
            if i + 1 < len(tokens) and tokens[i + 1].kind == "dash":
                if following is None or following.kind != "day" or len(following.days) != 1:
                    shown = echo(token.text, 20)
                    raise _fail(token.segment, f"“{shown}-” needs a last day, like Mon-Fri")
                if len(token.days) != 1:
                    raise _unknown(token)
                first, last = token.days[0], following.days[0]
                days.extend((first + k) % 7 for k in range((last - first) % 7 + 1))
                i += 3
                continue
            days.extend(token.days)
        elif token.kind == "time":
            end_index = i + 2
            if end_index >= len(tokens) or tokens[i + 1].kind != "dash":
                raise _fail(token.segment, "a time needs a start and an end, like 18:00-21:00")
            if tokens[end_index].kind != "time":
                raise _fail(token.segment, "a time needs a start and an end, like 18:00-21:00")
            if not days:
                raise _fail(token.segment, "which days? (try Mon-Fri 18:00-21:00)")
            start, end = _range(token, tokens[end_index])
            if quarter_hours and (start % SLOT_MINUTES or end % SLOT_MINUTES):
                raise _off_quarter(token, tokens[end_index], start, end)
            ranges.append((start, end))
            i = end_index + 1
            continue
        elif token.kind == "preset":
            flush()
            days, ranges, day_token = [], [], None
            windows.extend(PRESETS[token.preset])
        elif token.kind == "dash":
            raise _fail(token.segment, "a dash needs something on both sides, like Mon-Fri")
        elif token.kind == "other":
            raise _unknown(token)
        i += 1
    flush()
    merged = normalize_windows(windows)
    if not merged:
        raise AvailabilityError(
            "Please tell me when you're free, for example “weekday evenings” "
            "or Mon-Fri 18:00-21:00."
        )
    if len(merged) > MAX_WINDOWS:
        raise AvailabilityError(
            f"That's more than {MAX_WINDOWS} separate times: please combine some, "
            "for example Mon-Fri 18:00-21:00."
        )
    return merged


def _check(window: Window) -> None:
    if not (0 <= window.day <= 6 and 0 <= window.start < window.end <= MINUTES_PER_DAY):
        raise ValueError(f"not a valid availability window: {window!r}")


def normalize_windows(windows: Iterable[Window]) -> tuple[Window, ...]:
    """Sorted windows with overlapping or touching ones of the same day merged."""
    merged: list[Window] = []
    for window in sorted(windows):
        _check(window)
        if merged and merged[-1].day == window.day and window.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Window(last.day, last.start, max(last.end, window.end))
        else:
            merged.append(window)
    return tuple(merged)


def _day_list(days: list[int]) -> str:
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(
        DAY_NAMES[run[0]] if len(run) == 1 else f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}"
        for run in runs
    )


def format_availability(windows: Iterable[Window]) -> str:
    """Canonical text for ``windows`` that :func:`parse_availability` reads back identically.

    Days with identical windows are grouped, consecutive ones as ranges:
    ``Mon-Fri 18:00-21:00, Sat 09:00-12:00``. No windows gives an empty string.
    """
    by_day: dict[int, list[tuple[int, int]]] = {}
    for window in normalize_windows(windows):
        by_day.setdefault(window.day, []).append((window.start, window.end))
    groups: dict[tuple[tuple[int, int], ...], list[int]] = {}
    for day in sorted(by_day):
        groups.setdefault(tuple(by_day[day]), []).append(day)
    items = []
    for ranges, days in sorted(groups.items(), key=lambda item: item[1][0]):
        times = ", ".join(f"{_fmt(start)}-{_fmt(end)}" for start, end in ranges)
        items.append(f"{_day_list(days)} {times}")
    return ", ".join(items)


def _zone(zone: str | tzinfo) -> tzinfo:
    return validate_zone(zone) if isinstance(zone, str) else zone


def _offset_change(start: datetime, end: datetime, zone: tzinfo) -> datetime | None:
    """The first instant in ``(start, end)`` whose UTC offset in ``zone`` differs from start's."""
    before = start.astimezone(zone).utcoffset()
    if (end - timedelta(seconds=1)).astimezone(zone).utcoffset() == before:
        return None
    low, high = int(start.timestamp()), int(end.timestamp()) - 1
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _next_midnight(moment: datetime, zone: tzinfo) -> datetime:
    """The first local midnight in ``zone`` strictly after ``moment`` (either fold of it)."""
    tomorrow = moment.astimezone(zone).date() + timedelta(days=1)
    candidates = [
        local_to_utc(tomorrow, dt.time(0, 0), zone),
        datetime.combine(tomorrow, dt.time(0, 0, fold=1), tzinfo=zone).astimezone(UTC),
    ]
    return min(c for c in candidates if c > moment and c.astimezone(zone).date() == tomorrow)


def _split_local(start: datetime, end: datetime, zone: tzinfo) -> Iterator[Window]:
    """Wall-clock windows in ``zone`` covering the instants ``[start, end)``."""
    cursor = start
    while cursor < end:
        boundary = min(end, _next_midnight(cursor, zone))
        boundary = _offset_change(cursor, boundary, zone) or boundary
        local = cursor.astimezone(zone)
        wall_start = local.hour * 60 + local.minute
        wall_end = min(MINUTES_PER_DAY, wall_start + int((boundary - cursor).total_seconds()) // 60)
        if wall_end > wall_start:
            yield Window(local.weekday(), wall_start, wall_end)
        cursor = boundary


def windows_to_zone(
    windows: Iterable[Window],
    from_zone: str | tzinfo,
    to_zone: str | tzinfo,
    week_start: date,
) -> tuple[Window, ...]:
    """A member's windows as wall-clock windows in another zone, for one real week.

    The week is the Monday-to-Sunday week (in ``from_zone``) containing ``week_start``, so
    daylight-saving changes in either zone that week are honoured. Local times in a gap follow
    :func:`~bot.domain.recurrence.local_to_utc` (a window swallowed by a gap disappears). Days
    wrap around the week: Sunday night in Berlin can be Monday morning in Tokyo.
    """
    source, target = _zone(from_zone), _zone(to_zone)
    day = date(week_start.year, week_start.month, week_start.day)
    monday = day - timedelta(days=day.weekday())
    converted: list[Window] = []
    for window in normalize_windows(windows):
        local_day = monday + timedelta(days=window.day)
        start = local_to_utc(local_day, _as_time(window.start), source)
        if window.end == MINUTES_PER_DAY:
            end = local_to_utc(local_day + timedelta(days=1), dt.time(0, 0), source)
        else:
            end = local_to_utc(local_day, _as_time(window.end), source)
        converted.extend(_split_local(start, end, target))
    return normalize_windows(converted)


def _as_time(minutes: int) -> dt.time:
    return dt.time(minutes // 60, minutes % 60)

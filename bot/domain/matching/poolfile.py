"""The pool file format (docs/pool-format.md): decoded JSON in, domain objects out, and a round's
result back to JSON-ready data. Pure: the reading and writing happen in bot/offline_match.py."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from typing import Any, TypeGuard, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.availability import SLOT_MINUTES, Window
from bot.domain.matching.model import (
    AGE_BRACKETS,
    MAX_CAP,
    MAX_CAP_DAYS,
    MAX_HALF_HOURS,
    MAX_WEIGHT,
    MEDIUMS,
    ODD_POLICIES,
    RHYTHMS,
    CommunitySettings,
    MatchResult,
    Medium,
    OddPolicy,
    PastPartner,
    Rhythm,
    Seeker,
    Weights,
)

FORMAT = "pairbot-pool/1"
RESULT_FORMAT = "pairbot-result/1"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
POOL = "pool"
"""The member id used in errors about the file itself or its settings."""
YEARS = (1900, 9000)
"""Dates a pool may name (`now`, `waiting_since`): the weeks after `now` must exist."""


class PoolFormatError(ValueError):
    """One problem, named by member id and field, e.g. `m-17 availability[2].end: ...`."""

    def __init__(self, member: str, field: str, problem: str) -> None:
        super().__init__(f"{member} {field}: {problem}")
        self.member = member
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class Pool:
    seekers: tuple[Seeker, ...]
    settings: CommunitySettings
    now: datetime | None


def _text(value: Any) -> TypeGuard[str]:
    """A non-empty string that is valid Unicode: JSON may escape lone surrogates (\\ud800),
    which no output (UTF-8 file, terminal) can hold."""
    if not isinstance(value, str) or not value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


NOT_TEXT = "must be a non-empty string of valid Unicode (no lone surrogate escapes)"


class _Ctx:
    """Where we are in the file, for error messages."""

    def __init__(self, member: str) -> None:
        self.member = member

    def fail(self, field: str, problem: str) -> PoolFormatError:
        return PoolFormatError(self.member, field, problem)

    def string(self, obj: Mapping[str, Any], key: str, default: str | None = None) -> str:
        value = obj.get(key, default)
        if not isinstance(value, str) or not value:
            raise self.fail(key, "must be a non-empty string")
        if not _text(value):
            raise self.fail(key, NOT_TEXT)
        return value

    def strings(self, obj: Mapping[str, Any], key: str, field: str | None = None
                ) -> frozenset[str]:
        value = obj.get(key, [])
        name = field or key
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(name, "must be a list of non-empty strings")
        if not all(_text(v) for v in value):
            raise self.fail(name, NOT_TEXT)
        return frozenset(value)

    def optional_strings(self, obj: Mapping[str, Any], key: str, field: str,
                         allowed: tuple[str, ...] | None = None) -> frozenset[str] | None:
        if obj.get(key) is None:
            return None
        values = self.strings(obj, key, field)
        if not values:
            raise self.fail(field, "must not be empty (leave it out for 'anyone')")
        if allowed is not None:
            bad = sorted(values - set(allowed))
            if bad:
                raise self.fail(field, f"unknown value {bad[0]!r}; use one of {', '.join(allowed)}")
        return values

    def choice(self, obj: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str
               ) -> str:
        value = obj.get(key, default)
        if value not in allowed:
            raise self.fail(key, f"must be one of {', '.join(allowed)}, not {value!r}")
        return cast(str, value)

    def moment(self, value: Any, field: str) -> datetime:
        if not isinstance(value, str):
            raise self.fail(field, "must be an ISO 8601 date-time string")
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise self.fail(field, f"not an ISO 8601 date-time: {value!r}") from None
        if moment.tzinfo is None:
            raise self.fail(field, "needs a UTC offset or Z (e.g. 2026-03-16T17:00:00Z)")
        if not YEARS[0] <= moment.year <= YEARS[1]:
            raise self.fail(field, f"must be in the years {YEARS[0]}..{YEARS[1]}, not {value!r}")
        return moment

    def day(self, value: Any, field: str) -> date:
        if not isinstance(value, str):
            raise self.fail(field, "must be a date string YYYY-MM-DD")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(field, f"not a date YYYY-MM-DD: {value!r}") from None

    def integer(self, value: Any, field: str, low: int, high: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, f"must be an integer, not {value!r}")
        if value < low or (high is not None and value > high):
            top = "" if high is None else f" and at most {high}"
            raise self.fail(field, f"must be at least {low}{top}, not {value}")
        return value

    def number(self, value: Any, field: str, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value
        ) or not 0 <= value <= high:
            raise self.fail(field, f"must be a number from 0 to {high:g}, not {value!r}")
        return float(value)


def _minutes(ctx: _Ctx, value: Any, field: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        minutes = value
    elif isinstance(value, str) and len(value.split(":")) == 2:
        hh, mm = value.split(":")
        if not (hh.isdigit() and mm.isdigit() and len(mm) == 2):
            raise ctx.fail(field, f"must be HH:MM, not {value!r}")
        minutes = int(hh) * 60 + int(mm)
        if int(mm) >= 60:
            raise ctx.fail(field, f"must be HH:MM, not {value!r}")
    else:
        raise ctx.fail(field, f"must be HH:MM or minutes after midnight, not {value!r}")
    if not 0 <= minutes <= 1440:
        raise ctx.fail(field, f"must be between 00:00 and 24:00, not {value!r}")
    if minutes % SLOT_MINUTES:
        raise ctx.fail(field, f"must be on a quarter hour (:00, :15, :30 or :45), not {value!r}")
    return minutes


def _window(ctx: _Ctx, raw: Any, field: str) -> Window:
    if not isinstance(raw, Mapping):
        raise ctx.fail(field, "must be an object {day, start, end}")
    day = raw.get("day")
    if isinstance(day, str) and day.lower()[:3] in DAYS:
        day_index = DAYS.index(day.lower()[:3])
    elif isinstance(day, int) and not isinstance(day, bool) and 0 <= day <= 6:
        day_index = day
    else:
        raise ctx.fail(f"{field}.day", f"must be mon..sun or 0..6 (0 = Monday), not {day!r}")
    start = _minutes(ctx, raw.get("start"), f"{field}.start")
    end = _minutes(ctx, raw.get("end"), f"{field}.end")
    if end <= start:
        raise ctx.fail(f"{field}.end", "must be after start; split a window at midnight")
    return Window(day_index, start, end)


def _member(raw: Any, position: int) -> Seeker:
    if not isinstance(raw, Mapping):
        raise PoolFormatError(f"members[{position}]", "member", "must be an object")
    member_id = raw.get("id")
    if not isinstance(member_id, str) or not member_id.strip():
        raise PoolFormatError(f"members[{position}]", "id", "must be a non-empty string")
    if not _text(member_id):
        raise PoolFormatError(f"members[{position}]", "id", NOT_TEXT)
    ctx = _Ctx(member_id)
    zone = ctx.string(raw, "zone")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ctx.fail("zone", f"unknown IANA time zone {zone!r}") from None
    availability = raw.get("availability")
    if not isinstance(availability, list):
        raise ctx.fail("availability", "must be a list of windows")
    windows = tuple(sorted(
        _window(ctx, w, f"availability[{i}]") for i, w in enumerate(availability)
    ))
    private = raw.get("private") or {}
    prefs = raw.get("preferences") or {}
    if not isinstance(private, Mapping):
        raise ctx.fail("private", "must be an object")
    if not isinstance(prefs, Mapping):
        raise ctx.fail("preferences", "must be an object")
    gender = private.get("gender")
    if gender is not None and not _text(gender):
        raise ctx.fail("private.gender", "must be a non-empty string or null")
    age = private.get("age_bracket")
    if age is not None and age not in AGE_BRACKETS:
        raise ctx.fail("private.age_bracket", f"must be one of {', '.join(AGE_BRACKETS)}")
    past_raw = raw.get("past_partners", [])
    if not isinstance(past_raw, list):
        raise ctx.fail("past_partners", "must be a list of {id, ended}")
    past = []
    for i, item in enumerate(past_raw):
        field = f"past_partners[{i}]"
        if not isinstance(item, Mapping):
            raise ctx.fail(field, "must be an object {id, ended}")
        partner = item.get("id")
        if not _text(partner):
            raise ctx.fail(f"{field}.id", NOT_TEXT)
        ended = None if item.get("ended") is None else ctx.day(item["ended"], f"{field}.ended")
        past.append(PastPartner(partner, ended))
    waiting = raw.get("waiting_since")
    carried = raw.get("carried_over", False)
    if not isinstance(carried, bool):
        raise ctx.fail("carried_over", "must be true or false")
    return Seeker(
        id=member_id,
        zone=zone,
        windows=windows,
        goal_areas=ctx.strings(raw, "goal_areas"),
        rhythm=cast(Rhythm, ctx.choice(raw, "rhythm", RHYTHMS, "weekly")),
        medium=cast(Medium, ctx.choice(raw, "medium", MEDIUMS, "video")),
        languages=ctx.strings(raw, "languages"),
        gender=gender,
        age_bracket=age,
        partner_genders=ctx.optional_strings(prefs, "partner_genders",
                                             "preferences.partner_genders"),
        partner_age_brackets=ctx.optional_strings(
            prefs, "partner_age_brackets", "preferences.partner_age_brackets", AGE_BRACKETS
        ),
        partner_languages=ctx.optional_strings(prefs, "partner_languages",
                                               "preferences.partner_languages"),
        blocks=ctx.strings(raw, "blocks"),
        past_partners=tuple(past),
        waiting_since=None if waiting is None else ctx.moment(waiting, "waiting_since"),
        carried_over=carried,
    )


_INT_SETTINGS = {
    "min_overlap_minutes": (0, 10080),
    "overlap_weeks": (1, 8),
    # Bounded so a pool file cannot ask for a solve that never ends (docs/pool-format.md):
    # exact blossom on every pair of 2,000 members already takes minutes.
    "repeat_window_days": (0, 3650),
    "k": (1, 200),
    "exact_max_members": (0, 2000),
    "exact_candidates_max_members": (0, 5000),
}


def parse_settings(raw: Any) -> CommunitySettings:
    """The `settings` object; every field optional, defaults as in CommunitySettings."""
    ctx = _Ctx(POOL)
    if raw is None:
        return CommunitySettings()
    if not isinstance(raw, Mapping):
        raise ctx.fail("settings", "must be an object")
    known = {f.name for f in fields(CommunitySettings)}
    for key in raw:
        if key not in known:
            raise ctx.fail(f"settings.{key}", "unknown setting")
    values: dict[str, Any] = {}
    for key, (low, high) in _INT_SETTINGS.items():
        if key in raw:
            values[key] = ctx.integer(raw[key], f"settings.{key}", low, high)
    if "odd_policy" in raw:
        values["odd_policy"] = cast(OddPolicy, ctx.choice(
            {"settings.odd_policy": raw["odd_policy"]}, "settings.odd_policy", ODD_POLICIES,
            "trio"))
    if "require_common_language" in raw:
        if not isinstance(raw["require_common_language"], bool):
            raise ctx.fail("settings.require_common_language", "must be true or false")
        values["require_common_language"] = raw["require_common_language"]
    if "weights" in raw:
        wraw = raw["weights"]
        if not isinstance(wraw, Mapping):
            raise ctx.fail("settings.weights", "must be an object")
        wfields = {f.name: f.type for f in fields(Weights)}
        wvalues: dict[str, Any] = {}
        for key, value in wraw.items():
            if key not in wfields:
                raise ctx.fail(f"settings.weights.{key}", "unknown weight")
            if key.endswith("_cap"):
                wvalues[key] = ctx.integer(value, f"settings.weights.{key}", 0, MAX_CAP)
            elif key.endswith("_days"):
                wvalues[key] = ctx.integer(value, f"settings.weights.{key}", 0, MAX_CAP_DAYS)
            else:
                top = MAX_HALF_HOURS if key == "overlap_half_hours" else MAX_WEIGHT
                wvalues[key] = ctx.number(value, f"settings.weights.{key}", top)
        values["weights"] = Weights(**wvalues)
    return CommunitySettings(**values)


def parse_pool(raw: Any) -> Pool:
    """Validate a decoded pool file; raises PoolFormatError naming the member and field."""
    ctx = _Ctx(POOL)
    if not isinstance(raw, Mapping):
        raise ctx.fail("file", "must be a JSON object with 'members'")
    fmt = raw.get("format", FORMAT)
    if fmt != FORMAT:
        raise ctx.fail("format", f"expected {FORMAT!r}, not {fmt!r}")
    now = None if raw.get("now") is None else ctx.moment(raw["now"], "now")
    settings = parse_settings(raw.get("settings"))
    members_raw = raw.get("members")
    if not isinstance(members_raw, list):
        raise ctx.fail("members", "must be a list")
    seekers = [_member(m, i) for i, m in enumerate(members_raw)]
    seen: set[str] = set()
    for s in seekers:
        if s.id in seen:
            raise PoolFormatError(s.id, "id", "appears twice")
        seen.add(s.id)
    return Pool(seekers=tuple(seekers), settings=settings, now=now)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def result_to_json(result: MatchResult, *, seed: int, now: datetime) -> dict[str, Any]:
    """A round's result as JSON-ready data (docs/pool-format.md, "Result")."""
    groups = []
    for g in result.groups:
        e = g.explanation
        groups.append({
            "members": list(g.members),
            "score": round(g.score, 3),
            "explanation": {
                "weekly_overlap_minutes": e.weekly_overlap_minutes,
                "weeks": [
                    {
                        "week_start": _iso(w.week_start),
                        "minutes": w.minutes,
                        "intervals": [[_iso(a), _iso(b)] for a, b in w.intervals],
                    }
                    for w in e.weeks
                ],
                "shared_goal_areas": list(e.shared_goal_areas),
                "shared_languages": list(e.shared_languages),
                "rhythm": e.rhythm,
                "medium": e.medium,
                "preferences_satisfied": e.preferences_satisfied,
            },
        })
    return {
        "format": RESULT_FORMAT,
        "seed": seed,
        "now": _iso(now),
        "weeks": [_iso(w) for w in result.weeks],
        "groups": groups,
        "unmatched": [
            {"id": u.member_id, "reason": u.reason, "priority": u.priority}
            for u in result.unmatched
        ],
        "totals": asdict(result.totals),
        "timing": {k: round(v, 4) for k, v in result.timing.items()},
    }

"""Explanations: structured reasons for every group and every member left out, and a renderer
that turns them into short, friendly English with Discord timestamps (each reader sees their own
local time). Built only from shared, public facts: a private field or wish never appears, only
"your preferences are satisfied"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import reduce
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from bot.domain.availability import (
    SLOT_MINUTES,
    SLOTS_PER_WEEK,
    mask_to_utc_intervals,
    overlap_minutes,
)
from bot.domain.availability_text import format_availability
from bot.domain.matching.model import (
    Change,
    Group,
    GroupExplanation,
    Medium,
    MemberAdvice,
    Rhythm,
    Seeker,
    WeekOverlap,
)
from bot.domain.timezones import ts

MAX_INTERVALS_SHOWN = 4

_MEDIUM_WORDS = {"text": "text chat", "voice": "voice calls", "video": "video calls"}
_RHYTHM_WORDS = {"weekly": "every week", "biweekly": "every two weeks"}


def shared_weeks(week_masks: Sequence[Sequence[int]], weeks: Sequence[datetime]
                 ) -> tuple[WeekOverlap, ...]:
    """The time all members share in each of the weeks."""
    per_week = []
    for w, start in enumerate(weeks):
        common = reduce(lambda x, y: x & y, (m[w] for m in week_masks))
        per_week.append(
            WeekOverlap(
                week_start=start,
                minutes=overlap_minutes(common, common),
                intervals=tuple(mask_to_utc_intervals(common, start)),
            )
        )
    return tuple(per_week)


def shared_weeks_of_pairs(masks: npt.NDArray[np.uint64], weeks: Sequence[datetime],
                          first: npt.NDArray[np.intp], second: npt.NDArray[np.intp]
                          ) -> list[tuple[WeekOverlap, ...]]:
    """`shared_weeks` for many pairs at once; `masks` is (weeks, words, members) of uint64 words
    (little-endian slot order), pairs are (first[x], second[x])."""
    g = len(first)
    per_pair: list[list[WeekOverlap]] = [[] for _ in range(g)]
    slot = timedelta(minutes=SLOT_MINUTES)
    for w, start in enumerate(weeks):
        ws = start.astimezone(UTC)
        if ws.weekday() != 0 or (ws.hour, ws.minute, ws.second, ws.microsecond) != (0, 0, 0, 0):
            raise ValueError(f"week_start must be a Monday 00:00 UTC, not {ws.isoformat()}")
        times = [ws + i * slot for i in range(SLOTS_PER_WEEK + 1)]
        common = np.ascontiguousarray((masks[w][:, first] & masks[w][:, second]).T)
        bits = np.unpackbits(common.astype("<u8").view(np.uint8), axis=1,
                             bitorder="little")[:, :SLOTS_PER_WEEK]
        minutes = (bits.sum(axis=1, dtype=np.int64) * SLOT_MINUTES).tolist()
        padded = np.zeros((g, SLOTS_PER_WEEK + 2), dtype=np.int8)
        padded[:, 1:-1] = bits
        who, at = np.nonzero(np.diff(padded, axis=1))
        edges = at.reshape(-1, 2).tolist()
        ends = np.cumsum(np.bincount(who[::2], minlength=g)).tolist()
        lo = 0
        for x in range(g):
            hi = ends[x]
            per_pair[x].append(WeekOverlap(
                week_start=start,
                minutes=minutes[x],
                intervals=tuple((times[a], times[b]) for a, b in edges[lo:hi]),
            ))
            lo = hi
    return [tuple(p) for p in per_pair]


def explain_group(
    members: Sequence[Seeker], week_masks: Sequence[Sequence[int]] | None,
    weeks: Sequence[datetime], *, shared: tuple[WeekOverlap, ...] | None = None,
) -> GroupExplanation:
    """Why these members fit: the time they all share in each coming week, the goal areas and
    languages they all have, and the rhythm and medium they agree on. `shared`, when given, is
    the time they share (computed for many groups at once); else it comes from `week_masks`."""
    if shared is None:
        if week_masks is None:
            raise ValueError("explain_group needs week_masks or shared")
        shared = shared_weeks(week_masks, weeks)
    per_week = shared
    goals = frozenset.intersection(*(m.goal_areas for m in members))
    langs = frozenset.intersection(*(m.languages for m in members))
    rhythms = {m.rhythm for m in members} - {"flexible"}
    rhythm: Rhythm | None = None
    if len(rhythms) == 1:
        rhythm = next(iter(rhythms))
    elif not rhythms:
        rhythm = "flexible"
    mediums = {m.medium for m in members}
    medium: Medium | None = next(iter(mediums)) if len(mediums) == 1 else None
    return GroupExplanation(
        weekly_overlap_minutes=min(wk.minutes for wk in per_week),
        weeks=tuple(per_week),
        shared_goal_areas=tuple(sorted(goals)),
        shared_languages=tuple(sorted(langs)),
        rhythm=rhythm,
        medium=medium,
    )


def _hours(minutes: int) -> str:
    h = minutes / 60
    return f"{h:g} h"  # quarter hours: 13.75 h, never rounded to 13.8


def _mention(member_id: str, names: Mapping[str, str] | None) -> str:
    if names and member_id in names:
        return names[member_id]
    return f"<@{member_id}>" if member_id.isdigit() else member_id


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def render_group(
    group: Group, reader_id: str, *, week_index: int = 0, names: Mapping[str, str] | None = None,
) -> str:
    """The message a group member reads, for the concrete week `week_index` of the round."""
    expl = group.explanation
    others = [_mention(m, names) for m in group.members if m != reader_id]
    lines = [f"You're matched with {_join(others)}!"]
    week = expl.weeks[min(week_index, len(expl.weeks) - 1)]
    both = "both" if len(group.members) == 2 else "all"
    together = "You overlap" if len(group.members) == 2 else "You all overlap"
    if week.intervals:
        shown = [f"{ts(a, 'F')}–{ts(b, 't')}" for a, b in week.intervals[:MAX_INTERVALS_SHOWN]]
        more = len(week.intervals) - MAX_INTERVALS_SHOWN
        when = ", ".join(shown) + (f" and {more} more" if more > 0 else "")
        lines.append(
            f"{together} {_hours(week.minutes)} in the week of {ts(week.week_start, 'D')}: "
            f"{when} (in your own time)."
        )
    else:
        lines.append("You don't share a common time this week: meet in pairs inside the group.")
    if expl.shared_goal_areas:
        lines.append(f"You're {both} working on {_join(list(expl.shared_goal_areas))}.")
    if expl.shared_languages:
        lines.append(f"You share {_join(list(expl.shared_languages))}.")
    agree = []
    if expl.medium:
        agree.append(_MEDIUM_WORDS[expl.medium])
    if expl.rhythm and expl.rhythm in _RHYTHM_WORDS:
        agree.append(_RHYTHM_WORDS[expl.rhythm])
    if agree:
        lines.append(f"You {both} prefer {' '.join(agree)}.")
    if expl.preferences_satisfied:
        lines.append("Your preferences are satisfied.")
    return "\n".join(lines)


_OBSTACLE_WORDS = {
    "wishes": "your partner wishes",
    "rhythm": "a different meeting rhythm",
    "language": "no language in common",
}
_RHYTHM_CHOICE = {"weekly": "every week", "biweekly": "every two weeks", "flexible": "flexible"}
_WISH_WORDS = {"wish_gender": "gender", "wish_age": "age", "wish_language": "languages"}


def advice_key(advice: MemberAdvice) -> str:
    """What a waiting member was told, in short: the same key means nothing changed for them.
    It holds whether anyone fits them at all (alone, nobody they could be paired with, fits
    all taken, or not fitting yet) and the kind of change that would help; not the obstacles,
    the change's details or its count, which move a little with every pool (one more member
    with another rhythm, an equally small window elsewhere) without being news to them."""
    lonely = advice.situation in ("time", "ruled_out")
    what = advice.change.kind if advice.change is not None else "none"
    return f"lonely:{what}" if lonely else advice.situation


def _members(n: int) -> str:
    return f"{n} member{'s' if n != 1 else ''}"


def _next_local(window_day: int, minute: int, zone: str, now: datetime) -> datetime:
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    for ahead in range(8):
        day = (local + timedelta(days=ahead)).date()
        if day.weekday() != window_day:
            continue
        moment = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=tz)
        if moment > now:
            return moment
    return now + timedelta(days=7)


def _change_words(change: Change, opens: int, zone: str, now: datetime) -> str:
    fit = f"{_members(opens)} in this round's pool would fit you"
    if change.kind == "time":
        first = change.windows[0]
        when = _next_local(first.day, first.start, zone, now)
        return (f"If you added {format_availability(change.windows)} (your time; next on "
                f"{ts(when, 'F')}) to your availability in `/profile edit`, {fit}.")
    if change.kind == "rhythm":
        return f"If you chose “{_RHYTHM_CHOICE[change.value or 'flexible']}” as your meeting " \
               f"rhythm in `/profile edit`, {fit}."
    if change.kind == "language":
        return f"If you added {change.value} to your languages in `/profile edit`, {fit}."
    return (f"If you widened your wish about a partner's {_WISH_WORDS[change.kind]} in "
            f"`/profile private`, {fit}.")


def render_waiting(
    advice: MemberAdvice, *, zone: str, now: datetime, next_round: datetime | None,
    min_overlap_minutes: int, priority_failed: bool = False, reminder: bool = False,
) -> str:
    """The message a member left without a partner reads: their situation from their own side,
    the smallest change of theirs that would help and how many it would open, and the next
    round. For the member alone: it may name their own wishes, never anyone else's."""
    lines = ["Still no partner for you." if reminder else "No partner for you this round."]
    if priority_failed:
        lines.append("You had priority this round, but priority can only choose among members "
                     "who fit you, and none was free.")
    if advice.situation == "alone":
        lines.append("You're the only one looking for a partner right now.")
    elif advice.situation == "no_fit":
        lines.append("Nobody in this round's pool can be paired with you yet, and no change on "
                     "your side would help right now. New members join all the time.")
    elif advice.situation == "taken":
        lines.append("Members who fit you were all paired with someone else this round. You keep "
                     "priority for the next round: a head start, though it can't promise a "
                     "partner.")
    elif advice.situation == "time":
        lines.append(f"None of the members you could be paired with shares at least "
                     f"{_hours(min_overlap_minutes)} of your weekly time.")
    else:
        said = _join([_OBSTACLE_WORDS[o] for o in advice.obstacles])
        lines.append(f"The members who share enough of your time are ruled out by {said}.")
    if advice.change is not None and advice.opens > 0:
        lines.append(_change_words(advice.change, advice.opens, zone, now))
    elif advice.situation in ("time", "ruled_out"):
        lines.append("No single change on your side would open a partner in this pool right now.")
    tail = "I'll write again when something changes for you (or in four weeks if nothing does)."
    if next_round is not None:
        tail = f"The next round is {ts(next_round, 'F')} ({ts(next_round, 'R')}). " + tail
    lines.append(tail)
    return "\n".join(lines)

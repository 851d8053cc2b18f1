"""Explanations: structured reasons for every group and every member left out, and a renderer
that turns them into short, friendly English with Discord timestamps (each reader sees their own
local time). Built only from shared, public facts: a private field or wish never appears, only
"your preferences are satisfied"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import reduce

from bot.domain.availability import mask_to_utc_intervals, overlap_minutes
from bot.domain.matching.model import (
    Group,
    GroupExplanation,
    Medium,
    Rhythm,
    Seeker,
    Unmatched,
    WeekOverlap,
)

MAX_INTERVALS_SHOWN = 4

_MEDIUM_WORDS = {"text": "text chat", "voice": "voice calls", "video": "video calls"}
_RHYTHM_WORDS = {"weekly": "every week", "biweekly": "every two weeks"}


def explain_group(
    members: Sequence[Seeker], week_masks: Sequence[Sequence[int]], weeks: Sequence[datetime]
) -> GroupExplanation:
    """Why these members fit: the time they all share in each coming week, the goal areas and
    languages they all have, and the rhythm and medium they agree on."""
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
    return f"{h:g} h" if h == int(h) else f"{h:.1f} h"


def _ts(moment: datetime, style: str) -> str:
    return f"<t:{int(moment.timestamp())}:{style}>"


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
        shown = [f"{_ts(a, 'F')}–{_ts(b, 't')}" for a, b in week.intervals[:MAX_INTERVALS_SHOWN]]
        more = len(week.intervals) - MAX_INTERVALS_SHOWN
        when = ", ".join(shown) + (f" and {more} more" if more > 0 else "")
        lines.append(
            f"{together} {_hours(week.minutes)} in the week of {_ts(week.week_start, 'D')}: "
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


_UNMATCHED_WORDS = {
    "no_overlap": (
        "No one in this round's pool shares enough of your weekly availability. Adding hours to "
        "your availability in /profile gives the next round more to work with."
    ),
    "preferences": (
        "Everyone who shares enough time with you this round is ruled out by a preference, a "
        "meeting rhythm, a language or a recent partnership (yours or theirs). Widening your "
        "preferences could help."
    ),
    "odd_one_out": (
        "Everyone who fits you was already paired this round, so someone had to wait. You'll "
        "be first in line next round."
    ),
    "no_one_else": "You're the only one looking for a partner right now.",
}


def render_unmatched(unmatched: Unmatched, next_round: datetime | None = None) -> str:
    """The message a member left without a partner reads."""
    text = "No partner for you this round. " + _UNMATCHED_WORDS[unmatched.reason]
    if next_round is not None:
        text += f" The next round is {_ts(next_round, 'F')} ({_ts(next_round, 'R')})."
    return text

"""A member's own statistics (``/stats``): weekly goal tallies, streak, completion rate, the
reasons they gave for misses and the pattern an outside eye would name. Pure: the service hands
in the member's goal history in their own dates."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from bot.domain.goals import REASON_PHRASES, GoalRecord, find_pattern, week_start
from bot.domain.timezones import ts

STATS_WEEKS: Final = 8
"""Weeks shown, the current one last."""


@dataclass(frozen=True)
class WeekTally:
    """One member-local week (Monday ``week``): finished goals by outcome, and whether it was a
    week off."""

    week: date
    done: int = 0
    partly: int = 0
    missed: int = 0
    snoozed: bool = False

    @property
    def finished(self) -> int:
        return self.done + self.partly + self.missed


@dataclass(frozen=True)
class MemberStats:
    weeks: tuple[WeekTally, ...]
    streak: int
    open_goals: int
    reasons: tuple[tuple[str, int], ...]
    """Reasons given for misses in the shown weeks, most frequent first."""
    pattern: str | None
    zone: str

    @property
    def done(self) -> int:
        return sum(w.done for w in self.weeks)

    @property
    def partly(self) -> int:
        return sum(w.partly for w in self.weeks)

    @property
    def missed(self) -> int:
        return sum(w.missed for w in self.weeks)

    @property
    def completion(self) -> float | None:
        """Done counts whole, partly half, over the finished goals of the shown weeks."""
        finished = self.done + self.partly + self.missed
        return None if finished == 0 else (self.done + self.partly / 2) / finished

    def render(self) -> str:
        """In words, with week dates as Discord timestamps (each reader sees their own date)."""
        first = self.weeks[0].week
        count = len(self.weeks)
        span = f"{count} week{'s' if count != 1 else ''}"
        lines = [f"📊 **Your goals since {_stamp(first, self.zone)}** ({span})"]
        weeks = "week" if self.streak == 1 else "weeks"
        lines.append(
            f"🔥 Streak: **{self.streak} {weeks}** in a row with progress."
            if self.streak
            else "🔥 No streak yet: one goal done (or partly) this week starts one."
        )
        if self.completion is None:
            lines.append("No finished goals in these weeks yet.")
        else:
            lines.append(
                f"✅ {self.done} done, 🟡 {self.partly} partly, ❌ {self.missed} missed: "
                f"**{round(100 * self.completion)} %** completion."
            )
        if self.open_goals:
            plural = "s" if self.open_goals != 1 else ""
            lines.append(f"{self.open_goals} goal{plural} still open.")
        if self.reasons:
            said = ", ".join(f"{REASON_PHRASES[code]} ×{count}" for code, count in self.reasons)
            lines.append(f"Why goals were missed, as you said: {said}.")
        if self.pattern:
            lines.append(f"🔎 {self.pattern}")
        best = max(self.weeks, key=lambda w: (w.done, w.partly, w.week))
        if best.done:
            lines.append(
                f"Best week: the week of {_stamp(best.week, self.zone)} ({best.done} done)."
            )
        off = sum(w.snoozed for w in self.weeks)
        if off:
            lines.append(f"Weeks off: {off} (they never break a streak).")
        return "\n".join(lines)


def _stamp(day: date, zone: str) -> str:
    """A member-local date as a Discord date timestamp (noon, so every reader's zone shows the
    same day)."""
    return ts(datetime.combine(day, time(12), tzinfo=ZoneInfo(zone)), "D")


def member_stats(
    history: Sequence[GoalRecord],
    *,
    snoozed: set[date],
    open_goals: int,
    streak: int,
    today: date,
    zone: str,
    weeks: int = STATS_WEEKS,
) -> MemberStats:
    """Tally ``history`` (finished goals, member-local dates) week by week up to the one holding
    ``today``: from the member's first goal, at most ``weeks`` weeks."""
    current = week_start(today)
    # From the member's first goal on, at most `weeks` weeks back.
    first = min((week_start(r.due) for r in history), default=current)
    back = min(weeks - 1, max(0, (current - first).days // 7))
    starts = [current - timedelta(days=7 * k) for k in range(back, -1, -1)]
    by_week: dict[date, Counter[str]] = {w: Counter() for w in starts}
    reasons: Counter[str] = Counter()
    for record in history:
        week = week_start(record.due)
        if week in by_week:
            by_week[week][record.status] += 1
            if record.status == "missed" and record.reason in REASON_PHRASES:
                reasons[record.reason] += 1
    tallies = tuple(
        WeekTally(
            week=w,
            done=by_week[w]["done"],
            partly=by_week[w]["partly"],
            missed=by_week[w]["missed"],
            snoozed=w in snoozed,
        )
        for w in starts
    )
    found = find_pattern(history)
    return MemberStats(
        weeks=tallies,
        streak=streak,
        open_goals=open_goals,
        reasons=tuple(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        pattern=found.sentence() if found else None,
        zone=zone,
    )


COMMUNITY_WINDOW: Final = timedelta(days=28)


@dataclass(frozen=True)
class LastRound:
    ran_at: datetime
    pool_size: int
    groups: int
    unmatched: int


@dataclass(frozen=True)
class MeetingTally:
    """Past meetings in the window by what their partners answered (each counted once)."""

    past: int = 0
    held: int = 0
    """Someone said yes and nobody said no."""
    disputed: int = 0
    """One said yes, another said no."""
    rescheduled: int = 0
    missed: int = 0
    unanswered: int = 0


@dataclass(frozen=True)
class CommunityStats:
    """Counts for moderators (``/admin stats``): never a name, a reason or a private field."""

    since: datetime
    profiles: int
    seeking: int
    paused: int
    proposed: int
    trial: int
    active: int
    with_meeting: int
    quiet: int
    started: int
    ended: tuple[tuple[str, int], ...]
    meetings: MeetingTally
    checkins_asked: int
    checkins_answered: int
    done: int
    partly: int
    missed: int
    missed_never_asked: int
    """Goals closed as missed without a check-in ever asking about them."""
    open_reports: int
    last_round: LastRound | None

    def render(self) -> str:
        live = self.trial + self.active
        lines = [f"📈 **pairbot in this server** (since {ts(self.since, 'f')}, 28 days ago)"]
        lines.append(
            f"**Members**: {self.profiles} with a profile · {self.seeking} looking for a partner"
            f" · {self.paused} taking a break"
        )
        ended = ", ".join(f"{reason} {count}" for reason, count in self.ended)
        lines.append(
            f"**Pairs**: {self.active} active · {self.trial} in their trial · {self.proposed} "
            f"proposal{'s' if self.proposed != 1 else ''} waiting · {self.started} started, "
            f"{sum(c for _, c in self.ended)} ended" + (f" ({ended})" if ended else "")
        )
        health = [f"{self.with_meeting} of {live} pairs have a meeting time" if live
                  else "no pairs meeting yet"]
        if self.quiet:
            health.append(f"{self.quiet} with a partner gone quiet")
        m = self.meetings
        if m.past:
            held = (f"meetings held {m.held} of {m.past} ({_percent(m.held, m.past)})")
            others = [f"{n} {label}" for n, label in (
                (m.disputed, "where partners disagree"), (m.missed, "missed"),
                (m.rescheduled, "rescheduled"), (m.unanswered, "not answered"),
            ) if n]
            health.append(held + (f": {', '.join(others)}" if others else ""))
        lines.append("**Health**: " + " · ".join(health))
        checkins = f"{self.checkins_asked} asked"
        if self.checkins_asked:
            checkins += (
                f", {self.checkins_answered} answered "
                f"({_percent(self.checkins_answered, self.checkins_asked)})"
            )
        finished = self.done + self.partly + self.missed
        goals = f"{self.done} done, {self.partly} partly, {self.missed} missed"
        if finished:
            goals += f" ({_percent(self.done + self.partly / 2, finished)} completion)"
        if self.missed_never_asked:
            goals += f"; {self.missed_never_asked} missed without a check-in asking"
        lines.append(f"**Check-ins**: {checkins} · **Goals**: {goals}")
        lines.append(f"**Reports**: {self.open_reports} open")
        if self.last_round is None:
            lines.append("**Last round**: none yet")
        else:
            r = self.last_round
            lines.append(
                f"**Last round**: {ts(r.ran_at, 'f')}: {r.pool_size} in the pool, "
                f"{r.groups} group{'s' if r.groups != 1 else ''}, {r.unmatched} unmatched"
            )
        return "\n".join(lines)


def _percent(part: float, whole: int) -> str:
    return f"{round(100 * part / whole)} %"

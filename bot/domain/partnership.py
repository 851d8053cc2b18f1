"""The rules of a partnership, and the words the pair reads, as pure functions.

Suggested meeting slots inside a pair's overlap, the meeting agenda, the trial rule, the
"quiet partner" (ghost) rule, the streak of met meetings, and every message the partnership
feature sends. Times in messages are Discord timestamps (each reader sees their own time);
nothing here can see a private field: messages are built from public data only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from bot.domain.errors import echo
from bot.domain.recurrence import Recurrence, next_occurrence
from bot.domain.timezones import ts, validate_zone
from bot.errors import InvalidInput

DAY_NAMES: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

MEETING_MINUTES_MIN: Final = 15
MEETING_MINUTES_MAX: Final = 180
REMINDER_MINUTES_MIN: Final = 5
REMINDER_MINUTES_MAX: Final = 24 * 60
MAX_SUGGESTIONS: Final = 3
SLOT_STEP: Final = timedelta(minutes=30)
PROPOSAL_HOURS_MIN: Final = 1

Answer = Literal["yes", "rescheduled", "no"]
ANSWERS: Final[tuple[Answer, ...]] = ("yes", "rescheduled", "no")
TrialChoice = Literal["continue", "part"]
TRIAL_CHOICES: Final[tuple[TrialChoice, ...]] = ("continue", "part")
TrialOutcome = Literal["pending", "continue", "part"]
MeetingOutcome = Literal["met", "missed", "rescheduled", "pending"]

THREE_QUESTIONS: Final = (
    "What did you get done since last time?",
    "What got in the way?",
    "What will you do before you meet next?",
)


def mention(user_id: int) -> str:
    return f"<@{user_id}>"


def _and(items: Sequence[str]) -> str:
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


# --------------------------------------------------------------------------- input


_CLOCK_RE = re.compile(
    r"^(?P<h>\d{1,2})(?:[:.h](?P<m>\d{2}))?\s*(?P<ampm>am|pm|a\.m\.|p\.m\.)?$", re.IGNORECASE
)


def parse_clock(text: str) -> dt.time:
    """``"18:30"``, ``"6:30pm"``, ``"6 pm"``, ``"18h30"`` → a wall-clock time (whole minutes)."""
    value = text.strip().lower().replace(" ", "")
    match = _CLOCK_RE.match(value)
    if not match:
        raise InvalidInput(f"“{echo(text)}” isn't a time I can read. Try 18:30 or 6:30pm.")
    hour, minute = int(match["h"]), int(match["m"] or 0)
    ampm = (match["ampm"] or "").replace(".", "")
    if ampm:
        if not 1 <= hour <= 12:
            raise InvalidInput(f"“{echo(text)}” isn't a time I can read. Try 18:30 or 6:30pm.")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise InvalidInput(f"“{echo(text)}” isn't a time of day. Try 18:30 or 6:30pm.")
    return dt.time(hour, minute)


def parse_weekday(text: str) -> int:
    """``"tue"``, ``"Tuesday"`` or ``"1"`` (0=Monday) → 0..6."""
    value = text.strip().lower()
    if value.isdigit() and 0 <= int(value) <= 6:
        return int(value)
    for index, name in enumerate(DAY_NAMES):
        if len(value) >= 2 and name.lower().startswith(value):
            return index
    raise InvalidInput(f"“{echo(text)}” isn't a day of the week. Try Tuesday.")


def check_meeting_numbers(*, minutes: int, reminder_minutes: int) -> None:
    if not MEETING_MINUTES_MIN <= minutes <= MEETING_MINUTES_MAX:
        raise InvalidInput(
            f"A meeting can last {MEETING_MINUTES_MIN} to {MEETING_MINUTES_MAX} minutes."
        )
    if not REMINDER_MINUTES_MIN <= reminder_minutes <= REMINDER_MINUTES_MAX:
        raise InvalidInput(
            f"The reminder can come {REMINDER_MINUTES_MIN} minutes to 24 hours before the meeting."
        )


# --------------------------------------------------------------------------- meeting slots


def _ceil_local(moment: datetime, zone: dt.tzinfo, step_minutes: int) -> datetime:
    """The first instant at or after ``moment`` whose wall time in ``zone`` is on a multiple of
    ``step_minutes`` past the hour."""
    local = moment.astimezone(zone)
    past = (local.minute % step_minutes) * 60 + local.second + local.microsecond / 1e6
    if past == 0:
        return moment
    return moment + timedelta(seconds=step_minutes * 60 - past)


def suggest_slots(
    runs: Iterable[tuple[datetime, datetime]],
    *,
    minutes: int,
    zone: str,
    count: int = MAX_SUGGESTIONS,
) -> list[datetime]:
    """Up to ``count`` meeting starts inside the pair's overlap ``runs`` (UTC intervals), each
    with room for ``minutes``, starting on the hour (else the half hour, else the quarter hour:
    overlaps are exact to the quarter hour, so a Kathmandu-Kolkata run of 18:15-19:15 still gets
    its hour-long meeting) in ``zone``.

    The longest runs come first (more room to be late or run over), on different local days
    where possible so the pair has a real choice; the result is in time order."""
    tz = validate_zone(zone)
    length = timedelta(minutes=minutes)
    candidates: list[tuple[timedelta, datetime, dt.date]] = []
    for start, end in runs:
        chosen = None
        for step in (60, 30, 15):
            at = _ceil_local(start, tz, step)
            if at + length <= end:
                chosen = at
                break
        if chosen is not None:
            candidates.append((end - start, chosen, chosen.astimezone(tz).date()))
    candidates.sort(key=lambda c: (-c[0], c[1]))
    picked: list[datetime] = []
    days: set[dt.date] = set()
    for _, at, day in candidates:
        if len(picked) < count and day not in days:
            picked.append(at)
            days.add(day)
    for _, at, _day in candidates:
        if len(picked) < count and at not in picked:
            picked.append(at)
    return sorted(picked)


def pair_interval_weeks(rhythms: Iterable[str | None]) -> int:
    """How often a new pair meets by default: every two weeks when every profile says so,
    else every week (a weekly member is not made to wait a fortnight)."""
    values = list(rhythms)
    return 2 if values and all(r == "biweekly" for r in values) else 1


def every(interval_weeks: int) -> str:
    return "every two weeks" if interval_weeks == 2 else "every week"


def slot_recurrence(at: datetime, zone: str, interval_weeks: int = 1) -> Recurrence:
    """The weekly rhythm that a suggested slot starts: same weekday and wall time in ``zone``."""
    local = at.astimezone(validate_zone(zone))
    return Recurrence(
        weekday=local.weekday(),
        time=dt.time(local.hour, local.minute),
        zone=zone,
        interval_weeks=interval_weeks,
        anchor=local.date(),
    )


def anchored(rec: Recurrence, now: datetime) -> Recurrence:
    """``rec`` starting from its next weekly occurrence after ``now``, so that a biweekly rhythm
    meets first in the coming week rather than in a phase fixed long ago."""
    weekly = Recurrence(weekday=rec.weekday, time=rec.time, zone=rec.zone)
    first = next_occurrence(weekly, now).astimezone(rec.tz).date()
    return Recurrence(
        weekday=rec.weekday,
        time=rec.time,
        zone=rec.zone,
        interval_weeks=rec.interval_weeks,
        anchor=first,
    )


def describe_in(rec: Recurrence, zone: str, now: datetime) -> str:
    """The rhythm as the wall time in ``zone`` at its next occurrence: ``"Wednesday 00:30"``.
    (Across a daylight-saving change in only one of the zones this may move by an hour: the
    agreed wall time is the one in ``rec.zone``.)"""
    at = next_occurrence(rec, now).astimezone(validate_zone(zone))
    return f"{DAY_NAMES[at.weekday()]} {at:%H:%M}"


# --------------------------------------------------------------------------- rules


def trial_outcome(choices: Iterable[str | None]) -> TrialOutcome:
    """Anyone choosing to part ends it; everyone choosing to continue makes it a partnership."""
    values = list(choices)
    if any(c == "part" for c in values):
        return "part"
    if values and all(c == "continue" for c in values):
        return "continue"
    return "pending"


def is_quiet(
    *, last_active_at: datetime | None, since: datetime, now: datetime, weeks: int
) -> bool:
    """A partner who has neither checked in nor confirmed a meeting for ``weeks`` weeks (counted
    from the start of the partnership if they never have)."""
    seen = max(last_active_at or since, since)
    return now - seen >= timedelta(weeks=weeks)


def should_ask_about_quiet_partner(
    *,
    asker_quiet: bool,
    partner_quiet: bool,
    asked_at: datetime | None,
    partner_last_active_at: datetime | None,
    now: datetime,
    weeks: int,
) -> bool:
    """Ask the active partner (privately) whether to keep waiting or be rematched: only when
    they themselves are active, their partner is quiet, and they weren't asked in the last
    ``weeks`` weeks (or the partner has been active since they were asked)."""
    if asker_quiet or not partner_quiet:
        return False
    if asked_at is None:
        return True
    if partner_last_active_at is not None and partner_last_active_at > asked_at:
        return True
    return now - asked_at >= timedelta(weeks=weeks)


def meeting_outcome(answers: Iterable[str], *, settled: bool) -> MeetingOutcome:
    """One meeting, from its partners' answers: met if anyone says yes; rescheduled if anyone
    says so and nobody says yes; missed if everyone who answered says no (or, once ``settled``,
    nobody answered at all); pending while answers may still come."""
    given = set(answers)
    if "yes" in given:
        return "met"
    if "rescheduled" in given:
        return "rescheduled"
    if "no" in given or settled:
        return "missed"
    return "pending"


def meeting_streak(outcomes_newest_first: Iterable[MeetingOutcome]) -> int:
    """Met meetings in a row, counting back from the latest; rescheduled and still-pending ones
    neither count nor break the streak."""
    streak = 0
    for outcome in outcomes_newest_first:
        if outcome == "met":
            streak += 1
        elif outcome == "missed":
            break
    return streak


# --------------------------------------------------------------------------- the agenda


def reminder_text(
    user_ids: Sequence[int],
    *,
    meeting_at: datetime,
    minutes: int,
    goals: str,
    interval_weeks: int = 1,
) -> str:
    """The reminder before a meeting, with its agenda: the goals part (each partner's goals
    for the period with their status, missed ones first with their reasons; rendered by the
    goals feature, empty when nobody has goals yet), then the three questions and next steps.
    It quotes member text: send it with no pings except the pair's own."""
    lines = [
        f"⏰ {' '.join(mention(u) for u in user_ids)} your meeting starts "
        f"{ts(meeting_at, 'R')} ({ts(meeting_at, 't')}, {minutes} min).",
        "",
        "**Agenda**",
    ]
    if goals.strip():
        lines.append(goals.strip())
    else:
        lines.append("No goals written down yet: set a few together today with `/goal add`.")
    lines += ["", "**Three questions for each of you**"]
    lines += [f"• {q}" for q in THREE_QUESTIONS]
    until = "the next two weeks" if interval_weeks == 2 else "the coming week"
    lines += ["", f"Then set your goals for {until}, and see you next time! 🙌"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class CardPerson:
    """What the others may see of a member on a proposal card (public fields only)."""

    user_id: int
    display_name: str
    intro: str | None
    goals_text: str | None
    goal_areas: tuple[str, ...]
    rhythm_label: str | None
    medium: str | None
    languages: tuple[str, ...]


def _explanation_lines(explanation: dict[str, object], overlap_minutes: int) -> list[str]:
    lines: list[str] = []
    reasons = explanation.get("reasons")
    if isinstance(reasons, list):
        lines += [f"• {str(r)[:200]}" for r in reasons[:5] if r]
    if not lines:
        if overlap_minutes:
            lines.append(f"• you're both free about {overlap_minutes / 60:g} h in the next 7 days")
        areas = explanation.get("shared_areas")
        if isinstance(areas, list) and areas:
            lines.append("• you're both working on " + _and([str(a) for a in areas[:5]]))
        languages = explanation.get("languages")
        if isinstance(languages, list) and languages:
            lines.append("• you both speak " + _and([str(x) for x in languages[:5]]))
    return lines


def person_lines(person: CardPerson) -> list[str]:
    lines = [f"**{mention(person.user_id)}**"]
    if person.intro:
        lines.append(person.intro[:500])
    if person.goals_text:
        lines.append(f"*Goals:* {person.goals_text[:500]}")
    facts = []
    if person.goal_areas:
        facts.append(", ".join(person.goal_areas))
    if person.rhythm_label:
        facts.append(f"meets {person.rhythm_label}")
    if person.medium:
        facts.append(f"by {person.medium}")
    if person.languages:
        facts.append("speaks " + ", ".join(person.languages))
    if facts:
        lines.append(" · ".join(facts))
    return lines


def proposal_text(
    *,
    people: Sequence[CardPerson],
    explanation: dict[str, object],
    overlap_minutes: int,
    overlap_lines: Sequence[str],
    slots: Sequence[datetime],
    minutes: int,
    expires_at: datetime,
    source: str,
    interval_weeks: int = 1,
    trial_ends_at: datetime | None = None,
) -> str:
    """The proposal in the pair's private thread: who, why, when they're both free and a few
    meeting times, all in each reader's own time, and how long they have to answer.

    With ``trial_ends_at`` the pair has already started (a forum request: the requester asked
    and the author accepted, which is both of them choosing): no second answer is asked for."""
    names = " & ".join(mention(p.user_id) for p in people)
    if trial_ends_at is not None:
        lines = [
            f"🎉 {names}: you chose each other from the forum, so you're partners now, "
            "no more buttons to press. Take a moment to say hello here."
        ]
    else:
        intro = (
            "you chose each other from the forum"
            if source == "request"
            else "the matching round paired you"
        )
        lines = [f"👋 {names}: {intro}. Take a moment to say hello here."]
    why = _explanation_lines(explanation, overlap_minutes)
    if why:
        lines += ["", "**Why you two**", *why]
    for person in people:
        lines += ["", *person_lines(person)]
    if overlap_lines:
        lines += [
            "",
            "**You're both free in the next 7 days** (shown in your own time):",
            *overlap_lines[:6],
        ]
    rhythm = every(interval_weeks)
    if slots:
        lines += ["", f"**Meeting times that suit you both** ({minutes} min, {rhythm}):"]
        lines += [f"{i}. {ts(at, 'F')}" for i, at in enumerate(slots, start=1)]
        when = "now" if trial_ends_at is not None else "once you've both accepted"
        lines.append(f"Pick one with `/pair meeting` {when}; it repeats {rhythm}.")
    if trial_ends_at is not None:
        lines += [
            "",
            f"Your trial runs until {ts(trial_ends_at, 'D')}; then you'll each choose, "
            f"privately, whether to carry on. Next: agree a time {rhythm} with `/pair meeting`.",
        ]
    else:
        lines += [
            "",
            f"Please each press **Accept** or **Decline** by {ts(expires_at, 'F')} "
            f"({ts(expires_at, 'R')}). A decline is kind and private: your reason is never shown.",
        ]
    return "\n".join(lines)


def proposal_dm_text(
    *,
    reader: int,
    people: Sequence[CardPerson],
    explanation: dict[str, object],
    overlap_minutes: int,
    overlap_lines: Sequence[str],
    slots: Sequence[datetime],
    minutes: int,
    expires_at: datetime,
    source: str,
    interval_weeks: int = 1,
    trial_ends_at: datetime | None = None,
) -> str:
    """The proposal by DM, when a private thread isn't possible: the other's public profile."""
    others = [p for p in people if p.user_id != reader]
    introduce = (
        "You're now accountability partners with"
        if trial_ends_at is not None
        else "👋 I'd like to introduce you to"
    )
    lines = [
        f"{introduce} {_and([mention(p.user_id) for p in others])}"
        + ("" if trial_ends_at is not None else " as an accountability partner")
        + ". (I couldn't open a private thread, so I'm writing to you both by DM; say hello to "
        "each other there.)"
    ]
    body = proposal_text(
        people=others,
        explanation=explanation,
        overlap_minutes=overlap_minutes,
        overlap_lines=overlap_lines,
        slots=slots,
        minutes=minutes,
        expires_at=expires_at,
        source=source,
        interval_weeks=interval_weeks,
        trial_ends_at=trial_ends_at,
    )
    lines += ["", *body.split("\n")[1:]]
    return "\n".join(lines)


def both_accepted_text(
    people: Iterable[int], trial_ends_at: datetime, interval_weeks: int = 1
) -> str:
    return (
        f"🎉 {' & '.join(mention(u) for u in people)}: you're partners! Your trial period runs "
        f"until {ts(trial_ends_at, 'D')}; then you'll each choose, privately, whether to carry "
        f"on. Next: agree a time {every(interval_weeks)} with `/pair meeting`."
    )


def accepted_waiting_text(actor: int) -> str:
    return f"✅ {mention(actor)} accepted. Waiting for the other answer."


def proposal_closed_text() -> str:
    return (
        "This proposal didn't go ahead, and that's fine: not every match fits. You're both back "
        "in the pool with priority for the next round. 🌱"
    )


def proposal_declined_dm(others: Iterable[int]) -> str:
    return (
        f"Your proposed partnership with {_and([mention(u) for u in others])} won't go ahead this "
        "time. That's okay: no reason needed. You're back in the pool with priority, a head start "
        "in the next round. 🌱"
    )


def proposal_expired_dm(others: Iterable[int]) -> str:
    return (
        f"The proposal with {_and([mention(u) for u in others])} expired before you both "
        "answered. No harm done: you're back in the pool with priority for the next round. 🌱"
    )


def meeting_set_text(
    *, actor: int, rec: Recurrence, first: datetime, minutes: int, changed: bool
) -> str:
    verb = "moved your meeting to" if changed else "set your meeting:"
    return (
        f"📅 {mention(actor)} {verb} {every(rec.interval_weeks)}, {minutes} min, "
        f"starting {ts(first, 'F')} ({ts(first, 'R')}). "
        f"Agreed in {rec.zone} time: {DAY_NAMES[rec.weekday]} {rec.time:%H:%M}. "
        "Discord shows it in your own time."
    )


def did_you_meet_text(meeting_at: datetime, others: Iterable[int]) -> str:
    return (
        f"Did you meet {_and([mention(u) for u in others])} {ts(meeting_at, 'f')}? "
        "One tap keeps your streak honest."
    )


def trial_choice_text(others: Iterable[int], started_at: datetime) -> str:
    return (
        f"Your trial with {_and([mention(u) for u in others])} (since {ts(started_at, 'D')}) "
        "is over. Would you like to carry on together? Your choice is private: if either of you "
        "chooses to part, the partnership ends kindly and nobody is told who chose what."
    )


def trial_continued_text(people: Iterable[int]) -> str:
    return (
        f"🌟 {' & '.join(mention(u) for u in people)}: you've both chosen to carry on. You're "
        "full partners now. Here's to many good weeks!"
    )


def trial_parted_dm(others: Iterable[int]) -> str:
    return (
        f"Your trial with {_and([mention(u) for u in others])} has ended without continuing. "
        "That's completely fine: thank you for the weeks you gave it. Whenever you like, join "
        "the pool again with `/partner find`. 🌱"
    )


def ended_dm(actor: int) -> str:
    """What a partner reads when the other ends the partnership (or blocks: the same words, so
    nothing tells a block from an ending)."""
    return (
        f"{mention(actor)} has ended your partnership. Thank you for the time you gave each "
        "other. Whenever you're ready, you can join the pool again with `/partner find`. 🌱"
    )


def partner_left_dm(*, proposal: bool) -> str:
    """What a partner reads when the other has left the server: no name (a departed member's
    mention may no longer resolve), no reason (we don't know it, and it is theirs), no blame."""
    what = "this proposal is off" if proposal else "your partnership has ended"
    return (
        f"Your partner has left the server, so {what}. Thank you for the time you gave each "
        "other. You're back in the pool with priority for the next round; `/partner leave` "
        "if you'd rather take a break. 🌱"
    )


def space_closed_text() -> str:
    return "This partnership has ended, so this thread is now closed. Thank you both. 🌱"


def quiet_partner_text(partner: int, weeks: int) -> str:
    return (
        f"I haven't seen a check-in or a meeting confirmation from {mention(partner)} for "
        f"{weeks} weeks. Would you like to keep waiting, or be matched with someone new? "
        "(Only you see this.)"
    )


def rematch_ended_dm() -> str:
    return (
        "Your partnership has ended, as it's been quiet for a while. No hard feelings: whenever "
        "you're ready, join the pool again with `/partner find`. 🌱"
    )


def report_text(
    *,
    report_id: int,
    reporter: int,
    reported: int | None,
    state: str | None,
    since: datetime | None,
    thread_id: int | None,
    words: str,
    now: datetime,
) -> str:
    """For the moderators' channel: who, which partnership, where, and the reporter's words.
    Nothing private (no decline or end reasons, no private profile fields)."""
    lines = [f"🚩 **Report #{report_id}** from {mention(reporter)} ({ts(now, 'f')})"]
    if reported is not None:
        lines.append(f"About: {mention(reported)}")
    if state is not None:
        when = f" since {ts(since, 'D')}" if since else ""
        lines.append(f"Partnership: {state}{when}")
    if thread_id is not None:
        lines.append(f"Their private thread: <#{thread_id}>")
    lines += ["", "> " + words.replace("\n", "\n> ")]
    return "\n".join(lines)


# --------------------------------------------------------------------------- button ids
# Buttons outlive the process (they sit in old messages), so their ``custom_id`` carries all the
# click needs: a verb and a partnership (or meeting) id. All well under Discord's 100 characters.

PROPOSAL_ID_RE: Final = r"pairbot:prop:(?P<verb>accept|decline):(?P<id>\d{1,20})"
TRIAL_ID_RE: Final = r"pairbot:trial:(?P<verb>continue|part):(?P<id>\d{1,20})"
MET_ID_RE: Final = r"pairbot:met:(?P<verb>yes|rescheduled|no):(?P<id>\d{1,20})"
QUIET_ID_RE: Final = r"pairbot:quiet:(?P<verb>wait|rematch):(?P<id>\d{1,20})"


def proposal_button_id(verb: Literal["accept", "decline"], partnership_id: int) -> str:
    return f"pairbot:prop:{verb}:{partnership_id}"


def trial_button_id(verb: TrialChoice, partnership_id: int) -> str:
    return f"pairbot:trial:{verb}:{partnership_id}"


def met_button_id(verb: Answer, meeting_id: int) -> str:
    return f"pairbot:met:{verb}:{meeting_id}"


def quiet_button_id(verb: Literal["wait", "rematch"], partnership_id: int) -> str:
    return f"pairbot:quiet:{verb}:{partnership_id}"

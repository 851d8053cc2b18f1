"""Goals, cycles and check-ins as pure rules: when a goal is due, when its owner is asked how
it goes, when its cycle is closed and the missed-goal prompt sent, what a missed goal's reasons
are called, and what pattern an outside eye would see in the misses.

A goal belongs to its owner's **cycle**:

* In a pair with a meeting time (weekly or every two weeks) a goal is set at or after a meeting
  and is due at the next one. Its **due moment** is a fixed time before that meeting: the
  reminder's lead, the :data:`AGENDA_PREP_LEAD` partnerships needs to build the agenda, and
  :data:`ANSWER_TIME` for the member to say what got in the way. So the order is always
  check-in < due moment < missed-goal prompt < agenda built < reminder < meeting, and the
  reasons open that meeting's agenda.
* Otherwise (no meeting time, no partner, or a date the member picks) a goal is due at 23:59 on
  its day in the member's zone; "this week" is Sunday.

The **check-in** comes at the member's chosen weekday and time; by default the day before each
meeting at the meeting's local time for them (kept between 08:00 and 21:00), or Friday 18:00
without a meeting. A goal none of those moments falls on (set late in its cycle) gets one
**last call** before it is due, so every goal is asked about before it closes.

The **review** runs just after the due moment (:func:`review_moment`): a goal due at the end of
a day is reviewed the next morning, never at night, and never after the next meeting's agenda.
A snoozed week or a pause moves the goals due in it to the cycle after the break
(:func:`moved_due`); it never closes them, and a snoozed week never breaks a streak.

Everything is computed on the member's own local dates (their IANA zone) and converted to UTC
with :mod:`bot.domain.recurrence`, so check-ins stay at the same local time across
daylight-saving changes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final

from bot.domain.errors import echo
from bot.domain.recurrence import Recurrence, local_to_utc, next_occurrence, occurrences
from bot.domain.timezones import validate_zone
from bot.errors import InvalidInput

# --------------------------------------------------------------------------- vocabulary

STATUSES: Final = ("open", "done", "partly", "missed", "dropped")
LIVE_STATUSES: Final = ("open", "partly")
"""Goals still being worked on: they are checked in on."""
ANSWERS: Final = ("done", "partly", "missed")
ANSWER_LABELS: Final = {"done": "Done", "partly": "Partly", "missed": "Missed"}
STATUS_ICONS: Final = {
    "open": "⏳",
    "done": "✅",
    "partly": "🌓",
    "missed": "❌",
    "dropped": "➖",
}
STATUS_WORDS: Final = {
    "open": "open",
    "done": "done",
    "partly": "partly done",
    "missed": "missed",
    "dropped": "dropped",
}

REASONS: Final = {
    "family": "A family matter or emergency",
    "work": "Too much work",
    "distraction": "Got distracted",
    "underestimated": "Underestimated it",
    "unsure": "Not sure",
    "other": "Something else",
}
"""Why a goal was missed: codes stored in the database, labels shown to members."""

REASON_PHRASES: Final = {
    "family": "a family matter",
    "work": "too much work",
    "distraction": "distraction",
    "underestimated": "underestimating the goal",
    "unsure": "not being sure why",
    "other": "something else",
}

DAY_NAMES: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

GOAL_TEXT_MAX: Final = 200
NOTE_MAX: Final = 4000
"""A check-in note: Discord's longest text input; kept whole, shown in an embed description."""
FEEDBACK_MAX: Final = 2000
REFLECTION_MAX: Final = 1000
MAX_LIVE_GOALS: Final = 8
"""Open goals at once: each gets its own check-in message, so keep the DMs few."""
DUE_MAX_DAYS: Final = 366

WEEK_END_TIME: Final = dt.time(23, 59)
DEFAULT_CHECKIN_WEEKDAY: Final = 4
DEFAULT_CHECKIN_TIME: Final = dt.time(18, 0)
EARLIEST_CHECKIN: Final = dt.time(8, 0)
LATEST_CHECKIN: Final = dt.time(21, 0)


class GoalError(InvalidInput):
    """Something a member typed about a goal that can't be used."""


# --------------------------------------------------------------------------- weeks and dues


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def week_end(day: date) -> date:
    """The Sunday of ``day``'s week."""
    return week_start(day) + timedelta(days=6)


def local_date(moment: datetime, zone: str) -> date:
    """The member's calendar date at ``moment``."""
    return moment.astimezone(validate_zone(zone)).date()


def deadline(due: date, zone: str) -> datetime:
    """The UTC instant a goal due on ``due`` stops being on time: 23:59 that day, local."""
    return local_to_utc(due, WEEK_END_TIME, validate_zone(zone))


def week_bounds_utc(week_monday: date, zone: str) -> tuple[datetime, datetime]:
    """The member's week (Monday 00:00 up to the next Monday 00:00, local) as UTC instants."""
    tz = validate_zone(zone)
    start = week_start(week_monday)
    return local_to_utc(start, dt.time(0), tz), local_to_utc(start + timedelta(7), dt.time(0), tz)


DUE_CHOICES: Final = ("this week", "next week")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_due(text: str, *, today: date) -> date:
    """``"this week"`` (Sunday), ``"next week"`` (next Sunday), ``"today"``, ``"tomorrow"`` or a
    date ``YYYY-MM-DD``, all on the member's own calendar (``today`` is their local date)."""
    value = " ".join(text.strip().lower().replace("_", " ").split())
    if value == "this week":
        return week_end(today)
    if value == "next week":
        return week_end(today) + timedelta(days=7)
    if value == "today":
        return today
    if value == "tomorrow":
        return today + timedelta(days=1)
    if not _DATE_RE.match(value):
        raise GoalError(
            f"I couldn't read “{echo(text)}” as a due date. Pick “this week”, “next week” or a "
            "date like 2026-03-14."
        )
    try:
        due = date.fromisoformat(value)
    except ValueError:
        raise GoalError(f"{echo(text)} isn't a real date. Try a date like 2026-03-14.") from None
    if due < today:
        raise GoalError("That date has already passed. Pick today or a day after it.")
    if due > today + timedelta(days=DUE_MAX_DAYS):
        raise GoalError("Please pick a date within the next year: smaller goals work better.")
    return due


def due_label(due: date, *, today: date) -> str:
    """How a due date reads to its member: "this week", "next week", "today", or a date."""
    if due == today:
        return "today"
    if due == week_end(today):
        return "this week"
    if due == week_end(today) + timedelta(days=7):
        return "next week"
    return f"{DAY_NAMES[due.weekday()][:3]} {due.day} {due:%b %Y}"


def due_suggestions(
    today: date, typed: str = "", *, has_meeting: bool = False
) -> list[tuple[str, str]]:
    """Autocomplete for a due date: (label, value) pairs, the relative ones first (the pair's
    next meeting first of all when they have a meeting time)."""
    pairs: list[tuple[str, str]] = [("our next meeting", "next meeting")] if has_meeting else []
    pairs += [
        ("this week (Sunday)", "this week"),
        ("next week (Sunday)", "next week"),
    ]
    for ahead in range(14):
        day = today + timedelta(days=ahead)
        label = f"{DAY_NAMES[day.weekday()]} {day.isoformat()}"
        if ahead == 0:
            label += " (today)"
        elif ahead == 1:
            label += " (tomorrow)"
        pairs.append((label, day.isoformat()))
    needle = typed.strip().lower()
    if needle and _DATE_RE.match(needle):
        pairs.insert(0, (needle, needle))
    return [p for p in pairs if not needle or needle in p[0].lower()][:25]


def clean_goal_text(text: str) -> str:
    """One line of 1..200 characters (control characters and runs of spaces removed)."""
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if not cleaned:
        raise GoalError("Please describe the goal in a few words.")
    if len(cleaned) > GOAL_TEXT_MAX:
        raise GoalError(
            f"Please keep a goal under {GOAL_TEXT_MAX} characters: one concrete thing you can "
            "finish. Details can go in a check-in note."
        )
    return cleaned


def clean_long_text(text: str, *, limit: int, what: str) -> str | None:
    """A note, feedback or reflection: kept as typed (newlines too), only trimmed at the ends;
    empty means none."""
    value = text.strip()
    if not value:
        return None
    if len(value) > limit:
        raise GoalError(f"Your {what} is {len(value)} characters; the limit is {limit:,}.")
    return value


def parse_reason(code: str) -> str:
    if code not in REASONS:
        raise GoalError("Please pick one of the reasons from the list.")
    return code


# --------------------------------------------------------------------------- the cycle


@dataclass(frozen=True)
class MeetingRhythm:
    """A pair's recurring meeting, as far as the goal cycle cares: when it is, and how long
    before it the reminder with the agenda is sent."""

    weekday: int
    time: dt.time
    zone: str
    interval_weeks: int = 1
    anchor: date | None = None
    reminder_minutes: int = 30

    def recurrence(self) -> Recurrence:
        if self.anchor is None:
            return Recurrence(self.weekday, self.time, self.zone, self.interval_weeks)
        return Recurrence(self.weekday, self.time, self.zone, self.interval_weeks, self.anchor)

    def agenda_at(self, meeting_at: datetime) -> datetime:
        """When the reminder's agenda is built (``partnerships.prepare_meeting``)."""
        return meeting_at - timedelta(minutes=self.reminder_minutes) - AGENDA_PREP_LEAD

    def due_at(self, meeting_at: datetime, zone: str | None = None) -> datetime:
        """The due moment of goals set for the meeting at ``meeting_at``: :data:`ANSWER_TIME`
        before its agenda is built; for a member in ``zone`` for whom that falls at night
        (22:00–08:00), 21:00 the evening before, so the prompt never comes at night."""
        due = self.agenda_at(meeting_at) - ANSWER_TIME
        if zone is None:
            return due
        tz = validate_zone(zone)
        local = due.astimezone(tz)
        if MORNING <= local.time() < NIGHT_FROM:
            return due
        evening = local.date() - timedelta(days=1 if local.time() < MORNING else 0)
        return min(due, local_to_utc(evening, EVENING_DUE, tz))

    def next_meeting(self, after: datetime) -> datetime:
        return next_occurrence(self.recurrence(), after)


AGENDA_PREP_LEAD: Final = timedelta(minutes=10)
"""How long before the reminder partnerships builds the agenda (``partnerships.PREP_LEAD``; a
test checks that the two agree)."""
ANSWER_TIME: Final = timedelta(hours=3)
"""Between a meeting-cycle goal's due moment (when the missed-goal prompt goes out) and the
building of the next meeting's agenda: time to say what got in the way, so that it opens it."""
MIN_CYCLE: Final = timedelta(hours=12)
"""A goal set "for the next meeting" less than half a day before that meeting's due moment is
for the meeting after it."""
EVENING_DUE: Final = dt.time(21, 0)
REVIEW_DELAY: Final = timedelta(minutes=1)
"""The review (close and prompt) runs just after the due moment, never at it or before."""
MORNING: Final = dt.time(8, 0)
NIGHT_FROM: Final = dt.time(22, 0)
LAST_CALL_TIME: Final = dt.time(18, 0)
LAST_CALL_MIN_GAP: Final = timedelta(hours=2)
"""A last-call check-in comes at least this long after the goal was set (when there is room)."""
LOOKAHEAD: Final = timedelta(days=70)
DUE_RULES: Final = ("meeting", "day")


@dataclass(frozen=True)
class CheckinRule:
    """When a member is asked about their goals: their own weekday and time (in their zone), or
    by default the day before each of the pair's meetings at the meeting's local time for them
    (kept between 08:00 and 21:00), or Friday 18:00 without a meeting."""

    zone: str
    weekday: int | None = None
    time: dt.time | None = None
    meeting: MeetingRhythm | None = None

    @property
    def own_choice(self) -> bool:
        return self.weekday is not None


@dataclass(frozen=True)
class GoalTiming:
    """One goal as the planner sees it."""

    id: int
    created: datetime
    due: datetime
    rule: str = "day"
    status: str = "open"
    asked: bool = False


@dataclass(frozen=True)
class CheckinDue:
    at: datetime
    goal_ids: tuple[int, ...]


def parse_clock(text: str) -> dt.time:
    """``"18:30"`` or ``"7:05"`` → a wall time in whole minutes."""
    match = re.fullmatch(r"\s*(\d{1,2})[:.h](\d{2})\s*", text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise GoalError(f"“{echo(text)}” isn't a time I can read. Use 24-hour time like 18:30.")
    return dt.time(int(match.group(1)), int(match.group(2)))


def parse_weekday(text: str) -> int:
    value = text.strip().lower()
    for index, name in enumerate(DAY_NAMES):
        if value in (name.lower(), name[:3].lower(), str(index)):
            return index
    raise GoalError("Please pick a day from Monday to Sunday.")


def next_meeting_due(
    meeting: MeetingRhythm, now: datetime, zone: str | None = None
) -> tuple[datetime, datetime]:
    """(due moment, meeting) for a goal set now "for the next meeting" by a member in ``zone``:
    the first meeting whose due moment is at least :data:`MIN_CYCLE` away."""
    after = now
    while True:
        meeting_at = meeting.next_meeting(after)
        due = meeting.due_at(meeting_at, zone)
        if due >= now + MIN_CYCLE:
            return due, meeting_at
        after = meeting_at


def resolve_due(
    text: str | None, *, now: datetime, zone: str, meeting: MeetingRhythm | None
) -> tuple[datetime, str]:
    """The due moment a member picked and its rule: ``"next meeting"`` (the default for a pair
    with a meeting time), or a day as :func:`parse_due` reads it (due at 23:59 that day)."""
    value = " ".join((text or "").strip().lower().replace("_", " ").split())
    if not value:
        value = "next meeting" if meeting is not None else "this week"
    if value in ("next meeting", "meeting"):
        if meeting is None:
            raise GoalError(
                "You and your partner haven't set a meeting time yet (`/pair meeting`). Pick "
                "“this week”, “next week” or a date instead."
            )
        return next_meeting_due(meeting, now, zone)[0], "meeting"
    return deadline(parse_due(value, today=local_date(now, zone)), zone), "day"


def _clamped(at: dt.time) -> dt.time:
    return at if EARLIEST_CHECKIN <= at <= LATEST_CHECKIN else DEFAULT_CHECKIN_TIME


def checkin_moments(rule: CheckinRule, start: datetime, end: datetime) -> list[datetime]:
    """The member's regular check-in moments in ``[start, end)`` (UTC, increasing)."""
    tz = validate_zone(rule.zone)
    if rule.weekday is not None:
        own = Recurrence(rule.weekday, rule.time or DEFAULT_CHECKIN_TIME, rule.zone)
        return occurrences(own, start, end)
    if rule.meeting is None:
        weekly = Recurrence(DEFAULT_CHECKIN_WEEKDAY, rule.time or DEFAULT_CHECKIN_TIME, rule.zone)
        return occurrences(weekly, start, end)
    found: list[datetime] = []
    for meeting_at in occurrences(rule.meeting.recurrence(), start, end + timedelta(days=3)):
        local = meeting_at.astimezone(tz)
        at = rule.time or _clamped(local.time().replace(second=0, microsecond=0))
        moment = local_to_utc(local.date() - timedelta(days=1), at, tz)
        # Never after the due moment of the meeting's goals (a late-evening check-in before an
        # early meeting would come after its agenda).
        moment = min(moment, rule.meeting.due_at(meeting_at, rule.zone) - timedelta(hours=1))
        if start <= moment < end:
            found.append(moment)
    return found


def next_checkin(rule: CheckinRule, now: datetime) -> datetime:
    """The member's next regular check-in after ``now``."""
    return checkin_moments(rule, now + timedelta(seconds=1), now + timedelta(days=22))[0]


def last_call(goal: GoalTiming, zone: str) -> datetime:
    """A goal none of the regular check-ins falls on is asked about once, before it is due: at
    18:00 the day before, else 3 hours before, else halfway, always after it was set."""
    tz = validate_zone(zone)
    earliest = goal.created + LAST_CALL_MIN_GAP
    eve = goal.due.astimezone(tz).date() - timedelta(days=1)
    day_before = local_to_utc(eve, LAST_CALL_TIME, tz)
    for candidate in (day_before, goal.due - timedelta(hours=3)):
        if earliest <= candidate < goal.due:
            return candidate
    middle = goal.created + (goal.due - goal.created) / 2
    floored = middle.replace(second=0, microsecond=0)
    return floored if floored > goal.created else middle


def _week_of(moment: datetime, zone: str) -> date:
    return week_start(local_date(moment, zone))


def _regular(
    rule: CheckinRule, start: datetime, end: datetime, snoozed: Set[date]
) -> list[datetime]:
    return [m for m in checkin_moments(rule, start, end) if _week_of(m, rule.zone) not in snoozed]


def _needs_last_call(
    goal: GoalTiming, rule: CheckinRule, now: datetime, snoozed: Set[date]
) -> bool:
    if goal.asked or goal.status != "open" or goal.due <= now:
        return False
    start = max(now, goal.created) + timedelta(seconds=1)
    return not _regular(rule, start, min(goal.due, start + LOOKAHEAD), snoozed)


def checkins_at(
    rule: CheckinRule, goals: Sequence[GoalTiming], at: datetime, snoozed: Set[date] = frozenset()
) -> tuple[int, ...]:
    """Which goals a check-in at ``at`` asks about under the member's current rule: at a regular
    moment every live goal set before it and due after it; at any moment, the goals whose last
    call has come. Empty when ``at`` is no check-in moment (an old row after a change)."""
    if _week_of(at, rule.zone) in snoozed:
        return ()
    live = [goal for goal in goals if goal.status in LIVE_STATUSES]
    regular = bool(_regular(rule, at - timedelta(seconds=30), at + timedelta(seconds=30), snoozed))
    chosen = [
        goal.id
        for goal in live
        if (regular and goal.created <= at < goal.due)
        or (
            _needs_last_call(goal, rule, at, snoozed)
            and last_call(goal, rule.zone) <= at + timedelta(seconds=30)
        )
    ]
    return tuple(sorted(chosen))


def next_checkin_for(
    rule: CheckinRule,
    goals: Sequence[GoalTiming],
    *,
    now: datetime,
    snoozed: Set[date] = frozenset(),
    last_calls: bool = True,
) -> CheckinDue | None:
    """The next check-in (strictly after ``now``, or at once for a last call that is overdue)
    and the goals it asks about; ``None`` when no live goal needs one. Without ``last_calls``
    (a member on a break) only the regular moments count."""
    live = [goal for goal in goals if goal.status in LIVE_STATUSES and goal.due > now]
    if not live:
        return None
    candidates: list[datetime] = []
    last_due = max(goal.due for goal in live)
    horizon = min(last_due, now + LOOKAHEAD)
    for moment in _regular(rule, now + timedelta(seconds=1), horizon, snoozed):
        if any(goal.created <= moment < goal.due for goal in live):
            candidates.append(moment)
            break
    for goal in live if last_calls else ():
        if _needs_last_call(goal, rule, now, snoozed):
            moment = last_call(goal, rule.zone)
            candidates.append(max(moment, now + timedelta(seconds=1)).replace(microsecond=0))
    for at in sorted(candidates):
        asked = checkins_at(rule, goals, at, snoozed)
        if asked:  # a last call in a week off is no check-in: the goal moves with the week
            return CheckinDue(at, asked)
    return None


def review_moment(
    goal: GoalTiming, *, zone: str, meeting: MeetingRhythm | None
) -> datetime:
    """When a goal's cycle is reviewed (an open goal becomes missed, and the prompt asks why):
    just after its due moment. A goal due at the end of a day is reviewed the next morning
    (08:00) rather than at night, unless that would come after the next meeting's agenda
    leaves time to answer; a meeting-cycle goal is reviewed at once, :data:`ANSWER_TIME` before
    the agenda is built."""
    at = goal.due + REVIEW_DELAY
    if goal.rule == "meeting":
        return at
    tz = validate_zone(zone)
    local = at.astimezone(tz)
    if local.time() < MORNING:
        at = max(at, local_to_utc(local.date(), MORNING, tz))
    elif local.time() >= NIGHT_FROM:
        at = local_to_utc(local.date() + timedelta(days=1), MORNING, tz)
    if meeting is not None:
        latest = meeting.due_at(meeting.next_meeting(goal.due), zone) + REVIEW_DELAY
        at = max(goal.due + REVIEW_DELAY, min(at, latest))
    return at


def moved_due(
    goal: GoalTiming,
    *,
    zone: str,
    meeting: MeetingRhythm | None,
    now: datetime,
    snoozed: Set[date],
) -> datetime:
    """Where a goal's due moment goes when its owner is away (a snoozed week, a pause): the
    same cycle once the break is over (the next meeting's due moment, or a week later)."""
    due = goal.due
    for _ in range(60):
        if goal.rule == "meeting" and meeting is not None:
            due = meeting.due_at(meeting.next_meeting(meeting.next_meeting(due)), zone)
        else:
            due = due + timedelta(days=7)
            due = deadline(local_date(due - timedelta(minutes=1), zone), zone)
        if due >= now + MIN_CYCLE and _week_of(due, zone) not in snoozed:
            return due
    return due


def describe_checkin(rule: CheckinRule) -> str:
    if rule.weekday is not None:
        at = rule.time or DEFAULT_CHECKIN_TIME
        return f"{DAY_NAMES[rule.weekday]}s at {at:%H:%M} ({rule.zone})"
    if rule.meeting is not None:
        every = "" if rule.meeting.interval_weeks == 1 else " (every two weeks)"
        when = f"at {rule.time:%H:%M}" if rule.time else "at the meeting's time for you"
        return f"the day before your meeting{every}, {when} ({rule.zone})"
    fallback = rule.time or DEFAULT_CHECKIN_TIME
    return (
        f"Fridays at {fallback:%H:%M} ({rule.zone}) (until you and your partner set a meeting "
        "time)"
    )


# --------------------------------------------------------------------------- custom ids

CUSTOM_PREFIX: Final = "pairbot:g"


def answer_id(checkin_id: int, answer: str) -> str:
    """The Done / Partly / Missed / Add a note buttons of one check-in."""
    return f"{CUSTOM_PREFIX}:ci:{checkin_id}:{answer}"


def feedback_id(checkin_id: int) -> str:
    return f"{CUSTOM_PREFIX}:fb:{checkin_id}"


def why_id(goal_id: int) -> str:
    """The weekly prompt's "tell me why" button for one goal."""
    return f"{CUSTOM_PREFIX}:why:{goal_id}"


def reason_select_id(goal_id: int) -> str:
    return f"{CUSTOM_PREFIX}:reason:{goal_id}"


def note_modal_id(checkin_id: int) -> str:
    return f"{CUSTOM_PREFIX}:note:{checkin_id}"


def feedback_modal_id(checkin_id: int) -> str:
    return f"{CUSTOM_PREFIX}:fbm:{checkin_id}"


def help_modal_id(goal_id: int, reason: str) -> str:
    """The "what would help" form; it carries the reason so one submit records both."""
    return f"{CUSTOM_PREFIX}:help:{goal_id}:{reason}"


# --------------------------------------------------------------------------- patterns


@dataclass(frozen=True)
class GoalRecord:
    """One finished goal as the pattern finder sees it (member-local dates)."""

    status: str  # done / partly / missed
    due: date
    created: date
    area: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class _Feature:
    """A trait a goal may have (every given part must match); ``rank`` orders how specific, and
    so how useful, it is."""

    rank: int
    phrase: str  # completes "... misses were {phrase}"
    area: str | None = None
    due_day: int | None = None
    set_day: int | None = None
    reason: str | None = None
    later_week: bool = False

    @property
    def needs_lift(self) -> bool:
        """Reasons exist only for misses, so they have no baseline to beat."""
        return self.reason is None

    def matches(self, record: GoalRecord) -> bool:
        return (
            (self.area is None or record.area == self.area)
            and (self.due_day is None or record.due.weekday() == self.due_day)
            and (self.set_day is None or record.created.weekday() == self.set_day)
            and (self.reason is None or record.reason == self.reason)
            and (not self.later_week or week_start(record.due) > week_start(record.created))
        )


MIN_WEEKS: Final = 3
MIN_COUNT: Final = 3
MIN_SHARE: Final = 0.6
MIN_GAP: Final = 0.25
WINDOW: Final = 8


def _miss_rate(records: Sequence[GoalRecord]) -> float:
    return sum(r.status == "missed" for r in records) / len(records)


def _plural_day(weekday: int) -> str:
    return DAY_NAMES[weekday] + "s"


def _features(misses: Sequence[GoalRecord]) -> list[_Feature]:
    features: list[_Feature] = []
    areas = sorted({m.area for m in misses if m.area})
    due_days = sorted({m.due.weekday() for m in misses})
    set_days = sorted({m.created.weekday() for m in misses})
    for area in areas:
        for day in due_days:
            features.append(
                _Feature(3, f"{area} goals set for {_plural_day(day)}", area=area, due_day=day)
            )
        features.append(_Feature(1, f"{area} goals", area=area))
    for code in sorted({m.reason for m in misses if m.reason in REASONS}):
        assert code is not None
        features.append(_Feature(2, f"put down to {REASON_PHRASES[code]}", reason=code))
    for day in due_days:
        features.append(_Feature(1, f"goals set for {_plural_day(day)}", due_day=day))
    for day in set_days:
        features.append(_Feature(1, f"goals you wrote on a {DAY_NAMES[day]}", set_day=day))
    features.append(_Feature(1, "goals set for a later week", later_week=True))
    return features


@dataclass(frozen=True)
class Pattern:
    count: int
    window: int
    phrase: str
    rank: int

    def sentence(self) -> str:
        if self.count == self.window:
            return f"All of your last {self.count} misses were {self.phrase}."
        return f"{self.count} of your last {self.window} misses were {self.phrase}."


def find_pattern(history: Sequence[GoalRecord]) -> Pattern | None:
    """The one pattern an outside eye would name in a member's misses, if there is one.

    Looks at the last few misses (most recent first, up to 8); a trait counts when at least 3 of
    them share it, it makes up at least 60% of the window, and (for traits ordinary goals have as
    well) goals with it are missed clearly more often (by 25 points) than goals without it — so
    "all your misses were due on Sunday" is not news when every goal is due on Sunday. Needs a
    history spread over at least three weeks. The most specific, then best-supported, wins."""
    finished = [g for g in history if g.status in ANSWERS]
    if len({week_start(g.due) for g in finished}) < MIN_WEEKS:
        return None
    misses = sorted(
        (g for g in finished if g.status == "missed"),
        key=lambda g: (g.due, g.created),
        reverse=True,
    )[:WINDOW]
    if len(misses) < MIN_COUNT:
        return None
    best: tuple[tuple[int, int, float, int], Pattern] | None = None
    for feature in _features(misses):
        if feature.needs_lift:
            having = [g for g in finished if feature.matches(g)]
            others = [g for g in finished if not feature.matches(g)]
            if not having or not others:
                continue
            if _miss_rate(having) - _miss_rate(others) < MIN_GAP:
                continue
        for window in range(MIN_COUNT, len(misses) + 1):
            count = sum(feature.matches(g) for g in misses[:window])
            if count < MIN_COUNT or count / window < MIN_SHARE:
                continue
            score = (feature.rank, count, count / window, -window)
            if best is None or score > best[0]:
                best = (score, Pattern(count, window, feature.phrase, feature.rank))
    return best[1] if best else None


# --------------------------------------------------------------------------- streaks


def streak_weeks(
    progress: set[date], snoozed: set[date], *, current_week: date, interval_weeks: int = 1
) -> int:
    """Weeks in a row with progress (Mondays in ``progress``), counted back from the last
    finished week; the current week counts when it already has progress, and a snoozed week is
    skipped without breaking the run. For a pair meeting every two weeks a goal's cycle spans
    two weeks, so progress in a week covers the week before it too."""
    if interval_weeks == 2:
        progress = progress | {week - timedelta(days=7) for week in progress}
    count = 0
    week = current_week
    if week not in progress:
        week -= timedelta(days=7)
    while True:
        if week in progress:
            count += 1
        elif week not in snoozed:
            return count
        week -= timedelta(days=7)


# --------------------------------------------------------------------------- the agenda


@dataclass(frozen=True)
class AgendaGoal:
    text: str
    status: str
    due: date
    reason: str | None = None
    reflection: str | None = None


@dataclass(frozen=True)
class AgendaMember:
    user_id: int
    goals: tuple[AgendaGoal, ...] = ()

    @property
    def missed(self) -> tuple[AgendaGoal, ...]:
        return tuple(g for g in self.goals if g.status == "missed")


@dataclass(frozen=True)
class Agenda:
    """The goals part of a meeting's agenda: missed goals with their reasons first, then each
    partner's goals with their status. Member text is quoted: send with no pings."""

    members: tuple[AgendaMember, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return not any(m.goals for m in self.members)

    def render(self, *, limit: int = 3000) -> str:
        """Lines for a message or an embed description, cut to ``limit`` characters."""
        lines: list[str] = []
        missed = [(m, g) for m in self.members for g in m.missed]
        if missed:
            lines.append("**1. Missed goals — what got in the way**")
            for member, goal in missed:
                why = REASONS.get(goal.reason or "", "no reason shared yet")
                line = f"• <@{member.user_id}>: {goal.text} — *{why}*"
                if goal.reflection:
                    line += f"\n  ↳ what would help: {_squash(goal.reflection, 300)}"
                lines.append(line)
            lines.append("")
        if not self.empty:
            number = 2 if missed else 1
            lines.append(f"**{number}. Goals**")
            for member in self.members:
                if not member.goals:
                    lines.append(f"<@{member.user_id}>: no goals yet — set some with `/goal add`")
                    continue
                lines.append(f"<@{member.user_id}>")
                for goal in member.goals:
                    icon = STATUS_ICONS.get(goal.status, "•")
                    lines.append(f"{icon} {goal.text} ({STATUS_WORDS.get(goal.status, '')})")
        text = "\n".join(lines).strip()
        if len(text) > limit:
            text = text[: limit - 1].rstrip() + "…"
        return text


def _squash(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"

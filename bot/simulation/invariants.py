"""Invariants of a community's weeks, checked from each member's point of view.

Each check reads what members really saw (the observer's log, stamped with simulated time) and
what the bot stored (the database), and records a :class:`Problem` for every breach, named by
the invariant it breaks, so a failing run says what went wrong for whom and when.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.db import read_only
from bot.simulation.observer import EVERYONE, Observer, Seen, timestamps
from bot.simulation.people import Person
from emulator import Member
from models import (
    CheckIn,
    Goal,
    MatchRound,
    Meeting,
    OutboxItem,
    Partnership,
    PartnershipMember,
    Snooze,
)
from models import Member as MemberRow

if TYPE_CHECKING:
    from bot.sandbox import Sandbox

FUTURE_WORDS = re.compile(r"\b(next|upcoming|coming up|starts|first on|I'll|will)\b", re.IGNORECASE)
PAST_WORDS = re.compile(
    r"\b(ago|since|was|were|last|ended|missed|earlier|yesterday|had)\b", re.IGNORECASE
)
SLACK = timedelta(minutes=2)
NEXT_ROUND = re.compile(r"next round is <t:(\d+)")
PAUSED_UNTIL = re.compile(r"Paused until <t:(\d+)")
SECRET = re.compile(r"zq\d{3}x\d{4}")
MENTION = re.compile(r"<@!?(\d+)>")


@dataclass
class Problem:
    invariant: str
    detail: str
    at: datetime

    def __str__(self) -> str:
        return f"[{self.at:%a %d %b %H:%M} UTC] {self.invariant}: {self.detail}"


class LogWatch(logging.Handler):
    """Every log line the bot writes during the run, to look for private words in."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(record.getMessage())
        except Exception:  # a malformed log call is not the simulation's business
            self.lines.append(str(record.msg))


@dataclass
class Checker:
    sb: Sandbox
    observer: Observer
    people: list[Person]
    problems: list[Problem] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    member_of: dict[str, Member] = field(default_factory=dict)
    person_of: dict[int, Person] = field(default_factory=dict)
    closed: dict[int, bool] = field(default_factory=dict)
    gone: set[int] = field(default_factory=set)
    cursor: int = 0
    violations_seen: int = 0
    checked_goals: set[int] = field(default_factory=set)
    checked_meetings: set[int] = field(default_factory=set)
    logs: LogWatch = field(default_factory=LogWatch)
    _round_flagged: set[tuple[int, datetime]] = field(default_factory=set)
    secret_owner: dict[str, tuple[Person, int]] = field(default_factory=dict)
    # Promises made to members, to be checked once their moment has passed:
    # (moment, who, what) for "the next round is X" and "paused until X".
    round_promises: list[tuple[datetime, int]] = field(default_factory=list)
    pause_promises: dict[int, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        logging.getLogger().addHandler(self.logs)

    def close(self) -> None:
        logging.getLogger().removeHandler(self.logs)

    # ------------------------------------------------------------------ bookkeeping

    def problem(self, invariant: str, detail: str) -> None:
        self.problems.append(Problem(invariant, detail, self.sb.clock.now()))

    def known(self, person: Person, member: Member) -> None:
        self.member_of[person.name] = member
        self.person_of[member.id] = person
        self.secret_owner[person.secret] = (person, member.id)

    def dms_closed(self, user_id: int, closed: bool) -> None:
        self.closed[user_id] = closed

    def deleted(self, person: Person) -> None:
        self.gone.add(self.member_of[person.name].id)

    async def partner_of(self, person: Person, partnership_id: int) -> Person | None:
        user_id = self.member_of[person.name].id
        async with read_only(self.sb.bot.deps.sessions) as session:
            rows = (
                await session.execute(
                    select(MemberRow.user_id)
                    .join(PartnershipMember, PartnershipMember.member_id == MemberRow.id)
                    .where(PartnershipMember.partnership_id == partnership_id)
                )
            ).scalars()
            others = [u for u in rows if u != user_id]
        return self.person_of.get(others[0]) if others else None

    # ------------------------------------------------------------------ the checks

    async def check_day(self) -> None:
        fresh = self.observer.log[self.cursor :]
        self.cursor = len(self.observer.log)
        self._violations()
        for seen in fresh:
            if seen.from_bot and seen.change == "create":
                self.counts["messages seen"] += 1
                self._future(seen)
                self._private(seen)
                self._promises(seen)
        await self._promises_kept()
        await self._goals()
        await self._meetings()
        await self._round_messages()

    async def check_end(self) -> None:
        await self.check_day()
        secrets = {p.secret: p for p in self.people}
        for line in self.logs.lines:
            for secret, person in secrets.items():
                if secret in line:
                    self.problem(
                        "no private field in a log line", f"{person.name}'s private words logged"
                    )
        self.close()

    def _violations(self) -> None:
        found = self.sb.emu.violations
        for violation in found[self.violations_seen :]:
            self.problem("no Discord rule is broken", str(violation))
        self.violations_seen = len(found)

    def _future(self, seen: Seen) -> None:
        """A line that calls a time upcoming names a time in the future."""
        moment = seen.at.timestamp()
        for line in seen.text.splitlines():
            stamps = timestamps(line)
            if not stamps or not FUTURE_WORDS.search(line) or PAST_WORDS.search(line):
                continue
            for value, _style in stamps:
                if value < moment - SLACK.total_seconds():
                    self.problem(
                        "a time called upcoming is in the future",
                        f"{_who(seen, self.person_of)} read {line[:160]!r} "
                        f"at {seen.at:%a %d %b %H:%M}, "
                        f"naming {datetime.fromtimestamp(value, UTC):%a %d %b %H:%M} UTC",
                    )
                    return

    def _private(self, seen: Seen) -> None:
        """Private words (a decline or end reason, an age bracket) reach only their owner.

        Every member's private reasons carry their own marker word (:attr:`Person.secret`), so
        one scan of each message finds any of them; an age bracket is looked for beside a
        mention of its owner."""
        for found in SECRET.finditer(seen.text):
            owner = self.secret_owner.get(found.group(0))
            if owner is not None and seen.audience != frozenset({owner[1]}):
                self.problem(
                    "no private field in a message seen by others",
                    f"{owner[0].name}'s private reason reached {_audience(seen, self.person_of)}",
                )
        for mention in MENTION.finditer(seen.text):
            user_id = int(mention.group(1))
            person = self.person_of.get(user_id)
            age = person.private.get("age") if person else None
            if person and age and age in seen.text and seen.audience != frozenset({user_id}):
                self.problem(
                    "no private field in a message seen by others",
                    f"{person.name}'s age bracket shown to {_audience(seen, self.person_of)}",
                )

    def _promises(self, seen: Seen) -> None:
        """Remember what the bot promised: the time of the next round, the end of a pause."""
        users = [u for u in seen.audience if u in self.person_of]
        if len(users) != 1:
            return
        if (found := NEXT_ROUND.search(seen.text)) is not None:
            self.round_promises.append((datetime.fromtimestamp(int(found.group(1)), UTC), users[0]))
        if (found := PAUSED_UNTIL.search(seen.text)) is not None:
            self.pause_promises[users[0]] = datetime.fromtimestamp(int(found.group(1)), UTC)

    async def _promises_kept(self) -> None:
        """No later fact contradicts an earlier promise: a round runs when members were told
        it would, and a pause ends when its owner was told it would."""
        now = self.sb.clock.now()
        grace = timedelta(hours=2)
        due_rounds = [(at, u) for at, u in self.round_promises if at + grace <= now]
        due_pauses = {u: at for u, at in self.pause_promises.items() if at + grace <= now}
        if not due_rounds and not due_pauses:
            return
        async with read_only(self.sb.bot.deps.sessions) as session:
            rounds = (await session.execute(select(MatchRound.ran_at))).scalars().all()
            still = set()
            if due_pauses:
                still = set(
                    (
                        await session.execute(
                            select(MemberRow.user_id).where(
                                MemberRow.user_id.in_(list(due_pauses)),
                                MemberRow.pool_status == "paused",
                            )
                        )
                    ).scalars()
                )
        checked = set()
        for at, user in due_rounds:
            checked.add((at, user))
            if not any(at - SLACK <= ran <= at + grace for ran in rounds):
                self.problem(
                    "no later message contradicts an earlier promise",
                    f"{_name(user, self.person_of)} was told the next round is "
                    f"{at:%a %d %b %H:%M} UTC; none ran then",
                )
        self.round_promises = [p for p in self.round_promises if p not in checked]
        for user, at in due_pauses.items():
            del self.pause_promises[user]
            if user in still and user not in self.gone:
                self.problem(
                    "no later message contradicts an earlier promise",
                    f"{_name(user, self.person_of)} was told their pause ends "
                    f"{at:%a %d %b %H:%M} UTC; still paused two hours later",
                )

    async def _goals(self) -> None:
        """Every goal is asked about before it closes (unless its owner snoozed or paused,
        or left), and the bot never closes one before its due moment (its owner may: answering
        "missed" to a check-in says so)."""
        async with read_only(self.sb.bot.deps.sessions) as session:
            goals = (
                await session.execute(
                    select(Goal, MemberRow)
                    .join(MemberRow, MemberRow.id == Goal.member_id)
                    .where(Goal.status == "missed")
                )
            ).all()
            fresh = [(goal, owner) for goal, owner in goals if goal.id not in self.checked_goals]
            if not fresh:
                return
            ids = [goal.id for goal, _ in fresh]
            asked = defaultdict(list)
            for checkin in (
                await session.execute(select(CheckIn).where(CheckIn.goal_id.in_(ids)))
            ).scalars():
                asked[checkin.goal_id].append(checkin)
            snoozes: dict[int, set[date]] = defaultdict(set)
            for snooze in (await session.execute(select(Snooze))).scalars():
                snoozes[snooze.member_id].add(snooze.week_start)
        for goal, owner in fresh:
            self.checked_goals.add(goal.id)
            self.counts["goals closed as missed"] += 1
            zone = ZoneInfo(owner.timezone or "UTC")
            due = _due_moment(goal, zone)
            closed_at = goal.updated_at
            who = self.person_of.get(owner.user_id)
            name = who.name if who else f"user {owner.user_id}"
            own_answer = any(
                c.answer == "missed"
                and c.answered_at is not None
                and abs(c.answered_at - closed_at) <= SLACK
                for c in asked[goal.id]
            )
            if closed_at < due - SLACK and not own_answer:
                self.problem(
                    "no goal closes before its due moment",
                    f"{name}'s goal #{goal.id} closed {closed_at:%a %d %b %H:%M} UTC, "
                    f"due {due:%a %d %b %H:%M} UTC",
                )
            if self._excused(owner, due, snoozes[owner.id]):
                continue
            seen = [
                s
                for c in asked[goal.id]
                for s in self._seen_with(f"pairbot:g:ci:{c.id}:", owner.user_id)
                if s.at <= closed_at + SLACK
            ]
            if not seen:
                self.problem(
                    "every goal is asked about before it closes",
                    f"{name}'s goal #{goal.id} ({goal.text[:40]!r}, due {due:%a %d %b %H:%M} UTC) "
                    f"closed as missed at {closed_at:%a %d %b %H:%M} UTC without a check-in",
                )
            elif goal.created_at <= due - timedelta(days=1) and min(s.at for s in seen) > due:
                self.problem(
                    "the check-in comes before the due moment",
                    f"{name}'s goal #{goal.id} due {due:%a %d %b %H:%M} UTC was first asked about "
                    f"{min(s.at for s in seen):%a %d %b %H:%M} UTC",
                )

    def _excused(self, owner: MemberRow, due: datetime, snoozed: set[date]) -> bool:
        """A member who left, snoozed a week near the goal's due moment, paused, or whom
        nobody can reach (DMs closed, no partner's thread) need not have been asked."""
        if owner.user_id in self.gone or owner.pool_status == "paused":
            return True
        if any(abs((week - due.date()).days) <= 14 for week in snoozed):
            return True
        return bool(self.closed.get(owner.user_id))

    def _seen_with(self, prefix: str, user_id: int) -> list[Seen]:
        return [
            s
            for s in self.observer.by_user.get(user_id, [])
            if s.change == "create" and any(i.startswith(prefix) for i in s.custom_ids)
        ]

    async def _meetings(self) -> None:
        """Each meeting brings exactly one reminder and one "did you meet?" per member, at
        the right instant."""
        now = self.sb.clock.now()
        async with read_only(self.sb.bot.deps.sessions) as session:
            rows = (
                await session.execute(
                    select(Meeting, Partnership)
                    .join(Partnership, Partnership.id == Meeting.partnership_id)
                    .where(Meeting.occurs_at < now - timedelta(hours=3))
                )
            ).all()
            members: dict[int, list[int]] = defaultdict(list)
            pids = {p.id for _, p in rows}
            if pids:
                for pid, user_id in (
                    await session.execute(
                        select(PartnershipMember.partnership_id, MemberRow.user_id)
                        .join(MemberRow, MemberRow.id == PartnershipMember.member_id)
                        .where(PartnershipMember.partnership_id.in_(pids))
                    )
                ).all():
                    members[pid].append(user_id)
        for meeting, pair in rows:
            if meeting.id in self.checked_meetings:
                continue
            self.checked_meetings.add(meeting.id)
            if meeting.state == "cancelled":
                continue
            if pair.ended_at is not None and pair.ended_at <= meeting.occurs_at + timedelta(
                hours=2
            ):
                continue
            users = [u for u in members[pair.id] if u not in self.gone]
            if len(users) < 2:
                continue
            self.counts["meetings checked"] += 1
            stamp = f"<t:{int(meeting.occurs_at.timestamp())}"
            remind_at = meeting.occurs_at - timedelta(minutes=pair.reminder_minutes)
            for user in users:
                named = [
                    s
                    for s in self.observer.by_user.get(user, [])
                    if s.change == "create" and s.from_bot and stamp in s.text
                ]
                reminders = [
                    s for s in named if "**Agenda**" in s.text and s.at <= meeting.occurs_at
                ]
                # A meeting agreed (📅, "Meeting set") after its reminder moment is reminded
                # at once.
                agreed = [s.at for s in named if "📅" in s.text]
                expected = max(remind_at, min(agreed, default=remind_at))
                asked = self._seen_with("pairbot:met:", user)
                asked = [
                    s
                    for s in asked
                    if any(i.endswith(f":{meeting.id}") for i in s.custom_ids)
                    and _addressed_to(s, user)
                ]
                name = _name(user, self.person_of)
                if len(reminders) != 1:
                    self.problem(
                        "each meeting brings exactly one reminder",
                        f"{name}: {len(reminders)} reminders for the meeting at "
                        f"{meeting.occurs_at:%a %d %b %H:%M} UTC (pair #{pair.id})",
                    )
                elif abs(reminders[0].at - expected) > SLACK:
                    self.problem(
                        "each meeting's reminder comes at the right instant",
                        f"{name}: reminder at {reminders[0].at:%a %H:%M}, due {expected:%a %H:%M}",
                    )
                if self.closed.get(user):
                    continue
                if len(asked) != 1:
                    self.problem(
                        "each meeting brings exactly one 'did you meet?'",
                        f"{name}: {len(asked)} for the meeting at "
                        f"{meeting.occurs_at:%a %d %b %H:%M} UTC (pair #{pair.id})",
                    )
                elif asked[0].at < meeting.occurs_at:
                    self.problem(
                        "'did you meet?' comes after the meeting",
                        f"{name}: asked {asked[0].at:%a %H:%M} for {meeting.occurs_at:%a %H:%M}",
                    )

    async def _round_messages(self) -> None:
        """At most one round message per member a day (a moderator's round and the scheduled
        one must not both tell the same member)."""
        async with read_only(self.sb.bot.deps.sessions) as session:
            rows = (
                await session.execute(
                    select(OutboxItem.user_id, OutboxItem.finished_at).where(
                        OutboxItem.key.like("unmatched:%"), OutboxItem.state == "sent"
                    )
                )
            ).all()
        by_member: dict[int, list[datetime]] = defaultdict(list)
        for user_id, at in rows:
            if user_id is not None and at is not None:
                by_member[user_id].append(at)
        for user_id, moments in by_member.items():
            moments.sort()
            for first, second in itertools.pairwise(moments):
                if second - first < timedelta(hours=20):
                    key = (user_id, first)
                    if key in self._round_flagged:
                        continue
                    self._round_flagged.add(key)
                    self.problem(
                        "at most one round message per member a round",
                        f"{_name(user_id, self.person_of)} told twice within "
                        f"{(second - first).total_seconds() / 3600:.1f} h",
                    )


def _due_moment(goal: Goal, zone: ZoneInfo) -> datetime:
    due_at = getattr(goal, "due_at", None)
    if isinstance(due_at, datetime):
        return due_at
    end = datetime.combine(goal.due_date + timedelta(days=1), time(0, 0), tzinfo=zone)
    return end.astimezone(UTC)


def _addressed_to(seen: Seen, user_id: int) -> bool:
    """A DM is addressed to its reader; in a shared thread, a message is addressed to whom it
    opens by mentioning (a partner's fallback question is theirs, not everyone's there)."""
    return len(seen.audience) == 1 or seen.message.content.startswith(f"<@{user_id}>")


def _name(user_id: int, people: dict[int, Person]) -> str:
    person = people.get(user_id)
    return person.name if person else f"user {user_id}"


def _who(seen: Seen, people: dict[int, Person]) -> str:
    return _audience(seen, people)


def _audience(seen: Seen, people: dict[int, Person]) -> str:
    if EVERYONE in seen.audience:
        return f"everyone in #{seen.message.channel.name or 'a channel'}"
    return ", ".join(sorted(_name(u, people) for u in seen.audience)) or "nobody"

"""Matching rounds: read the pool, match it with the pure engine, store the round, hand each
group to the partnership lifecycle, and tell everyone left over why and when the next round is.

Private fields feed the hard rules only; nothing stored or sent here contains them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from bot.db import read_only, unit_of_work
from bot.domain.availability_text import parse_availability
from bot.domain.matching import (
    CommunitySettings,
    Group,
    MatchResult,
    PastPartner,
    Seeker,
    match_pool,
)
from bot.domain.matching.explain import advice_key, render_waiting
from bot.domain.matching.model import Medium, MemberAdvice, Rhythm
from bot.domain.profile import AGE_BRACKETS, bracket_bounds
from bot.domain.recurrence import Recurrence, next_occurrence, occurrence_key
from bot.domain.timezones import ts
from bot.services import outbox, partnerships
from bot.services.guilds import get_settings
from bot.services.pool import LIVE_STATES
from bot.services.ports import OutgoingMessage
from models import (
    Block,
    GuildSettings,
    MatchRound,
    Member,
    Partnership,
    PartnershipMember,
    RoundStanding,
)

log = logging.getLogger(__name__)

ROUND_KIND = outbox.MATCH_ROUND.kind
REMIND_AFTER = dt.timedelta(days=28)
"""A member whose situation stays the same hears from the rounds again after this long."""
MIN_GAP = dt.timedelta(hours=20)
"""Never two round messages to a member within this: a moderator's round and the scheduled one
the same day tell them once; a change seen by the second waits for the next round after it."""
LONG_WAIT_ROUNDS = 3
"""Moderators see members who have waited this many rounds or more ("more than two")."""


@dataclass(frozen=True)
class PreviewGroup:
    """A proposed group as moderators see it: who, the score, public reasons only."""

    user_ids: tuple[int, ...]
    score: float
    overlap_minutes: int
    shared_goal_areas: tuple[str, ...]


@dataclass(frozen=True)
class RoundReport:
    round_id: int | None
    pool_size: int
    groups: tuple[PreviewGroup, ...]
    unmatched: tuple[tuple[int, str], ...]
    """(user id, a hint from public fields only, maybe empty): never the private reason."""
    total_score: float
    seconds: float
    next_round: datetime


def community_settings(settings: GuildSettings) -> CommunitySettings:
    return CommunitySettings(
        min_overlap_minutes=settings.min_overlap_minutes,
        repeat_window_days=settings.repeat_window_days,
        odd_policy=cast(Any, settings.odd_policy),
    )


def next_round_at(settings: GuildSettings, now: datetime) -> datetime:
    """The community's next scheduled round after ``now`` (its cadence is in UTC)."""
    hour, minute = (int(x) for x in settings.match_time_utc.split(":"))
    cadence = Recurrence(weekday=settings.match_weekday, time=dt.time(hour, minute), zone="UTC")
    return next_occurrence(cadence, now)


def _age_brackets(low: int | None, high: int | None) -> frozenset[str] | None:
    if low is None and high is None:
        return None
    chosen = set()
    for bracket in AGE_BRACKETS:
        b_low, b_high = bracket_bounds(bracket)
        if (low is None or b_high >= low) and (high is None or b_low <= high):
            chosen.add(bracket)
    return frozenset(chosen)


async def load_pool(
    session: AsyncSession, *, guild_id: int
) -> tuple[list[Seeker], dict[str, Member]]:
    """Everyone seeking a partner in the community and not already in a partnership."""
    busy = (
        select(PartnershipMember.member_id)
        .join(Partnership)
        .where(Partnership.guild_id == guild_id, Partnership.state.in_(LIVE_STATES))
    )
    members = list(
        (
            await session.execute(
                select(Member)
                .options(selectinload(Member.private))
                .where(
                    Member.guild_id == guild_id,
                    Member.pool_status == "seeking",
                    Member.id.not_in(busy),
                )
                .order_by(Member.id)
            )
        ).scalars()
    )
    ids = [m.id for m in members]
    blocks: dict[int, set[str]] = defaultdict(set)
    for blocker, blocked in await session.execute(
        select(Block.blocker_id, Block.blocked_id).where(
            Block.blocker_id.in_(ids) | Block.blocked_id.in_(ids)
        )
    ):
        blocks[blocker].add(str(blocked))
        blocks[blocked].add(str(blocker))
    past: dict[int, list[PastPartner]] = defaultdict(list)
    ended = (
        await session.execute(
            select(Partnership)
            .join(PartnershipMember)
            .where(PartnershipMember.member_id.in_(ids), Partnership.state == "ended")
        )
    ).scalars()
    for partnership in set(ended):
        when = partnership.ended_at.date() if partnership.ended_at else None
        mates = [pm.member_id for pm in partnership.members]
        for a in mates:
            past[a] += [PastPartner(partner_id=str(b), ended=when) for b in mates if b != a]
    seekers = []
    for m in members:
        private = m.private
        seekers.append(
            Seeker(
                id=str(m.id),
                zone=m.timezone or "UTC",
                windows=parse_availability(m.availability) if m.availability else (),
                goal_areas=frozenset(m.goal_areas or ()),
                rhythm=cast(Rhythm, m.rhythm or "weekly"),
                medium=cast(Medium, m.medium or "video"),
                languages=frozenset(m.languages or ()),
                gender=private.gender if private else None,
                age_bracket=private.age_bracket if private else None,
                partner_genders=frozenset(private.pref_genders)
                if private and private.pref_genders
                else None,
                partner_age_brackets=_age_brackets(private.pref_age_min, private.pref_age_max)
                if private
                else None,
                partner_languages=frozenset(private.pref_languages)
                if private and private.pref_languages
                else None,
                blocks=frozenset(blocks.get(m.id, ())),
                past_partners=tuple(past.get(m.id, ())),
                waiting_since=m.waiting_since,
                carried_over=m.priority,
            )
        )
    return seekers, {str(m.id): m for m in members}


def _reasons(group: Group) -> list[str]:
    """Reader-neutral reasons (Discord timestamps show each reader their own time)."""
    expl = group.explanation
    lines = []
    if expl.weeks and expl.weeks[0].intervals:
        week = expl.weeks[0]
        shown = ", ".join(f"{ts(a, 'F')}–{ts(b, 't')}" for a, b in week.intervals[:3])
        # The round's first coming week, named: "this week" read on a Monday meant the next one.
        lines.append(
            f"You overlap {week.minutes / 60:g} h in the week of {ts(week.week_start, 'D')}: "
            f"{shown}."
        )
    if expl.shared_goal_areas:
        lines.append("You're both working on " + ", ".join(expl.shared_goal_areas) + ".")
    if expl.shared_languages:
        lines.append("You share " + ", ".join(expl.shared_languages) + ".")
    if expl.preferences_satisfied:
        lines.append("Your preferences are satisfied.")
    return lines


ROUND_CHUNK = 250
"""Groups written per transaction: each chunk re-checks its members and commits on its own, so
no transaction of a round holds the database (SQLite's write lock) for long."""
SQLITE_CHUNK_GAP = 0.12
"""Seconds between a round's chunks on SQLite, so that a waiting command gets the write lock."""
SPACES_PER_SECOND = 8.0
"""A round's private spaces open at most this many a second (each is about four requests: the
thread, two members, the proposal), so a large round stays well inside Discord's 50 requests/s
with room for reminders and commands, and is spread over many ticks."""


@dataclass
class PoolSnapshot:
    """What a round read, after its read transaction ended: the seekers for the engine and,
    per seeker, the member's id, user id and waiting spell (to re-check at write time)."""

    guild_id: int
    settings: GuildSettings
    seekers: list[Seeker]
    user_ids: dict[str, int]
    spells: dict[str, datetime | None]


@dataclass
class RoundTimings:
    """Seconds spent in each phase, and the longest single write transaction."""

    read: float = 0.0
    solve: float = 0.0
    write: float = 0.0
    longest_transaction: float = 0.0
    chunks: int = 0
    dropped_groups: int = 0


async def read_pool(
    sessions: async_sessionmaker[AsyncSession], *, guild_id: int, now: datetime
) -> PoolSnapshot:
    """Read the pool in a read-only session (on SQLite no write lock is taken or waited for) and
    end it: nothing is held while the engine solves."""
    async with read_only(sessions) as session:
        settings = await session.get(GuildSettings, guild_id)
        if settings is None:  # a community's first round: its defaults are stored first
            async with unit_of_work(sessions) as writing:
                settings = await get_settings(writing, guild_id=guild_id, now=now)
        seekers, by_id = await load_pool(session, guild_id=guild_id)
        session.expunge_all()
    return PoolSnapshot(
        guild_id=guild_id,
        settings=settings,
        seekers=seekers,
        user_ids={k: m.user_id for k, m in by_id.items()},
        spells={k: m.waiting_since for k, m in by_id.items()},
    )


async def solve(snapshot: PoolSnapshot, *, now: datetime, seed: int = 0) -> MatchResult:
    """The engine, in a thread (seconds of CPU for a large pool): the bot keeps answering."""
    return await asyncio.to_thread(
        match_pool,
        snapshot.seekers,
        community_settings(snapshot.settings),
        now=now,
        seed=seed,
        advise=True,
    )


def _explanation(group: Group) -> dict[str, Any]:
    return {
        "reasons": _reasons(group),
        "shared_areas": list(group.explanation.shared_goal_areas),
        "languages": list(group.explanation.shared_languages),
        "overlap_minutes": group.explanation.weekly_overlap_minutes,
    }


async def _free_members(
    session: AsyncSession, snapshot: PoolSnapshot, ids: list[int]
) -> dict[int, partnerships.RoundMember]:
    """Of ``ids``, the members who are, in this transaction, as the round read them: still in the
    community, seeking, in the same waiting spell, and in no live partnership. Two indexed
    lookups of plain columns (no ORM objects: a chunk names hundreds of members)."""
    busy = set(
        (
            await session.execute(
                select(PartnershipMember.member_id)
                .join(Partnership)
                .where(PartnershipMember.member_id.in_(ids), Partnership.state.in_(LIVE_STATES))
            )
        ).scalars()
    )
    rows = await session.execute(
        select(
            Member.id,
            Member.guild_id,
            Member.user_id,
            Member.rhythm,
            Member.pool_status,
            Member.waiting_since,
        ).where(Member.id.in_(ids))
    )
    return {
        row.id: partnerships.RoundMember(
            id=row.id, guild_id=row.guild_id, user_id=row.user_id, rhythm=row.rhythm
        )
        for row in rows
        if row.id not in busy
        and row.guild_id == snapshot.guild_id
        and row.pool_status == "seeking"
        and row.waiting_since == snapshot.spells.get(str(row.id))
    }


async def _still_free(
    session: AsyncSession, snapshot: PoolSnapshot, ids: list[int]
) -> dict[int, Member]:
    """:func:`_free_members`, as ORM objects (to change them)."""
    free = await _free_members(session, snapshot, ids)
    if not free:
        return {}
    members = (await session.execute(select(Member).where(Member.id.in_(list(free))))).scalars()
    return {m.id: m for m in members}


async def _blocked_pairs(session: AsyncSession, ids: list[int]) -> set[frozenset[int]]:
    rows = await session.execute(
        select(Block.blocker_id, Block.blocked_id).where(
            Block.blocker_id.in_(ids), Block.blocked_id.in_(ids)
        )
    )
    return {frozenset((int(a), int(b))) for a, b in rows}


async def write_round(
    sessions: async_sessionmaker[AsyncSession],
    snapshot: PoolSnapshot,
    result: MatchResult,
    *,
    now: datetime,
    trigger: str,
    seconds: float,
    chunk: int = ROUND_CHUNK,
    timings: RoundTimings | None = None,
) -> RoundReport:
    """Store a solved round in short transactions of ``chunk`` groups each. Each chunk checks its
    groups again: one whose member left, paused, was paired or blocked the other since the read
    is not proposed, and its members are told nothing this round (they are still waiting, with
    their standing unchanged, and the next round takes them). Proposals' spaces are due
    :data:`SPACES_PER_SECOND` apart."""
    timings = timings if timings is not None else RoundTimings()
    settings, guild_id = snapshot.settings, snapshot.guild_id
    upcoming = next_round_at(settings, now)
    started = time.perf_counter()

    async def timed(step: Any) -> Any:
        began = time.perf_counter()
        async with unit_of_work(sessions) as session:
            out = await step(session)
            sqlite = session.get_bind().dialect.name == "sqlite"
        timings.longest_transaction = max(timings.longest_transaction, time.perf_counter() - began)
        timings.chunks += 1
        if sqlite:
            # SQLite's busy handler polls for the write lock at most every 100 ms: a chunk that
            # took it again at once would starve a command waiting for it (5 s, then "locked").
            await asyncio.sleep(SQLITE_CHUNK_GAP)
        return out

    async def open_record(session: AsyncSession) -> int:
        record = MatchRound(
            guild_id=guild_id,
            ran_at=now,
            pool_size=len(snapshot.seekers),
            groups=len(result.groups),
            unmatched=len(result.unmatched),
            total_score=result.totals.total_score,
            seconds=seconds,
            trigger=trigger,
        )
        session.add(record)
        await session.flush()
        return record.id

    round_id: int = await timed(open_record)
    proposed: list[Group] = []
    space_index = 0
    for start in range(0, len(result.groups), chunk):
        groups = result.groups[start : start + chunk]

        async def write_chunk(session: AsyncSession, groups: Any = groups) -> list[Group]:
            nonlocal space_index
            ids = [int(m) for g in groups for m in g.members]
            free = await _free_members(session, snapshot, ids)
            blocked = await _blocked_pairs(session, ids)
            kept: list[Group] = []
            proposals: list[partnerships.RoundProposal] = []
            for group in groups:
                members = tuple(int(m) for m in group.members)
                pairs = {frozenset((a, b)) for a in members for b in members if a < b}
                if any(m not in free for m in members) or pairs & blocked:
                    continue
                kept.append(group)
                proposals.append(
                    partnerships.RoundProposal(
                        member_ids=members,
                        score=group.score,
                        explanation=_explanation(group),
                        space_open_at=now + dt.timedelta(seconds=space_index / SPACES_PER_SECOND),
                    )
                )
                space_index += 1
            await partnerships.propose_round(
                session,
                guild_id=guild_id,
                proposals=proposals,
                members=free,
                round_id=round_id,
                now=now,
            )
            matched = [m for p in proposals for m in p.member_ids]
            if matched:
                await session.execute(
                    delete(RoundStanding).where(RoundStanding.member_id.in_(matched))
                )
            return kept

        kept = await timed(write_chunk)
        timings.dropped_groups += len(groups) - len(kept)
        proposed += kept
    for start in range(0, len(result.unmatched), chunk):
        left = result.unmatched[start : start + chunk]

        async def tell_chunk(session: AsyncSession, left: Any = left) -> None:
            ids = [int(u.member_id) for u in left]
            free = await _still_free(session, snapshot, ids)
            standings = {
                s.member_id: s
                for s in (
                    await session.execute(
                        select(RoundStanding).where(RoundStanding.member_id.in_(ids))
                    )
                ).scalars()
            }
            record = await session.get(MatchRound, round_id)
            assert record is not None
            for unmatched in left:
                member = free.get(int(unmatched.member_id))
                if member is None:
                    continue  # changed since the read: what we'd say may be wrong
                await _tell_unmatched(
                    session,
                    member,
                    result.advice[unmatched.member_id],
                    standings.get(member.id),
                    settings=settings,
                    record=record,
                    upcoming=upcoming,
                    now=now,
                )
                member.priority = unmatched.priority or member.priority
            await session.flush()

        await timed(tell_chunk)
    dropped = len(result.groups) - len(proposed)
    if dropped:
        log.info(
            "round %s: %d groups changed before they were stored; they wait", round_id, dropped
        )

        async def correct(session: AsyncSession) -> None:
            record = await session.get(MatchRound, round_id)
            assert record is not None
            record.groups = len(proposed)

        await timed(correct)
    timings.write = time.perf_counter() - started
    return _report(round_id, snapshot, result, proposed, seconds, upcoming)


def _report(
    round_id: int | None,
    snapshot: PoolSnapshot,
    result: MatchResult,
    groups: list[Group],
    seconds: float,
    upcoming: datetime,
) -> RoundReport:
    preview = tuple(
        PreviewGroup(
            user_ids=tuple(snapshot.user_ids[m] for m in g.members),
            score=g.score,
            overlap_minutes=g.explanation.weekly_overlap_minutes,
            shared_goal_areas=g.explanation.shared_goal_areas,
        )
        for g in groups
    )
    left = tuple(
        (snapshot.user_ids[u.member_id], result.advice[u.member_id].hint) for u in result.unmatched
    )
    return RoundReport(
        round_id, len(snapshot.seekers), preview, left, result.totals.total_score, seconds, upcoming
    )


async def run_round(
    sessions: async_sessionmaker[AsyncSession],
    *,
    guild_id: int,
    now: datetime,
    trigger: str,
    dry_run: bool = False,
    seed: int = 0,
    timings: RoundTimings | None = None,
    chunk: int = ROUND_CHUNK,
) -> RoundReport:
    """Match the community's pool now: read it (and end the read), solve with no transaction
    open, then store the round in short chunks (:func:`write_round`). A dry run computes and
    reports without changing anything; a real round proposes each group and tells the unmatched
    why."""
    timings = timings if timings is not None else RoundTimings()
    began = time.perf_counter()
    snapshot = await read_pool(sessions, guild_id=guild_id, now=now)
    timings.read = time.perf_counter() - began
    began = time.perf_counter()
    result = await solve(snapshot, now=now, seed=seed)
    seconds = timings.solve = time.perf_counter() - began
    if not dry_run:
        return await write_round(
            sessions,
            snapshot,
            result,
            now=now,
            trigger=trigger,
            seconds=seconds,
            timings=timings,
            chunk=chunk,
        )
    upcoming = next_round_at(snapshot.settings, now)
    return _report(None, snapshot, result, list(result.groups), seconds, upcoming)


async def _tell_unmatched(
    session: AsyncSession,
    member: Member,
    advice: MemberAdvice,
    standing: RoundStanding | None,
    *,
    settings: GuildSettings,
    record: MatchRound,
    upcoming: datetime,
    now: datetime,
) -> None:
    """At most one message a round, and only when something changed for the member: their
    situation or the kind of change that would help, an unkept priority promise, or (rarely) a
    reminder after :data:`REMIND_AFTER` of the same; never two within :data:`MIN_GAP`. The
    standing also counts the rounds waited."""
    if standing is None or standing.spell != member.waiting_since:
        if standing is not None:
            await session.delete(standing)
            await session.flush()
        standing = RoundStanding(
            member_id=member.id,
            guild_id=member.guild_id,
            spell=member.waiting_since,
            rounds_waited=0,
            promise_open=member.priority,
            hint="",
        )
        session.add(standing)
    standing.rounds_waited += 1
    standing.last_round_at = now
    standing.hint = advice.hint
    if standing.told_at is not None and now - standing.told_at < MIN_GAP:
        return
    key = advice_key(advice)
    priority_failed = standing.promise_open
    reminder = (
        key == standing.told_key
        and standing.told_at is not None
        and now - standing.told_at >= REMIND_AFTER
    )
    if key == standing.told_key and not priority_failed and not reminder:
        return
    standing.told_key = key
    standing.told_at = now
    standing.promise_open = False
    text = render_waiting(
        advice,
        zone=member.timezone or "UTC",
        now=now,
        next_round=upcoming,
        min_overlap_minutes=settings.min_overlap_minutes,
        priority_failed=priority_failed,
        reminder=reminder,
    )
    await outbox.enqueue(
        session,
        key=f"unmatched:{record.id}:{member.id}",
        kind=outbox.NOTICE.kind,
        due_at=now,
        now=now,
        guild_id=member.guild_id,
        user_id=member.user_id,
        payload=outbox.delivery_payload(OutgoingMessage(content=text)),
    )


async def long_waits(
    session: AsyncSession, *, guild_id: int, rounds: int = LONG_WAIT_ROUNDS
) -> list[tuple[int, int, str]]:
    """Members still in the pool who have waited at least ``rounds`` rounds in their current
    spell: (user id, rounds, public hint), longest first. Nothing private: the hint comes from
    public fields only."""
    busy = (
        select(PartnershipMember.member_id)
        .join(Partnership)
        .where(Partnership.guild_id == guild_id, Partnership.state.in_(LIVE_STATES))
    )
    rows = await session.execute(
        select(Member.user_id, RoundStanding.rounds_waited, RoundStanding.hint)
        .join(RoundStanding, RoundStanding.member_id == Member.id)
        .where(
            Member.guild_id == guild_id,
            Member.pool_status == "seeking",
            Member.id.not_in(busy),
            RoundStanding.spell == Member.waiting_since,
            RoundStanding.rounds_waited >= rounds,
        )
        .order_by(RoundStanding.rounds_waited.desc(), Member.user_id)
    )
    return [(int(u), int(n), h or "") for u, n, h in rows]


async def schedule_next_round(session: AsyncSession, *, guild_id: int, now: datetime) -> datetime:
    """Put the community's next scheduled round in the outbox (idempotent per occurrence)."""
    settings = await get_settings(session, guild_id=guild_id, now=now)
    at = next_round_at(settings, now)
    await outbox.enqueue(
        session,
        key=occurrence_key(ROUND_KIND, guild_id, at),
        kind=ROUND_KIND,
        due_at=at,
        now=now,
        guild_id=guild_id,
        payload={"guild_id": guild_id},
    )
    return at


async def configured_guilds(session: AsyncSession) -> list[int]:
    return list(
        (
            await session.execute(
                select(GuildSettings.guild_id).where(GuildSettings.forum_channel_id.is_not(None))
            )
        ).scalars()
    )

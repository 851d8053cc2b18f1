"""A matching round in short transactions (issue 13): it reads the pool, solves with nothing
open, and writes in chunks that check the pool again. A member who paused or left between the
read and the write is not paired and is told nothing; a chunked write stores the same pairs as
a one-shot one; every space of a round larger than a chunk opens, spread out in time.
Runs on SQLite and, with PAIRBOT_TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FakeClock
from bot.db import unit_of_work
from bot.dispatch import Dispatcher
from bot.services import matching, outbox, partnerships, pool
from bot.services.outbox import DueWork
from bot.services.profiles import ProfileChanges, update_profile
from models import Member, OutboxItem, Partnership, PartnershipMember
from tests.services.test_partnerships import ContentMessenger

G, H = 7001, 7002
PROFILE = ProfileChanges(
    timezone="Europe/Berlin",
    availability="Mon-Fri 18:00-21:00",
    goal_areas="writing",
    intro="I write.",
    rhythm="weekly",
    medium="video",
    languages="English",
)


async def seekers(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, guild_id: int, users: range
) -> None:
    async with unit_of_work(sessions) as s:
        for user_id in users:
            await update_profile(
                s, guild_id=guild_id, user_id=user_id, changes=PROFILE, now=clock.now()
            )
            await pool.join_pool(s, guild_id=guild_id, user_id=user_id, now=clock.now())


async def proposed_users(
    sessions: async_sessionmaker[AsyncSession], guild_id: int
) -> set[frozenset[int]]:
    async with sessions() as s:
        rows = await s.execute(
            select(Partnership.id, Member.user_id)
            .join(PartnershipMember, PartnershipMember.partnership_id == Partnership.id)
            .join(Member, Member.id == PartnershipMember.member_id)
            .where(Partnership.guild_id == guild_id, Partnership.state == "proposed")
        )
        groups: dict[int, set[int]] = {}
        for pid, user_id in rows:
            groups.setdefault(pid, set()).add(user_id)
    return {frozenset(g) for g in groups.values()}


async def test_members_who_paused_or_left_after_the_read_are_not_paired_nor_told(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    await seekers(sessions, clock, G, range(1, 5))
    now = clock.now()
    snapshot = await matching.read_pool(sessions, guild_id=G, now=now)
    result = await matching.solve(snapshot, now=now)
    assert len(result.groups) == 2  # everyone could be paired at the read
    async with unit_of_work(sessions) as s:
        await pool.pause(s, guild_id=G, user_id=1, until=now + timedelta(days=3), now=now)
        await pool.leave(s, guild_id=G, user_id=3, now=now)
    timings = matching.RoundTimings()
    report = await matching.write_round(
        sessions, snapshot, result, now=now, trigger="schedule", seconds=0.0, chunk=1,
        timings=timings,
    )  # fmt: skip
    paired = await proposed_users(sessions, G)
    assert all(not ({1, 3} & group) for group in paired)
    assert {u for g in report.groups for u in g.user_ids} == {u for g in paired for u in g}
    assert timings.dropped_groups == 2 - len(paired) >= 1
    async with sessions() as s:
        members = {
            m.user_id: m
            for m in (await s.execute(select(Member).where(Member.guild_id == G))).scalars()
        }
        notices = (
            (await s.execute(select(OutboxItem.key).where(OutboxItem.kind == outbox.NOTICE.kind)))
            .scalars()
            .all()
        )
    assert members[1].pool_status == "paused" and members[3].pool_status != "seeking"
    waiting = {u for u in (2, 4) if not any(u in g for g in paired)}
    assert all(members[u].pool_status == "seeking" for u in waiting)
    assert notices == []  # nobody is told "no match" (or anything) about a pair that changed


async def test_a_round_larger_than_a_chunk_stores_the_same_pairs_and_opens_every_space(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    await seekers(sessions, clock, H, range(1001, 1013))
    now = clock.now()
    timings = matching.RoundTimings()
    snapshot = await matching.read_pool(sessions, guild_id=H, now=now)
    result = await matching.solve(snapshot, now=now)
    await matching.write_round(
        sessions, snapshot, result, now=now, trigger="schedule", seconds=0.0, chunk=2,
        timings=timings,
    )  # fmt: skip
    # 6 groups in 3 chunks (plus the round's record): exactly the solver's groups are stored,
    # as a one-shot write would store them.
    assert len(result.groups) == 6 and timings.chunks >= 3 + 1 and timings.dropped_groups == 0
    solved = {frozenset(snapshot.user_ids[m] for m in g.members) for g in result.groups}
    assert await proposed_users(sessions, H) == solved

    opened: list[int] = []

    async def open_space(session: AsyncSession, work: DueWork) -> None:
        pid = int(work.payload["partnership_id"])
        opened.append(pid)
        await partnerships.record_space(
            session, partnership_id=pid, thread_id=90_000 + pid, now=clock.now()
        )

    dispatcher = Dispatcher(
        sessions=sessions, clock=clock, messenger=ContentMessenger(clock), batch_size=2
    )
    dispatcher.register(partnerships.SPACE_OPEN.kind, open_space)
    async with sessions() as s:
        due = sorted(
            (
                await s.execute(
                    select(OutboxItem.due_at).where(OutboxItem.kind == partnerships.SPACE_OPEN.kind)
                )
            )
            .scalars()
            .all()
        )
    assert len(due) == 6 and due[-1] - due[0] == timedelta(seconds=5 / matching.SPACES_PER_SECOND)
    await dispatcher.run_once()
    assert len(opened) == 1  # spread out: one due now, the next a fraction of a second later
    for _ in range(10):
        clock.advance(timedelta(seconds=0.1))
        await dispatcher.run_once()
    async with sessions() as s:
        pairs = (
            (await s.execute(select(Partnership).where(Partnership.state == "proposed")))
            .scalars()
            .all()
        )
    assert sorted(opened) == sorted(p.id for p in pairs)  # each once
    assert all(p.thread_id == 90_000 + p.id for p in pairs)

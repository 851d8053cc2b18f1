"""The goals safety sweep in bounded chunks (issue 13): a stored cursor, at most ``limit``
members re-planned and ``window`` member ids read per transaction, a pass spread over many
ticks, and exactly the result of a sweep over everyone at once."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FakeClock
from bot.db import unit_of_work
from bot.services import goals
from models import Goal, Member, OutboxItem, SweepCursor
from tests.conftest import START

G = 1
MEMBERS = 180
DENSE = range(100, 150)  # every one of these is overdue: chunks hit the limit here
LIMIT, WINDOW = 7, 25
ZONES = ("UTC", "Asia/Tokyo", "America/Sao_Paulo", "Europe/Berlin")
PLANNING = (goals.CHECKIN_PLAN.kind, goals.GOAL_REVIEW.kind)


def overdue(i: int) -> bool:
    return i % 3 == 0 or i in DENSE


async def build(sessions: async_sessionmaker[AsyncSession], now: datetime) -> set[int]:
    """Members whose planning rows were lost: some with a goal overdue and unreviewed (the
    sweep's work), others reviewed, dropped or not yet due (not its work). Returns the ids of
    the overdue ones."""
    async with unit_of_work(sessions) as s:
        await s.execute(
            insert(Member),
            [
                {
                    "guild_id": G,
                    "user_id": 5_000 + i,
                    "display_name": f"m{i}",
                    "timezone": ZONES[i % len(ZONES)],
                    "created_at": START,
                    "updated_at": START,
                }
                for i in range(MEMBERS)
            ],
        )
        ids = dict((await s.execute(select(Member.user_id, Member.id))).all())
        rows: list[dict[str, Any]] = []
        for i in range(MEMBERS):
            late = overdue(i)
            due = now - timedelta(days=2) if late or i % 3 == 1 else now + timedelta(days=3)
            rows.append(
                {
                    "guild_id": G,
                    "member_id": ids[5_000 + i],
                    "text": f"goal {i}",
                    "due_date": due.date(),
                    "due_at": due,
                    "due_rule": "day",
                    "status": "open",
                    "reviewed_at": now - timedelta(days=1) if i % 3 == 1 and not late else None,
                    "created_at": START,
                    "updated_at": START,
                }
            )
            if i % 5 == 0:  # a dropped overdue goal is never the sweep's work
                rows.append({**rows[-1], "text": "dropped", "status": "dropped",
                             "due_at": now - timedelta(days=4), "reviewed_at": None,
                             "due_date": date(2026, 1, 1)})  # fmt: skip
        await s.execute(insert(Goal), rows)
    return {ids[5_000 + i] for i in range(MEMBERS) if overdue(i)}


async def planning_rows(sessions: async_sessionmaker[AsyncSession]) -> set[tuple[Any, ...]]:
    async with sessions() as s:
        rows = await s.execute(
            select(
                OutboxItem.key,
                OutboxItem.kind,
                OutboxItem.due_at,
                OutboxItem.user_id,
                OutboxItem.state,
            ).where(OutboxItem.kind.in_(PLANNING))
        )
        return {tuple(r) for r in rows}


async def forget_plans(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with unit_of_work(sessions) as s:
        await s.execute(delete(OutboxItem).where(OutboxItem.kind.in_(PLANNING)))
        await s.execute(delete(SweepCursor))


async def chunked_pass(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> list[goals.SweepChunk]:
    """Ticks until a pass is over, one chunk per transaction."""
    chunks: list[goals.SweepChunk] = []
    while not chunks or not chunks[-1].pass_over:
        async with unit_of_work(sessions) as s:
            chunks.append(await goals.sweep_chunk(s, now=now, limit=LIMIT, window=WINDOW))
        assert len(chunks) < 200, "the pass never ended"
    return chunks


async def test_a_chunked_pass_plans_exactly_what_a_sweep_of_everyone_at_once_does(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock(START + timedelta(days=10))
    late = await build(sessions, clock.now())
    assert await planning_rows(sessions) == set()

    chunks = await chunked_pass(sessions, clock.now())
    chunked = await planning_rows(sessions)
    assert sorted(m for c in chunks for m in c.replanned) == sorted(late)
    assert len(chunks) > MEMBERS // WINDOW  # spread over ticks, not done at once

    await forget_plans(sessions)
    async with unit_of_work(sessions) as s:
        assert await goals.sweep_all(s, now=clock.now()) == len(late)
    at_once = await planning_rows(sessions)

    assert chunked == at_once
    # Every overdue member has its review planned again (the sweep did its work).
    reviews = {row[0].split(":")[1] for row in at_once if row[1] == goals.GOAL_REVIEW.kind}
    assert reviews == {f"m{m}" for m in late}


async def test_no_transaction_replans_more_than_the_limit_or_reads_beyond_its_window(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(START + timedelta(days=10))
    late = await build(sessions, clock.now())
    planned: list[int] = []
    real = goals.plan_member

    async def spy(session: AsyncSession, *, member_id: int, **kw: Any) -> goals.Plan:
        planned.append(member_id)
        return await real(session, member_id=member_id, **kw)

    monkeypatch.setattr(goals, "plan_member", spy)
    per_transaction: list[list[int]] = []
    spans: list[tuple[int, int]] = []
    done = False
    while not done:
        planned.clear()
        async with unit_of_work(sessions) as s:
            chunk = await goals.sweep_chunk(s, now=clock.now(), limit=LIMIT, window=WINDOW)
        per_transaction.append(list(planned))
        spans.append((chunk.after, chunk.upto))
        assert list(chunk.replanned) == planned
        done = chunk.pass_over
    assert max(len(p) for p in per_transaction) == LIMIT  # the dense block hits the bound
    for members, (after, upto) in zip(per_transaction, spans, strict=True):
        assert len(members) <= LIMIT
        assert all(after < m <= upto for m in members)
        if members:
            assert members[-1] - members[0] < WINDOW
    # The spans follow each other: nobody is skipped or read twice within the pass.
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert sorted(m for p in per_transaction for m in p) == sorted(late)


async def test_the_first_tick_does_one_chunk_and_a_pass_rests_before_the_next(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """At start-up the cursor is new: the first chunk covers one window, not everyone; the
    position is stored (a restart goes on from it); after a pass the sweep rests
    :data:`goals.SWEEP_REST`, then starts again from the first member."""
    clock = FakeClock(START + timedelta(days=10))
    late = await build(sessions, clock.now())
    async with unit_of_work(sessions) as s:
        first = await goals.sweep_chunk(s, now=clock.now(), limit=LIMIT, window=WINDOW)
    assert not first.pass_over and 0 < len(first.replanned) < len(late)
    async with sessions() as s:
        cursor = await s.get(SweepCursor, goals.SWEEP_CURSOR)
        assert cursor is not None and cursor.after_id == first.upto
    await chunked_pass(sessions, clock.now())
    async with unit_of_work(sessions) as s:
        resting = await goals.sweep_chunk(s, now=clock.now(), limit=LIMIT, window=WINDOW)
    assert resting.resting and not resting.replanned
    await forget_plans(sessions)  # planning lost again; the cursor too (a new database)
    async with unit_of_work(sessions) as s:
        await goals.sweep_chunk(s, now=clock.now(), limit=LIMIT, window=WINDOW)
    await chunked_pass(sessions, clock.now())
    async with unit_of_work(sessions) as s:
        assert (await goals.sweep_chunk(s, now=clock.now(), limit=LIMIT, window=WINDOW)).resting
    clock.advance(goals.SWEEP_REST)
    async with unit_of_work(sessions) as s:
        again = await goals.sweep_chunk(s, now=clock.now(), limit=LIMIT, window=WINDOW)
    assert not again.resting and again.after == 0

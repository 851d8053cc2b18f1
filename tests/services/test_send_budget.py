"""One send budget for all the bot's processes (issue 13: two processes pacing themselves sent
66 requests/s together). Two pacers on one PostgreSQL database, as two processes would be, with
a wall clock the test moves: together they never pass the limit in any second, and they ask the
database once per few sends."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import unit_of_work
from bot.dispatch import Pacer, SharedPacer
from bot.services import send_budget
from tests.dbutil import on_postgres

pytestmark = pytest.mark.skipif(
    not on_postgres(), reason="the shared budget is PostgreSQL's; SQLite runs one process"
)

START = 1_800_000_000.0


async def test_two_processes_share_one_budget_per_second(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = [START]

    async def next_second(seconds: float) -> None:
        """The wall clock moves only when a pacer has used up its second (both wait for it)."""
        await asyncio.sleep(0)
        now[0] = max(now[0], int(now[0]) + 1.0)

    def pacer() -> SharedPacer:
        return SharedPacer(
            sessions,
            rate_per_second=10,
            batch=4,
            time=lambda: now[0],
            sleep=next_second,
            local=Pacer(None),
            slots_per_second=1,  # whole seconds, as this test's clock moves
        )

    first, second = pacer(), pacer()
    sent: Counter[int] = Counter()

    async def send(p: SharedPacer, n: int) -> None:
        for _ in range(n):
            await p.wait()
            sent[int(now[0])] += 1

    await asyncio.gather(send(first, 30), send(second, 30))
    assert sum(sent.values()) == 60
    assert max(sent.values()) <= 10
    # At most two processes' leftovers (batch - 1 each) are lost per second.
    assert len(sent) <= 60 // (10 - 2 * 3) + 1
    # Batching: per second at most 3 reservations that are granted anything (10 = 4 + 4 + 2;
    # a grant voided by the clock moving still used the budget) and one per pacer that finds
    # the second used up, so at most 5 round trips a second, whatever the interleaving of the
    # two pacers' round trips (which the database's timing decides). Unbatched, 10 a second.
    seconds = int(now[0]) - int(START) + 1
    assert first.reservations + second.reservations <= 5 * seconds


async def test_a_reservation_never_grants_past_the_limit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        grants = [
            await send_budget.reserve(session, second=7, wanted=4, limit=10) for _ in range(4)
        ]
        assert grants == [4, 4, 2, 0]
        assert await send_budget.reserve(session, second=8, wanted=4, limit=10) == 4
        assert await send_budget.forget_before(session, second=8 + send_budget.KEEP_SECONDS) == 1

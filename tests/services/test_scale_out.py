"""Several processes on one database (issue 13): a process running some of the bot's shards
claims only the outbox work of its shards' guilds, and an upkeep job is done by one process at a
time. Runs on SQLite and, with PAIRBOT_TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FakeClock
from bot.db import unit_of_work
from bot.services import outbox, upkeep
from bot.services.outbox import NewWork
from bot.services.ports import OutgoingMessage
from emulator.gateway import shard_for
from tests.dbutil import on_postgres

SHARDS = 4
HELLO = outbox.delivery_payload(OutgoingMessage(content="hello"))


def guild_on(shard: int, n: int) -> int:
    """A guild id (a snowflake) that ``shard`` of :data:`SHARDS` carries."""
    guild_id = ((1_000_000 + n * SHARDS + shard) << 22) | 12345
    assert shard_for(guild_id, SHARDS) == shard
    return guild_id


async def test_a_process_claims_only_its_shards_guilds_and_guildless_work(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    now = clock.now()
    guilds = {shard: [guild_on(shard, n) for n in range(3)] for shard in range(SHARDS)}
    items = [
        NewWork(key=f"g{g}", kind="notice", due_at=now, payload=HELLO, guild_id=g, channel_id=1)
        for ids in guilds.values()
        for g in ids
    ] + [NewWork(key="nobody", kind="notice", due_at=now, payload=HELLO, channel_id=1)]
    async with unit_of_work(sessions) as session:
        await outbox.enqueue_many(session, items=items, now=now)

    claimed: dict[str, set[int | None]] = {}
    for worker, ids in (("a", [0, 1]), ("b", [2, 3])):
        async with unit_of_work(sessions) as session:
            work = await outbox.claim(
                session, now=now, worker=worker, limit=100, lease=timedelta(minutes=1),
                shards=(SHARDS, ids),
            )  # fmt: skip
        claimed[worker] = {w.guild_id for w in work}
    mine = {g for s in (0, 1) for g in guilds[s]}
    theirs = {g for s in (2, 3) for g in guilds[s]}
    # The row of no guild goes to whoever claims first; every guild's row to its shard's owner.
    assert claimed["a"] == mine | {None}
    assert claimed["b"] == theirs


@pytest.mark.skipif(not on_postgres(), reason="SQLite runs one process: always its turn")
async def test_an_upkeep_job_is_one_process_s_at_a_time_on_postgresql(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as first:
        assert await upkeep.take_turn(first, "pool-upkeep")
        async with unit_of_work(sessions) as second:
            assert not await upkeep.take_turn(second, "pool-upkeep")  # the other is doing it
            assert await upkeep.take_turn(second, "goals-sweep")  # another job is free
    async with unit_of_work(sessions) as later:
        assert await upkeep.take_turn(later, "pool-upkeep")  # released with the transaction


async def test_on_sqlite_it_is_always_this_process_s_turn(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    if on_postgres():
        pytest.skip("the PostgreSQL case is the test above")
    for _ in range(2):
        async with unit_of_work(sessions) as session:
            assert await upkeep.take_turn(session, "pool-upkeep")

"""The real PairBot sharded as an operator configures it (``shard_count``, ``shard_ids``): one
process running two shards (discord.py's AutoShardedBot) and others running one each, side by
side on one database; each sees only its shards' guilds and answers only their interactions."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from bot.app import Deps, PairBot, ShardedPairBot, build_bot
from bot.clock import FakeClock
from bot.config import Settings
from bot.db import create_engine, create_sessionmaker
from bot.scheduler import Ticker
from emulator import Emulator
from emulator.client import run_bot
from emulator.gateway import shard_for
from tests.dbutil import on_postgres, truncate_all

SHARDS = 4


async def identify_at_once(shard_id: int | None, *, initial: bool = False) -> None:
    """discord.py waits 5 s between a process's IDENTIFYs (Discord's max_concurrency 1); the
    emulator does not hold the bot to it and the test has no reason to wait."""


@contextlib.asynccontextmanager
async def pairbot(
    emu: Emulator, database_url: str, clock: FakeClock, shard_ids: list[int]
) -> AsyncIterator[PairBot]:
    engine = create_engine(database_url)
    deps = Deps(
        settings=Settings(tick_seconds=3600, shard_count=SHARDS, shard_ids=shard_ids),
        engine=engine,
        sessions=create_sessionmaker(engine),
        clock=clock,
        ticker=Ticker(3600),
    )
    bot = build_bot(deps, guild_ready_timeout=0.05)
    bot.before_identify_hook = identify_at_once  # type: ignore[method-assign]
    try:
        async with run_bot(emu, bot):
            yield bot
    finally:
        await engine.dispose()


async def test_processes_split_the_shards_and_each_answers_only_its_own(
    database_url: str, clock: FakeClock
) -> None:
    async with Emulator(interaction_deadline=3.0) as emu:
        guilds = [emu.create_guild(f"g{i}", shard=(i % SHARDS, SHARDS)) for i in range(8)]
        async with (
            pairbot(emu, database_url, clock, [0, 1]) as both,
            pairbot(emu, database_url, clock, [2]) as two,
            pairbot(emu, database_url, clock, [3]) as three,
        ):
            assert isinstance(both, ShardedPairBot) and both.shard_ids == [0, 1]
            assert type(two) is PairBot and (two.shard_id, two.shard_count) == (2, SHARDS)
            owner = {0: both, 1: both, 2: two, 3: three}
            for bot in (both, two, three):
                expected = {g.id for g in guilds if owner[shard_for(g.id, SHARDS)] is bot}
                assert {g.id for g in bot.guilds} == expected
            for guild in guilds:
                reply = await guild.add_member(f"m-{guild.name}").slash("help")
                assert reply.ephemeral and "/profile edit" in reply.content
            dm = await guilds[3].add_member("dm-user").slash("help", in_dm=True)
            assert "/profile edit" in dm.content
        # Every interaction was answered once: a second answer would be a 40060 violation.
        emu.assert_no_violations()
        answered = [r for r in emu.interactions if r.response_type is not None]
        assert len(answered) == len(guilds) + 1
        assert sorted((i.shard_id, i.shard_count) for i in emu.gateway.identified) == [
            (s, SHARDS) for s in range(SHARDS)
        ]
    if on_postgres():
        engine = create_engine(database_url)
        await truncate_all(engine)
        await engine.dispose()

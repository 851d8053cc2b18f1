"""The database keeps times as aware UTC and, on SQLite, runs with the pragmas that make
concurrent writers wait instead of failing."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FakeClock
from bot.db import read_only, unit_of_work
from models import GuildSettings
from tests.dbutil import on_postgres


async def test_times_come_back_aware_and_in_utc(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    tokyo_noon = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=9)))
    async with unit_of_work(sessions) as session:
        session.add(GuildSettings(guild_id=1, created_at=tokyo_noon, updated_at=clock.now()))
    async with sessions() as session:
        row = (await session.execute(select(GuildSettings))).scalar_one()
    assert row.created_at == tokyo_noon
    assert row.created_at.utcoffset() == timedelta(0)
    assert row.created_at.hour == 3


async def test_naive_datetimes_are_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    naive = datetime(2026, 3, 1, 12, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(Exception, match="naive"):
        async with unit_of_work(sessions) as session:
            session.add(GuildSettings(guild_id=2, created_at=naive, updated_at=naive))


@pytest.mark.skipif(on_postgres(), reason="SQLite pragmas")
async def test_sqlite_runs_in_wal_with_busy_timeout_and_foreign_keys(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one() >= 5000
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1


@pytest.mark.skipif(on_postgres(), reason="SQLite locking")
async def test_two_sqlite_writers_take_turns_instead_of_failing(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    import asyncio

    async def writer(guild_id: int) -> None:
        async with unit_of_work(sessions) as session:
            await session.execute(select(GuildSettings))  # read first, then write
            await asyncio.sleep(0)
            session.add(
                GuildSettings(guild_id=guild_id, created_at=clock.now(), updated_at=clock.now())
            )

    await asyncio.gather(*(writer(i) for i in range(10, 20)))
    async with sessions() as session:
        count = len((await session.execute(select(GuildSettings))).scalars().all())
    assert count == 10


async def test_database_errors_never_show_the_values_members_typed(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    """Error messages end up in logs; bound values (member text, private fields) must not."""
    from sqlalchemy.exc import IntegrityError

    from models import Member

    def member(intro: str) -> Member:
        return Member(
            guild_id=9, user_id=9, intro=intro, goal_areas=[], languages=[],
            created_at=clock.now(), updated_at=clock.now(),
        )  # fmt: skip

    async with unit_of_work(sessions) as session:
        session.add(member("first"))
    with pytest.raises(IntegrityError) as caught:
        async with unit_of_work(sessions) as session:
            session.add(member("my secret plan"))
    assert "my secret plan" not in str(caught.value)


async def test_a_read_only_session_reads_while_a_writer_holds_the_lock(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    """Reads that must never queue behind a write (the access checks before an interaction,
    the simulator's look at what is due) see the last committed data at once. On SQLite a
    BEGIN IMMEDIATE here would wait out the busy timeout and fail with "database is locked"."""
    async with unit_of_work(sessions) as writer:
        writer.add(GuildSettings(guild_id=5, created_at=clock.now(), updated_at=clock.now()))
        await writer.flush()  # the write lock is held, the row not yet committed
        async with read_only(sessions) as reader:
            seen = (await reader.execute(select(GuildSettings.guild_id))).scalars().all()
        assert seen == []
    async with read_only(sessions) as reader:
        seen = (await reader.execute(select(GuildSettings.guild_id))).scalars().all()
    assert seen == [5]


async def test_a_full_pool_fails_after_the_pool_timeout_with_a_true_storage_line(
    database_url: str,
) -> None:
    """``database_pool_timeout``: a command waiting on a pool with no free connection gives up
    after it, and the member is told nothing was saved (not "nothing was lost")."""
    from bot.db import create_engine
    from bot.failures import FailureKind, classify

    engine = create_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.05)
    try:
        pool: Any = engine.pool
        assert pool.timeout() == 0.05
        async with AsyncExitStack() as held:
            for _ in range(pool.size() + pool._max_overflow):  # SQLite keeps its own sizes
                await held.enter_async_context(engine.connect())
            with pytest.raises(Exception) as caught:
                async with engine.connect():
                    pass
        assert classify(caught.value) is FailureKind.STORAGE_UNAVAILABLE
    finally:
        await engine.dispose()

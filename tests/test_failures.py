"""Regression (issue 13): a full disk answered "Nothing you entered was lost" when nothing had
been saved. The member's line now follows the kind of failure, judged on real errors: SQLite
really running out of room (``max_page_count``), PostgreSQL really refusing a connection."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FakeClock
from bot.db import create_engine, unit_of_work
from bot.failures import FailureKind, classify, unexpected_error_text
from models import Member
from tests.dbutil import on_postgres


@pytest.mark.skipif(on_postgres(), reason="SQLite's page limit makes a real full database")
async def test_a_full_sqlite_database_says_nothing_was_saved(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    async def write(session: AsyncSession) -> None:
        pages = await session.scalar(text("PRAGMA page_count"))
        await session.execute(text(f"PRAGMA max_page_count = {int(pages or 0) + 1}"))
        now = clock.now()
        for user_id in range(50):
            session.add(
                Member(
                    guild_id=1, user_id=user_id, intro="x" * 4000, created_at=now, updated_at=now
                )
            )
        await session.flush()

    with pytest.raises(Exception) as caught:
        async with unit_of_work(sessions) as session:
            await write(session)
    assert "full" in str(caught.value)
    assert classify(caught.value) is FailureKind.STORAGE_FULL
    line = unexpected_error_text(caught.value, "ab12cd")
    assert "nothing was saved" in line and "Nothing you entered was lost" not in line
    assert "`ab12cd`" in line
    async with sessions() as session:  # and indeed nothing was
        assert (await session.execute(text("SELECT count(*) FROM members"))).scalar() == 0


async def test_an_unreachable_database_says_nothing_was_saved() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = create_engine(f"postgresql+asyncpg://pairbot@127.0.0.1:{port}/x", connect_timeout=2)
    try:
        with pytest.raises(Exception) as caught:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert classify(caught.value) is FailureKind.STORAGE_UNAVAILABLE
    line = unexpected_error_text(caught.value, "ff00ee")
    assert "couldn't reach my database" in line and "nothing was saved" in line


def test_a_bug_keeps_the_generic_line() -> None:
    try:
        raise KeyError("goal")
    except KeyError as exc:
        error = exc
    assert classify(error) is FailureKind.OTHER
    assert unexpected_error_text(error, "012345").startswith(
        "Something went wrong on my side (reference `012345`)."
    )

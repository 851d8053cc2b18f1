"""Shared fixtures: a migrated database per test, a session factory, and a clock that only moves
when a test moves it."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FakeClock
from bot.db import create_engine, create_sessionmaker
from bot.migrate import upgrade
from tests.dbutil import TEST_DATABASE_URL, drop_everything, on_postgres, truncate_all

# Every emulator exchange in every test is checked against Discord's OpenAPI description.
pytest_plugins = ["emulator.spec.pytest_plugin"]

# A Monday morning in winter: far from any daylight-saving change unless a test moves it.
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def _migrate_fresh(url: str, *, wipe: bool) -> None:
    engine = create_engine(url)
    try:
        if wipe:
            await drop_everything(engine)
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Migrate once per run: an SQLite file to copy for each test, or the PostgreSQL database."""
    if on_postgres():
        assert TEST_DATABASE_URL
        asyncio.run(_migrate_fresh(TEST_DATABASE_URL, wipe=True))
        yield TEST_DATABASE_URL
        return
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    asyncio.run(_migrate_fresh(f"sqlite+aiosqlite:///{path}", wipe=False))
    yield str(path)


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> str:
    if on_postgres():
        return migrated_template
    target = tmp_path / "pairbot.sqlite3"
    shutil.copy(migrated_template, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    if on_postgres():
        await truncate_all(engine)
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)

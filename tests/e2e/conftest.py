"""End-to-end fixtures: the real PairBot, over real sockets, against the local Discord emulator,
on the suite's database, with a clock that only tests move."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.sandbox import Sandbox, sandbox
from tests.dbutil import on_postgres, truncate_all


@contextlib.asynccontextmanager
async def sandbox_for_test(
    database_url: str, clock: FakeClock, **settings: Any
) -> AsyncIterator[Sandbox]:
    """The sandbox for one test (``settings`` override the bot's): no Discord rule broken by
    the end, and on PostgreSQL the shared database emptied for the next test."""
    async with sandbox(database_url=database_url, clock=clock, **settings) as box:
        yield box
        box.emu.assert_no_violations()
    if on_postgres():
        from bot.db import create_engine

        engine = create_engine(database_url)
        await truncate_all(engine)
        await engine.dispose()


@pytest.fixture
async def sb(database_url: str, clock: FakeClock) -> AsyncIterator[Sandbox]:
    async with sandbox_for_test(database_url, clock) as box:
        yield box

"""Every cog loads into the real Bot, and no two application commands share a name."""

from __future__ import annotations

from collections import Counter

from discord import app_commands
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import Deps, PairBot
from bot.clock import FakeClock
from bot.config import Settings
from bot.scheduler import Ticker
from cogs import EXTENSIONS


async def test_every_extension_loads_and_command_names_are_unique(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    deps = Deps(Settings(), engine, sessions, clock, Ticker(60))
    bot = PairBot(deps)
    for name in EXTENSIONS:
        await bot.load_extension(name)
    assert set(bot.extensions) == set(EXTENSIONS)
    names = [cmd.qualified_name for cmd in bot.tree.walk_commands()]
    duplicates = [name for name, n in Counter(names).items() if n > 1]
    assert duplicates == []
    top = [cmd.name for cmd in bot.tree.get_commands()]
    assert len(top) == len(set(top))
    assert all(
        isinstance(c, app_commands.Command | app_commands.Group) for c in bot.tree.get_commands()
    )
    await bot.close()

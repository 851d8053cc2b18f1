"""Fixtures for the emulator's own tests: a fresh emulator, a guild, and tiny discord.py bots."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import discord
import pytest
import pytest_asyncio
from discord.ext import commands

from emulator import Emulator, Guild
from emulator.client import run_bot


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    """An emulator that fails the test on any Discord rule the bot broke (tests that provoke a
    violation on purpose assert it and clear the list)."""
    async with Emulator() as emulator:
        yield emulator
        emulator.assert_no_violations()


@pytest.fixture
def guild(emu: Emulator) -> Guild:
    return emu.create_guild("Study Hall")


def make_bot(intents: discord.Intents | None = None) -> commands.Bot:
    """A plain discord.py bot; tests add commands to ``bot.tree`` before starting it."""
    return commands.Bot(
        command_prefix=commands.when_mentioned,
        intents=intents or discord.Intents.default(),
        guild_ready_timeout=0.01,
    )


@pytest.fixture
def bot() -> commands.Bot:
    return make_bot()


@contextlib.asynccontextmanager
async def running(
    emu: Emulator, bot: commands.Bot, guild: Guild | None = None
) -> AsyncIterator[commands.Bot]:
    """Start the bot; its setup_hook syncs the tree to ``guild`` (or globally)."""

    async def setup_hook() -> None:
        if guild is None:
            await bot.tree.sync()
        else:
            target = discord.Object(guild.id)
            bot.tree.copy_global_to(guild=target)
            await bot.tree.sync(guild=target)

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    async with run_bot(emu, bot):
        yield bot

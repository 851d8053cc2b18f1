"""The real discord.py client connects, sees its guilds, and survives drops, reconnects and
invalid sessions exactly as it would on Discord."""

from __future__ import annotations

import asyncio

import discord
import pytest
from discord.ext import commands

from emulator import Emulator, Guild
from emulator.client import run_bot

from .conftest import make_bot, running


async def test_bot_logs_in_connects_and_sees_the_guild(emu: Emulator, guild: Guild) -> None:
    forum = guild.create_forum("find-a-partner", tags=["writing", "fitness"])
    async with running(emu, make_bot(), guild) as bot:
        assert bot.user is not None and bot.user.id == emu.bot_user.id
        assert bot.application_id == emu.application_id
        seen = bot.get_guild(guild.id)
        assert seen is not None and seen.name == "Study Hall"
        assert seen.me is not None and seen.me.id == emu.bot_user.id
        seen_forum = seen.get_channel(forum.id)
        assert isinstance(seen_forum, discord.ForumChannel)
        assert [t.name for t in seen_forum.available_tags] == ["writing", "fitness"]
        assert isinstance(seen.get_channel(guild.default_channel.id), discord.TextChannel)
        assert emu.bot_connected
    paths = [(r.method, r.route) for r in emu.requests]
    assert ("GET", "/users/@me") in paths and ("GET", "/oauth2/applications/@me") in paths
    assert emu.gateway.identify_count == 1


async def test_a_wrong_token_is_refused(emu: Emulator) -> None:
    bot = make_bot()
    from emulator.client import point_discord_py_at

    undo = point_discord_py_at(emu)
    try:
        with pytest.raises(discord.LoginFailure):
            await bot.login("not-the-token")
    finally:
        await bot.close()
        undo()
    assert [v.status for v in emu.violations] == [401]
    emu.violations.clear()


async def test_guilds_channels_and_threads_created_later_reach_the_bot(
    emu: Emulator, guild: Guild
) -> None:
    async with running(emu, make_bot(), guild) as bot:
        later = emu.create_guild("Book Club")
        channel = guild.create_text_channel("mods")
        await emu.wait_for(lambda: bot.get_guild(later.id) and bot.get_channel(channel.id))
        role = guild.create_role("Mentors", mentionable=True)
        seen = bot.get_guild(guild.id)
        assert seen is not None
        await emu.wait_for(lambda: seen.get_role(role.id))


async def test_dropped_connection_resumes_and_replays_missed_events(
    emu: Emulator, guild: Guild
) -> None:
    bot = make_bot()
    resumed = asyncio.Event()

    async def on_resumed() -> None:
        resumed.set()

    bot.add_listener(on_resumed)

    @bot.tree.command(description="Are you there?")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    async with running(emu, bot, guild):
        await emu.drop_gateway()
        channel = guild.create_text_channel("made-while-away")
        reply = await guild.add_member("alice").slash("ping")
        assert reply.content == "pong"
        await asyncio.wait_for(resumed.wait(), 5)
        assert bot.get_channel(channel.id) is not None
        assert emu.gateway.identify_count == 1
        assert emu.gateway.resume_count == 1
        resume = [f for f in emu.gateway.received if f["op"] == 6]
        assert resume and resume[0]["d"]["session_id"] in emu.gateway.sessions


async def test_reconnect_request_and_invalid_session(emu: Emulator, guild: Guild) -> None:
    bot = make_bot()

    @bot.tree.command(description="Are you there?")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    async def identify_now(shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s before a re-IDENTIFY; not what this test is about."""

    bot.before_identify_hook = identify_now  # type: ignore[method-assign]
    alice = guild.add_member("alice")
    async with running(emu, bot, guild):
        await emu.request_reconnect()
        await emu.wait_for(lambda: emu.gateway.resume_count == 1)
        assert (await alice.slash("ping")).content == "pong"
        await emu.invalidate_session(resumable=False)
        await emu.wait_for(lambda: emu.gateway.identify_count == 2 and emu.bot_connected)
        assert (await alice.slash("ping")).content == "pong"


async def test_compressed_gateway_and_members_chunking(guild: Guild) -> None:
    """``zlib-stream`` frames are decoded by discord.py; with the members intent it chunks."""
    async with Emulator(compress_gateway=True) as emu:
        g = emu.create_guild("Big Server")
        for name in ("a", "b", "c"):
            g.add_member(name)
        intents = discord.Intents.default()
        intents.members = True
        bot = make_bot(intents)
        async with run_bot(emu, bot):
            seen = bot.get_guild(g.id)
            assert seen is not None
            await emu.wait_for(lambda: len(seen.members) == 5)
            assert seen.chunked
            later = g.add_member("d")
            await emu.wait_for(lambda: seen.get_member(later.id))
        assert any(f["op"] == 8 for f in emu.gateway.received)
        emu.assert_no_violations()


async def test_autosharded_bot_uses_gateway_bot_and_gets_each_guild_once() -> None:
    async with Emulator(shard_count=2) as emu:
        guilds = [emu.create_guild(f"g{i}") for i in range(4)]
        bot = commands.AutoShardedBot(
            command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.01
        )

        async def identify_now(shard_id: int | None, *, initial: bool = False) -> None:
            """discord.py spaces IDENTIFYs 5 s apart (max_concurrency 1)."""

        bot.before_identify_hook = identify_now  # type: ignore[method-assign]
        async with run_bot(emu, bot):
            assert bot.shard_count == 2
            assert sorted(g.id for g in bot.guilds) == sorted(g.id for g in guilds)
        assert any(r.route == "/gateway/bot" for r in emu.requests)
        assert emu.gateway.identify_count == 2

"""Members who leave the server and join again, as Discord does it: GUILD_MEMBER_REMOVE and
GUILD_MEMBER_ADD only for bots with the (privileged) members intent, 10007 Unknown Member for
the member afterwards, 50007 for a DM to someone who shares no server with the bot, and the
guild's commands and buttons out of their reach."""

from __future__ import annotations

import asyncio

import discord
import pytest
from discord import app_commands

from emulator import Emulator, Guild, ScenarioError

from .conftest import make_bot, running


async def test_leave_and_rejoin_reach_only_a_bot_with_the_members_intent(
    emu: Emulator, guild: Guild
) -> None:
    """Two bots on two connections is more than the emulator runs, so the same member leaves
    and rejoins once under each kind of bot."""
    alice = guild.add_member("alice")
    for members_intent in (True, False):
        intents = discord.Intents.default()
        intents.members = members_intent
        bot = make_bot(intents)
        removed: list[tuple[int, int]] = []
        joined: list[tuple[int, int]] = []

        async def on_raw_member_remove(payload: discord.RawMemberRemoveEvent) -> None:
            removed.append((payload.guild_id, payload.user.id))  # noqa: B023

        async def on_member_join(member: discord.Member) -> None:
            joined.append((member.guild.id, member.id))  # noqa: B023

        bot.add_listener(on_raw_member_remove)
        bot.add_listener(on_member_join)
        async with running(emu, bot, guild):
            alice.leave()
            assert not alice.in_guild and alice.id not in guild.members
            alice.rejoin()
            assert alice.in_guild
            # A marker event every bot receives, after the member events in the same stream.
            marker = guild.create_text_channel(f"marker-{members_intent}")
            await emu.wait_for(lambda: bot.get_channel(marker.id) is not None, timeout=5)  # noqa: B023
            await asyncio.sleep(0)
        if members_intent:
            assert removed == [(guild.id, alice.id)]
            assert joined == [(guild.id, alice.id)]
        else:
            assert removed == [] and joined == []


async def test_after_leaving_the_member_is_unknown_and_out_of_reach(
    emu: Emulator, guild: Guild
) -> None:
    alice = guild.add_member("alice", roles=[guild.create_role("Writers")])
    bot = make_bot()
    answered: list[int] = []

    @bot.tree.command(name="ping", description="answers")
    async def ping(interaction: discord.Interaction) -> None:
        answered.append(interaction.user.id)
        await interaction.response.send_message("pong", ephemeral=True)

    assert isinstance(ping, app_commands.Command)
    async with running(emu, bot, guild):
        posted = await bot.get_channel(guild.default_channel.id).send(  # type: ignore[union-attr]
            "hello", view=_one_button()
        )
        reply = await alice.slash("ping")
        assert reply.content == "pong"
        fetched = await bot.get_guild(guild.id).fetch_member(alice.id)  # type: ignore[union-attr]
        assert fetched.id == alice.id

        alice.leave()
        with pytest.raises(discord.NotFound) as unknown:
            await bot.get_guild(guild.id).fetch_member(alice.id)  # type: ignore[union-attr]
        assert unknown.value.code == 10007
        user = await bot.fetch_user(alice.id)  # the user still exists; only the membership went
        with pytest.raises(discord.Forbidden) as dm:
            await user.send("your check-in")
        assert dm.value.code == 50007
        with pytest.raises(ScenarioError, match="has left"):
            await alice.slash("ping")
        message = emu.world.messages[posted.id]
        with pytest.raises(ScenarioError, match="has left"):
            await alice.press(message, "Wave")
        assert answered == [alice.id]

        alice.rejoin()
        assert alice.roles == []  # a new membership: roles are not given back
        again = await bot.get_guild(guild.id).fetch_member(alice.id)  # type: ignore[union-attr]
        assert again.id == alice.id
        await user.send("welcome back")
        assert alice.last_dm() is not None and alice.last_dm().content == "welcome back"  # type: ignore[union-attr]
        assert (await alice.slash("ping")).content == "pong"
    # Asking about someone who left is no mistake of the bot's (it could not know).
    assert emu.violations == []


def _one_button() -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(label="Wave", custom_id="wave"))
    return view

"""The REST routes a bot uses behave like Discord's: DMs, forum posts, threads, files, nonces,
mentions, rate limits and server errors."""

from __future__ import annotations

import asyncio
import io
import time

import aiohttp
import discord
import pytest
from discord.ext import commands

from emulator import Emulator, Guild, Permission
from emulator.client import point_discord_py_at, run_bot

from .conftest import make_bot, running

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_dm_reaches_the_member_and_closed_dms_give_50007(emu: Emulator, guild: Guild) -> None:
    alice, bob = guild.add_member("alice"), guild.add_member("bob")
    emu.faults.close_dms(bob)
    async with running(emu, make_bot(), guild) as bot:
        user = await bot.fetch_user(alice.id)
        await user.send("Your check-in is due", file=discord.File(io.BytesIO(PNG), "streak.png"))
        assert alice.last_dm() is not None
        dm = alice.last_dm()
        assert dm is not None and dm.content == "Your check-in is due"
        assert dm.attachments[0].filename == "streak.png"
        assert dm.attachments[0].data == PNG
        assert dm.attachments[0].content_type == "image/png"
        async with aiohttp.ClientSession() as http, http.get(dm.attachments[0].url) as resp:
            assert await resp.read() == PNG
        closed = await bot.fetch_user(bob.id)
        with pytest.raises(discord.Forbidden) as caught:
            await closed.send("hello?")
        assert caught.value.code == 50007
        assert bob.dm_channel.id == (await closed.create_dm()).id
        assert bob.dms() == []
    assert emu.invalid_requests == 1


async def test_forum_posts_with_tags_and_edits(emu: Emulator, guild: Guild) -> None:
    forum = guild.create_forum("find-a-partner", tags=["writing", "fitness"], require_tag=True)
    async with running(emu, make_bot(), guild) as bot:
        channel = bot.get_channel(forum.id)
        assert isinstance(channel, discord.ForumChannel)
        writing = next(t for t in channel.available_tags if t.name == "writing")
        with pytest.raises(discord.HTTPException) as caught:
            await channel.create_thread(name="Alice looks for a partner", content="hi")
        assert caught.value.code == 40067
        with pytest.raises(discord.HTTPException) as too_long:
            await channel.create_thread(name="x" * 101, content="hi", applied_tags=[writing])
        assert too_long.value.code == 50035
        post = await channel.create_thread(
            name="Alice looks for a partner",
            content="Berlin, evenings",
            applied_tags=[writing],
            embed=discord.Embed(title="Alice", description="Writing a novel"),
        )
        thread = emu.world.channels[post.thread.id]
        assert thread in forum.threads and thread.tag_names == ["writing"]
        assert thread.starter_message is not None
        assert thread.starter_message.id == thread.id == post.message.id
        assert "Writing a novel" in thread.starter_message.text
        await channel.edit(
            available_tags=[*channel.available_tags, discord.ForumTag(name="Europe")]
        )
        assert [t.name for t in forum.available_tags] == ["writing", "fitness", "Europe"]
        europe = forum.tag("Europe")
        await emu.wait_for(lambda: len(channel.available_tags) == 3)
        fresh = channel.get_tag(europe.id)
        assert fresh is not None
        await post.thread.edit(applied_tags=[writing, fresh], name="Alice (Berlin)")
        assert thread.tag_names == ["writing", "Europe"] and thread.name == "Alice (Berlin)"
        starter = await post.thread.fetch_message(post.thread.id)
        await starter.edit(content="Berlin, evenings (updated)")
        assert thread.starter_message.content == "Berlin, evenings (updated)"
        await post.thread.edit(archived=True, locked=True)
        assert thread.archived and thread.locked
        fetched = await bot.fetch_channel(thread.id)
        assert isinstance(fetched, discord.Thread) and fetched.archived
        with pytest.raises(discord.HTTPException) as archived:
            await fetched.edit(name="renamed while archived")
        assert archived.value.code == 50083
        await fetched.edit(archived=False, locked=False, name="Alice again")
        assert not thread.archived and thread.name == "Alice again"
    emu.violations.clear()


async def test_private_thread_with_members(emu: Emulator, guild: Guild) -> None:
    alice, bob, carol = (
        guild.add_member("alice"),
        guild.add_member("bob"),
        guild.add_member("carol"),
    )
    async with running(emu, make_bot(), guild) as bot:
        channel = bot.get_channel(guild.default_channel.id)
        assert isinstance(channel, discord.TextChannel)
        thread = await channel.create_thread(
            name="Alice & Bob", type=discord.ChannelType.private_thread, invitable=False
        )
        await thread.add_user(discord.Object(alice.id))
        await thread.add_user(discord.Object(bob.id))
        await thread.send(f"{alice.mention} {bob.mention} meet your partner!")
        state = emu.world.channels[thread.id]
        assert sorted(state.member_ids) == sorted([emu.bot_user.id, alice.id, bob.id])
        assert alice.can_see(state) and not carol.can_see(state)
        message = state.messages[-1]
        assert alice.pinged_by(message) and bob.pinged_by(message) and not carol.pinged_by(message)
        await thread.remove_user(discord.Object(bob.id))
        assert not bob.can_see(state)
        await thread.edit(archived=True)
        await thread.send("back again")
        assert not state.archived
        with pytest.raises(discord.NotFound):
            await thread.add_user(discord.Object(999_999_999_999_999_999))
    emu.violations.clear()


async def test_nonce_deduplicates_a_retried_send(emu: Emulator, guild: Guild) -> None:
    async with running(emu, make_bot(), guild) as bot:
        channel = bot.get_channel(guild.default_channel.id)
        assert isinstance(channel, discord.TextChannel)
        first = await channel.send("reminder", nonce="outbox-42")
        again = await channel.send("reminder", nonce="outbox-42")
        other = await channel.send("reminder", nonce="outbox-43")
        assert first.id == again.id != other.id
        assert [m.content for m in guild.default_channel.messages] == ["reminder", "reminder"]
        with pytest.raises(discord.HTTPException) as caught:
            await channel.send("x", nonce="n" * 26)
        assert caught.value.code == 50035
    emu.violations.clear()


async def test_pings_follow_allowed_mentions(emu: Emulator, guild: Guild) -> None:
    alice, bob = guild.add_member("alice"), guild.add_member("bob")
    mentors = guild.create_role("Mentors")
    bob.add_role(mentors)
    text = f"@everyone {alice.mention} {mentors.mention} said hi"
    async with running(emu, make_bot(), guild) as bot:
        channel = bot.get_channel(guild.default_channel.id)
        assert isinstance(channel, discord.TextChannel)
        await channel.send(text, allowed_mentions=discord.AllowedMentions.none())
        quiet = guild.default_channel.messages[-1]
        await channel.send(text)
        loud = guild.default_channel.messages[-1]
        await channel.send(
            text,
            allowed_mentions=discord.AllowedMentions(
                everyone=False, roles=False, users=[discord.Object(alice.id)]
            ),
        )
        only_alice = guild.default_channel.messages[-1]
    assert not quiet.pings
    assert loud.pings.everyone and alice.id in loud.pings.users and mentors.id in loud.pings.roles
    assert only_alice.pings.users == {alice.id} and not only_alice.pings.everyone
    assert bob.pinged_by(loud) and not bob.pinged_by(only_alice)


class SixRows(discord.ui.View):
    """A hand-built payload past Discord's five action rows (discord.py's View would refuse)."""

    def to_components(self) -> list[dict[str, object]]:
        return [
            {"type": 1, "components": [{"type": 2, "style": 1, "label": "x", "custom_id": f"r{i}"}]}
            for i in range(6)
        ]


async def test_limits_and_unknown_routes_are_violations(emu: Emulator, guild: Guild) -> None:
    async with running(emu, make_bot(), guild) as bot:
        channel = bot.get_channel(guild.default_channel.id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.HTTPException) as caught:
            await channel.send("x" * 2001)
        assert caught.value.code == 50035 and caught.value.status == 400
        with pytest.raises(discord.HTTPException) as empty:
            await channel.send(embeds=[])
        assert empty.value.code == 50006
        with pytest.raises(discord.HTTPException):
            await channel.send("six rows", view=SixRows())
        with pytest.raises(discord.NotFound) as missing:
            await bot.http.request(
                discord.http.Route("GET", "/channels/{c}/webhooks", c=channel.id)
            )
        assert missing.value.code == 0
    codes = [(v.status, v.code) for v in emu.violations]
    assert codes == [(400, 50035), (400, 50006), (400, 50035), (404, 0)]
    assert "no route GET /channels/" in emu.violations[-1].message
    emu.violations.clear()


async def test_429_then_success_and_500_then_success(emu: Emulator, guild: Guild) -> None:
    emu.faults.rate_limit("POST /channels/*/messages", times=2, retry_after=0.02)
    async with running(emu, make_bot(), guild) as bot:
        channel = bot.get_channel(guild.default_channel.id)
        assert isinstance(channel, discord.TextChannel)
        started = time.monotonic()
        await channel.send("after two 429s")
        assert time.monotonic() - started >= 0.04
        statuses = [r.status for r in emu.requests_to("POST /channels/*/messages")]
        assert statuses == [429, 429, 200]
        emu.faults.server_error("POST /channels/{channel_id}/messages", status=500, times=1)
        await channel.send("after a 500")
        statuses = [r.status for r in emu.requests_to("POST /channels/*/messages")]
        assert statuses == [429, 429, 200, 500, 200]
    assert [m.content for m in guild.default_channel.messages] == ["after two 429s", "after a 500"]
    assert emu.faults.rate_limited == 2 and emu.invalid_requests == 2


async def test_global_rate_limit_is_emulated_and_counted(emu: Emulator, guild: Guild) -> None:
    emu.faults.global_limit(per_second=5, window=1.0)  # 8 sends: 3 must wait a second
    emu.clock.follow(lambda: 1_767_600_000.0)  # the wait is on the emulator's clock
    rooms = [guild.create_text_channel(f"room{i}") for i in range(8)]  # no channel's bucket
    async with running(emu, make_bot(), guild) as bot:
        channels = [bot.get_channel(room.id) for room in rooms]
        await asyncio.gather(*(c.send(f"n{i}") for i, c in enumerate(channels)))  # type: ignore[union-attr]
    assert sum(len(room.messages) for room in rooms) == 8
    assert emu.faults.global_limit_hits >= 1


async def test_json_content_type_is_exact_and_history_works(emu: Emulator, guild: Guild) -> None:
    async with running(emu, make_bot(), guild) as bot:
        channel = bot.get_channel(guild.default_channel.id)
        assert isinstance(channel, discord.TextChannel)
        sent = [await channel.send(f"m{i}") for i in range(3)]
        history = [m.content async for m in channel.history(limit=10)]
        assert history == ["m2", "m1", "m0"]
        edited = await sent[0].edit(content="m0 (edited)")
        assert edited.edited_at is not None
        await sent[1].delete()
        assert [m.content for m in guild.default_channel.messages] == ["m0 (edited)", "m2"]
        fetched = await channel.fetch_message(sent[2].id)
        assert fetched.content == "m2"
    async with aiohttp.ClientSession() as http:
        url = f"{emu.api_url}/users/@me"
        async with http.get(url, headers={"Authorization": f"Bot {emu.token}"}) as resp:
            assert resp.headers["Content-Type"] == "application/json"


async def test_bot_permissions_are_enforced(emu: Emulator) -> None:
    guild = emu.create_guild("Locked")
    guild.default_channel.set_permissions(guild.me, deny=Permission.SEND_MESSAGES)
    hidden = guild.create_text_channel("staff")
    hidden.set_permissions(guild.everyone, deny=Permission.VIEW_CHANNEL)
    hidden.set_permissions(guild.role("pairbot"), deny=Permission.VIEW_CHANNEL)
    async with running(emu, make_bot(), guild) as bot:
        channel = bot.get_channel(guild.default_channel.id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.Forbidden) as caught:
            await channel.send("hello")
        assert caught.value.code == 50013
        with pytest.raises(discord.Forbidden) as no_access:
            await bot.http.send_message(
                hidden.id, params=discord.http.handle_message_parameters("x")
            )
        assert no_access.value.code == 50001
    assert [v.code for v in emu.violations] == [50013, 50001]
    emu.violations.clear()


async def test_message_content_needs_the_intent_and_members_can_talk(
    emu: Emulator, guild: Guild
) -> None:
    alice = guild.add_member("alice")
    bot = make_bot()
    heard: list[str] = []

    @bot.listen()
    async def on_message(message: discord.Message) -> None:
        heard.append(message.content)

    async with running(emu, bot, guild):
        await alice.say(guild.default_channel, "hello everyone")
        await alice.say(guild.default_channel, f"{emu.bot_user.mention} hello bot")
        await alice.say_in_dm("hello in private")
        await emu.wait_for(lambda: len(heard) == 3)
    assert heard == ["", f"{emu.bot_user.mention} hello bot", "hello in private"]


async def test_a_bot_can_be_pointed_and_unpointed(emu: Emulator) -> None:
    undo = point_discord_py_at(emu)
    assert emu.api_url == discord.http.Route.BASE
    undo()
    assert discord.http.Route.BASE == "https://discord.com/api/v10"
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none(), guild_ready_timeout=0.01)
    async with run_bot(emu, bot):
        assert bot.is_ready()


async def test_route_buckets_are_advertised_and_respected() -> None:
    """A tight bucket on a route without a Discord limit of its own (2 per 0.1 s): discord.py
    reads the headers and waits on its own, on the emulator's clock (here a still one)."""
    async with Emulator(route_limit=(2, 0.1)) as emu:
        emu.clock.follow(lambda: 1_767_600_000.0)
        guild = emu.create_guild("Buckets")
        alice = guild.add_member("alice")
        async with running(emu, make_bot(), guild) as bot:
            users = await asyncio.gather(*(bot.fetch_user(alice.id) for _ in range(5)))
        assert {u.id for u in users} == {alice.id}
        assert emu.faults.buckets.hits == 0
        assert emu.clock.fake_waited >= 0.2  # two resets waited out, none in real time
        emu.assert_no_violations()


async def test_a_member_who_leaves_is_gone_from_threads_and_unreachable(
    emu: Emulator, guild: Guild
) -> None:
    """Leaving the server, as Discord does it for a bot without the members intent: nothing
    is announced, the person drops out of their threads, a DM fails with 50007 and adding
    them to a thread with 10007. Neither is the bot's mistake (it could not know), so no
    violation; adding an id that never existed still is one."""
    alice, bob = guild.add_member("alice"), guild.add_member("bob")
    pairs = guild.create_text_channel("pairs")
    thread = emu.world.create_thread(pairs, name="alice & bob", type=12, owner=emu.world.bot_user)
    emu.world.add_thread_member(thread, alice.user)
    emu.world.add_thread_member(thread, bob.user)
    async with running(emu, make_bot(), guild) as bot:
        emu.world.remove_member(bob)
        assert bob.id not in guild.members
        assert bob.id not in thread.member_ids and alice.id in thread.member_ids
        user = await bot.fetch_user(bob.id)
        with pytest.raises(discord.Forbidden) as dm:
            await user.send("your meeting starts soon")
        assert dm.value.code == 50007
        channel = await bot.fetch_channel(thread.id)
        assert isinstance(channel, discord.Thread)
        with pytest.raises(discord.NotFound) as added:
            await channel.add_user(discord.Object(id=bob.id))
        assert added.value.code == 10007
        assert emu.violations == []
        with pytest.raises(discord.NotFound):
            await channel.add_user(discord.Object(id=12345))
        assert len(emu.violations) == 1
        emu.world.violations.clear()

"""Shards as Discord has them: each IDENTIFY names ``[shard_id, shard_count]``, a guild's events
and interactions go only to the shard ``(guild_id >> 22) % shard_count`` and DMs to shard 0, and
``GET /gateway/bot`` says how many shards to run and how fast they may start."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import aiohttp
import discord
from discord.ext import commands

from emulator import Emulator, Guild
from emulator.gateway import shard_for

from .conftest import make_bot, running


def shard_bot(shard_id: int, shard_count: int, answered: list[tuple[int, str]]) -> commands.Bot:
    bot = commands.Bot(
        command_prefix=commands.when_mentioned,
        intents=discord.Intents.default(),
        guild_ready_timeout=0.01,
        shard_id=shard_id,
        shard_count=shard_count,
    )

    @bot.tree.command(description="Which shard answers?")
    async def where(interaction: discord.Interaction) -> None:
        answered.append((shard_id, str(interaction.guild_id)))
        await interaction.response.send_message(f"shard {shard_id}")

    return bot


@contextlib.asynccontextmanager
async def two_shards(
    emu: Emulator, answered: list[tuple[int, str]]
) -> AsyncIterator[tuple[commands.Bot, commands.Bot]]:
    first, second = shard_bot(0, 2, answered), shard_bot(1, 2, answered)
    async with running(emu, first), running(emu, second):
        yield first, second


async def test_each_shard_gets_only_its_guilds_and_their_interactions(emu: Emulator) -> None:
    zero = [emu.create_guild(f"zero{i}", shard=(0, 2)) for i in range(2)]
    one = [emu.create_guild(f"one{i}", shard=(1, 2)) for i in range(3)]
    assert {shard_for(g.id, 2) for g in zero} == {0} and {shard_for(g.id, 2) for g in one} == {1}
    answered: list[tuple[int, str]] = []
    async with two_shards(emu, answered) as (first, second):
        assert sorted(g.id for g in first.guilds) == sorted(g.id for g in zero)
        assert sorted(g.id for g in second.guilds) == sorted(g.id for g in one)
        for guild in zero + one:
            reply = await guild.add_member(f"m{guild.name}").slash("where")
            assert reply.content == f"shard {shard_for(guild.id, 2)}"
        # A guild joined later reaches only the shard that carries it.
        later = emu.create_guild("later", shard=(1, 2))
        await emu.wait_for(lambda: second.get_guild(later.id))
        assert (await later.add_member("newcomer").slash("where")).content == "shard 1"
        assert first.get_guild(later.id) is None
        # DMs are shard 0's.
        assert (await one[0].add_member("dm").slash("where", in_dm=True)).content == "shard 0"
    # Every interaction was handled once, by its own shard only.
    assert len(answered) == len(zero) + len(one) + 2
    identifies = [f["d"]["shard"] for f in emu.gateway.received if f["op"] == 2]
    assert sorted(identifies) == [[0, 2], [1, 2]]
    assert sorted((i.shard_id, i.shard_count) for i in emu.gateway.identified) == [(0, 2), (1, 2)]


async def test_ready_names_the_shard(emu: Emulator) -> None:
    emu.create_guild("g", shard=(1, 3))
    answered: list[tuple[int, str]] = []
    seen: list[int | None] = []
    bot = shard_bot(1, 3, answered)

    async def on_ready() -> None:
        seen.append(bot.shard_id)

    bot.add_listener(on_ready)
    async with running(emu, bot):
        assert len(bot.guilds) == 1 and seen == [1]
        session = next(iter(emu.gateway.sessions.values()))
        ready = json.loads(session.frames[0])
        assert ready["t"] == "READY" and ready["d"]["shard"] == [1, 3]
        assert emu.gateway.shards_connected() == {1: 1}


async def test_gateway_bot_gives_shards_and_session_start_limit() -> None:
    async with Emulator(shard_count=4) as emu:
        emu.gateway.max_concurrency = 2
        emu.gateway.session_start_total = 10
        async with aiohttp.ClientSession() as http:

            async def gateway_bot() -> dict[str, object]:
                async with http.get(
                    f"{emu.api_url}/gateway/bot", headers={"Authorization": f"Bot {emu.token}"}
                ) as resp:
                    assert resp.status == 200
                    return dict(await resp.json())

            before = await gateway_bot()
            assert before["shards"] == 4
            assert before["session_start_limit"] == {
                "total": 10,
                "remaining": 10,
                "reset_after": 86_400_000,
                "max_concurrency": 2,
            }
            async with running(emu, shard_bot(3, 4, [])):
                after = await gateway_bot()
            limit = after["session_start_limit"]
            assert isinstance(limit, dict) and limit["remaining"] == 9


async def identify_over_raw_socket(emu: Emulator, shard: object) -> int | None:
    """IDENTIFY with ``shard`` and return the close code (None if the session was accepted)."""
    async with aiohttp.ClientSession() as http, http.ws_connect(emu.gateway_url) as ws:
        hello = await ws.receive_json()
        assert hello["op"] == 10
        await ws.send_json(
            {"op": 2, "d": {"token": emu.token, "intents": 1, "shard": shard, "properties": {}}}
        )
        msg = await ws.receive(timeout=5)
        if msg.type == aiohttp.WSMsgType.TEXT:
            assert json.loads(msg.data)["t"] == "READY"
            return None
        return ws.close_code


async def test_a_bad_shard_is_closed_with_4010(emu: Emulator) -> None:
    assert await identify_over_raw_socket(emu, [2, 2]) == 4010
    assert await identify_over_raw_socket(emu, ["x", 1]) == 4010
    assert await identify_over_raw_socket(emu, [0, 1]) is None


async def test_too_many_guilds_on_one_shard_needs_sharding(emu: Emulator) -> None:
    emu.gateway.max_guilds_per_shard = 2
    guilds: list[Guild] = [emu.create_guild(f"g{i}", shard=(i % 2, 2)) for i in range(4)]
    assert len(guilds) == 4
    assert await identify_over_raw_socket(emu, [0, 1]) == 4011
    assert await identify_over_raw_socket(emu, [0, 2]) is None
    assert emu.gateway.identify_count == 1


async def test_an_unsharded_bot_still_gets_everything(emu: Emulator) -> None:
    guilds = [emu.create_guild(f"g{i}", shard=(i, 3)) for i in range(3)]
    async with running(emu, make_bot()) as bot:
        assert sorted(g.id for g in bot.guilds) == sorted(g.id for g in guilds)

"""The real discord.py client connects, sees its guilds, and survives drops, reconnects and
invalid sessions exactly as it would on Discord."""

from __future__ import annotations

import asyncio
import contextlib
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
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


# --- the transport and session layer, driven by a raw websocket client ------------------------


class FakeClock:
    """The gateway's heartbeat clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Raw:
    """A bare websocket client speaking the gateway protocol, frame by frame."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, *, compressed: bool) -> None:
        self.ws = ws
        self.inflate = zlib.decompressobj() if compressed else None
        self.frame_types: list[aiohttp.WSMsgType] = []
        self.raw_frames: list[bytes] = []

    async def recv(self) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=5)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            raise ConnectionError(f"closed with {self.ws.close_code}")
        self.frame_types.append(msg.type)
        if self.inflate is None:
            assert msg.type == aiohttp.WSMsgType.TEXT
            return json.loads(msg.data)
        assert msg.type == aiohttp.WSMsgType.BINARY
        self.raw_frames.append(msg.data)
        return json.loads(self.inflate.decompress(msg.data))

    async def recv_until(self, op: int, event: str | None = None) -> dict[str, Any]:
        while True:
            frame = await self.recv()
            if frame["op"] == op and (event is None or frame["t"] == event):
                return frame

    async def send(self, op: int, d: Any, *, binary: bool = False) -> None:
        text = json.dumps({"op": op, "d": d})
        if binary:
            await self.ws.send_bytes(text.encode())
        else:
            await self.ws.send_str(text)

    async def identify(self, token: str, intents: Any = 1, **extra: Any) -> dict[str, Any]:
        await self.send(2, {"token": token, "intents": intents, "properties": {}, **extra})
        return await self.recv_until(0, "READY")

    async def closed_with(self) -> int | None:
        """Read until the server closes; the close code."""
        while True:
            msg = await self.ws.receive(timeout=5)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                return self.ws.close_code


@contextlib.asynccontextmanager
async def raw(emu: Emulator, query: str = "v=10&encoding=json") -> AsyncIterator[Raw]:
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{emu.gateway_url}?{query}", autoclose=False) as ws,
    ):
        yield Raw(ws, compressed="compress=zlib-stream" in query)
        await ws.close(code=4000)  # as a dropped client: not 1000, which ends the session


async def test_zlib_stream_is_one_context_of_sync_flushed_binary_frames(
    emu: Emulator, guild: Guild
) -> None:
    async with raw(emu, "v=10&encoding=json&compress=zlib-stream") as gw:
        hello = await gw.recv()
        assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] == 41_250
        await gw.send(1, None, binary=True)  # JSON in a binary frame, as hikari sends it
        assert (await gw.recv())["op"] == 11
        ready = await gw.identify(emu.token)
        created = await gw.recv_until(0, "GUILD_CREATE")
        assert created["d"]["id"] == str(guild.id) and ready["d"]["guilds"][0]["unavailable"]
        assert set(gw.frame_types) == {aiohttp.WSMsgType.BINARY}
        assert all(f.endswith(b"\x00\x00\xff\xff") for f in gw.raw_frames)
        # One context for the connection: a later frame cannot be inflated on its own.
        alone = zlib.decompressobj()
        with pytest.raises(zlib.error):
            alone.decompress(gw.raw_frames[-1])
    assert emu.gateway.history[-1].compressed
    assert emu.gateway.history[-1].binary_frames == 1


async def test_without_compress_payloads_are_text_frames(emu: Emulator) -> None:
    async with raw(emu) as gw:
        await gw.recv()
        await gw.identify(emu.token)
        assert set(gw.frame_types) == {aiohttp.WSMsgType.TEXT}


async def test_discord_py_asks_for_zlib_stream_and_gets_it(emu: Emulator, guild: Guild) -> None:
    async with running(emu, make_bot(), guild):
        conn = emu.gateway.history[-1]
        assert conn.compressed and conn.text_frames > 0


async def test_an_unknown_encoding_or_compression_is_refused(emu: Emulator) -> None:
    async with aiohttp.ClientSession() as http:
        for query in ("encoding=etf", "compress=zstd-stream"):
            async with http.get(f"{emu.base_url}/gateway?{query}") as resp:
                assert resp.status == 400
                assert "not supported" in (await resp.json())["message"]


CLOSE_CASES: list[tuple[str, int]] = [
    ("invalid json", 4002),
    ("unknown opcode", 4001),
    ("presence before identify", 4003),
    ("wrong token", 4004),
    ("second identify", 4005),
    ("bad shard", 4010),
    ("too many guilds for one shard", 4011),
    ("api version 6", 4012),
    ("no intents", 4013),
    ("unknown intent bit", 4013),
    ("privileged intent not enabled", 4014),
]


@pytest.mark.parametrize(("case", "code"), CLOSE_CASES, ids=[c for c, _ in CLOSE_CASES])
async def test_each_protocol_error_closes_with_discords_code(case: str, code: int) -> None:
    async with Emulator(privileged_intents=0) as emu:
        emu.create_guild("one")
        emu.create_guild("two")
        query = "v=6&encoding=json" if case == "api version 6" else "v=10&encoding=json"
        async with raw(emu, query) as gw:
            if case != "api version 6":
                await gw.recv()
            if case == "invalid json":
                await gw.ws.send_str("{not json")
            elif case == "unknown opcode":
                await gw.send(99, None)
            elif case == "presence before identify":
                await gw.send(3, {"status": "online", "since": None, "activities": []})
            elif case == "wrong token":
                await gw.send(2, {"token": "nope", "intents": 1, "properties": {}})
            elif case == "second identify":
                await gw.identify(emu.token)
                await gw.send(2, {"token": emu.token, "intents": 1, "properties": {}})
            elif case == "bad shard":
                await gw.send(2, {"token": emu.token, "intents": 1, "shard": [2, 2]})
            elif case == "too many guilds for one shard":
                emu.gateway.max_guilds_per_shard = 1
                await gw.send(2, {"token": emu.token, "intents": 1, "properties": {}})
            elif case == "no intents":
                await gw.send(2, {"token": emu.token, "properties": {}})
            elif case == "unknown intent bit":
                await gw.send(2, {"token": emu.token, "intents": 1 << 40, "properties": {}})
            elif case == "privileged intent not enabled":
                await gw.send(2, {"token": emu.token, "intents": 1 | 1 << 15, "properties": {}})
            assert await gw.closed_with() == code
        assert emu.gateway.closes == [code]
        assert emu.gateway.identify_count == (1 if case == "second identify" else 0)


async def test_resume_with_a_sequence_never_sent_closes_4007_and_ends_the_session(
    emu: Emulator,
) -> None:
    async with raw(emu) as gw:
        await gw.recv()
        ready = await gw.identify(emu.token)
        session_id = ready["d"]["session_id"]
    await emu.wait_for(lambda: not emu.bot_connected)
    async with raw(emu) as gw:
        await gw.recv()
        await gw.send(6, {"token": emu.token, "session_id": session_id, "seq": ready["s"] + 50})
        assert await gw.closed_with() == 4007
    assert session_id not in emu.gateway.sessions
    async with raw(emu) as gw:
        await gw.recv()
        await gw.send(6, {"token": emu.token, "session_id": session_id, "seq": ready["s"]})
        assert (await gw.recv()) == {"op": 9, "d": False, "s": None, "t": None}
        await gw.identify(emu.token)  # op 9 leaves the socket open for a new IDENTIFY


async def test_a_dropped_session_resumes_with_the_events_it_missed(emu: Emulator) -> None:
    async with raw(emu) as gw:
        await gw.recv()
        ready = await gw.identify(emu.token)
        await gw.send(6, {"token": emu.token, "session_id": "x", "seq": 1})
        assert await gw.closed_with() == 4005  # RESUME on an authenticated socket
    later = emu.create_guild("made while away")
    async with raw(emu) as gw:
        await gw.recv()
        await gw.send(6, {"token": emu.token, "session_id": ready["d"]["session_id"], "seq": 1})
        replayed = [await gw.recv() for _ in range(2)]
    assert [(f["t"], f["d"].get("id")) for f in replayed] == [
        ("GUILD_CREATE", str(later.id)),
        ("RESUMED", None),
    ]


async def test_more_than_120_commands_a_minute_close_4008_and_the_session_resumes() -> None:
    clock = FakeClock()
    async with Emulator(gateway_clock=clock) as emu:
        async with raw(emu) as gw:
            await gw.recv()
            ready = await gw.identify(emu.token)
            presence: dict[str, Any] = {
                "status": "online",
                "since": None,
                "activities": [],
                "afk": False,
            }
            for _ in range(60):  # 61 commands in the first minute
                await gw.send(3, presence)
            clock.now += 60  # the window moves on: the earlier ones no longer count
            for _ in range(120):
                await gw.send(3, presence)
            assert emu.gateway.closes == []
            await gw.send(3, presence)
            assert await gw.closed_with() == 4008
        async with raw(emu) as gw:
            await gw.recv()
            session = ready["d"]["session_id"]
            await gw.send(6, {"token": emu.token, "session_id": session, "seq": ready["s"]})
            assert (await gw.recv_until(0))["t"] == "RESUMED"


async def test_a_silent_client_is_a_zombie_closed_4009_and_its_session_ends() -> None:
    clock = FakeClock()
    async with Emulator(gateway_clock=clock, heartbeat_grace=5.0) as emu:
        async with raw(emu) as gw, raw(emu) as other:
            await gw.recv()
            await other.recv()
            ready = await gw.identify(emu.token)
            for beat in range(3):  # ``other`` heartbeats every interval and stays
                clock.now += 41.25
                await other.send(1, None)
                await other.recv_until(11)
                await emu.gateway.reap_zombies()  # (it also runs on its own, same decisions)
                # 41.25 s silent is within interval + grace; 82.5 s is not
                assert emu.gateway.closes == ([] if beat == 0 else [4009])
            assert await gw.closed_with() == 4009
            assert not other.ws.closed
        assert ready["d"]["session_id"] not in emu.gateway.sessions
        assert emu.gateway.closes == [4009]


async def test_a_heartbeat_request_must_be_answered_within_the_grace() -> None:
    clock = FakeClock()
    async with Emulator(gateway_clock=clock, heartbeat_grace=5.0) as emu, raw(emu) as gw:
        await gw.recv()
        ready = await gw.identify(emu.token)
        await emu.request_heartbeat()
        asked = await gw.recv_until(1)
        assert asked["d"] == ready["s"]  # the session's last sequence (READY, no guilds)
        await gw.send(1, ready["s"])
        await gw.recv_until(11)
        clock.now += 6
        await emu.gateway.reap_zombies()
        assert emu.gateway.closes == []
        await emu.request_heartbeat()
        await gw.recv_until(1)
        clock.now += 5.5  # well inside the interval, but the request went unanswered
        await emu.gateway.reap_zombies()
        assert await gw.closed_with() == 4009
        assert emu.gateway.closes == [4009]


async def test_discord_py_answers_a_heartbeat_request(emu: Emulator, guild: Guild) -> None:
    async with running(emu, make_bot(), guild):
        conn = emu.gateway.history[-1]
        beats = conn.heartbeats
        await emu.request_heartbeat()
        await emu.wait_for(lambda: conn.heartbeats > beats and conn.heartbeat_requested_at is None)
        assert emu.bot_connected


# Every close code discord.py's ``DiscordWebSocket._can_handle_close`` and ``Client.connect``
# treat: the ones it reconnects after (resuming, or identifying again when the code ended the
# session) and the ones it stops on.
RECONNECTS = {4000: "resume", 4001: "resume", 4002: "resume", 4003: "resume", 4005: "resume",
              4008: "resume", 4007: "identify", 4009: "identify"}  # fmt: skip
STOPS = [4004, 4010, 4011, 4012, 4013, 4014]


def _fast_identify(bot: commands.Bot) -> None:
    async def identify_now(shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s before a re-IDENTIFY; not what these tests are about."""

    bot.before_identify_hook = identify_now  # type: ignore[method-assign]


@pytest.mark.parametrize("code", sorted(RECONNECTS))
async def test_discord_py_reconnects_after(emu: Emulator, guild: Guild, code: int) -> None:
    bot = make_bot()
    _fast_identify(bot)

    @bot.tree.command(description="Are you there?")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    alice = guild.add_member("alice")
    async with running(emu, bot, guild):
        await emu.close_gateway(code)
        if RECONNECTS[code] == "resume":
            await emu.wait_for(lambda: emu.gateway.resume_count == 1 and emu.bot_connected)
            assert emu.gateway.identify_count == 1
        else:
            await emu.wait_for(lambda: emu.gateway.identify_count == 2 and emu.bot_connected)
        assert (await alice.slash("ping")).content == "pong"


@pytest.mark.parametrize("code", STOPS)
async def test_discord_py_stops_after(emu: Emulator, guild: Guild, code: int) -> None:
    bot = make_bot()
    _fast_identify(bot)
    async with running(emu, bot, guild):
        task = next(t for t in asyncio.all_tasks() if t.get_name() == "emulator-bot")
        await emu.close_gateway(code)
        if code == 4014:
            with pytest.raises(discord.PrivilegedIntentsRequired):
                await asyncio.wait_for(asyncio.shield(task), 5)
        else:
            with pytest.raises(discord.ConnectionClosed) as closed:
                await asyncio.wait_for(asyncio.shield(task), 5)
            assert closed.value.code == code
        assert not emu.gateway.sessions or code not in (4004, 4010, 4011, 4012, 4013, 4014)
    assert emu.gateway.identify_count == 1

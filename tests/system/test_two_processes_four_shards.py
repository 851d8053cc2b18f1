"""Scale-out as an operator runs it (issue 13): two real ``pairbot run`` processes, two shards
each (four in all), on one PostgreSQL database, against one emulator, through a busy week of a
community spread over four servers (one per shard).

Time: every process reads "now" from one clock file (``clock_file``, :class:`bot.clock.FileClock`)
that this test moves, as the community simulator moves its FakeClock; the processes tick every
100 ms of real time, and before the clock moves on the test waits until each process has finished
a whole tick after the last move and nothing due is left pending or claimed (their
``/metrics`` tick counters and the outbox tell it). So a week takes as long as the processes need
to do its work, not a week.

The community is :mod:`bot.simulation`'s (joins, profiles, rounds, proposals, spaces, meetings,
reminders, check-ins, goals, pauses, requests, ...), with its invariants checked every simulated
day, plus one burst of announcements that both processes send at once, to hold them to the one
send budget they share.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.clock import FakeClock, write_clock_file
from bot.db import create_engine, create_sessionmaker, read_only, unit_of_work
from bot.migrate import upgrade
from bot.sandbox import Sandbox
from bot.services import outbox
from bot.services.guilds import configure
from bot.services.outbox import NewWork
from bot.services.ports import OutgoingMessage, nonce_for
from bot.simulation.people import community
from bot.simulation.runner import START, Simulation
from emulator import Channel, Emulator, Guild, Member
from emulator.gateway import shard_for
from models import OutboxItem
from tests.dbutil import on_postgres, scratch_database
from tests.system.procs import ROOT, reap, terminate

pytestmark = pytest.mark.skipif(
    not on_postgres(),
    reason="two pairbot processes share one database only on PostgreSQL "
    "(SQLite allows one process per file)",
)

SHARDS = 4
PROCESSES = ([0, 1], [2, 3])
MEMBERS = 16  # four per server
SEED = 5
# send_rate_per_second, the budget of both processes together: 36 paced sends at most in any
# one-second window (fifths of a second), leaving room for what is not paced (forum posts,
# threads) and for the jitter between a grant and the request's arrival at the emulator
# (with 40, peaks of 53/s were measured at a load of 9); each process alone would send 60/s.
SEND_RATE = 30
BURST = 240  # announcements due at one moment, sent by both processes at once
# Spread over enough channels that Discord's 5 per 5 s per channel does not bind (4 a channel):
# the one global budget is what holds the burst back.
NEWS_CHANNELS = 15
GLOBAL_LIMIT = 50  # Discord's requests per second per bot, interaction responses aside
TICK_SECONDS = 0.1
WAIT = 60.0  # the longest any one wait for the processes may take before the test fails
TICKS = re.compile(rb'^pairbot_tick_seconds_count\{handler="all"\} ([0-9.e+]+)$', re.M)


class SharedClock(FakeClock):
    """The test's FakeClock, written to the file every process reads "now" from."""

    def __init__(self, start: datetime, path: Path) -> None:
        super().__init__(start)
        self.path = path
        write_clock_file(path, start)

    def set(self, moment: datetime) -> None:
        super().set(moment)
        write_clock_file(self.path, self.now())

    def advance(self, delta: timedelta) -> datetime:
        moment = super().advance(delta)
        write_clock_file(self.path, moment)
        return moment


@dataclass
class Server:
    guild: Guild
    forum: Channel
    pairs: Channel
    mods: Channel
    news: list[Channel]


@dataclass
class Child:
    proc: asyncio.subprocess.Process
    port: int
    shard_ids: list[int]
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Community:
    """What :class:`bot.simulation.runner.Simulation` needs of a sandbox, with the bot in two
    other processes: members spread over the four servers, ticks that wait for both processes,
    the database read directly."""

    emu: Emulator
    servers: list[Server]
    clock: SharedClock
    sessions: object
    children: list[Child]
    http: aiohttp.ClientSession
    members: dict[str, Member] = field(default_factory=dict)
    home: dict[int, Server] = field(default_factory=dict)
    bot: SimpleNamespace = field(init=False)
    waits: Counter[str] = field(default_factory=Counter)
    waited: Counter[str] = field(default_factory=Counter)  # real seconds, by what for

    def __post_init__(self) -> None:
        self.bot = SimpleNamespace(
            deps=SimpleNamespace(
                sessions=self.sessions, ticker=SimpleNamespace(settled=self.settled)
            )
        )

    def member(self, name: str, **kwargs: object) -> Member:
        if name not in self.members:
            server = self.servers[len(self.members) % len(self.servers)]
            member = server.guild.add_member(name, **kwargs)  # type: ignore[arg-type]
            self.members[name] = member
            self.home[member.id] = server
        return self.members[name]

    def forum_for(self, member: Member) -> Channel:
        return self.home[member.id].forum

    async def ticks(self, child: Child) -> float:
        async with self.http.get(f"http://127.0.0.1:{child.port}/metrics") as response:
            body = await response.read()
        found = TICKS.search(body)
        return float(found.group(1)) if found else 0.0

    async def tick(self) -> None:
        """A tick, as the simulator asks for one: when nothing is due (an hourly upkeep tick),
        each process finishes a tick after this call (their interval jobs run all the time);
        then nothing due is left."""
        self.waits["ticks"] += 1
        began = deadline = time.monotonic()
        deadline += WAIT

        async def one_more(child: Child) -> None:
            seen = await self.ticks(child)
            while await self.ticks(child) <= seen:
                self.alive()
                assert time.monotonic() < deadline, f"shards {child.shard_ids} stopped ticking"
                await asyncio.sleep(TICK_SECONDS / 4)

        async with read_only(self.sessions) as session:  # type: ignore[arg-type]
            due, _ = await outbox.due_backlog(session, now=self.clock.now())
        if not due:  # an upkeep tick (due work is waited for below, however it is picked up)
            await asyncio.gather(*(one_more(c) for c in self.children))
        self.waited["ticks"] += time.monotonic() - began
        await self.settled()

    async def settled(self) -> None:
        """Wait until no row is due and unclaimed, and none is claimed: what the members did
        has been handled at the moment they did it, before the clock moves on."""
        began = deadline = time.monotonic()
        deadline += WAIT
        self.waits["settled"] += 1
        while True:
            now = self.clock.now()
            async with read_only(self.sessions) as session:  # type: ignore[arg-type]
                due, _ = await outbox.due_backlog(session, now=now)
                claimed = await session.scalar(
                    select(func.count())
                    .select_from(OutboxItem)
                    .where(OutboxItem.state == "claimed")
                )
            if not due and not claimed:
                self.waited["settled"] += time.monotonic() - began
                return
            self.alive()
            if time.monotonic() > deadline:
                async with read_only(self.sessions) as session:  # type: ignore[arg-type]
                    stuck = (
                        await session.execute(
                            select(OutboxItem.kind, OutboxItem.key, OutboxItem.guild_id).where(
                                OutboxItem.state.in_(("pending", "claimed")),
                                OutboxItem.next_attempt_at <= now,
                            )
                        )
                    ).all()
                raise AssertionError(f"{due} due, {claimed} claimed for {WAIT} s: {stuck}")
            await asyncio.sleep(TICK_SECONDS / 2)

    def alive(self) -> None:
        for child in self.children:
            code = child.proc.returncode
            assert code is None, f"shards {child.shard_ids} exited ({code}): {child.log}"


def env_for(
    emu: Emulator, url: str, clock: Path, data: Path, shard_ids: list[int], port: int
) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PAIRBOT_")} | {
        "PYTHONPATH": str(ROOT),
        "PAIRBOT_TOKEN": emu.token,
        "PAIRBOT_DATA_DIR": str(data),
        "PAIRBOT_DATABASE_URL": url,
        "PAIRBOT_MIGRATE_ON_START": "false",  # migrated once, before either starts
        "PAIRBOT_API_BASE_URL": emu.api_url,
        "PAIRBOT_GATEWAY_URL": emu.gateway_url,
        "PAIRBOT_SHARD_COUNT": str(SHARDS),
        "PAIRBOT_SHARD_IDS": ",".join(map(str, shard_ids)),
        "PAIRBOT_TICK_SECONDS": str(TICK_SECONDS),
        "PAIRBOT_SEND_RATE_PER_SECOND": str(SEND_RATE),
        "PAIRBOT_METRICS_ENABLED": "true",
        "PAIRBOT_METRICS_PORT": str(port),
        "PAIRBOT_CLOCK_FILE": str(clock),
        # Longer than any one step of the simulated clock (an hour at most), so that a claim
        # made just before the clock moves is not taken for a dead process's.
        "PAIRBOT_LEASE_SECONDS": str(3 * 3600),
        "PAIRBOT_LOG_LEVEL": "WARNING",
    }


def peak_per_second(times: list[float]) -> int:
    """The most requests in any one-second window (sliding, not calendar seconds)."""
    times = sorted(times)
    peak, first = 0, 0
    for last, t in enumerate(times):
        while times[first] <= t - 1.0:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


def is_interaction_response(path: str) -> bool:
    """Interaction callbacks and their webhooks: outside Discord's global rate limit."""
    return path.startswith(("/interactions/", "/webhooks/"))


async def announcements(sessions: object, servers: list[Server], at: datetime) -> None:
    message = outbox.delivery_payload(OutgoingMessage(content="📣 Study sprint: say hi below!"))
    items = [
        NewWork(key=f"news:{i}", kind="notice", due_at=at, guild_id=s.guild.id,
                channel_id=s.news[i // len(servers) % NEWS_CHANNELS].id, payload=message)
        for i in range(BURST)
        for s in [servers[i % len(servers)]]
    ]  # fmt: skip
    async with unit_of_work(sessions) as session:  # type: ignore[arg-type]
        assert await outbox.enqueue_many(session, items=items, now=START) == BURST


async def test_two_processes_with_two_shards_each_live_a_busy_week_on_postgresql(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    async with (
        Emulator(interaction_deadline=3.0, shard_count=SHARDS) as emu,
        scratch_database(str(tmp_path)) as url,
    ):
        engine = create_engine(url)
        await upgrade(engine)
        sessions = create_sessionmaker(engine)
        servers = []
        for shard in range(SHARDS):
            guild = emu.create_guild(f"Study Hall {shard}", shard=(shard, SHARDS))
            server = Server(
                guild,
                guild.create_forum("find-a-partner"),
                guild.create_text_channel("pairs"),
                guild.create_text_channel("mods"),
                [guild.create_text_channel(f"news-{k}") for k in range(NEWS_CHANNELS)],
            )
            guild.add_member("mod", admin=True)
            async with unit_of_work(sessions) as session:
                await configure(
                    session, guild_id=guild.id, now=START, forum_channel_id=server.forum.id,
                    pair_channel_id=server.pairs.id, mod_channel_id=server.mods.id,
                )  # fmt: skip
            servers.append(server)
        burst_at = START + timedelta(days=2, hours=9)
        await announcements(sessions, servers, burst_at)
        clock = SharedClock(START, tmp_path / "clock")

        children: list[Child] = []
        try:
            for shard_ids in PROCESSES:
                port = free_port()
                log = tmp_path / f"shards-{'-'.join(map(str, shard_ids))}.log"
                env = env_for(emu, url, clock.path, tmp_path / "data", shard_ids, port)
                with log.open("wb") as out:
                    proc = await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "bot", "run",
                        cwd=tmp_path, env=env, stdout=out, stderr=out,
                    )  # fmt: skip
                children.append(Child(proc, port, shard_ids, log))
            await emu.wait_for(lambda: len(emu.gateway.identified) == SHARDS or None, timeout=WAIT)
            await emu.wait_until_connected(timeout=WAIT)
            ready = time.monotonic() - started
            async with aiohttp.ClientSession() as http:
                world = Community(emu, servers, clock, sessions, children, http)
                await world.tick()  # both processes up and ticking
                sim = Simulation(cast(Sandbox, world), community(MEMBERS, SEED), seed=SEED, weeks=1)
                lived = time.monotonic()
                try:
                    problems = await sim.run()
                finally:
                    sim.checker.close()
                lived = time.monotonic() - lived
                print(
                    f"\nthe week: {lived:.1f} s; {sim.stats.interactions} interactions; waits "
                    f"{dict(world.waits)}, { {k: round(v, 1) for k, v in world.waited.items()} } s"
                )
            for child in children:
                assert await terminate(child.proc) == 0, child.log.read_text()
        finally:
            for child in children:
                await reap(child.proc)

        async with sessions() as session:
            rows = list((await session.execute(select(OutboxItem))).scalars())
        await engine.dispose()
    seconds = time.monotonic() - started

    logs = {c.log.name: c.log.read_text() for c in children}
    for name, text in logs.items():
        assert "Traceback" not in text, f"{name}:\n{text[-3000:]}"
        assert "is not available" not in text  # work claimed by a process without its guild

    # Each process ran its two shards, and each server's interactions reached only its owner.
    assert sorted(i.shard_id for i in emu.gateway.identified) == list(range(SHARDS))
    assert {shard_for(s.guild.id, SHARDS) for s in servers} == set(range(SHARDS))

    # The week held every invariant of the community simulator (every interaction answered
    # within Discord's 3 s, no Discord rule broken, one reminder per meeting, one round message
    # per member a round, ...).
    assert problems == [], "\n".join(str(p) for p in problems[:30])
    emu.assert_no_violations()  # a second answer to an interaction would be 40060

    # Every interaction answered exactly once.
    interactions = emu.interactions
    assert len(interactions) >= sim.stats.interactions > 50
    unanswered = [i for i in interactions if i.response_type is None]
    assert unanswered == []
    callbacks = Counter(
        r.path.split("/")[2] for r in emu.requests_to("POST /interactions/*/*/callback")
    )
    assert set(callbacks.values()) == {1}

    # Every delivery delivered exactly once, emulator side: one message per nonce, and each
    # sent row points at the message carrying its nonce.
    bot_messages = [m for m in emu.world.messages.values() if m.author.id == emu.bot_user.id]
    per_nonce = Counter(m.nonce for m in bot_messages if m.nonce)
    deliveries = {nonce_for(r.key): r for r in rows if r.delivered_via is not None}
    assert deliveries, "nothing was delivered"
    assert {n: per_nonce[n] for n in deliveries} == dict.fromkeys(deliveries, 1)
    # No message was sent twice: with no fault injected, every nonce was POSTed once (a second
    # POST would be a second process doing the same work, whatever the emulator de-duplicated).
    posts = Counter(
        str(r.json.get("nonce")) for r in emu.requests_to("POST /channels/*/messages") if r.json
    )
    assert [n for n, c in posts.items() if c > 1] == []
    assert set(per_nonce.values()) == {1}
    by_id = {m.id: m for m in bot_messages}
    for nonce, row in deliveries.items():
        if row.message_id is not None:
            assert by_id[row.message_id].nonce == nonce

    # Each piece of due work was done by one process, once: no row was claimed twice (a retry
    # follows a recorded failure), nothing is left behind, and both processes did work.
    states = Counter(r.state for r in rows)
    assert states["claimed"] == 0
    assert [r.key for r in rows if r.attempt > 1 and r.reason is None] == []
    workers = Counter((r.claimed_by or "").rsplit(":", 1)[0] for r in rows if r.claimed_by)
    assert len(workers) == 2, workers
    kinds = Counter(r.kind for r in rows if r.state in ("sent", "done"))
    for kind in ("match_round", "space_open", "post_sync", "notice", "checkin"):
        assert kinds[kind] > 0, kinds
    # One round per server per scheduled moment; one private thread per pair; one forum post
    # per member (no upkeep or round doubled by the second process).
    rounds = Counter(
        (r.guild_id, r.due_at) for r in rows if r.kind == "match_round" and r.state == "done"
    )
    assert set(rounds.values()) == {1}
    spaces = [r for r in rows if r.kind == "space_open" and r.state == "done"]
    assert len({r.key for r in spaces}) == len(spaces)
    threads = Counter((s.guild.id, t.name) for s in servers for t in s.pairs.threads)
    assert set(threads.values()) == {1}, threads
    forum_posts = Counter((s.guild.id, t.name) for s in servers for t in s.forum.threads)
    assert set(forum_posts.values()) == {1}, forum_posts

    # The one send budget: across both processes, never more than Discord's 50 requests in any
    # one second (interaction responses, which Discord does not count, aside).
    all_times = [r.time for r in emu.requests]
    limited = [r.time for r in emu.requests if not is_interaction_response(r.path)]
    burst_sends = [r for r in emu.requests_to("POST /channels/*/messages")
                   if r.json and str(r.json.get("nonce", "")) in
                   {nonce_for(f"news:{i}") for i in range(BURST)}]  # fmt: skip
    assert len(burst_sends) == BURST
    peak = peak_per_second(limited)
    print(
        f"\ntwo processes x two shards, {MEMBERS} members, one week: ready after {ready:.1f} s, "
        f"{seconds:.1f} s in all; {len(interactions)} interactions answered once, "
        f"{len(deliveries)} deliveries once ({dict(kinds)}), by {dict(workers)}; "
        f"{len(emu.requests)} requests, peak {peak}/s (all requests: "
        f"{peak_per_second(all_times)}/s); waits {dict(world.waits)}, "
        f"{ {k: round(v, 1) for k, v in world.waited.items()} } s"
    )
    assert peak <= GLOBAL_LIMIT

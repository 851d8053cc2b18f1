"""Real processes, real sockets, real time: a dispatcher process killed with SIGKILL in the middle
of its work loses nothing and doubles nothing, and two processes on PostgreSQL share 5,000 rows
without ever claiming one twice. The Discord side is the local emulator, in this test's process;
each child is ``tests/system/dispatch_child.py``."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import SystemClock
from bot.db import create_engine, create_sessionmaker, unit_of_work
from bot.migrate import upgrade
from bot.services import outbox
from bot.services.outbox import NewWork
from bot.services.ports import OutgoingMessage, nonce_for
from emulator import Emulator, Member, Message
from models import OutboxItem
from tests.dbutil import on_postgres, scratch_database

ROOT = Path(__file__).resolve().parents[2]
LEASE = 2.0
TICK = 0.2
GRACE = TICK + 1.0  # how long past its lease a dead worker's row may wait for the next claim


class Child:
    """One dispatcher process."""

    def __init__(self, proc: asyncio.subprocess.Process, worker: str) -> None:
        self.proc = proc
        self.worker = worker
        self.started = time.monotonic()


async def start_child(db_url: str, emu: Emulator, log: Path, *extra: str) -> Child:
    with log.open("ab") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.system.dispatch_child",
            "--db", db_url, "--api", emu.api_url, "--token", emu.token,
            "--lease", str(LEASE), "--tick", str(TICK), *extra,
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=err,
        )  # fmt: skip
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
    assert line.startswith(b"ready "), f"child did not start: {line!r} (see {log})"
    return Child(proc, line.split()[1].decode())


async def finish(child: Child, timeout: float) -> int:  # noqa: ASYNC109
    assert child.proc.stdout is not None
    out = await asyncio.wait_for(child.proc.stdout.read(), timeout=timeout)
    code = await child.proc.wait()
    assert b"done" in out or code != 0
    return code


def bot_messages(emu: Emulator) -> list[Message]:
    return [m for m in emu.world.messages.values() if m.author.id == emu.bot_user.id]


async def migrated(url: str) -> AsyncEngine:
    engine = create_engine(url)
    await upgrade(engine)
    return engine


async def due_dms_and_posts(
    emu: Emulator, tmp_path: Path, name: str, n: int, rooms: int
) -> tuple[str, AsyncEngine, list[Member]]:
    """A migrated SQLite file with ``n`` check-in DMs (one per new member) and ``n`` notices
    spread over ``rooms`` channels, all due a minute ago."""
    guild = emu.create_guild()
    members = [guild.add_member(f"m{i}") for i in range(n)]
    channels = [guild.create_text_channel(f"room{i}") for i in range(rooms)]
    url = f"sqlite+aiosqlite:///{tmp_path / name}"
    engine = await migrated(url)
    now = SystemClock().now() - timedelta(minutes=1)
    message = outbox.delivery_payload(OutgoingMessage(content="time for your check-in"))
    items = [
        NewWork(key=f"dm{i}", kind="checkin", due_at=now, guild_id=guild.id,
                user_id=m.id, payload=message)
        for i, m in enumerate(members)
    ] + [
        NewWork(key=f"ch{i}", kind="notice", due_at=now, guild_id=guild.id,
                channel_id=channels[i % rooms].id, payload=message)
        for i in range(n)
    ]  # fmt: skip
    async with unit_of_work(create_sessionmaker(engine)) as session:
        assert await outbox.enqueue_many(session, items=items, now=now) == 2 * n
    return url, engine, members


# These tests kill real processes sending a thousand messages in real time; under Discord's
# limits (10 DM opens per 10 s, 5 posts per 5 s per room) that would take minutes of real
# waiting, and what they test is crash safety. The limits are tested on the emulator's clock
# (tests/emulator/test_limits.py, tests/e2e/test_rate_limits.py).
@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(discord_limits=False) as emulator:
        yield emulator


async def test_sigkill_at_random_moments_loses_nothing_and_doubles_nothing(
    emu: Emulator, tmp_path: Path
) -> None:
    url, engine, members = await due_dms_and_posts(emu, tmp_path, "killed.sqlite3", 500, 10)
    sessions = create_sessionmaker(engine)

    stuck_too_long: list[tuple[str, float]] = []
    live: list[Child] = []

    async def watch_leases() -> None:
        """While a child has been up for a while, no row may sit claimed past lease + grace."""
        while True:
            await asyncio.sleep(0.1)
            if not live or time.monotonic() - live[0].started < GRACE + 1.5:
                continue
            cutoff = SystemClock().now() - timedelta(seconds=GRACE)
            async with sessions() as session:
                late = await session.execute(
                    select(OutboxItem.key, OutboxItem.lease_until).where(
                        OutboxItem.state == "claimed", OutboxItem.lease_until < cutoff
                    )
                )
                stuck_too_long.extend(
                    (key, until.timestamp()) for key, until in late.all() if until
                )
                await session.rollback()

    rng = random.Random(20261125)
    targets = sorted(rng.sample(range(40, 960), 6))
    log = tmp_path / "children.log"
    watcher = asyncio.create_task(watch_leases())
    sent_at_kill = []
    try:
        for target in targets:
            child = await start_child(url, emu, log)
            live[:] = [child]
            await emu.wait_for(lambda: len(bot_messages(emu)) >= target or None, timeout=30)  # noqa: B023
            child.proc.kill()  # SIGKILL: no cleanup, no last write
            await child.proc.wait()
            live.clear()
            sent_at_kill.append(len(bot_messages(emu)))
        child = await start_child(url, emu, log)
        live[:] = [child]
        assert await finish(child, timeout=40) == 0
    finally:
        watcher.cancel()
        live.clear()

    assert all(0 < n < 1000 for n in sent_at_kill)  # each kill landed mid-work
    async with sessions() as session:
        stored = list((await session.execute(select(OutboxItem))).scalars())
    await engine.dispose()
    assert Counter(r.state for r in stored) == {"sent": 1000}
    assert stuck_too_long == []

    # Exactly one message per delivery, in the right place, recorded with its id.
    messages = bot_messages(emu)
    assert len(messages) == 1000
    by_nonce = {m.nonce: m for m in messages}
    assert len(by_nonce) == 1000
    dm_channel = {m.id: emu.world.existing_dm_channel(m.id).id for m in members}  # type: ignore[union-attr]
    for row in stored:
        delivered = by_nonce[nonce_for(row.key)]
        assert row.message_id == delivered.id
        expected = dm_channel[row.user_id] if row.user_id else row.channel_id
        assert delivered.channel.id == expected

    # Resends happened (the kills cut batches short) and carried only their own nonce.
    posts = emu.requests_to("POST /channels/*/messages")
    assert len(posts) > 1000
    allowed = {(str(by_nonce[nonce_for(r.key)].channel.id), nonce_for(r.key)) for r in stored}
    assert {(p.path.split("/")[2], p.json["nonce"]) for p in posts} <= allowed
    assert max(r.attempt for r in stored) >= 2


@pytest.mark.skipif(not on_postgres(), reason="two processes share work only on PostgreSQL")
async def test_two_processes_on_postgresql_send_5000_rows_each_claimed_once(
    emu: Emulator, tmp_path: Path
) -> None:
    guild = emu.create_guild()
    rooms = [guild.create_text_channel(f"room{i}") for i in range(25)]
    async with scratch_database(str(tmp_path)) as url:
        engine = await migrated(url)
        sessions = create_sessionmaker(engine)
        now = SystemClock().now() - timedelta(minutes=1)
        message = outbox.delivery_payload(OutgoingMessage(content="the weekly prompt"))
        items = [
            NewWork(key=f"n{i}", kind="notice", due_at=now, guild_id=guild.id,
                    channel_id=rooms[i % 25].id, payload=message)
            for i in range(5000)
        ]  # fmt: skip
        async with unit_of_work(sessions) as session:
            assert await outbox.enqueue_many(session, items=items, now=now) == 5000

        log = tmp_path / "children.log"
        options = ("--batch", "100", "--in-flight", "20", "--lease", "30")
        first, second = await asyncio.gather(
            start_child(url, emu, log, *options), start_child(url, emu, log, *options)
        )
        codes = await asyncio.gather(finish(first, 50), finish(second, 50))
        assert list(codes) == [0, 0]
        async with sessions() as session:
            stored = list((await session.execute(select(OutboxItem))).scalars())
        await engine.dispose()

    assert Counter(r.state for r in stored) == {"sent": 5000}
    assert {r.attempt for r in stored} == {1}  # every row claimed exactly once
    by_worker = Counter(r.claimed_by for r in stored)
    assert set(by_worker) == {first.worker, second.worker}
    assert min(by_worker.values()) > 500  # both really worked
    messages = bot_messages(emu)
    assert len(messages) == 5000 == len({m.nonce for m in messages})
    assert len(emu.requests_to("POST /channels/*/messages")) == 5000


async def test_sigkill_past_the_nonce_window_doubles_at_most_the_sends_in_flight(
    tmp_path: Path,
) -> None:
    """Regression (issue 13): outcomes were recorded per batch of 100, so a crash forgot every
    send of the batch so far, and a restart slower than Discord's de-duplication window sent them
    again (68 of 1,000 DMs doubled). With the emulator's nonce window at zero (every restart is
    "too slow"), only the sends in flight at the moment of each kill may be repeated: each
    outcome is committed before its in-flight slot is given back."""
    in_flight = 2
    kills = 5
    async with Emulator(nonce_window=0.0, discord_limits=False) as emu:
        url, engine, _ = await due_dms_and_posts(emu, tmp_path, "window.sqlite3", 300, 5)
        sessions = create_sessionmaker(engine)

        rng = random.Random(13)
        targets = sorted(rng.sample(range(30, 570), kills))
        log = tmp_path / "children.log"
        options = ("--batch", "100", "--in-flight", str(in_flight))
        sent_at_kill = []
        for target in targets:
            child = await start_child(url, emu, log, *options)
            await emu.wait_for(lambda: len(bot_messages(emu)) >= target or None, timeout=30)  # noqa: B023
            child.proc.kill()  # SIGKILL mid-batch: the batch's earlier sends must be on record
            await child.proc.wait()
            sent_at_kill.append(len(bot_messages(emu)))
        child = await start_child(url, emu, log, *options)
        assert await finish(child, timeout=40) == 0
        async with sessions() as session:
            stored = list((await session.execute(select(OutboxItem))).scalars())
        await engine.dispose()

        assert all(0 < n < 600 + kills * in_flight for n in sent_at_kill)
        assert Counter(r.state for r in stored) == {"sent": 600}
        messages = bot_messages(emu)
        per_nonce = Counter(m.nonce for m in messages)
        assert set(per_nonce) == {nonce_for(r.key) for r in stored}
        doubled = len(messages) - len(per_nonce)
        print(f"nonce window 0: {kills} kills, {doubled} doubled (bound {kills * in_flight})")
        assert doubled <= kills * in_flight
        # Every row points at a message that really carries its nonce.
        by_id = {m.id: m for m in messages}
        assert all(by_id[r.message_id or 0].nonce == nonce_for(r.key) for r in stored)

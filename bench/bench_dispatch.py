"""How fast the dispatcher is, so that Discord's 50 requests/s is always the bottleneck.

``python -m bench.bench_dispatch [--rows N] [--limited-rows N] [--database-url URL]``

1. The database alone: claim a batch, record its outcomes (no sending), rows per second.
2. The dispatcher with the real discord.py messenger against the emulator with no rate limit,
   the emulator in its own process (so each side has a core): deliveries per second of wall time,
   and per second of the dispatcher process's own CPU time (its work alone).
3. The same against the emulator enforcing Discord's global 50 requests/s, with the default
   pacing (``send_rate_per_second`` = 40): the sustained rate and the 429s received (goal: 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import discord

from bot.clock import SystemClock
from bot.config import Settings
from bot.db import create_engine, create_sessionmaker, unit_of_work
from bot.dispatch import DiscordMessenger, Dispatcher
from bot.migrate import upgrade
from bot.services import outbox
from bot.services.outbox import NewWork, Outcome
from bot.services.ports import OutgoingMessage, Sent

GOAL = 1000.0
DISCORD_LIMIT = 50.0


# --------------------------------------------------------------------------- emulator process


async def serve_emulator(channels: int, members: int) -> None:
    """Run an emulator until stdin closes; print its address and ids, answer ``stats``/
    ``limit N`` commands on stdin with one JSON line each."""
    from emulator import Emulator

    # No limits but the global one a ``limit N`` command sets: this measures the dispatcher's
    # own speed (Discord's per-route limits are tested in tests/e2e/test_rate_limits.py).
    async with Emulator(discord_limits=False) as emu:
        guild = emu.create_guild("bench")
        rooms = [guild.create_text_channel(f"room{i}").id for i in range(channels)]
        people = [guild.add_member(f"m{i}").id for i in range(members)]
        info = {"api": emu.api_url, "token": emu.token, "guild": guild.id}
        print(json.dumps({**info, "channels": rooms, "members": people}), flush=True)
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := (await reader.readline()).decode().strip():
            if line.startswith("limit"):
                value = line.split()[1]
                emu.faults.global_limit(None if value == "off" else int(value))
            bot = emu.bot_user.id
            stats = {
                "messages": sum(m.author.id == bot for m in emu.world.messages.values()),
                "requests": len(emu.requests),
                "rate_limited": emu.faults.rate_limited,
                "cpu": time.process_time(),
            }
            print(json.dumps(stats), flush=True)


class EmulatorProcess:
    def __init__(self, proc: asyncio.subprocess.Process, info: dict[str, Any]) -> None:
        self.proc = proc
        self.info = info

    async def command(self, text: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(text.encode() + b"\n")
        await self.proc.stdin.drain()
        result: dict[str, Any] = json.loads(await self.proc.stdout.readline())
        return result


@asynccontextmanager
async def emulator_process(channels: int, members: int) -> AsyncIterator[EmulatorProcess]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_dispatch", "--serve-emulator",
        str(channels), str(members),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**24,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    try:
        info = json.loads(await asyncio.wait_for(proc.stdout.readline(), timeout=60))
        yield EmulatorProcess(proc, info)
    finally:
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), timeout=10)
        except TimeoutError:
            proc.kill()


# --------------------------------------------------------------------------- helpers


async def fresh_database(url: str | None, folder: Path, name: str) -> str:
    if url is None:
        url = f"sqlite+aiosqlite:///{folder / name}"
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(outbox.OUTBOX.delete())
    finally:
        await engine.dispose()
    return url


def work_items(
    n: int, *, guild: int, channels: list[int], members: list[int], dms: bool
) -> list[NewWork]:
    """Channel messages (one request each) or first DMs to distinct members (two requests: the
    DM channel is opened, then the message sent)."""
    now = SystemClock().now() - timedelta(seconds=1)
    message = outbox.delivery_payload(OutgoingMessage(content="How did this week's goal go?"))
    prefix = "dm" if dms else "ch"
    return [
        NewWork(
            key=f"bench:{prefix}:{i}",
            kind="notice",
            due_at=now,
            guild_id=guild,
            payload=message,
            user_id=members[i % len(members)] if dms else None,
            channel_id=None if dms else channels[i % len(channels)],
        )
        for i in range(n)
    ]


async def enqueue(url: str, items: list[NewWork]) -> None:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    async with unit_of_work(sessions) as session:
        await outbox.enqueue_many(session, items=items, now=SystemClock().now())
    await engine.dispose()


# --------------------------------------------------------------------------- the three figures


async def bench_database(url: str, n: int, batch: int) -> dict[str, float]:
    await enqueue(url, work_items(n, guild=1, channels=[10, 11], members=[], dms=False))
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    clock = SystemClock()
    started = time.perf_counter()
    done = 0
    while True:
        async with unit_of_work(sessions) as session:
            claimed = await outbox.claim(
                session, now=clock.now(), worker="bench", limit=batch,
                lease=timedelta(seconds=60),
            )  # fmt: skip
        if not claimed:
            break
        outcomes = [
            Outcome(w, "sent", sent=Sent(message_id=w.id, channel_id=1), via="dm") for w in claimed
        ]
        async with unit_of_work(sessions) as session:
            await outbox.record_outcomes(session, outcomes=outcomes, now=clock.now())
        done += len(claimed)
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return {"rows": done, "seconds": elapsed, "rate": done / elapsed}


async def bench_dispatch(
    url: str,
    emu: EmulatorProcess,
    n: int,
    *,
    dms: bool,
    rate: float | None,
    batch: int,
    in_flight: int,
) -> dict[str, float]:
    info = emu.info
    items = work_items(
        n, guild=info["guild"], channels=info["channels"], members=info["members"], dms=dms
    )
    await enqueue(url, items)
    before = await emu.command("stats")
    discord.http.Route.BASE = info["api"]
    client = discord.Client(intents=discord.Intents.none())
    await client.login(info["token"])
    engine = create_engine(url)
    dispatcher = Dispatcher(
        sessions=create_sessionmaker(engine),
        clock=SystemClock(),
        messenger=DiscordMessenger(client, rate_per_second=rate),
        batch_size=batch,
        max_in_flight=in_flight,
    )
    cpu, started = time.process_time(), time.perf_counter()
    report = await dispatcher.run_once()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await client.close()
    await engine.dispose()
    after = await emu.command("stats")
    sent = report.states.get("sent", 0)
    requests = after["requests"] - before["requests"]
    return {
        "sent": sent,
        "seconds": elapsed,
        "rate": sent / elapsed,
        "cpu_seconds": cpu,
        "cpu_rate": sent / cpu if cpu else float("inf"),
        "requests": requests,
        "request_rate": requests / elapsed,
        "rate_limited": after["rate_limited"] - before["rate_limited"],
        "emulator_cpu": after["cpu"] - before["cpu"],
        "other_states": sum(v for k, v in report.states.items() if k != "sent"),
    }


async def main(args: argparse.Namespace) -> None:
    settings = Settings()
    folder = Path(tempfile.mkdtemp(prefix="pairbot-bench-"))
    backend = "PostgreSQL" if args.database_url else "SQLite (file, WAL)"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"pairbot dispatcher benchmark — database: {backend}; {os.cpu_count()} CPUs, "
        f"load average {load} (wall-clock figures suffer when other work shares the cores)"
    )

    url = await fresh_database(args.database_url, folder, "db.sqlite3")
    db = await bench_database(url, args.rows, settings.claim_batch_size)
    print(
        f"\n1. database alone: claim + record {db['rows']:.0f} rows in batches of "
        f"{settings.claim_batch_size}: {db['seconds']:.2f} s = {db['rate']:,.0f} rows/s "
        f"({db['rate'] / DISCORD_LIMIT:,.0f}x Discord's 50/s)"
    )

    async with emulator_process(channels=20, members=max(args.rows, args.limited_rows)) as emu:
        for n, (dms, what) in enumerate(
            [(False, "channel messages (1 request each)"),
             (True, "first DMs to distinct members (2 requests each)")]
        ):  # fmt: skip
            url = await fresh_database(args.database_url, folder, f"free{n}.sqlite3")
            free = await bench_dispatch(
                url, emu, args.rows, dms=dms, rate=None, batch=500, in_flight=64
            )
            print(
                f"\n2{'ab'[n]}. dispatcher + discord.py against the emulator (own process), no "
                f"rate limit: {free['sent']:.0f} {what}, {free['requests']:.0f} requests\n"
                f"   dispatcher's own work: {free['cpu_seconds']:.2f} CPU-s = "
                f"{free['cpu_rate']:,.0f} deliveries per CPU-second "
                f"(goal {GOAL:,.0f}: {free['cpu_rate'] / GOAL:.2f}x; "
                f"{free['cpu_rate'] / DISCORD_LIMIT:,.0f}x Discord's 50/s)\n"
                f"   wall: {free['seconds']:.2f} s = {free['rate']:,.0f} deliveries/s "
                f"({free['request_rate']:,.0f} requests/s; the emulator used "
                f"{free['emulator_cpu']:.2f} CPU-s)\n"
                f"   not sent: {free['other_states']:.0f}"
            )

        await emu.command("limit 50")
        url = await fresh_database(args.database_url, folder, "limited.sqlite3")
        rate = settings.send_rate_per_second
        limited = await bench_dispatch(
            url,
            emu,
            args.limited_rows,
            dms=True,
            rate=rate,
            batch=settings.claim_batch_size,
            in_flight=10,
        )
        print(
            f"\n3. emulator enforcing Discord's global 50 requests/s, pacing at {rate:g}/s "
            f"(settings.send_rate_per_second): {limited['sent']:.0f} DMs, "
            f"{limited['requests']:.0f} requests\n"
            f"   sustained: {limited['request_rate']:.1f} requests/s "
            f"({limited['request_rate'] / DISCORD_LIMIT:.0%} of the limit) = "
            f"{limited['rate']:.1f} DMs/s over {limited['seconds']:.1f} s\n"
            f"   429s received: {limited['rate_limited']:.0f} (goal 0); "
            f"not sent: {limited['other_states']:.0f}"
        )


def cli() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-emulator":
        asyncio.run(serve_emulator(int(sys.argv[2]), int(sys.argv[3])))
        return
    parser = argparse.ArgumentParser(prog="python -m bench.bench_dispatch")
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--limited-rows", type=int, default=300)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()

"""Command latency with a large community in the database (issue 13's benchmark).

``python -m bench.bench_latency [--members 100000] [--db sqlite|postgres|both]
[--concurrency 1,200] [--quick]``

The database comes from :mod:`bench.bigdb` (cached: an SQLite file under the temp dir, a
PostgreSQL template database; each run works on a copy). The bot runs as ``pairbot run`` in its
own process with a config file pointing at the emulator, which runs here with the simulated
members. For each command: p50/p99 of the first response (interaction created → the bot's
callback arriving, defer or message) and of the final answer, and the missed 3 s deadlines.
A probe then runs ``/goal list`` from other members while a moderator's ``/admin match-now``
round runs (and the start-up tick, with the goals sweep, is timed from ``/metrics``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import select, update

from bench.bigdb import USER_BASE, VERSION, build, guild_ids
from bot.db import create_engine
from emulator import Emulator
from emulator.errors import EmulatorError
from emulator.interactions import Reply
from emulator.model import Member, User
from models import GuildSettings, Partnership, PartnershipMember
from models import Member as MemberRow

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(tempfile.gettempdir()) / "pairbot-bench"
PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/"
GOAL_P99 = 0.5
DEADLINE = 3.0


# --------------------------------------------------------------------------- databases


def _tag(members: int) -> str:
    return f"{VERSION}_{members}_{datetime.now(UTC):%Y%m%d}"


async def sqlite_copy(members: int, folder: Path) -> str:
    CACHE.mkdir(parents=True, exist_ok=True)
    cached = CACHE / f"bigdb_{_tag(members)}.sqlite3"
    if not cached.exists():
        partial = cached.with_suffix(".building")
        partial.unlink(missing_ok=True)
        built = await build(f"sqlite+aiosqlite:///{partial}", members)
        print(f"  built {sum(built.rows.values())} rows in {built.seconds:.1f} s "
              f"(cpu {built.cpu:.1f} s): {built.rows}")  # fmt: skip
        partial.rename(cached)
    target = folder / "pairbot.sqlite3"
    shutil.copyfile(cached, target)
    return f"sqlite+aiosqlite:///{target}"


async def pg_copy(members: int, run_name: str) -> str:
    cached = f"pairbot_bench_{_tag(members)}"
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname=$1", cached)
        if not exists:
            await conn.execute(f'DROP DATABASE IF EXISTS "{cached}_b" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{cached}_b"')
            built = await build(PG + cached + "_b", members)
            print(f"  built {sum(built.rows.values())} rows in {built.seconds:.1f} s "
                  f"(cpu {built.cpu:.1f} s)")  # fmt: skip
            await conn.execute(f'ALTER DATABASE "{cached}_b" RENAME TO "{cached}"')
        await conn.execute(f'DROP DATABASE IF EXISTS "{run_name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{run_name}" TEMPLATE "{cached}"')
    finally:
        await conn.close()
    return PG + run_name


async def pg_drop(name: str) -> None:
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def pick_members(url: str, per_guild: int) -> dict[int, list[int]]:
    """Per guild, member ids to drive: half in a running partnership, half seeking; and point
    the communities' forum at the emulator's (set later)."""
    engine = create_engine(url)
    chosen: dict[int, list[int]] = {}
    try:
        async with engine.connect() as conn:
            for gid in guild_ids():
                paired = (await conn.execute(
                    select(PartnershipMember.member_id)
                    .join(Partnership, Partnership.id == PartnershipMember.partnership_id)
                    .where(Partnership.guild_id == gid, Partnership.state == "active")
                    .limit(per_guild)
                )).scalars().all()  # fmt: skip
                seeking = (await conn.execute(
                    select(MemberRow.id).where(
                        MemberRow.guild_id == gid, MemberRow.pool_status == "seeking")
                    .limit(per_guild)
                )).scalars().all()  # fmt: skip
                mixed = [m for pair in zip(paired, seeking, strict=False) for m in pair]
                chosen[gid] = list(dict.fromkeys(mixed))[:per_guild]
    finally:
        await engine.dispose()
    return chosen


async def set_forums(url: str, forums: dict[int, int]) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for gid, forum in forums.items():
                await conn.execute(update(GuildSettings).where(GuildSettings.guild_id == gid)
                                   .values(forum_channel_id=forum))  # fmt: skip
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- measuring


@dataclass
class Sample:
    command: str
    created: float
    interaction_id: int | None = None
    final: float | None = None
    error: str | None = None


@dataclass
class Stats:
    samples: list[Sample] = field(default_factory=list)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def first_responses(emu: Emulator) -> dict[int, float]:
    """Interaction id → when the bot's first callback for it arrived (monotonic)."""
    found: dict[int, float] = {}
    for r in emu.requests:
        if r.path.startswith("/interactions/") and r.path.endswith("/callback"):
            iid = int(r.path.split("/")[2])
            found.setdefault(iid, r.time)
    return found


async def timed(
    command: str, action: Callable[[], Awaitable[Reply]], out: list[Sample]
) -> Reply | None:
    loop = asyncio.get_running_loop()
    sample = Sample(command, loop.time())
    out.append(sample)
    try:
        reply = await action()
    except EmulatorError as exc:
        sample.error = type(exc).__name__
        return None
    sample.interaction_id = reply.interaction.id
    sample.created = reply.interaction.created
    sample.final = loop.time()
    if "(reference `" in reply.text:
        sample.error = "unexpected-error reply"
    return reply


async def member_script(m: Member, out: list[Sample], seeker: bool) -> None:
    await timed("/profile show", lambda: m.slash("profile show"), out)
    await timed(
        "/goal add", lambda: m.slash("goal add", text="Write 500 words", due="next week"), out
    )
    await timed("/goal list", lambda: m.slash("goal list"), out)
    await timed("/pair status", lambda: m.slash("pair status"), out)
    reply = await timed("/pair block", lambda: m.slash("pair block"), out)
    if reply is not None and "Cancel" in reply.button_labels:
        await timed("button Cancel", lambda: m.press(reply, "Cancel"), out)
    await timed("/partner pause", lambda: m.slash("partner pause", until="2w"), out)


def table(title: str, emu: Emulator, samples: list[Sample]) -> list[str]:
    firsts = first_responses(emu)
    lines = [
        title,
        f"  {'command':16} {'n':>4} {'first p50':>9} {'first p99':>9} "
        f"{'final p50':>9} {'final p99':>9} {'missed':>6} {'err':>4} {'p99/goal':>8}",
    ]
    by: dict[str, list[Sample]] = {}
    for s in samples:
        by.setdefault(s.command, []).append(s)
    for command, group in by.items():
        first, final, missed = [], [], 0
        for s in group:
            t1 = firsts.get(s.interaction_id) if s.interaction_id else None
            if t1 is None:
                # No answer accepted: find the late callback by the emulator's records.
                rec = next((r for r in emu.interactions if r.name and abs(r.created - s.created)
                            < 1e-9), None)  # fmt: skip
                t1 = firsts.get(rec.id) if rec else None
            if t1 is not None:
                first.append(t1 - s.created)
            if t1 is None or t1 - s.created > DEADLINE:
                missed += 1
            if s.final is not None:
                final.append(s.final - s.created)
        errors = sum(1 for s in group if s.error)
        p99 = pct(first, 0.99)
        lines.append(
            f"  {command:16} {len(group):4d} {pct(first, 0.5):9.3f} {p99:9.3f} "
            f"{pct(final, 0.5):9.3f} {pct(final, 0.99):9.3f} {missed:6d} {errors:4d} "
            f"{p99 / GOAL_P99:7.1f}x"
        )
    return lines


def proc_cpu(pid: int) -> float:
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def tick_metrics(port: int) -> dict[str, float]:
    found: dict[str, float] = {}
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as r:
        for line in (await r.text()).splitlines():
            if line.startswith("pairbot_tick_seconds_") and "handler=" in line:
                name, value = line.rsplit(" ", 1)
                found[name] = float(value)
    return found


# --------------------------------------------------------------------------- one database


async def run_one(db: str, members: int, levels: list[int], folder: Path) -> list[str]:
    out = [f"== {db}, {members} members =="]
    per_guild = max(levels) // len(guild_ids()) + 6
    started = time.monotonic()
    run_name = f"pairbot_bench_run_{os.getpid()}"
    url = await (sqlite_copy(members, folder) if db == "sqlite" else pg_copy(members, run_name))
    out.append(f"  database ready in {time.monotonic() - started:.1f} s")
    chosen = await pick_members(url, per_guild)
    async with Emulator(reply_timeout=300.0) as emu:
        guilds, people = [], {}
        for i, gid in enumerate(guild_ids()):
            g = emu.create_guild(f"community {i}", guild_id=gid)
            forum = g.create_forum("find-a-partner")
            guilds.append(g)
            people[gid] = [g.add_member(_user(emu, mid)) for mid in chosen[gid]]
            people[gid].append(g.add_member(f"mod{i}", admin=True))
            await set_forums(url, {gid: forum.id})
        port = free_port()
        config = folder / "config.toml"
        config.write_text(
            f'token = "{emu.token}"\napi_base_url = "{emu.api_url}"\n'
            f'gateway_url = "{emu.gateway_url}"\ndatabase_url = "{url}"\n'
            f'metrics_enabled = true\nmetrics_port = {port}\ndata_dir = "data"\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAIRBOT_")}
        env |= {"PYTHONPATH": str(ROOT), "PAIRBOT_CONFIG": str(config)}
        log = folder / f"run-{db}.log"
        with log.open("wb") as sink:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=folder, env=env, stdout=sink, stderr=sink
            )
        try:
            t0 = time.monotonic()
            await emu.wait_for(lambda: len(emu.commands()) > 0, timeout=600)
            await emu.wait_until_connected(timeout=600)
            await emu.wait_for(lambda: all(emu.gateway.has_session_for(g.id) for g in guilds),
                               timeout=120)  # fmt: skip
            out.append(f"  bot connected {time.monotonic() - t0:.1f} s after start")
            drivers = [m for gid in guild_ids() for m in people[gid][:-1]]
            probe_members = drivers[max(levels) :]
            for level in levels:
                cpu0, wall0, load = proc_cpu(proc.pid), time.monotonic(), os.getloadavg()[0]
                samples: list[Sample] = []
                if level == 1:
                    for m in drivers[:5]:
                        await member_script(m, samples, seeker=False)
                else:
                    await asyncio.gather(*(member_script(m, samples, seeker=False)
                                           for m in drivers[:level]))  # fmt: skip
                wall = time.monotonic() - wall0
                out += table(
                    f"  {level} member(s) at once ({wall:.1f} s wall, bot cpu "
                    f"{proc_cpu(proc.pid) - cpu0:.1f} s, load {load:.2f})",
                    emu,
                    samples,
                )
            ticks = await tick_metrics(port)
            out.append("  ticks so far: " + ", ".join(
                f"{k.split('handler=')[1].rstrip('}')}:{v:.2f}" for k, v in ticks.items()
                if "_sum" in k))  # fmt: skip
            # Probe: /goal list from other members while a round runs in the largest community.
            mod = people[guild_ids()[0]][-1]
            samples = []
            round_samples: list[Sample] = []
            loop = asyncio.get_running_loop()
            t_round = loop.time()
            cpu0 = proc_cpu(proc.pid)
            round_task = asyncio.ensure_future(timed(
                "/admin match-now", lambda: mod.slash("admin match-now", dry_run=False),
                round_samples))  # fmt: skip

            async def probe(m: Member) -> None:
                while not round_task.done() and loop.time() - t_round < 600:
                    await timed("/goal list (probe)", lambda: m.slash("goal list"), samples)
                    await asyncio.sleep(0.5)

            await asyncio.gather(round_task, *(probe(m) for m in probe_members[:20]))
            out += table(
                f"  probe during a matching round ({loop.time() - t_round:.1f} s, bot "
                f"cpu {proc_cpu(proc.pid) - cpu0:.1f} s)",
                emu,
                round_samples + samples,
            )
            kinds = sorted({str(v)[:90] for v in emu.violations})
            out.append(f"  emulator violations: {len(emu.violations)}; kinds: {kinds[:4]}")
            if round_samples and round_samples[0].error:
                out.append(f"  match-now answered an unexpected error; see {log}")
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), timeout=60)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            if db == "postgres":
                await pg_drop(run_name)
    return out


def _user(emu: Emulator, member_id: int) -> User:
    user = User(USER_BASE + member_id, f"m{member_id}")
    emu.world.users[user.id] = user
    return user


async def main_async(args: argparse.Namespace) -> None:
    members = 10_000 if args.quick else args.members
    levels = [int(x) for x in args.concurrency.split(",")]
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    tmp = tempfile.mkdtemp(prefix="pairbot-bench-")
    try:
        lines: list[str] = []
        for db in dbs:
            folder = Path(tmp) / db
            folder.mkdir()
            lines += await run_one(db, members, levels, folder)
        print("\n".join(lines))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        print(
            f"goals: first response p99 < {GOAL_P99} s; no missed deadline at 200 at once "
            f"(PostgreSQL). cpu here {time.process_time():.1f} s, load {os.getloadavg()}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--concurrency", default="1,200")
    parser.add_argument("--quick", action="store_true", help="10,000 members")
    parser.add_argument("--keep", action="store_true", help="keep the run folder (bot logs)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()

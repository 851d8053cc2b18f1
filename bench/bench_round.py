"""A 10,000-seeker matching round end to end on the real services and a real database, with a
probe command running every 0.5 s meanwhile (issue 13: no command blocked by a round).

``python -m bench.bench_round [--seekers N] [--database-url URL] [--chunk N]``

The database is built with bulk inserts of members made from ``bench/pool_gen.py``'s realistic
profiles (zones, availability, areas, languages, gender and age; no blocks or past partners).
Then ``matching.run_round`` runs as the scheduled round does (read and end the read, solve in a
thread, write in chunks), while a probe does what ``/status`` plus a profile touch does: a read
and a write in one unit of work on another member. Printed: read, solve, write and wall
seconds, the process's CPU seconds, the longest single write transaction, the probe's p50/p99/
max latency, and how the round's spaces are spread (their ``space_open`` rows' due times; the
spaces themselves open through the dispatcher and the emulator, not measured here).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.pool_gen import generate_pool
from bot.db import create_engine, create_sessionmaker, unit_of_work
from bot.domain.availability_text import format_availability
from bot.migrate import upgrade
from bot.services import matching, partnerships
from models import GuildSettings, Member, MemberPrivate, OutboxItem

GUILD = 1
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PROBES = 20  # idle members the probe touches
GOAL_SECONDS = 15.0


async def build(url: str, seekers: int) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    sessions = create_sessionmaker(engine)
    pool = generate_pool(seekers, seed=13, now=NOW)
    async with unit_of_work(sessions) as s:
        s.add(GuildSettings(guild_id=GUILD, pair_channel_id=900, created_at=NOW, updated_at=NOW))
        await s.flush()
        rows = [
            {
                "guild_id": GUILD,
                "user_id": 10_000_000 + i,
                "display_name": f"member {i}",
                "timezone": p.zone,
                "availability": format_availability(p.windows),
                "goal_areas": sorted(p.goal_areas),
                "intro": "Hello!",
                "rhythm": p.rhythm,
                "medium": p.medium,
                "languages": sorted(p.languages),
                "pool_status": "seeking",
                "waiting_since": p.waiting_since or NOW - timedelta(days=3),
                "priority": p.carried_over,
                "created_at": NOW,
                "updated_at": NOW,
            }
            for i, p in enumerate(pool)
        ]
        rows += [
            {
                "guild_id": GUILD,
                "user_id": 20_000_000 + i,
                "display_name": f"probe {i}",
                "timezone": "UTC",
                "pool_status": "idle",
                "created_at": NOW,
                "updated_at": NOW,
            }
            for i in range(PROBES)
        ]
        for start in range(0, len(rows), 2000):
            await s.execute(insert(Member), rows[start : start + 2000])
        ids = dict(
            (
                await s.execute(select(Member.user_id, Member.id).where(Member.guild_id == GUILD))
            ).all()
        )
        private = [
            {
                "member_id": ids[10_000_000 + i],
                "gender": p.gender,
                "age_bracket": p.age_bracket,
                "pref_genders": sorted(p.partner_genders or ()),
                "pref_languages": sorted(p.partner_languages or ()),
            }
            for i, p in enumerate(pool)
        ]
        for start in range(0, len(private), 2000):
            await s.execute(insert(MemberPrivate), private[start : start + 2000])
    await engine.dispose()


async def probe(
    sessions: async_sessionmaker[AsyncSession],
    stop: asyncio.Event,
    latencies: list[float],
    failures: list[float],
) -> None:
    """Every 0.5 s: a member's status (a read) and a touch of their row (a write), in one unit
    of work, as a command does."""
    i = 0
    while not stop.is_set():
        began = time.perf_counter()
        try:
            async with unit_of_work(sessions) as s:
                user_id = 20_000_000 + i % PROBES
                await partnerships.status(s, guild_id=GUILD, user_id=user_id, now=NOW)
                member = (
                    await s.execute(select(Member).where(Member.user_id == user_id))
                ).scalar_one()
                member.updated_at = NOW + timedelta(seconds=i)
        except OperationalError:
            failures.append(time.perf_counter() - began)  # e.g. "database is locked" after 5 s
        latencies.append(time.perf_counter() - began)
        i += 1
        try:
            await asyncio.wait_for(stop.wait(), timeout=max(0.0, 0.5 - latencies[-1]))
        except TimeoutError:
            pass


async def run(url: str, seekers: int, chunk: int) -> None:
    built = time.perf_counter()
    await build(url, seekers)
    print(f"built {seekers} seekers in {time.perf_counter() - built:.1f} s ({url.split(':')[0]})")
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    latencies: list[float] = []
    failures: list[float] = []
    stop = asyncio.Event()
    probing = asyncio.create_task(probe(sessions, stop, latencies, failures))
    await asyncio.sleep(1.0)  # a few probes before the round, as a baseline
    timings = matching.RoundTimings()
    cpu, wall = time.process_time(), time.perf_counter()
    report = await matching.run_round(
        sessions, guild_id=GUILD, now=NOW, trigger="schedule", timings=timings, chunk=chunk
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stop.set()
    await probing
    async with sessions() as s:
        first, last, count = (
            await s.execute(
                select(
                    func.min(OutboxItem.due_at), func.max(OutboxItem.due_at), func.count()
                ).where(OutboxItem.kind == partnerships.SPACE_OPEN.kind)
            )
        ).one()
    await engine.dispose()
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    print(
        f"round: pool {report.pool_size}, {len(report.groups)} groups, "
        f"{len(report.unmatched)} unmatched, {timings.dropped_groups} dropped"
    )
    print(
        f"read {timings.read:.2f} s, solve {timings.solve:.2f} s, write {timings.write:.2f} s "
        f"in {timings.chunks} transactions (chunk {chunk}), longest transaction "
        f"{timings.longest_transaction:.2f} s"
    )
    print(
        f"end to end {wall:.2f} s wall (goal <= {GOAL_SECONDS:.0f} s), "
        f"{cpu:.2f} s CPU of this process"
    )
    print(
        f"probe command every 0.5 s: {len(ordered)} runs, p50 "
        f"{statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max "
        f"{ordered[-1] * 1000:.0f} ms, {len(failures)} failed (database locked)"
    )
    if count:
        print(
            f"spaces: {count} space_open rows, due from +{(first - NOW).total_seconds():.0f} s "
            f"to +{(last - NOW).total_seconds():.0f} s ({matching.SPACES_PER_SECOND:g}/s, about "
            f"{4 * matching.SPACES_PER_SECOND:g} requests/s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seekers", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=matching.ROUND_CHUNK)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'round.db'}"
        asyncio.run(run(url, args.seekers, args.chunk))


if __name__ == "__main__":
    main()

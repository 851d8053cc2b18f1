"""``pairbot simulate``: a seeded community lives through weeks with the real bot, and the
invariants of those weeks are checked every simulated day (see :mod:`.invariants`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from bot.clock import FakeClock
from bot.db import create_engine
from bot.migrate import upgrade
from bot.sandbox import sandbox
from bot.simulation.invariants import Problem
from bot.simulation.people import Person, community
from bot.simulation.runner import START, Simulation

__all__ = ["Outcome", "Person", "community", "main", "simulate"]


@dataclass
class Outcome:
    problems: list[Problem]
    members: int
    weeks: int
    seed: int
    seconds: float
    interactions: int
    messages: int
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [
            f"simulated {self.members} members for {self.weeks} weeks (seed {self.seed}) in "
            f"{self.seconds:.1f} s: {self.interactions} interactions, {self.messages} messages "
            "from the bot",
        ]
        for key in sorted(self.counts):
            lines.append(f"  {key}: {self.counts[key]}")
        if self.problems:
            by_kind: dict[str, int] = {}
            for p in self.problems:
                by_kind[p.invariant] = by_kind.get(p.invariant, 0) + 1
            lines.append(f"{len(self.problems)} invariant breaches:")
            for kind, count in sorted(by_kind.items(), key=lambda kv: -kv[1]):
                lines.append(f"  {count:5d}  {kind}")
        else:
            lines.append("every invariant held")
        return "\n".join(lines)


async def simulate(
    *,
    members: int,
    weeks: int,
    seed: int,
    database_url: str | None = None,
    people: list[Person] | None = None,
) -> Outcome:
    """Run one simulation; on a fresh temporary SQLite file unless ``database_url`` is given
    (it must then be migrated and empty)."""
    started = time.perf_counter()
    cast = people if people is not None else community(members, seed)
    with tempfile.TemporaryDirectory(prefix="pairbot-sim-") as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'sim.sqlite3'}"
        if database_url is None:
            engine = create_engine(url)
            await upgrade(engine)
            await engine.dispose()
        clock = FakeClock(START)
        async with sandbox(database_url=url, clock=clock) as sb:
            sim = Simulation(sb, cast, seed=seed, weeks=weeks)
            try:
                problems = await sim.run()
            finally:
                sim.checker.close()
            counts = dict(sim.stats.counts) | dict(sim.checker.counts)
            return Outcome(
                problems=problems,
                members=len(cast),
                weeks=weeks,
                seed=seed,
                seconds=time.perf_counter() - started,
                interactions=sim.stats.interactions,
                messages=sim.checker.counts["messages seen"],
                counts=counts,
            )


def main(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("discord").setLevel(logging.CRITICAL)
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.CRITICAL)
    if args.memory:
        tracemalloc.start()
    outcome = asyncio.run(simulate(members=args.members, weeks=args.weeks, seed=args.seed))
    print(outcome.summary(), file=out)
    shown = outcome.problems[: args.show]
    for problem in shown:
        print(f"  - {problem}", file=out)
    if len(outcome.problems) > len(shown):
        print(f"  … and {len(outcome.problems) - len(shown)} more", file=out)
    if args.memory:
        _, peak = tracemalloc.get_traced_memory()
        print(f"peak traced memory: {peak / 2**20:.0f} MiB", file=out)
    return 1 if outcome.problems else 0

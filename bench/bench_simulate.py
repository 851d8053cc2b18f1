"""How fast the community simulator lives through weeks: figures, not a timed test.

    python -m bench.bench_simulate                      # 1,000 members x 12 weeks (the goal)
    python -m bench.bench_simulate --members 200 --weeks 2

Prints wall and CPU seconds, peak memory (RSS of this process: the bot, the emulator and the
simulated members all live in it), interactions and bot messages per second, the ratio to the
goal (1,000 members x 12 weeks in 5 minutes and 1 GB), and the invariant breaches found.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import time

from bot.simulation import simulate

GOAL_SECONDS = 300.0
GOAL_MEMBERS, GOAL_WEEKS = 1000, 12
GOAL_RSS_MB = 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=GOAL_MEMBERS)
    parser.add_argument("--weeks", type=int, default=GOAL_WEEKS)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    wall, cpu = time.perf_counter(), time.process_time()
    outcome = asyncio.run(simulate(members=args.members, weeks=args.weeks, seed=args.seed))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    member_weeks = args.members * args.weeks
    goal_rate = GOAL_MEMBERS * GOAL_WEEKS / GOAL_SECONDS
    print(f"{args.members} members x {args.weeks} weeks (seed {args.seed})")
    print(f"  wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {rss:.0f} MB")
    print(
        f"  {outcome.interactions} interactions ({outcome.interactions / wall:.1f}/s), "
        f"{outcome.messages} bot messages ({outcome.messages / wall:.1f}/s), "
        f"{outcome.counts.get('ticks', 0)} ticks"
    )
    print(
        f"  {member_weeks / wall:.1f} member-weeks/s; the goal needs {goal_rate:.1f} "
        f"({member_weeks / wall / goal_rate:.2f}x of it); memory {rss / GOAL_RSS_MB:.2f}x of 1 GB"
    )
    print(f"  invariant breaches: {len(outcome.problems)}")
    kinds: dict[str, int] = {}
    for p in outcome.problems:
        kinds[p.invariant] = kinds.get(p.invariant, 0) + 1
    for kind, count in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print(f"    {count:5d}  {kind}")


if __name__ == "__main__":
    main()

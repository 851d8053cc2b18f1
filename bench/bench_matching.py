"""Matching benchmark: wall time, peak memory, members matched vs the maximum possible, and score
vs the exact optimum (rustworkx on every allowed pair) with the time ratio to that exact solver.

    python -m bench.bench_matching                      # N = 1,000 .. 20,000
    python -m bench.bench_matching --sizes 1000,2000 --exact-max 2000

Each N runs in its own process so peak memory (ru_maxrss) belongs to that N alone; it is read
right after `match_pool`, before the exact baseline runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from bench.pool_gen import generate_pool
from bot.domain.availability import coming_weeks
from bot.domain.matching import CommunitySettings, match_pool
from bot.domain.matching.features import SCALE, encode
from bot.domain.matching.scoring import candidates, evaluate_block
from bot.domain.matching.solver import solve_exact

# A week where the US is on summer time and Europe is not yet: the harder case, since many
# members' masks differ between the two coming weeks.
NOW = datetime(2026, 3, 16, 17, tzinfo=UTC)


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(n: int, seed: int, k: int, exact_max: int, threads: int, upper: bool) -> dict[str, Any]:
    """Everything measured for one pool size, in this process."""
    pool = generate_pool(n, seed=seed, now=NOW)
    # carry_over, so the total is the matching's weight and comparable with the exact solver.
    cs = CommunitySettings(odd_policy="carry_over", k=k)
    rss_before = _maxrss_mb()
    c0 = time.process_time()
    t0 = time.perf_counter()
    result = match_pool(pool, cs, now=NOW, seed=seed, threads=threads)
    wall = time.perf_counter() - t0
    out: dict[str, Any] = {
        "n": n,
        "wall_s": wall,
        "cpu_s": time.process_time() - c0,
        "timing": result.timing,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _maxrss_mb(),
        "matched": result.totals.matched,
        "score": result.totals.total_score,
        "solver": result.totals.solver,
        "proven_max": result.totals.max_cardinality,
        "allowed_pairs": result.totals.allowed_pairs,
        "candidate_pairs": result.totals.candidate_pairs,
    }
    if n <= exact_max:
        t0 = time.perf_counter()
        p = encode(sorted(pool, key=lambda s: s.id), replace(cs), coming_weeks(NOW, 2), NOW)
        every = candidates(p, None, threads=threads)
        pairs = solve_exact(n, every.edges, every.points)
        out["exact_s"] = time.perf_counter() - t0
        lookup = dict(zip((every.edges[:, 0] * n + every.edges[:, 1]).tolist(),
                          every.points.tolist(), strict=True))
        out["exact_matched"] = 2 * len(pairs)
        out["exact_score"] = sum(lookup[a * n + b] for a, b in pairs) / SCALE
    if upper:
        out["upper_bound"] = assignment_upper_bound(pool, cs)
    return out


def assignment_upper_bound(pool: list[Any], cs: CommunitySettings) -> float:
    """Half the optimum of the assignment relaxation on the dense symmetric score matrix: no
    matching scores more. Dense N x N, so only for a few thousand members."""
    from scipy.optimize import linear_sum_assignment

    p = encode(pool, cs, coming_weeks(NOW, 2), NOW)
    n = p.n
    dense = np.zeros((n, n), dtype=np.float64)
    step = max(1, (1 << 18) // max(n, 1))
    for a in range(0, n, step):
        b = min(a + step, n)
        dense[a:b] = np.maximum(evaluate_block(p, a, b).points, 0)
    rows, cols = linear_sum_assignment(dense, maximize=True)
    return float(dense[rows, cols].sum()) / 2 / SCALE


def _fmt(row: dict[str, Any]) -> str:
    n = row["n"]
    exact = row.get("exact_score")
    quality = f"{100 * row['score'] / exact:.3f} %" if exact else "-"
    if "upper_bound" in row:
        quality += f" (>= {100 * row['score'] / row['upper_bound']:.3f} % of UB)"
    if "exact_matched" in row:
        max_possible = f"{row['exact_matched']:,} (exact)"
    elif row["proven_max"]:
        max_possible = f"{row['matched']:,} (proven bound)"
    else:
        max_possible = "? (bound not tight)"
    ratio = f"{row['exact_s'] / row['wall_s']:.1f}x ({row['exact_s']:.1f} s)" if (
        "exact_s" in row
    ) else "-"
    t = row["timing"]
    return (
        f"| {n:>6,} | {row['wall_s']:6.2f} s | {row['cpu_s']:6.2f} s | "
        f"{t['encode_s']:.2f} / {t['candidates_s']:.2f} / "
        f"{t['solve_s']:.2f} / {t['explain_s']:.2f} | {row['peak_rss_mb']:6.0f} MB | "
        f"{row['matched']:>6,} / {max_possible} | {quality} | {ratio} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,2000,5000,10000,20000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--k", type=int, default=CommunitySettings().k)
    parser.add_argument("--exact-max", type=int, default=2000,
                        help="run the exact baseline up to this N (N=2,000 takes ~20 s)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--upper-bound", action="store_true",
                        help="dense assignment upper bound for N > exact-max (slow, N^2 memory)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        row = run_one(args.one, args.seed, args.k, args.exact_max, args.threads,
                      args.upper_bound and args.one > args.exact_max)
        print(json.dumps(row))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(f"pool seed {args.seed}, k={args.k}, threads={args.threads}, round at {NOW:%Y-%m-%d}")
    print("| N | wall | CPU | encode / candidates / solve / explain (s) | peak RSS | matched / "
          "max possible | score vs exact | exact time (ratio) |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        cmd = [sys.executable, "-m", "bench.bench_matching", "--one", str(n),
               "--seed", str(args.seed), "--k", str(args.k), "--exact-max", str(args.exact_max),
               "--threads", str(args.threads)]
        if args.upper_bound:
            cmd.append("--upper-bound")
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"| {n:,} | failed: {done.stderr.strip().splitlines()[-1:]} |")
            continue
        print(_fmt(json.loads(done.stdout.strip().splitlines()[-1])), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Matching benchmark over varied pools (bench.pool_gen.KINDS): per kind and size, wall and CPU
time, peak memory, members matched vs the maximum possible, and the score as a % of the exact
optimum (rustworkx's blossom, max cardinality, on every allowed pair: the same edges
`pairbot match --edges` writes), with our time and memory as ratios to the exact solver's.

    python -m bench.bench_matching                                   # every kind, N = 2,000
    python -m bench.bench_matching --kinds realistic,blocks100 --sizes 2000,10000,50000

Our solver and the exact one each run in their own process, so each peak RSS (ru_maxrss) is that
solver's alone. The exact optimum of a pool is cached (keyed by kind, N, seed and a hash of its
edges and scores) in ~/.cache/pairbot-bench: at N = 2,000 it takes 30 s to 6 min per pool.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.pool_gen import KINDS, generate_kind
from bot.domain.availability import coming_weeks
from bot.domain.matching import CommunitySettings, match_pool
from bot.domain.matching.features import SCALE, encode
from bot.domain.matching.scoring import candidates
from bot.domain.matching.solver import matching_weight, solve_exact

# A week where the US is on summer time and Europe is not yet: the harder case, since many
# members' masks differ between the two coming weeks.
NOW = datetime(2026, 3, 16, 17, tzinfo=UTC)
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pairbot-bench"


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _settings(k: int) -> CommunitySettings:
    # carry_over, so the total is the matching's weight and comparable with the exact solver.
    return CommunitySettings(odd_policy="carry_over", k=k)


def run_ours(kind: str, n: int, seed: int, k: int, threads: int) -> dict[str, Any]:
    """Our round on one pool, in this process."""
    pool = generate_kind(kind, n, seed=seed, now=NOW)
    rss_before = _maxrss_mb()
    c0 = time.process_time()
    t0 = time.perf_counter()
    result = match_pool(pool, _settings(k), now=NOW, seed=seed, threads=threads)
    wall = time.perf_counter() - t0
    return {
        "kind": kind, "n": n, "wall_s": wall, "cpu_s": time.process_time() - c0,
        "timing": result.timing, "rss_before_mb": rss_before, "peak_rss_mb": _maxrss_mb(),
        "matched": result.totals.matched, "score": result.totals.total_score,
        "solver": result.totals.solver, "proven_max": result.totals.max_cardinality,
        "allowed_pairs": result.totals.allowed_pairs,
        "candidate_pairs": result.totals.candidate_pairs,
    }


def run_exact(kind: str, n: int, seed: int, k: int, threads: int, cache: bool
              ) -> dict[str, Any]:
    """The exact optimum on every allowed pair, in this process (or from the cache)."""
    pool = generate_kind(kind, n, seed=seed, now=NOW)
    p = encode(sorted(pool, key=lambda s: s.id), _settings(k), coming_weeks(NOW, 2), NOW)
    every = candidates(p, None, threads=threads)
    digest = hashlib.sha256(every.edges.tobytes() + every.points.tobytes()).hexdigest()[:16]
    path = CACHE / f"exact-{kind}-{n}-{seed}-{digest}.json"
    if cache and path.exists():
        return dict(json.loads(path.read_text()), cached=True)
    t0 = time.perf_counter()
    pairs = solve_exact(n, every.edges, every.points)
    row = {
        "exact_s": time.perf_counter() - t0,
        "exact_rss_mb": _maxrss_mb(),
        "exact_matched": 2 * len(pairs),
        "exact_score": matching_weight(pairs, every.edges, every.points, n) / SCALE,
    }
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(row))
    return dict(row, cached=False)


def _fmt(row: dict[str, Any]) -> str:
    exact = row.get("exact_score")
    quality = f"{100 * row['score'] / exact:.3f} %" if exact else "-"
    if "exact_matched" in row:
        max_possible = f"{row['exact_matched']:,} (exact)"
    elif row["proven_max"]:
        max_possible = f"{row['matched']:,} (proven)"
    else:
        max_possible = "?"
    if "exact_s" in row:
        cached = " cached" if row.get("cached") else ""
        time_ratio = f"{row['exact_s'] / row['wall_s']:.1f}x ({row['exact_s']:.1f} s{cached})"
        rss_ratio = f"{row['peak_rss_mb'] / row['exact_rss_mb']:.2f} ({row['exact_rss_mb']:.0f} MB)"
    else:
        time_ratio = rss_ratio = "-"
    t = row["timing"]
    return (
        f"| {row['kind']} | {row['n']:,} | {row['solver']} | {row['wall_s']:.2f} s | "
        f"{row['cpu_s']:.2f} s | {t['encode_s']:.2f} / {t['candidates_s']:.2f} / "
        f"{t['solve_s']:.2f} / {t['explain_s']:.2f} | {row['peak_rss_mb']:.0f} MB | "
        f"{row['matched']:,} / {max_possible} | {quality} | {time_ratio} | {rss_ratio} |"
    )


def _child(args: list[str]) -> dict[str, Any] | str:
    done = subprocess.run([sys.executable, "-m", "bench.bench_matching", *args],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["failed"])[-1]
    parsed: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return parsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--sizes", default="2000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--k", type=int, default=CommunitySettings().k)
    parser.add_argument("--exact-max", type=int, default=2000,
                        help="run the exact solver up to this N (N=2,000: 30 s to 6 min a pool)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-cache", action="store_true", help="recompute exact optima")
    parser.add_argument("--ours", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--exact", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ours:
        print(json.dumps(run_ours(args.ours[0], int(args.ours[1]), args.seed, args.k,
                                  args.threads)))
        return 0
    if args.exact:
        print(json.dumps(run_exact(args.exact[0], int(args.exact[1]), args.seed, args.k,
                                   args.threads, not args.no_cache)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s]
    kinds = [k for k in args.kinds.split(",") if k]
    load = os.getloadavg()
    print(f"pool seed {args.seed}, k={args.k}, threads={args.threads}, round at {NOW:%Y-%m-%d}, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("| kind | N | solver | wall | CPU | encode / candidates / solve / explain (s) | peak RSS "
          "| matched / max possible | score vs exact | exact time / ours | our RSS / exact's |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    common = ["--seed", str(args.seed), "--k", str(args.k), "--threads", str(args.threads)]
    for kind in kinds:
        for n in sizes:
            row = _child(["--ours", kind, str(n), *common])
            if isinstance(row, str):
                print(f"| {kind} | {n:,} | failed: {row} |", flush=True)
                continue
            if n <= args.exact_max:
                exact = _child(["--exact", kind, str(n), *common,
                                *(["--no-cache"] if args.no_cache else [])])
                if isinstance(exact, str):
                    print(f"| {kind} | {n:,} | exact failed: {exact} |", flush=True)
                else:
                    row.update(exact)
            print(_fmt(row), flush=True)
    end = os.getloadavg()
    print(f"load average at the end {end[0]:.2f} {end[1]:.2f} {end[2]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

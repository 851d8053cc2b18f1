"""Advice for unmatched members: what it costs per advised member and per round, and that the
matching is the same with it or without it.

    python -m bench.bench_advice                 # N = 2,000 and 10,000
    python -m bench.bench_advice --sizes 2000 --sample 100

For each N: a round with and without advice (the groups must be identical; the extra time is the
advice for the round's real unmatched members), then advice for a fixed sample of members as if
each had been left alone (the per-member cost, which must grow about linearly with N: each
advised member is a few vectorised passes over the pool, never a Python step per pair). CPU time
(process time) is printed beside wall time: these machines are shared.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import numpy as np

from bench.pool_gen import generate_pool
from bot.domain.matching import CommunitySettings, match_pool
from bot.domain.matching.advice import advise
from bot.domain.matching.engine import _prepare
from bot.domain.matching.scoring import candidates

NOW = datetime(2026, 3, 16, 17, tzinfo=UTC)  # the US on summer time, Europe not yet


def run(n: int, seed: int, sample: int) -> dict[str, float]:
    pool = generate_pool(n, seed, NOW)
    settings = CommunitySettings()
    t0 = time.perf_counter()
    plain = match_pool(pool, settings, now=NOW, seed=seed)
    t_plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    advised = match_pool(pool, settings, now=NOW, seed=seed, advise=True)
    t_advised = time.perf_counter() - t0
    if plain.groups != advised.groups or plain.unmatched != advised.unmatched:
        raise SystemExit(f"N={n}: advice changed the matching")
    p = _prepare(pool, settings, NOW, seed, None)
    degree = candidates(p, settings.k, seed=seed).allowed_degree
    picks = np.random.default_rng(seed).choice(n, size=min(sample, n), replace=False).tolist()
    t0, c0 = time.perf_counter(), time.process_time()
    # Every pick as if it had been left alone (zero allowed partners): the full, costliest path.
    sampled = advise(p, picks, allowed_degree=np.zeros_like(degree))
    t_sample, c_sample = time.perf_counter() - t0, time.process_time() - c0
    kinds: dict[str, int] = {}
    for a in sampled.values():
        key = a.change.kind if a.change else a.situation
        kinds[key] = kinds.get(key, 0) + 1
    return {
        "n": n,
        "round_s": t_plain,
        "round_with_advice_s": t_advised,
        "advice_in_round_s": advised.timing.get("advice_s", 0.0),
        "unmatched": len(advised.unmatched),
        "per_member_ms": 1000 * t_sample / len(picks),
        "per_member_cpu_ms": 1000 * c_sample / len(picks),
        "sample": len(picks),
        "kinds": kinds,  # type: ignore[dict-item]
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,10000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sample", type=int, default=50)
    args = parser.parse_args(argv)
    rows = [run(int(n), args.seed, args.sample) for n in args.sizes.split(",")]
    print(f"{'N':>7} {'round':>8} {'+advice':>8} {'advice':>8} {'unmatched':>9} "
          f"{'per advised member (wall, CPU)':>31}  sample outcomes")
    for r in rows:
        print(f"{r['n']:>7,} {r['round_s']:>7.2f}s {r['round_with_advice_s']:>7.2f}s "
              f"{r['advice_in_round_s'] * 1000:>6.0f}ms {r['unmatched']:>9} "
              f"{r['per_member_ms']:>19.1f} ms, {r['per_member_cpu_ms']:.1f} ms  {r['kinds']}")
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(f"per-member CPU ratio {b['per_member_cpu_ms'] / a['per_member_cpu_ms']:.2f}x for "
              f"{b['n'] / a['n']:.0f}x the members (linear would be {b['n'] / a['n']:.0f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

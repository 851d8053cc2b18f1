"""One matching round over a pool: the single code path behind scheduled rounds,
/admin match-now and the offline `pairbot match`."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Sequence
from datetime import datetime

import numpy as np

from bot.domain.availability import coming_weeks
from bot.domain.matching.advice import advise as advise_members
from bot.domain.matching.explain import explain_group, shared_weeks_of_pairs
from bot.domain.matching.features import SCALE, PoolArrays, encode
from bot.domain.matching.model import (
    CommunitySettings,
    Group,
    MatchResult,
    MatchTotals,
    ReasonCode,
    Seeker,
    Unmatched,
)
from bot.domain.matching.scoring import (
    allowed_rows,
    candidates,
    evaluate_pairs,
    iter_allowed,
    overlap_degree,
)
from bot.domain.matching.solver import complete_cardinality, solve_exact, solve_sparse


def _prepare(
    seekers: Sequence[Seeker], settings: CommunitySettings, now: datetime, seed: int,
    weeks: Sequence[datetime] | None,
) -> PoolArrays:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    ids = [s.id for s in seekers]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"duplicate member ids: {', '.join(dupes[:5])}")
    # Sorting first makes the result independent of input order; the seeded shuffle decides
    # between equally good answers.
    ordered = sorted(seekers, key=lambda s: s.id)
    perm = np.random.default_rng(seed).permutation(len(ordered))
    shuffled = [ordered[int(i)] for i in perm]
    round_weeks = tuple(weeks) if weeks else coming_weeks(now, settings.overlap_weeks)
    return encode(shuffled, settings, round_weeks, now)


def _trio_for(p: PoolArrays, x: int, groups: list[list[int]]) -> tuple[int, int] | None:
    """The pair x joins under the trio policy: allowed with both members, the three sharing the
    minimum overlap in every week, highest trio score; (group index, added points)."""
    pair_groups = [g for g in range(len(groups)) if len(groups[g]) == 2]
    if not pair_groups:
        return None
    firsts = np.array([groups[g][0] for g in pair_groups])
    seconds = np.array([groups[g][1] for g in pair_groups])
    xs = np.full(len(pair_groups), x)
    with_first = evaluate_pairs(p, xs, firsts).points
    with_second = evaluate_pairs(p, xs, seconds).points
    inner = evaluate_pairs(p, firsts, seconds).points
    ok = (with_first >= 0) & (with_second >= 0)
    for w in range(p.masks.shape[0]):
        m = p.masks[w]
        common = np.zeros(len(pair_groups), dtype=np.int64)
        for q in range(m.shape[0]):
            common += np.bitwise_count(m[q, x] & m[q, firsts] & m[q, seconds])
        ok &= common >= p.min_slots
    if not ok.any():
        return None
    total = np.where(ok, inner.astype(np.int64) + with_first + with_second, -1)
    best = int(np.argmax(total))
    return pair_groups[best], int(with_first[best] + with_second[best])


def match_pool(
    seekers: Sequence[Seeker],
    settings: CommunitySettings | None = None,
    *,
    now: datetime,
    seed: int = 0,
    weeks: Sequence[datetime] | None = None,
    threads: int = 2,
    advise: bool = False,
) -> MatchResult:
    """Match a pool: as many members as the hard rules allow, then the highest total score;
    the odd one out per the community's policy; an explanation for everyone. With `advise`,
    also each unmatched member's side of it (:mod:`bot.domain.matching.advice`); the matching
    itself is the same either way."""
    # The round allocates hundreds of thousands of small acyclic objects (windows, intervals,
    # explanations): the cyclic garbage collector's passes over them cost 0.3-0.4 s at
    # N = 10,000 and free nothing. Paused for the round, restored after it.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _match_pool(seekers, settings, now=now, seed=seed, weeks=weeks, threads=threads,
                           advise=advise)
    finally:
        if was_enabled:
            gc.enable()


def _match_pool(
    seekers: Sequence[Seeker],
    settings: CommunitySettings | None,
    *,
    now: datetime,
    seed: int,
    weeks: Sequence[datetime] | None,
    threads: int,
    advise: bool = False,
) -> MatchResult:
    settings = settings or CommunitySettings()
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    p = _prepare(seekers, settings, now, seed, weeks)
    n = p.n
    timing["encode_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    exact = n <= settings.exact_max_members
    cand = candidates(p, None if exact else settings.k, threads=threads, seed=seed)
    timing["candidates_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    pts = cand.points
    edges = cand.edges
    if exact:
        pairs = solve_exact(n, edges, pts)
    else:
        pairs = solve_sparse(n, edges, pts)
        pairs, edges, pts = complete_cardinality(
            n, edges, pts, pairs, cand.allowed_degree > 0, full=allowed_rows(p),
            pair_points=lambda a, b: evaluate_pairs(p, a, b).points.astype(np.int64))
    # Exact: the blossom solver on every allowed pair; sparse: Berge's theorem, checked by
    # complete_cardinality on the full allowed graph.
    proven: bool | None = True
    timing["solve_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    # Edges are sorted by (first, second): a pair's points are found by binary search.
    edge_keys = edges[:, 0] * n + edges[:, 1]
    pair_arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    at = np.searchsorted(edge_keys, pair_arr[:, 0] * n + pair_arr[:, 1])
    groups: list[list[int]] = [[a, b] for a, b in pairs]
    group_points = pts[at].tolist()
    matched = np.zeros(n, dtype=bool)
    for a, b in pairs:
        matched[a] = matched[b] = True
    left = [i for i in range(n) if not matched[i]]
    # The longest waiting leftover gets the first pick of a trio.
    left.sort(key=lambda i: (-int(p.member_points[i]), p.seekers[i].id))
    unmatched: list[Unmatched] = []
    lonely = [i for i in left if cand.allowed_degree[i] == 0]
    time_ok = dict(zip(lonely, overlap_degree(p, np.array(lonely, dtype=np.intp)).tolist(),
                       strict=True))
    for i in left:
        reason: ReasonCode
        if n == 1:
            reason = "no_one_else"
        elif i in time_ok and time_ok[i] == 0:
            reason = "no_overlap"
        elif cand.allowed_degree[i] == 0:
            reason = "preferences"
        else:
            reason = "odd_one_out"
            if settings.odd_policy == "trio":
                trio = _trio_for(p, i, groups)
                if trio is not None:
                    g, added = trio
                    groups[g].append(i)
                    group_points[g] += added
                    continue
        unmatched.append(Unmatched(p.seekers[i].id, reason, priority=reason == "odd_one_out"))

    result_groups = []
    duos = [g for g in groups if len(g) == 2]
    duo_shared = iter(shared_weeks_of_pairs(
        p.masks, p.weeks, np.array([g[0] for g in duos], dtype=np.intp),
        np.array([g[1] for g in duos], dtype=np.intp)))
    for members, points in zip(groups, group_points, strict=True):
        shared = next(duo_shared) if len(members) == 2 else None
        members.sort(key=lambda i: p.seekers[i].id)
        ids = tuple(p.seekers[i].id for i in members)
        result_groups.append(
            Group(
                members=ids,
                score=points / SCALE,
                explanation=explain_group(
                    [p.seekers[i] for i in members],
                    None if shared else [p.week_masks(i) for i in members], p.weeks,
                    shared=shared,
                ),
            )
        )
    result_groups.sort(key=lambda g: g.members)
    unmatched.sort(key=lambda u: u.member_id)
    timing["explain_s"] = time.perf_counter() - t0
    advice = {}
    if advise:
        t0 = time.perf_counter()
        where = {s.id: x for x, s in enumerate(p.seekers)}
        advice = advise_members(p, [where[u.member_id] for u in unmatched],
                                allowed_degree=cand.allowed_degree)
        timing["advice_s"] = time.perf_counter() - t0
    n_matched = sum(len(g.members) for g in result_groups)
    totals = MatchTotals(
        members=n,
        matched=n_matched,
        groups=len(result_groups),
        trios=sum(1 for g in result_groups if len(g.members) == 3),
        unmatched=len(unmatched),
        total_score=round(sum(group_points) / SCALE, 3),
        allowed_pairs=int(cand.allowed_degree.sum()) // 2,
        candidate_pairs=len(edges),
        solver="exact" if exact else "sparse",
        max_cardinality=proven,
    )
    return MatchResult(
        groups=tuple(result_groups),
        unmatched=tuple(unmatched),
        totals=totals,
        weeks=p.weeks,
        timing=timing,
        advice=advice,
    )


def allowed_pairs(
    seekers: Sequence[Seeker],
    settings: CommunitySettings | None = None,
    *,
    now: datetime,
    weeks: Sequence[datetime] | None = None,
) -> Iterator[tuple[str, str, float]]:
    """Every pair the hard rules allow, with its score (ids in sorted order): lets anyone check
    a round's optimality with another solver."""
    p = _prepare(seekers, settings or CommunitySettings(), now, 0, weeks)
    for i, j, points in iter_allowed(p):
        a, b = sorted((p.seekers[i].id, p.seekers[j].id))
        yield a, b, points / SCALE

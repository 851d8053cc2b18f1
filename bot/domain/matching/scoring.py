"""Hard rules and scores for many pairs at once, and each member's best candidates without ever
holding an N x N matrix: a block of rows at a time is scored against everyone (into reused
buffers of bounded size) and only each row's best k are kept.

Per pair the work is: weekly overlap from prefix sums of the availability slots (one row
difference per run of the member's availability), one table look-up for overlap points, one
for everything decided by the members' classes (preferences, rhythm, languages), one for the
medium, and a popcount for shared goal areas."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.domain.matching.features import I64, WORDS_PER_WEEK, PoolArrays, common_count

NOT_ALLOWED = -1
"""The points of a pair a hard rule forbids. Hard rules are decided as booleans (shared time,
the class table, self, blocks and recent partners), never by adding a penalty to a score, so no
weight can lift a forbidden pair: it is not an edge of the graph."""
BLOCK_ELEMENTS = 1 << 20
"""Pairs scored at once (per thread; about 21 bytes of buffers per pair, so ~22 MB): larger
blocks mean fewer numpy calls per row, which measured faster than cache-sized ones (1 << 16:
3.3 s, 1 << 18: 2.7 s, 1 << 20: 2.1 s for the candidate pass at N = 10,000 on 2 threads)."""

Idx = npt.NDArray[np.intp]
I32 = npt.NDArray[np.int32]


@dataclass(frozen=True)
class PairEval:
    """Per pair: points (NOT_ALLOWED when a hard rule fails) and weekly overlap in slots."""

    points: I32
    overlap_slots: npt.NDArray[np.int16]

    @property
    def allowed(self) -> npt.NDArray[np.bool_]:
        return self.points >= 0


def is_forbidden(p: PoolArrays, rows: Idx, cols: Idx) -> npt.NDArray[np.bool_]:
    """Pairs (rows[x], cols[x]) excluded by a block or the repeat window, or a member with
    themself: a binary search in the pool's one sorted array of forbidden pairs."""
    bad = np.asarray(rows == cols)
    keys = p.forbidden_keys
    if len(keys) and len(rows):
        want = rows.astype(np.int64) * p.n + cols
        at = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
        bad |= keys[at] == want
    return bad


def _overlap(p: PoolArrays, w: int, rows: Idx, cols: Idx) -> npt.NDArray[np.int16]:
    """Shared slots of pairs (rows[x], cols[x]) in week w: popcount of the AND of the words."""
    m = p.masks[w]
    acc = np.zeros(len(rows), dtype=np.int16)
    for q in range(WORDS_PER_WEEK):
        acc += np.bitwise_count(m[q, rows] & m[q, cols])
    return acc


def _finish(p: PoolArrays, overlap: npt.NDArray[np.int16], rows: Idx, cols: Idx) -> I32:
    """Points from overlap, class table, goals, medium and per-member points; NOT_ALLOWED where
    the overlap is short or the class pair is ruled out."""
    class_pts = p.cls_points[p.cls[rows], p.cls[cols]]
    bad = (overlap < p.min_slots) | (class_pts < 0) | is_forbidden(p, rows, cols)
    points: I32 = p.overlap_lut[overlap]
    points += np.maximum(class_pts, 0)
    points += p.goal_lut[common_count(p.goals[:, rows], p.goals[:, cols])]
    points += p.member_points[rows]
    points += p.member_points[cols]
    points += (p.medium[rows] == p.medium[cols]) * p.same_medium_pts
    points[bad] = NOT_ALLOWED
    return points


class _Kernel:
    """Scores row blocks against everyone into preallocated buffers (one kernel per thread):
    fresh temporaries for every block would cost page faults and cache misses."""

    def __init__(self, p: PoolArrays, rows: int) -> None:
        n = p.n
        self.p = p
        self.t64 = np.empty((rows if p.goals.shape[0] > 1 or len(p.goal_vocab) > 16 else 0, n),
                            dtype=np.uint64)
        self.t8 = np.empty((rows, n), dtype=np.uint8)
        self.acc = np.empty((rows, n), dtype=np.int16)
        self.acc2 = np.empty((rows, n), dtype=np.int16)
        self.tmp = np.empty((rows, n), dtype=np.int32)
        self.pts = np.empty((rows, n), dtype=np.int32)
        # Points only rank allowed pairs; whether a pair is allowed is a separate boolean.
        self.lut = p.overlap_lut.astype(np.int32)
        self.cls_points = np.maximum(p.cls_points, 0).astype(np.int32)
        self.cls_bad = p.cls_points < 0
        self.bad = np.empty((rows, n), dtype=np.bool_)
        self.bad2 = np.empty((rows, n), dtype=np.bool_)
        # Overlap, shared goal areas and same medium all go through ONE table look-up: index
        # (overlap * levels + goal count) * 2 + same medium, where goal counts from levels - 1 on
        # score alike (the cap).
        g = p.goal_lut
        levels = next(x for x in range(len(g)) if (g[x:] == g[x]).all()) + 1
        self.levels = min(levels, 64 * p.goals.shape[0] + 1)
        medium = np.arange(2, dtype=np.int32) * p.same_medium_pts
        combined = self.lut[:, None, None] + g[None, : self.levels, None] + medium[None, None, :]
        self.combined = np.ascontiguousarray(combined.reshape(-1), dtype=np.int32)
        index_type = np.int16 if len(self.combined) < (1 << 15) else np.int32
        self.index = np.empty((rows, n), dtype=index_type)
        # Up to 16 goal areas (the usual case) fit in 16-bit words: a quarter of the traffic.
        self.goals16 = (p.goals[0].astype(np.uint16)
                        if p.goals.shape[0] == 1 and len(p.goal_vocab) <= 16 else None)
        self.t16 = np.empty((rows, n), dtype=np.uint16) if self.goals16 is not None else None
        self.same = np.empty((rows, n), dtype=np.bool_)

    def _week(self, w: int, a: int, b: int, c0: int, c1: int, out: npt.NDArray[np.int16]
              ) -> None:
        """Overlap of rows a..b-1 with columns c0..c1-1 in week w: for each run [s, e) of a
        row's availability, add prefix[e] - prefix[s] (contiguous int16 rows, no popcounts)."""
        prefix = self.p.prefix[w][:, c0:c1]
        runs = self.p.runs[w]
        out[...] = 0
        for x in range(b - a):
            row = out[x]
            for s, e in runs[a + x].tolist():
                np.add(row, prefix[e], out=row)
                np.subtract(row, prefix[s], out=row)

    def block(self, a: int, b: int) -> tuple[I32, npt.NDArray[np.int16]]:
        """(points, overlap) of rows a..b-1 against every member; points < 0: not allowed.
        Both are views into this kernel's buffers, valid until its next call."""
        p = self.p
        n, ns, rows = p.n, p.n_stable, b - a
        acc = self.acc[:rows]
        self._week(0, a, b, 0, n, acc)
        for w in range(1, p.masks.shape[0]):
            if ns < n:  # pairs with a member whose mask changes between the weeks
                extra = self.acc2[:rows, : n - ns]
                self._week(w, a, b, ns, n, extra)
                np.minimum(acc[:, ns:], extra, out=acc[:, ns:])
                if b > ns:
                    r0 = max(a, ns)
                    extra = self.acc2[: b - r0, :ns]
                    self._week(w, r0, b, 0, ns, extra)
                    np.minimum(acc[r0 - a:, :ns], extra, out=acc[r0 - a:, :ns])
        pts = self.pts[:rows]
        tmp = self.tmp[:rows]
        index = self.index[:rows]
        np.multiply(acc, index.dtype.type(self.levels), out=index)  # in the index's width
        t64, t8 = self.t64[:rows], self.t8[:rows]
        if self.goals16 is not None and self.t16 is not None:
            t16 = self.t16[:rows]
            np.bitwise_and(self.goals16[a:b, None], self.goals16[None, :], out=t16)
            np.bitwise_count(t16, out=t8)
        for q in range(p.goals.shape[0] if self.goals16 is None else 0):
            np.bitwise_and(p.goals[q, a:b, None], p.goals[q, None, :], out=t64)
            if q == 0:
                np.bitwise_count(t64, out=t8)
            else:
                np.add(t8, np.bitwise_count(t64), out=t8)
        np.minimum(t8, self.levels - 1, out=t8)
        np.add(index, t8, out=index)
        np.multiply(index, 2, out=index)
        same = self.same[:rows]
        np.equal(p.medium[a:b, None], p.medium[None, :], out=same)
        np.add(index, same, out=index)
        np.take(self.combined, index, out=pts, mode="wrap")
        np.take(self.cls_points[p.cls[a:b]], p.cls, axis=1, out=tmp, mode="wrap")
        np.add(pts, tmp, out=pts)
        np.add(pts, p.member_points[a:b, None], out=pts)
        np.add(pts, p.member_points[None, :], out=pts)
        # The hard rules, as booleans: too little shared time, a class pair ruled out (wishes,
        # rhythm, language), self, blocks and recent partners.
        bad, bad2 = self.bad[:rows], self.bad2[:rows]
        np.less(acc, p.min_slots, out=bad)
        np.take(self.cls_bad[p.cls[a:b]], p.cls, axis=1, out=bad2, mode="wrap")
        np.logical_or(bad, bad2, out=bad)
        idx = np.arange(rows)
        bad[idx, idx + a] = True
        keys = p.forbidden_keys
        lo, hi = np.searchsorted(keys, [a * n, b * n])
        if hi > lo:
            inside = keys[lo:hi]
            bad[inside // n - a, inside % n] = True
        np.copyto(pts, NOT_ALLOWED, where=bad)
        return pts, acc


def evaluate_block(p: PoolArrays, a: int, b: int) -> PairEval:
    """Rows a..b-1 against every member (fresh arrays)."""
    pts, overlap = _Kernel(p, b - a).block(a, b)
    return PairEval(points=pts.copy(), overlap_slots=overlap.copy())


def evaluate_pairs(p: PoolArrays, rows: Idx, cols: Idx) -> PairEval:
    """Pairs (rows[x], cols[x])."""
    overlap = _overlap(p, 0, rows, cols)
    for w in range(1, p.masks.shape[0]):
        np.minimum(overlap, _overlap(p, w, rows, cols), out=overlap)
    return PairEval(points=_finish(p, overlap, rows, cols), overlap_slots=overlap)


def pair_points(p: PoolArrays, i: int, j: int) -> int:
    """Points of one pair (internal indices), or NOT_ALLOWED."""
    return int(evaluate_pairs(p, np.array([i]), np.array([j])).points[0])


@dataclass(frozen=True)
class Candidates:
    """Result of one pass over every pair."""

    edges: npt.NDArray[np.int64]
    """(m, 2) pairs i < j kept for the solver, sorted."""
    points: I64
    """Points of each kept edge."""
    allowed_degree: I64
    """Per member: partners allowed by every hard rule."""


def _row_blocks(n: int) -> list[tuple[int, int]]:
    size = max(1, min(n, BLOCK_ELEMENTS // max(n, 1)))
    return [(a, min(a + size, n)) for a in range(0, n, size)]


RANDOM_EXTRA = 4
"""Allowed partners kept per member at random, besides the k best."""
RANDOM_TRIES = 64


def candidates(p: PoolArrays, k: int | None, threads: int = 2, seed: int = 0) -> Candidates:
    """Every member's k best allowed partners (k=None: every allowed pair), in one blockwise
    pass; blocks run on `threads` threads since numpy releases the GIL in its loops.

    Best-k alone can crowd everyone onto the same few popular members (with equal scores, all
    onto the same ones), leaving a graph where few can be paired. So ties are broken
    differently for every row, and each member also keeps a few allowed partners at random:
    a random graph of that degree has a (near-)perfect matching."""
    n = p.n
    allowed_degree = np.zeros(n, dtype=np.int64)
    blocks = _row_blocks(n) if n > 1 else []
    size = max((b - a for a, b in blocks), default=1)
    local = threading.local()
    cols = np.arange(n, dtype=np.int64)
    small = int(p.overlap_lut.max() + p.cls_points.max(initial=0) + p.goal_lut.max()
                + p.same_medium_pts + 2 * p.member_points.max(initial=0)) < (1 << 16)
    low = ((cols * 40503) & 0x7FFF).astype(np.int32)

    def work(block: tuple[int, int]) -> tuple[npt.NDArray[np.int64], I64]:
        kernel = getattr(local, "kernel", None)
        if kernel is None:
            kernel = local.kernel = _Kernel(p, size)
        a, b = block
        pts, _ = kernel.block(a, b)
        allowed = pts >= 0
        allowed_degree[a:b] = np.count_nonzero(allowed, axis=1)
        if k is None or k >= n - 1:
            r, c = np.nonzero(allowed & (cols[None, :] > np.arange(a, b)[:, None]))
            return np.stack([r + a, c], axis=1).astype(np.int64), pts[r, c].astype(np.int64)
        # Selecting on distinct keys is much faster than on many equal NOT_ALLOWED entries: the
        # column's low bits make ties rare, and int32 keys halve the memory traffic.
        flip = ((np.arange(a, b, dtype=np.int32) * 9973) & 0x7FFF)[:, None]
        if small:
            key: npt.NDArray[Any] = np.bitwise_xor(low[None, :], flip)
            np.bitwise_or(key, np.left_shift(pts, 15), out=key)
        else:
            key = (pts.astype(np.int64) << 32) | (low[None, :] ^ flip)
        top = np.argpartition(key, n - k, axis=1)[:, n - k:]
        top_pts = np.take_along_axis(pts, top, axis=1)
        r, x = np.nonzero(top_pts >= 0)
        i = (r + a).astype(np.int64)
        j = top[r, x].astype(np.int64)
        # A few random allowed partners (the first allowed among random tries).
        rng = np.random.default_rng([seed, a])
        tries = rng.integers(0, n, size=(b - a, RANDOM_TRIES))
        tried = np.take_along_axis(pts, tries, axis=1)
        ok = tried >= 0
        ok &= np.cumsum(ok, axis=1) <= RANDOM_EXTRA
        rr, xx = np.nonzero(ok)
        i = np.concatenate([i, (rr + a).astype(np.int64)])
        j = np.concatenate([j, tries[rr, xx].astype(np.int64)])
        vals = np.concatenate([top_pts[r, x], tried[rr, xx]]).astype(np.int64)
        pairs = np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)
        return pairs, vals

    if threads > 1 and len(blocks) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            parts = list(pool.map(work, blocks))
    else:
        parts = [work(bl) for bl in blocks]
    if parts:
        pairs = np.concatenate([pp for pp, _ in parts])
        pts = np.concatenate([pt for _, pt in parts])
    else:
        pairs = np.zeros((0, 2), dtype=np.int64)
        pts = np.zeros(0, dtype=np.int64)
    key = pairs[:, 0] * n + pairs[:, 1]
    key, first = np.unique(key, return_index=True)
    edges = np.stack([key // max(n, 1), key % max(n, 1)], axis=1) if len(key) else pairs[:0]
    return Candidates(
        edges=edges,
        points=pts[first].astype(np.int64),
        allowed_degree=allowed_degree,
    )


def allowed_rows(p: PoolArrays) -> Callable[[int], npt.NDArray[np.int64]]:
    """A member's allowed partners in the full graph, scored on demand (one row at a time)."""
    kernel: list[_Kernel] = []

    def row(v: int) -> npt.NDArray[np.int64]:
        if not kernel:
            kernel.append(_Kernel(p, 1))
        pts, _ = kernel[0].block(v, v + 1)
        return np.flatnonzero(pts[0] >= 0).astype(np.int64)

    return row


def overlap_degree(p: PoolArrays, members: Idx) -> I64:
    """Per member: others sharing at least the minimum time (ignoring every other rule), to
    tell members left alone whether time or preferences were the obstacle."""
    out = np.zeros(len(members), dtype=np.int64)
    everyone = np.arange(p.n)
    for x, i in enumerate(members.tolist()):
        rows = np.full(p.n, i)
        ov = _overlap(p, 0, rows, everyone)
        for w in range(1, p.masks.shape[0]):
            np.minimum(ov, _overlap(p, w, rows, everyone), out=ov)
        ov[i] = 0
        out[x] = int(np.count_nonzero(ov >= p.min_slots))
    return out


def iter_allowed(p: PoolArrays) -> Iterator[tuple[int, int, int]]:
    """Every allowed pair (i < j, internal indices) with its points, block by block."""
    n = p.n
    cols = np.arange(n)
    blocks = _row_blocks(n) if n > 1 else []
    kernel = _Kernel(p, max((b - a for a, b in blocks), default=1))
    for a, b in blocks:
        pts, _ = kernel.block(a, b)
        rows = np.arange(a, b)
        r, c = np.nonzero((pts >= 0) & (cols[None, :] > rows[:, None]))
        yield from zip((r + a).tolist(), c.tolist(), pts[r, c].tolist(), strict=True)

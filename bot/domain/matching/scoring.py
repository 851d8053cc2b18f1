"""Hard rules and scores for many pairs at once, and each member's best candidates without ever
holding an N x N matrix: rows are scored in blocks against everyone and only a running top-k
per member is kept."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.domain.matching.features import I64, WORDS_PER_WEEK, PoolArrays, common_count

NOT_ALLOWED = -1
BLOCK_ELEMENTS = 1 << 16
"""Pairs scored at once: bounds the temporaries at a few tens of MB whatever the pool size."""

Idx = npt.NDArray[np.intp]
I32 = npt.NDArray[np.int32]


@dataclass(frozen=True)
class PairEval:
    """Per pair: points (NOT_ALLOWED when a hard rule fails) and weekly overlap in slots."""

    points: I32
    overlap_slots: npt.NDArray[np.int16]


def _overlap(p: PoolArrays, w: int, rows: Idx | slice, cols: Idx | slice,
             outer: bool) -> npt.NDArray[np.int16]:
    """Shared slots in week w: popcount of the AND of the uint64 words."""
    m = p.masks[w]
    acc: npt.NDArray[np.int16] | None = None
    for q in range(WORDS_PER_WEEK):
        a = m[q, rows]
        b = m[q, cols]
        cnt = np.bitwise_count(a[:, None] & b[None, :] if outer else a & b)
        if acc is None:
            acc = cnt.astype(np.int16)
        else:
            acc += cnt
    assert acc is not None
    return acc


def _finish(p: PoolArrays, overlap: npt.NDArray[np.int16], rows: Idx | slice,
            cols: Idx | slice, outer: bool) -> I32:
    """Points from overlap, class table, goals and per-member points; NOT_ALLOWED elsewhere."""

    def left(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
        sel = arr[..., rows]
        return sel[..., :, None] if outer else sel

    def right(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
        sel = arr[..., cols]
        return sel[..., None, :] if outer else sel

    if outer:
        class_pts = p.cls_points[p.cls[rows]][:, p.cls[cols]]
    else:
        class_pts = p.cls_points[p.cls[rows], p.cls[cols]]
    bad = (overlap < p.min_slots) | (class_pts < 0)
    points: I32 = p.overlap_lut[overlap]
    points += class_pts
    points += p.goal_lut[common_count(left(p.goals), right(p.goals))]
    points += left(p.member_points)
    points += right(p.member_points)
    points[bad] = NOT_ALLOWED
    return points


def evaluate_block(p: PoolArrays, a: int, b: int) -> PairEval:
    """Rows a..b-1 against every member."""
    n, ns = p.n, p.n_stable
    rows = slice(a, b)
    every = slice(0, n)
    overlap = _overlap(p, 0, rows, every, True)
    for w in range(1, p.masks.shape[0]):
        if ns < n:  # pairs with a member whose mask changes between the weeks
            np.minimum(overlap[:, ns:], _overlap(p, w, rows, slice(ns, n), True),
                       out=overlap[:, ns:])
            if b > ns:
                r0 = max(a, ns)
                np.minimum(overlap[r0 - a:, :ns], _overlap(p, w, slice(r0, b), slice(0, ns), True),
                           out=overlap[r0 - a:, :ns])
    points = _finish(p, overlap, rows, every, True)
    idx = np.arange(b - a)
    points[idx, idx + a] = NOT_ALLOWED
    for x in range(a, b):
        banned = p.forbidden.get(x)
        if banned is not None:
            points[x - a, banned] = NOT_ALLOWED
    return PairEval(points=points, overlap_slots=overlap)


def evaluate_pairs(p: PoolArrays, rows: Idx, cols: Idx) -> PairEval:
    """Pairs (rows[x], cols[x])."""
    overlap = _overlap(p, 0, rows, cols, False)
    for w in range(1, p.masks.shape[0]):
        np.minimum(overlap, _overlap(p, w, rows, cols, False), out=overlap)
    points = _finish(p, overlap, rows, cols, False)
    for x, (r, c) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
        banned = p.forbidden.get(r)
        if r == c or (banned is not None and c in banned):
            points[x] = NOT_ALLOWED
    return PairEval(points=points, overlap_slots=overlap)


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
    overlap_degree: I64
    """Per member: others with enough shared time (ignoring every other rule)."""


def _row_blocks(n: int) -> list[tuple[int, int]]:
    size = max(1, min(n, BLOCK_ELEMENTS // max(n, 1)))
    return [(a, min(a + size, n)) for a in range(0, n, size)]


def candidates(p: PoolArrays, k: int | None, threads: int = 2) -> Candidates:
    """Every member's k best allowed partners (k=None: every allowed pair), in one blockwise
    pass; blocks run on `threads` threads since numpy releases the GIL in its loops."""
    n = p.n
    cols = np.arange(n, dtype=np.int64)
    allowed_degree = np.zeros(n, dtype=np.int64)
    overlap_degree = np.zeros(n, dtype=np.int64)

    def work(block: tuple[int, int]) -> tuple[npt.NDArray[np.int64], I64]:
        a, b = block
        ev = evaluate_block(p, a, b)
        pts = ev.points
        allowed = pts >= 0
        allowed_degree[a:b] = allowed.sum(axis=1)
        ov_ok = ev.overlap_slots >= p.min_slots
        idx = np.arange(b - a)
        ov_ok[idx, idx + a] = False
        overlap_degree[a:b] = ov_ok.sum(axis=1)
        rows = np.arange(a, b)
        if k is None or k >= n - 1:
            r, c = np.nonzero(allowed & (cols[None, :] > rows[:, None]))
            pairs = np.stack([r + a, c], axis=1).astype(np.int64)
            return pairs, pts[r, c].astype(np.int64)
        # One int64 key per pair (points, then column) makes every value distinct: selection
        # on distinct keys is much faster than on the many equal NOT_ALLOWED entries.
        key = (pts.astype(np.int64) << 32) | cols[None, :]
        top = np.partition(key, n - k, axis=1)[:, n - k:]
        top_pts = top >> 32
        r, x = np.nonzero(top_pts >= 0)
        i = (r + a).astype(np.int64)
        j = top[r, x] & 0xFFFFFFFF
        pairs = np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)
        return pairs, top_pts[r, x]

    blocks = _row_blocks(n) if n > 1 else []
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
        overlap_degree=overlap_degree,
    )


def iter_allowed(p: PoolArrays) -> Iterator[tuple[int, int, int]]:
    """Every allowed pair (i < j, internal indices) with its points, block by block."""
    n = p.n
    cols = np.arange(n)
    for a, b in _row_blocks(n) if n > 1 else []:
        pts = evaluate_block(p, a, b).points
        rows = np.arange(a, b)
        r, c = np.nonzero((pts >= 0) & (cols[None, :] > rows[:, None]))
        yield from zip((r + a).tolist(), c.tolist(), pts[r, c].tolist(), strict=True)

"""Maximum-weight matching with max-cardinality semantics: pair as many members as the hard
rules allow, then maximise the total score.

Small pools: rustworkx's exact blossom solver on every allowed pair. Large pools: the blossom
solver grows about as N^3, so we solve the assignment relaxation of the sparse candidate graph
(OR-tools' cost-scaling assignment solver; scipy's sparse LAPJV gave the same answer 4-5x
slower): its optimum is a set of pairs plus a few odd cycles, within ~0.05 % of the true
optimum. The pairs are kept and the odd cycles, together with the pairs around them, are
re-solved exactly with rustworkx. Last, :func:`complete_cardinality` proves (or makes) the
pair count the maximum of the FULL allowed graph by augmenting-path searches
(:mod:`bot.domain.matching.cardinality`) and re-solves exactly what they changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import rustworkx as rx
from ortools.graph.python import linear_sum_assignment

from bot.domain.matching.cardinality import Neighbours, csr_neighbours, maximise

Pairs = list[tuple[int, int]]
Edges = npt.NDArray[np.int64]
I64 = npt.NDArray[np.int64]


def _identity(x: int) -> int:
    return x


def solve_exact(n: int, edges: Edges, points: npt.NDArray[np.int64]) -> Pairs:
    """Exact maximum-cardinality, then maximum-weight matching (rustworkx, integer weights)."""
    if len(edges) == 0:
        return []
    graph = rx.PyGraph(multigraph=False)
    graph.add_nodes_from(range(n))
    graph.add_edges_from(
        list(zip(edges[:, 0].tolist(), edges[:, 1].tolist(), points.tolist(), strict=True))
    )
    matching = rx.max_weight_matching(graph, max_cardinality=True, weight_fn=_identity)
    return sorted((min(a, b), max(a, b)) for a, b in matching)


def _sub_solve(nodes: npt.NDArray[np.int64], edges: Edges, points: npt.NDArray[np.int64],
               n: int) -> Pairs:
    """Exact solve on the subgraph induced by `nodes`."""
    inside = np.zeros(n, dtype=bool)
    inside[nodes] = True
    keep = inside[edges[:, 0]] & inside[edges[:, 1]]
    local = np.full(n, -1, dtype=np.int64)
    local[nodes] = np.arange(len(nodes))
    sub = local[edges[keep]]
    pairs = solve_exact(len(nodes), sub, points[keep])
    return [(int(nodes[a]), int(nodes[b])) for a, b in pairs]


def _pairs(mate: npt.NDArray[np.int64]) -> Pairs:
    """The pairs (i, mate[i]) with i < mate[i], in order of i."""
    first = np.flatnonzero(mate > np.arange(len(mate)))
    return list(zip(first.tolist(), mate[first].tolist(), strict=True))


def _replace(mate: npt.NDArray[np.int64], nodes: npt.NDArray[np.int64], pairs: Pairs) -> None:
    mate[nodes] = -1
    for a, b in pairs:
        mate[a], mate[b] = b, a


def solve_sparse(n: int, edges: Edges, points: npt.NDArray[np.int64],
                 repair_neighbours: int = 6) -> Pairs:
    """Assignment relaxation + exact repair of its odd cycles (see the module docstring)."""
    if len(edges) == 0:
        return []
    full = np.bincount(edges.ravel(), minlength=n) > 0
    perm = _relaxation(n, edges, points, full)

    mate = np.full(n, -1, dtype=np.int64)
    two_cycle = (perm[perm] == np.arange(n)) & (perm != np.arange(n))
    mate[two_cycle] = perm[two_cycle]
    loose = np.flatnonzero(~two_cycle & full)
    if len(loose):
        # The relaxation's odd cycles (and anyone it left alone) are re-solved exactly together
        # with the pairs their best candidates are in, so they can join or swap into them.
        nodes = np.concatenate([loose, _best_neighbours(n, edges, points, loose,
                                                        repair_neighbours)])
        nodes = np.unique(np.concatenate([nodes, mate[nodes][mate[nodes] >= 0]]))
        _replace(mate, nodes, _sub_solve(nodes, edges, points, n))
    return _pairs(mate)


def _relaxation(n: int, edges: Edges, points: npt.NDArray[np.int64],
                full: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """The assignment relaxation: every member i is assigned perm[i] (itself when alone), at the
    least total cost, over arcs both ways along each candidate pair (OR-tools' cost-scaling
    assignment solver). Members without candidates stay alone; everyone else is covered when
    the graph allows it (it nearly always does), else staying alone is allowed at a cost higher
    than any way of pairing one more member. A cost that high slows the solver down, so it is
    only offered when needed."""
    top = int(points.max()) + 1
    cost = top - points
    a = edges[:, 0].astype(np.int32)
    b = edges[:, 1].astype(np.int32)
    for alone in (np.flatnonzero(~full), np.arange(n)):
        stay = alone.astype(np.int32)
        stay_cost = np.full(len(stay), 1 if len(stay) < n else top * (n + 1), dtype=np.int64)
        solver = linear_sum_assignment.SimpleLinearSumAssignment()
        solver.add_arcs_with_cost(
            np.concatenate([a, b, stay]),
            np.concatenate([b, a, stay]),
            np.concatenate([cost, cost, stay_cost]),
        )
        if solver.solve() == solver.OPTIMAL:
            return np.fromiter((solver.right_mate(i) for i in range(n)), dtype=np.int64,
                               count=n)
    raise RuntimeError("assignment relaxation failed")  # cannot happen: anyone may stay alone


def _best_neighbours(n: int, edges: Edges, points: npt.NDArray[np.int64],
                     nodes: npt.NDArray[np.int64], t: int) -> npt.NDArray[np.int64]:
    """Up to t best-scoring neighbours of each of `nodes` in the candidate graph."""
    want = np.zeros(n, dtype=bool)
    want[nodes] = True
    ends = np.concatenate([edges[:, 0], edges[:, 1]])
    others = np.concatenate([edges[:, 1], edges[:, 0]])
    pts = np.concatenate([points, points])
    sel = want[ends]
    ends, others, pts = ends[sel], others[sel], pts[sel]
    order = np.lexsort((-pts, ends))
    ends, others = ends[order], others[order]
    first = np.searchsorted(ends, ends, side="left")
    rank = np.arange(len(ends)) - first
    return np.unique(others[rank < t])


def complete_cardinality(
    n: int, edges: Edges, points: npt.NDArray[np.int64], pairs: Pairs,
    active: npt.NDArray[np.bool_], full: Neighbours | None = None,
    pair_points: Callable[[I64, I64], I64] | None = None, repair_neighbours: int = 6,
) -> tuple[Pairs, Edges, npt.NDArray[np.int64]]:
    """Make `pairs` a maximum-cardinality matching of the allowed graph, then re-solve the
    region that changed exactly, for weight.

    `active`: members with at least one allowed partner. Proof first by counting (everyone
    active is paired but at most one); else Edmonds' augmenting-path search from every member
    left alone, on the candidate graph and then, for those it cannot reach, on the full allowed
    graph (`full`: a member's allowed partners, scored on demand; `pair_points` scores the new
    edges). Returns the pairs and the edges and points they are drawn from (`edges` plus any
    full-graph edge a path used)."""
    mate = np.full(n, -1, dtype=np.int64)
    for x, y in pairs:
        mate[x], mate[y] = y, x
    need = int(active.sum()) // 2
    if len(pairs) >= need:
        return pairs, edges, points
    roots = np.flatnonzero((mate < 0) & active).tolist()
    changed, stuck = maximise(mate, roots, csr_neighbours(n, edges))
    extra = np.zeros((0, 2), dtype=np.int64)
    if stuck and full is not None and int((mate >= 0).sum()) // 2 < need:
        more, _ = maximise(mate, stuck, full)
        changed += more
        moved = np.unique(np.array(more, dtype=np.int64))
        moved = moved[mate[moved] > moved]
        if len(moved):
            cand = np.stack([moved, mate[moved]], axis=1)
            keys = edges[:, 0] * n + edges[:, 1]
            k = cand[:, 0] * n + cand[:, 1]
            at = np.minimum(np.searchsorted(keys, k), max(len(keys) - 1, 0))
            extra = cand[(keys[at] != k) if len(keys) else np.ones(len(k), dtype=bool)]
    if len(extra):
        if pair_points is None:
            raise ValueError("pair_points is needed to score full-graph edges")
        all_edges = np.concatenate([edges, extra])
        all_points = np.concatenate([points, pair_points(extra[:, 0], extra[:, 1])])
        order = np.lexsort((all_edges[:, 1], all_edges[:, 0]))
        edges, points = all_edges[order], all_points[order]
    if changed:
        # The region the paths changed, with its best neighbours and their partners, re-solved
        # exactly (closed under partners, so it keeps at least as many pairs as it had).
        touched = np.unique(np.array(changed, dtype=np.int64))
        if len(touched) <= REGION_MAX:
            touched = np.concatenate([touched, _best_neighbours(n, edges, points, touched,
                                                                repair_neighbours)])
        nodes = np.unique(np.concatenate([touched, mate[touched][mate[touched] >= 0]]))
        _replace(mate, nodes, _sub_solve(nodes, edges, points, n))
    return _pairs(mate), edges, points


REGION_MAX = 2000
"""Members whose partner an augmentation changed, beyond which their neighbours are not added
to the exact re-solve (it stays bounded)."""


def matching_weight(pairs: Sequence[tuple[int, int]], edges: Edges,
                    points: npt.NDArray[np.int64], n: int) -> int:
    """Total points of `pairs` (each must be an edge)."""
    lookup = dict(zip((edges[:, 0] * n + edges[:, 1]).tolist(), points.tolist(), strict=True))
    return sum(lookup[min(x, y) * n + max(x, y)] for x, y in pairs)

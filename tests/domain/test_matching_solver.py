"""The large-pool solver on graphs small enough to check by hand and against the exact solver:
the best pairs where the assignment relaxation cannot cover everyone or leaves an odd cycle,
and on any small graph a valid matching that never claims more than it has. (How close it gets
to the optimum on realistic pools is measured in bench/bench_matching.py.)"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.matching.solver import (
    complete_cardinality,
    matching_weight,
    solve_exact,
    solve_sparse,
)


def _graph(pairs: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    rows = sorted((min(a, b), max(a, b), w) for a, b, w in pairs)
    edges = np.array([(a, b) for a, b, _ in rows], dtype=np.int64).reshape(-1, 2)
    return edges, np.array([w for _, _, w in rows], dtype=np.int64)


def _is_matching(pairs: list[tuple[int, int]], edges: np.ndarray) -> bool:
    used = [x for p in pairs for x in p]
    known = {(int(a), int(b)) for a, b in edges}
    return len(used) == len(set(used)) and all((a, b) in known for a, b in pairs)


def test_a_star_pairs_its_centre_with_the_best_leaf() -> None:
    # The leaves can only go to the centre, so no assignment covers everyone: the relaxation
    # must let members stay alone and still pair as many as it can.
    edges, points = _graph([(0, 1, 5), (0, 2, 9), (0, 3, 7)])
    assert solve_sparse(4, edges, points) == [(0, 2)]


def test_an_odd_cycle_is_repaired_into_the_best_pairs() -> None:
    # A triangle with a tail: the relaxation's best answer is the triangle as a cycle plus the
    # tail alone; the best matching pairs the tail in.
    edges, points = _graph([(0, 1, 10), (1, 2, 10), (0, 2, 10), (2, 3, 1)])
    pairs = solve_sparse(4, edges, points)
    assert len(pairs) == 2
    assert matching_weight(pairs, edges, points, 4) == 11


def test_members_without_candidates_stay_alone() -> None:
    edges, points = _graph([(1, 2, 4)])
    assert solve_sparse(5, edges, points) == [(1, 2)]
    assert solve_sparse(3, edges[:0], points[:0]) == []


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, np.ndarray, np.ndarray]:
    n = draw(st.integers(2, 12))
    possible = [(a, b) for a in range(n) for b in range(a + 1, n)]
    chosen = draw(st.lists(st.sampled_from(possible), unique=True, max_size=len(possible)))
    weights = draw(st.lists(st.integers(0, 40), min_size=len(chosen), max_size=len(chosen)))
    edges, points = _graph([(a, b, w) for (a, b), w in zip(chosen, weights, strict=True)])
    return n, edges, points


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_the_sparse_solver_is_sound_on_any_small_graph(
    graph: tuple[int, np.ndarray, np.ndarray],
) -> None:
    """The weight is a heuristic (exact only around the relaxation's odd cycles and the paths
    that completed it), but the pair count is always the maximum: a valid matching with as
    many pairs as the exact one, never heavier."""
    n, edges, points = graph
    pairs = solve_sparse(n, edges, points)
    active = np.bincount(edges.ravel(), minlength=n) > 0
    pairs, _, _ = complete_cardinality(n, edges, points, pairs, active)
    exact = solve_exact(n, edges, points)
    assert _is_matching(pairs, edges)
    assert len(pairs) == len(exact)
    assert matching_weight(pairs, edges, points, n) <= matching_weight(exact, edges, points, n)


@settings(max_examples=300, deadline=None)
@given(graphs(), st.data())
def test_paths_through_edges_the_sparse_graph_dropped_are_found_on_the_full_graph(
    graph: tuple[int, np.ndarray, np.ndarray], data: st.DataObject,
) -> None:
    """The candidate graph keeps only some allowed pairs; the full-graph phase still reaches
    the maximum of the FULL graph, scoring the edges its paths add."""
    n, edges, points = graph
    keep = np.array(data.draw(st.lists(st.booleans(), min_size=len(edges), max_size=len(edges))),
                    dtype=bool)
    sub, sub_points = edges[keep], points[keep]
    lookup = {(int(a), int(b)): int(w) for (a, b), w in zip(edges, points, strict=True)}
    nbrs: dict[int, list[int]] = {v: [] for v in range(n)}
    for a, b in edges.tolist():
        nbrs[a].append(b)
        nbrs[b].append(a)

    def full(v: int) -> np.ndarray:
        return np.array(nbrs[v], dtype=np.int64)

    def score(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.array([lookup[(min(x, y), max(x, y))] for x, y in zip(a, b, strict=True)],
                        dtype=np.int64)

    pairs = solve_sparse(n, sub, sub_points)
    active = np.array([bool(nbrs[v]) for v in range(n)])
    pairs, used, used_points = complete_cardinality(n, sub, sub_points, pairs, active, full, score)
    assert _is_matching(pairs, edges)
    assert len(pairs) == len(solve_exact(n, edges, points))
    assert all(lookup[(int(a), int(b))] == w for (a, b), w in zip(used, used_points, strict=True))

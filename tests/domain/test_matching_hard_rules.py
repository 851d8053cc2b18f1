"""Hard rules are graph structure, never a penalty: with any weights up to the documented
maximum no forbidden pair is ever matched and scores never wrap; and the number of pairs is the
maximum the hard rules allow in the large-pool solver too, proven on the FULL allowed graph
(issue 14: two 5-cycles joined by a path paired 384 of 408)."""

from __future__ import annotations

import itertools
from dataclasses import fields
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.availability import Window
from bot.domain.matching import CommunitySettings, Seeker, Weights, match_pool
from bot.domain.matching.model import MAX_CAP, MAX_CAP_DAYS, MAX_HALF_HOURS, MAX_WEIGHT
from tests.domain.test_matching import NOW, brute_force, check_invariants, pools


def _bound(name: str) -> float:
    if name.endswith("_cap"):
        return MAX_CAP
    if name.endswith("_days"):
        return MAX_CAP_DAYS
    return MAX_HALF_HOURS if name == "overlap_half_hours" else MAX_WEIGHT


@st.composite
def weights(draw: st.DrawFn) -> Weights:
    values: dict[str, float | int] = {}
    for f in fields(Weights):
        high = _bound(f.name)
        if f.name.endswith(("_cap", "_days")):
            values[f.name] = draw(st.sampled_from([0, 1, int(high)]) | st.integers(0, int(high)))
        else:
            low = 0.01 if f.name == "overlap_half_hours" else 0.0
            values[f.name] = draw(st.sampled_from([low, high])
                                  | st.floats(low, high, allow_nan=False))
    return Weights(**values)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pools(min_size=2, max_size=8), weights(), st.sampled_from(["trio", "carry_over"]),
       st.sampled_from([300, 0]))
def test_no_weights_up_to_the_maximum_ever_admit_a_forbidden_pair(
    pool: list[Seeker], w: Weights, policy: str, exact_max: int
) -> None:
    cs = CommunitySettings(weights=w, odd_policy=policy, exact_max_members=exact_max,  # type: ignore[arg-type]
                           k=2)
    result = match_pool(pool, cs, now=NOW)
    check_invariants(pool, cs, result)  # every pair allowed by the reference, score exact
    assert all(g.score >= 0 for g in result.groups)  # never wrapped


def test_the_largest_weights_on_forbidden_pairs_still_pair_nobody() -> None:
    """The issue's cases: waiting 10000 paired members sharing 0 minutes; carried_over 9000
    paired a man wanting a woman with a man. Now the weights are refused above 100, and at 100
    the pairs stay forbidden."""
    with pytest.raises(ValueError, match="waiting"):
        Weights(waiting=10000)
    with pytest.raises(ValueError, match="carried_over"):
        Weights(carried_over=9000)
    with pytest.raises(ValueError):
        Weights(goal_area_cap=11)
    top = Weights(**{f.name: _bound(f.name) for f in fields(Weights)})  # type: ignore[arg-type]
    long_ago = datetime(2025, 1, 1, tzinfo=UTC)
    morning = (Window(0, 6 * 60, 8 * 60),)
    evening = (Window(0, 18 * 60, 20 * 60),)
    pool = [
        Seeker("a", "UTC", morning, waiting_since=long_ago, carried_over=True),
        Seeker("b", "UTC", evening, waiting_since=long_ago, carried_over=True),
        Seeker("c", "UTC", morning, gender="man", partner_genders=frozenset({"woman"}),
               carried_over=True),
        Seeker("d", "UTC", evening, gender="man", carried_over=True, blocks=frozenset({"b"})),
    ]
    for exact_max in (300, 0):
        cs = CommunitySettings(weights=top, exact_max_members=exact_max)
        result = match_pool(pool, cs, now=NOW)
        assert result.groups == ()
        assert result.totals.allowed_pairs == 0


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pools(min_size=2, max_size=8), st.integers(1, 2), st.integers(0, 3))
def test_the_sparse_solver_pairs_as_many_as_the_brute_force_maximum(
    pool: list[Seeker], k: int, seed: int
) -> None:
    cs = CommunitySettings(odd_policy="carry_over", exact_max_members=0, k=k)
    result = match_pool(pool, cs, now=NOW, seed=seed)
    pairs, _ = brute_force(pool, cs)
    assert result.totals.groups == pairs
    assert result.totals.max_cardinality is True


def _cycles_and_paths(components: int = 12, path: int = 24) -> list[Seeker]:
    """Each component: two 5-cycles joined by a path of `path` members (34 members, a perfect
    matching exists). Each edge of the graph is its own quarter hour of the week, shared by its
    two ends only, so the allowed graph is exactly this graph."""
    edges: list[tuple[str, str]] = []
    for c in range(components):
        left = [f"c{c:02d}-l{i}" for i in range(5)]
        right = [f"c{c:02d}-r{i}" for i in range(5)]
        middle = [f"c{c:02d}-p{i:02d}" for i in range(path)]
        for ring in (left, right):
            edges += [(ring[i], ring[(i + 1) % 5]) for i in range(5)]
        chain = [left[0], *middle, right[0]]
        edges += list(itertools.pairwise(chain))
    slots: dict[str, list[Window]] = {}
    for q, (a, b) in enumerate(edges):
        day, start = divmod(q * 15, 1440)
        for m in (a, b):
            slots.setdefault(m, []).append(Window(day, start, start + 15))
    return [Seeker(m, "UTC", tuple(w)) for m, w in sorted(slots.items())]


def test_two_five_cycles_joined_by_a_path_pair_everyone() -> None:
    pool = _cycles_and_paths()
    assert len(pool) == 408
    for exact_max, k in ((0, 24), (0, 1), (300, 24)):
        cs = CommunitySettings(min_overlap_minutes=15, overlap_weeks=1, exact_max_members=exact_max,
                               k=k, odd_policy="carry_over")
        result = match_pool(pool, cs, now=NOW)
        assert result.totals.allowed_pairs == 12 * 35
        assert result.totals.matched == 408, (exact_max, k)
        assert result.totals.max_cardinality is True

"""Matchmaking: hard rules always hold, as many members as possible are paired, the total score is
optimal on small pools, odd pools follow the community's policy, and the same pool and seed give
the same round. Checked against a reference written independently of the vectorised code."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.availability import SLOT_MINUTES, Window, utc_slot_mask
from bot.domain.matching import (
    CommunitySettings,
    MatchResult,
    PastPartner,
    Seeker,
    match_pool,
    render_group,
    render_waiting,
)

NOW = datetime(2026, 3, 16, 17, tzinfo=UTC)
WEEKS = (datetime(2026, 3, 23, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC))
SCALE = 1000


@functools.cache
def mask(windows: tuple[Window, ...], zone: str, week: datetime) -> int:
    return utc_slot_mask(windows, zone, week)


def reference_points(a: Seeker, b: Seeker, cs: CommunitySettings) -> int | None:
    """Points of a pair by the documented rules, or None when a hard rule forbids it."""
    slots = min(
        (mask(a.windows, a.zone, w) & mask(b.windows, b.zone, w)).bit_count() for w in WEEKS
    )
    if slots * SLOT_MINUTES < cs.min_overlap_minutes:
        return None
    if {a.rhythm, b.rhythm} == {"weekly", "biweekly"}:
        return None
    for x, y in ((a, b), (b, a)):
        if x.partner_genders is not None and y.gender not in x.partner_genders:
            return None
        if x.partner_age_brackets is not None and y.age_bracket not in x.partner_age_brackets:
            return None
        if x.partner_languages is not None and not (x.partner_languages & y.languages):
            return None
        if y.id in x.blocks:
            return None
        for past in x.past_partners:
            if past.partner_id == y.id and (
                past.ended is None or (NOW.date() - past.ended).days < cs.repeat_window_days
            ):
                return None
    if cs.require_common_language and a.languages and b.languages and not (
        a.languages & b.languages
    ):
        return None
    w = cs.weights
    hours = slots * SLOT_MINUTES / 60
    points = round(SCALE * w.overlap * (1 - 2 ** (-hours / w.overlap_half_hours)))
    points += round(SCALE * w.goal_area * min(len(a.goal_areas & b.goal_areas), w.goal_area_cap))
    points += round(SCALE * w.language * min(len(a.languages & b.languages), w.language_cap))
    points += round(SCALE * w.same_rhythm) * (a.rhythm == b.rhythm)
    points += round(SCALE * w.same_medium) * (a.medium == b.medium)
    for m in (a, b):
        if m.waiting_since is not None and w.waiting_cap_days > 0:
            days = max((NOW - m.waiting_since).total_seconds() / 86400, 0)
            points += round(SCALE * w.waiting * min(days, w.waiting_cap_days) / w.waiting_cap_days)
        points += round(SCALE * w.carried_over) if m.carried_over else 0
    return points


def brute_force(pool: Sequence[Seeker], cs: CommunitySettings) -> tuple[int, int]:
    """(most pairs, best total points among matchings with that many pairs)."""
    pts = {
        (i, j): reference_points(pool[i], pool[j], cs)
        for i, j in itertools.combinations(range(len(pool)), 2)
    }

    def best(rest: tuple[int, ...]) -> tuple[int, int]:
        if len(rest) < 2:
            return (0, 0)
        first, others = rest[0], rest[1:]
        result = best(others)  # first stays alone
        for k, j in enumerate(others):
            p = pts[(first, j)]
            if p is not None:
                pairs, total = best(others[:k] + others[k + 1:])
                result = max(result, (pairs + 1, total + p))
        return result

    return best(tuple(range(len(pool))))


ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "Asia/Kolkata",
         "Asia/Kathmandu", "Pacific/Chatham"]


WINDOWS = st.lists(
    st.builds(
        lambda d, s, length: Window(d, s * 60, min(s * 60 + length * 60, 1440)),
        st.integers(0, 2), st.integers(0, 23), st.integers(1, 6),
    ),
    min_size=1, max_size=3,
)
MEMBER = st.tuples(
    st.sampled_from(ZONES),
    WINDOWS,
    st.frozensets(st.sampled_from(["writing", "coding", "fitness"])),
    st.sampled_from(["weekly", "biweekly", "flexible"]),
    st.sampled_from(["text", "voice", "video"]),
    st.frozensets(st.sampled_from(["en", "de", "ja"]), max_size=2),
    st.sampled_from([None, "woman", "man"]),
    st.sampled_from([None, "18-24", "25-34"]),
    st.sampled_from([None, None, frozenset({"woman"}), frozenset({"man"})]),
    st.sampled_from([None, None, frozenset({"25-34"})]),
    st.sampled_from([None, None, frozenset({"de"})]),
    st.none() | st.integers(0, 7),  # blocks this other member
    st.none() | st.tuples(st.integers(0, 7),
                          st.sampled_from([None, date(2026, 3, 1), date(2025, 6, 1)])),
    st.integers(0, 24 * 60),  # hours waited
    st.booleans(),
)


@st.composite
def pools(draw: st.DrawFn, min_size: int = 1, max_size: int = 8) -> list[Seeker]:
    rows = draw(st.lists(MEMBER, min_size=min_size, max_size=max_size))
    ids = [f"u{i}" for i in range(len(rows))]
    members = []
    for me, row in enumerate(rows):
        (zone, windows, goals, rhythm, medium, langs, gender, age, pg, pa, pl, block, past,
         waited, carried) = row
        blocks = frozenset({ids[block]}) if block is not None and block < len(ids) else frozenset()
        pasts = (
            (PastPartner(ids[past[0]], past[1]),)
            if past is not None and past[0] < len(ids) and past[0] != me else ()
        )
        members.append(
            Seeker(
                id=ids[me], zone=zone, windows=tuple(windows), goal_areas=goals, rhythm=rhythm,
                medium=medium, languages=langs, gender=gender, age_bracket=age,
                partner_genders=pg, partner_age_brackets=pa, partner_languages=pl,
                blocks=blocks - {ids[me]}, past_partners=pasts,
                waiting_since=NOW - timedelta(hours=waited), carried_over=carried,
            )
        )
    return members


def check_invariants(pool: Sequence[Seeker], cs: CommunitySettings, result: MatchResult) -> None:
    by_id = {s.id: s for s in pool}
    seen = [m for g in result.groups for m in g.members] + [u.member_id for u in result.unmatched]
    assert sorted(seen) == sorted(by_id), "everyone is in exactly one group or unmatched"
    for g in result.groups:
        assert len(g.members) in (2, 3)
        if len(g.members) == 3:
            assert cs.odd_policy == "trio"
        for a, b in itertools.combinations(g.members, 2):
            assert reference_points(by_id[a], by_id[b], cs) is not None, (a, b)
        expected = sum(
            reference_points(by_id[a], by_id[b], cs) or 0
            for a, b in itertools.combinations(g.members, 2)
        )
        assert round(g.score * SCALE) == expected
    assert result.totals.matched + result.totals.unmatched == len(pool)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pools(), st.sampled_from(["trio", "carry_over"]), st.integers(0, 3))
def test_no_hard_rule_is_ever_broken_and_nobody_is_in_two_groups(
    pool: list[Seeker], policy: str, seed: int
) -> None:
    cs = CommunitySettings(odd_policy=policy)  # type: ignore[arg-type]
    result = match_pool(pool, cs, now=NOW, seed=seed)
    check_invariants(pool, cs, result)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pools(min_size=2, max_size=8), st.integers(0, 3))
def test_small_pools_get_the_brute_force_optimum(pool: list[Seeker], seed: int) -> None:
    cs = CommunitySettings(odd_policy="carry_over")
    result = match_pool(pool, cs, now=NOW, seed=seed)
    pairs, total = brute_force(pool, cs)
    assert result.totals.groups == pairs
    assert round(result.totals.total_score * SCALE) == total
    assert result.totals.max_cardinality is True


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pools(min_size=2, max_size=8), st.integers(0, 1000))
def test_the_same_pool_and_seed_give_the_same_round_in_any_input_order(
    pool: list[Seeker], seed: int
) -> None:
    first = match_pool(pool, now=NOW, seed=seed)
    again = match_pool(list(reversed(pool)), now=NOW, seed=seed)
    assert first.groups == again.groups
    assert first.unmatched == again.unmatched


def evening(member_id: str, zone: str = "UTC", **extra: object) -> Seeker:
    return Seeker(id=member_id, zone=zone, windows=(Window(1, 18 * 60, 21 * 60),), **extra)  # type: ignore[arg-type]


def test_trio_policy_adds_the_odd_member_to_a_pair() -> None:
    pool = [evening("a"), evening("b"), evening("c")]
    result = match_pool(pool, CommunitySettings(odd_policy="trio"), now=NOW)
    assert [g.members for g in result.groups] == [("a", "b", "c")]
    assert result.unmatched == ()
    assert result.totals.trios == 1


def test_trio_joins_where_the_trio_scores_highest_and_only_if_both_allow_it() -> None:
    pool = [
        evening("a", goal_areas=frozenset({"writing"})),
        evening("b", goal_areas=frozenset({"writing"})),
        evening("c", goal_areas=frozenset({"coding"})),
        evening("d", goal_areas=frozenset({"coding"})),
        evening("x", goal_areas=frozenset({"coding"}), blocks=frozenset({"d"})),
    ]
    result = match_pool(pool, CommunitySettings(odd_policy="trio"), now=NOW)
    groups = sorted(g.members for g in result.groups)
    assert ("a", "b", "x") in groups  # c-d would score higher, but x blocked d


def test_carry_over_leaves_one_member_with_priority_and_says_why() -> None:
    pool = [evening("a"), evening("b"), evening("c")]
    result = match_pool(pool, CommunitySettings(odd_policy="carry_over"), now=NOW)
    assert len(result.groups) == 1
    (left,) = result.unmatched
    assert left.reason == "odd_one_out" and left.priority
    # Regression: "You'll be first in line next round" was a promise priority cannot keep.
    advice = match_pool(pool, CommunitySettings(odd_policy="carry_over"), now=NOW,
                        advise=True).advice[left.member_id]
    told = render_waiting(advice, zone="Europe/Berlin", now=NOW, next_round=NOW + timedelta(days=7),
                          min_overlap_minutes=60)
    assert advice.situation == "taken" and "first in line" not in told
    assert "You keep priority for the next round: a head start, though it can't promise" in told


def test_the_longest_waiting_member_is_not_the_one_left_over() -> None:
    pool = [
        evening("a", waiting_since=NOW - timedelta(days=1)),
        evening("b", waiting_since=NOW - timedelta(days=2)),
        evening("c", waiting_since=NOW - timedelta(days=20)),
    ]
    result = match_pool(pool, CommunitySettings(odd_policy="carry_over"), now=NOW)
    assert [u.member_id for u in result.unmatched] == ["a"]


def test_unmatched_members_are_told_the_honest_reason() -> None:
    alone = match_pool([evening("solo")], now=NOW)
    assert [u.reason for u in alone.unmatched] == ["no_one_else"]

    far = Seeker(id="far", zone="UTC", windows=(Window(3, 6 * 60, 8 * 60),))
    blocked = evening("blocked", blocks=frozenset({"c"}))
    result = match_pool([evening("a"), evening("b"), far, blocked, evening("c")],
                        CommunitySettings(odd_policy="carry_over"), now=NOW)
    reasons = {u.member_id: u.reason for u in result.unmatched}
    assert reasons["far"] == "no_overlap"
    assert "blocked" not in reasons  # blocking c still leaves a and b

    picky = evening("picky", partner_genders=frozenset({"woman"}))
    result = match_pool([picky, evening("m1", gender="man"), evening("m2", gender="man")],
                        now=NOW)
    assert {u.member_id: u.reason for u in result.unmatched} == {"picky": "preferences"}


def test_a_berlin_and_a_new_york_member_need_the_overlap_in_every_coming_week() -> None:
    """Tuesday 18-20 in Berlin and 13-15 in New York share 2 h in the week of 23 March (only
    the US on summer time) but 1 h from 30 March, when Europe switches too."""
    berlin = Seeker(id="berlin", zone="Europe/Berlin", windows=(Window(1, 18 * 60, 20 * 60),))
    new_york = Seeker(id="ny", zone="America/New_York", windows=(Window(1, 13 * 60, 15 * 60),))
    strict = CommunitySettings(min_overlap_minutes=90)
    both_weeks = match_pool([berlin, new_york], strict, now=NOW)
    assert both_weeks.groups == ()
    assert {u.reason for u in both_weeks.unmatched} == {"no_overlap"}

    first_week_only = match_pool([berlin, new_york], CommunitySettings(
        min_overlap_minutes=90, overlap_weeks=1), now=NOW)
    (group,) = first_week_only.groups
    assert group.explanation.weekly_overlap_minutes == 120

    relaxed = match_pool([berlin, new_york], now=NOW)
    (group,) = relaxed.groups
    assert [w.minutes for w in group.explanation.weeks] == [120, 60]
    assert group.explanation.weeks[0].intervals == (
        (datetime(2026, 3, 24, 17, tzinfo=UTC), datetime(2026, 3, 24, 19, tzinfo=UTC)),
    )
    assert group.explanation.weeks[1].intervals == (
        (datetime(2026, 3, 31, 17, tzinfo=UTC), datetime(2026, 3, 31, 18, tzinfo=UTC)),
    )


def test_explanations_never_reveal_private_fields() -> None:
    a = evening("a", gender="secret-gender-a", age_bracket="25-34",
                partner_genders=frozenset({"secret-gender-b"}), goal_areas=frozenset({"writing"}),
                languages=frozenset({"en"}), blocks=frozenset({"zz"}))
    b = evening("b", gender="secret-gender-b", age_bracket="35-44",
                partner_age_brackets=frozenset({"25-34"}), goal_areas=frozenset({"writing"}),
                languages=frozenset({"en"}))
    result = match_pool([a, b], now=NOW)
    (group,) = result.groups
    text = render_group(group, "a") + repr(group.explanation)
    for secret in ("secret-gender", "25-34", "35-44", "zz"):
        assert secret not in text
    assert "Your preferences are satisfied." in text
    assert "<t:" in text and "writing" in text and "en" in text


def test_the_message_shows_times_as_discord_timestamps_for_the_reader() -> None:
    result = match_pool([evening("111", zone="Europe/London"), evening("222", zone="UTC")],
                        now=NOW)
    (group,) = result.groups
    text = render_group(group, "111")
    assert text.startswith("You're matched with <@222>!")
    start = int(datetime(2026, 3, 24, 18, tzinfo=UTC).timestamp())
    assert f"<t:{start}:F>" in text
    assert "3 h" in text


def test_large_pools_use_the_sparse_solver_and_stay_near_the_exact_optimum() -> None:
    from bench.pool_gen import generate_pool

    pool = generate_pool(240, seed=7, now=NOW)
    exact = match_pool(pool, CommunitySettings(exact_max_members=1000), now=NOW)
    sparse = match_pool(pool, CommunitySettings(exact_max_members=0, k=8), now=NOW)
    assert exact.totals.solver == "exact" and sparse.totals.solver == "sparse"
    assert sparse.totals.groups == exact.totals.groups
    assert sparse.totals.total_score >= 0.99 * exact.totals.total_score
    assert sparse.totals.total_score <= exact.totals.total_score + 1e-9
    check_invariants(pool, CommunitySettings(), sparse)


def test_equally_good_candidates_do_not_crowd_onto_a_few_members() -> None:
    """With equal scores, "everyone's k best" must not all be the same k members: then only k
    pairs could form. Ties are broken per member and random partners are kept too."""
    pool = [evening(f"m{i:03d}") for i in range(401)]
    result = match_pool(pool, CommunitySettings(exact_max_members=0, k=3), now=NOW)
    assert result.totals.matched == 401
    assert result.totals.max_cardinality is True


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pools(min_size=2, max_size=8), st.sampled_from(["trio", "carry_over"]), st.integers(1, 3))
def test_the_sparse_solver_never_breaks_a_hard_rule_either(
    pool: list[Seeker], policy: str, k: int
) -> None:
    cs = CommunitySettings(odd_policy=policy, exact_max_members=0, k=k)  # type: ignore[arg-type]
    check_invariants(pool, cs, match_pool(pool, cs, now=NOW))


def test_settings_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        CommunitySettings(odd_policy="lottery")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CommunitySettings(k=0)
    with pytest.raises(ValueError):
        match_pool([evening("a"), evening("a")], now=NOW)

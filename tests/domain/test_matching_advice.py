"""Advice for members a round leaves alone is true: the reason follows the matcher's own hard
rules, and applying the suggested change really opens the number of partners it names."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np

from bench.pool_gen import generate_pool
from bot.domain.availability import Window
from bot.domain.matching import CommunitySettings, Seeker, match_pool
from bot.domain.matching.advice import _sides
from bot.domain.matching.engine import _prepare
from bot.domain.matching.model import Change
from bot.domain.matching.scoring import candidates

NOW = datetime(2026, 3, 16, 8, tzinfo=UTC)  # the week before Europe's clocks change


def applied(seeker: Seeker, change: Change) -> Seeker:
    if change.kind == "time":
        return dataclasses.replace(seeker, windows=(*seeker.windows, *change.windows))
    if change.kind == "rhythm":
        return dataclasses.replace(seeker, rhythm=change.value)  # type: ignore[arg-type]
    if change.kind == "language":
        assert change.value is not None
        return dataclasses.replace(seeker, languages=seeker.languages | {change.value})
    field = {"wish_gender": "partner_genders", "wish_age": "partner_age_brackets",
             "wish_language": "partner_languages"}[change.kind]
    return dataclasses.replace(seeker, **{field: None})


def allowed_partners(pool: list[Seeker], member_id: str, settings: CommunitySettings) -> int:
    p = _prepare(pool, settings, NOW, 0, None)
    degree = candidates(p, None, threads=1).allowed_degree
    return int(degree[[s.id for s in p.seekers].index(member_id)])


def test_the_suggested_change_opens_exactly_the_partners_it_names() -> None:
    """Regression: the unmatched were told to widen preferences they never set; now the named
    change is applied to the member and the matcher itself counts their partners."""
    kinds = set()
    for seed in range(8):
        kinds |= check_pool(generate_pool(40, seed, NOW))
    # The pools do leave members alone whom each kind of change would help.
    assert {"time", "language", "wish_gender"} <= kinds


def check_pool(pool: list[Seeker]) -> set[str]:
    settings = CommunitySettings()
    result = match_pool(pool, settings, now=NOW, advise=True)
    assert set(result.advice) == {u.member_id for u in result.unmatched}
    checked = set()
    for advice in result.advice.values():
        member = next(s for s in pool if s.id == advice.member_id)
        if advice.situation == "ruled_out" and "wishes" in advice.obstacles:
            own = member.partner_genders or member.partner_age_brackets or member.partner_languages
            assert own, "told their wishes rule others out, but they have none"
        if advice.change is None:
            continue
        changed = [applied(s, advice.change) if s.id == member.id else s for s in pool]
        opened = allowed_partners(changed, member.id, settings)
        if advice.change.kind == "language":  # others' own language wishes may add more
            assert opened >= advice.opens > 0
        else:
            assert opened == advice.opens > 0
        checked.add(advice.change.kind)
    return checked


def test_the_rules_split_by_side_agree_with_the_matcher_for_everyone() -> None:
    pool = generate_pool(120, 11, NOW)
    p = _prepare(pool, CommunitySettings(), NOW, 0, None)
    degree = candidates(p, None, threads=1).allowed_degree
    for i in range(p.n):
        sides = _sides(p, i)  # raises if the split disagrees with evaluate_pairs
        assert int(np.count_nonzero(sides.allowed)) == degree[i]


def berlin(seeker_id: str, windows: tuple[Window, ...], **kw: object) -> Seeker:
    return Seeker(id=seeker_id, zone="Europe/Berlin", windows=windows, **kw)  # type: ignore[arg-type]


EVENINGS = tuple(Window(d, 18 * 60, 21 * 60) for d in range(5))


def test_a_block_is_never_a_reason_nor_helped_by_a_change() -> None:
    """Ann shares time only with Bob, who blocked her: no change of hers can help, and nothing
    suggests one; Carl, free in the mornings, is the only one a change could open."""
    ann = berlin("ann", EVENINGS)
    bob = berlin("bob", EVENINGS, blocks=frozenset({"ann"}))
    carl = berlin("carl", (Window(5, 9 * 60, 11 * 60),))
    result = match_pool([ann, bob, carl], now=NOW, advise=True)
    advice = result.advice["ann"]
    assert advice.situation == "time"
    assert advice.change is not None and advice.change.kind == "time"
    assert advice.change.windows == (Window(5, 9 * 60, 10 * 60),)
    assert advice.opens == 1  # carl; never bob
    alone = match_pool([ann, bob], now=NOW, advise=True).advice["ann"]
    assert alone.situation == "no_fit" and alone.change is None


def test_a_member_without_wishes_is_told_the_rhythm_not_a_preference() -> None:
    ann = berlin("ann", EVENINGS, rhythm="biweekly")
    bob = berlin("bob", EVENINGS, rhythm="weekly")
    advice = match_pool([ann, bob], now=NOW, advise=True).advice["ann"]
    assert advice.situation == "ruled_out" and advice.obstacles == ("rhythm",)
    assert advice.change == Change("rhythm", value="weekly") and advice.opens == 1


def test_added_time_is_in_the_members_own_zone_across_a_dst_change() -> None:
    """The two weeks straddle Europe's switch to summer time: the added window is one local
    window that gives the overlap in both weeks."""
    now = datetime(2026, 3, 23, 8, tzinfo=UTC)
    ann = berlin("ann", (Window(0, 7 * 60, 8 * 60),))
    tokyo = Seeker(id="ken", zone="Asia/Tokyo", windows=tuple(
        Window(d, 2 * 60, 4 * 60) for d in range(7)))  # 18:00-20:00 / 19:00-21:00 Berlin
    advice = match_pool([ann, tokyo], now=now, advise=True).advice["ann"]
    assert advice.change is not None and advice.opens == 1
    changed = applied(ann, advice.change)
    again = match_pool([changed, tokyo], now=now)
    assert len(again.groups) == 1


def test_only_news_to_the_member_makes_a_new_message() -> None:
    """The key a round compares: a pool that moves a little (another obstacle among those who
    share time, another count, another equally small window) is not news; what they could do
    about it, or whether anyone fits them at all, is."""
    from bot.domain.matching.explain import advice_key
    from bot.domain.matching.model import MemberAdvice

    hour = Change("time", windows=(Window(1, 18 * 60, 19 * 60),), minutes=60)
    other_hour = Change("time", windows=(Window(3, 7 * 60, 8 * 60),), minutes=60)
    same = {
        advice_key(MemberAdvice("a", "time", change=hour, opens=2)),
        advice_key(MemberAdvice("a", "ruled_out", ("rhythm",), change=other_hour, opens=5)),
        advice_key(MemberAdvice("a", "ruled_out", ("rhythm", "wishes"), change=hour, opens=1)),
    }
    assert len(same) == 1
    news = {
        advice_key(MemberAdvice("a", "time", change=hour, opens=2)),
        advice_key(MemberAdvice("a", "ruled_out", ("rhythm",),
                                change=Change("rhythm", value="weekly"), opens=1)),
        advice_key(MemberAdvice("a", "time")),
        advice_key(MemberAdvice("a", "taken")),
        advice_key(MemberAdvice("a", "no_fit")),
        advice_key(MemberAdvice("a", "alone")),
    }
    assert len(news) == 6

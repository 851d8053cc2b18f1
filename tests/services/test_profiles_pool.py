"""Members write profiles and join the pool; bad input changes nothing; requests respect limits
and private preferences without revealing them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FakeClock
from bot.db import unit_of_work
from bot.errors import Conflict, InvalidInput, NotFound
from bot.services import pool
from bot.services.profiles import PrivateChanges, ProfileChanges, get_profile, update_private
from bot.services.profiles import update_profile as update

G = 1000

COMPLETE = ProfileChanges(
    timezone="Europe/Berlin",
    availability="Mon-Fri 18:00-21:00",
    goal_areas="writing, study",
    intro="I write short stories.",
    rhythm="weekly",
    medium="video",
    languages="English, German",
)


async def test_a_complete_profile_is_stored_in_canonical_form(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    async with unit_of_work(sessions) as s:
        profile = await update(s, guild_id=G, user_id=1, changes=COMPLETE, now=clock.now())
    assert profile.timezone == "Europe/Berlin"
    assert profile.goal_areas == ("writing", "study")
    assert profile.languages == ("English", "German")
    async with sessions() as s:
        stored = await get_profile(s, guild_id=G, user_id=1)
    assert stored is not None and stored.public == profile


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        (ProfileChanges(timezone="europe/berlin"), "Did you mean Europe/Berlin"),
        (ProfileChanges(timezone="../../etc/passwd"), "I don't know the time zone"),
        (ProfileChanges(availability="Mun 18:00-21:00"), "Mun"),
        (ProfileChanges(goal_areas="knitting"), "isn't one of this community's goal areas"),
        (ProfileChanges(rhythm="daily"), "isn't a meeting rhythm"),
        (ProfileChanges(intro="x" * 501), "under 500"),
        (ProfileChanges(languages="English, 42"), "doesn't look like a language"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, changes: ProfileChanges, says: str
) -> None:
    async with unit_of_work(sessions) as s:
        await update(s, guild_id=G, user_id=1, changes=COMPLETE, now=clock.now())
    mixed = ProfileChanges(**{**changes.__dict__, "intro": changes.intro or "changed intro"})
    with pytest.raises(InvalidInput) as caught:
        async with unit_of_work(sessions) as s:
            await update(s, guild_id=G, user_id=1, changes=mixed, now=clock.now())
    assert says in caught.value.user_message
    async with sessions() as s:
        stored = await get_profile(s, guild_id=G, user_id=1)
    assert stored is not None and stored.public.intro == "I write short stories."


async def test_joining_with_an_incomplete_profile_says_what_is_missing(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    async with unit_of_work(sessions) as s:
        await update(
            s, guild_id=G, user_id=1, changes=ProfileChanges(timezone="Asia/Tokyo"), now=clock.now()
        )
    with pytest.raises(InvalidInput) as caught:
        async with unit_of_work(sessions) as s:
            await pool.join_pool(s, guild_id=G, user_id=1, now=clock.now())
    message = caught.value.user_message
    assert "when you're available" in message and "a short intro" in message
    assert "your time zone" not in message


async def test_join_pause_resume_leave(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    async with unit_of_work(sessions) as s:
        await update(s, guild_id=G, user_id=1, changes=COMPLETE, now=clock.now())
        await pool.join_pool(s, guild_id=G, user_id=1, now=clock.now())
        await pool.pause(
            s, guild_id=G, user_id=1, until=clock.now() + timedelta(days=3), now=clock.now()
        )
    async with unit_of_work(sessions) as s:
        assert await pool.resume_due_pauses(s, now=clock.advance(timedelta(days=2))) == []
    async with unit_of_work(sessions) as s:
        resumed = await pool.resume_due_pauses(s, now=clock.advance(timedelta(days=1)))
        assert [m.user_id for m in resumed] == [1]
    async with unit_of_work(sessions) as s:
        await pool.leave(s, guild_id=G, user_id=1, now=clock.now())
    with pytest.raises(NotFound):
        async with unit_of_work(sessions) as s:
            await pool.leave(s, guild_id=G, user_id=1, now=clock.now())


async def seeker(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, user_id: int
) -> None:
    async with unit_of_work(sessions) as s:
        await update(s, guild_id=G, user_id=user_id, changes=COMPLETE, now=clock.now())
        await pool.join_pool(s, guild_id=G, user_id=user_id, now=clock.now())


async def test_request_limits_and_acceptance(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    for uid in (1, 2, 3, 4, 5):
        await seeker(sessions, clock, uid)
    async with unit_of_work(sessions) as s:
        outcome = await pool.request_partnership(
            s, guild_id=G, requester_user_id=2, author_user_id=1, now=clock.now()
        )
    assert outcome.ruled_out is False
    with pytest.raises(Conflict, match="already sent"):
        async with unit_of_work(sessions) as s:
            await pool.request_partnership(
                s, guild_id=G, requester_user_id=2, author_user_id=1, now=clock.now()
            )
    async with unit_of_work(sessions) as s:
        for author in (3, 4):
            await pool.request_partnership(
                s, guild_id=G, requester_user_id=2, author_user_id=author, now=clock.now()
            )
    with pytest.raises(Conflict, match="3 requests waiting"):
        async with unit_of_work(sessions) as s:
            await pool.request_partnership(
                s, guild_id=G, requester_user_id=2, author_user_id=5, now=clock.now()
            )
    async with unit_of_work(sessions) as s:
        _, partnership = await pool.decide_request(
            s,
            guild_id=G,
            request_id=outcome.request_id,
            author_user_id=1,
            accept=True,
            now=clock.now(),
        )
    assert partnership is not None and partnership.state == "trial"  # both chose: no 2nd Accept
    assert len(partnership.members) == 2
    with pytest.raises(Conflict):
        async with unit_of_work(sessions) as s:
            await pool.join_pool(s, guild_id=G, user_id=2, now=clock.now())


async def test_a_decline_starts_a_cooldown(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    for uid in (1, 2):
        await seeker(sessions, clock, uid)
    async with unit_of_work(sessions) as s:
        outcome = await pool.request_partnership(
            s, guild_id=G, requester_user_id=2, author_user_id=1, now=clock.now()
        )
    async with unit_of_work(sessions) as s:
        await pool.decide_request(
            s,
            guild_id=G,
            request_id=outcome.request_id,
            author_user_id=1,
            accept=False,
            now=clock.now(),
        )
    with pytest.raises(Conflict, match="can't take a request"):
        async with unit_of_work(sessions) as s:
            await pool.request_partnership(
                s,
                guild_id=G,
                requester_user_id=2,
                author_user_id=1,
                now=clock.advance(timedelta(days=1)),
            )
    async with unit_of_work(sessions) as s:
        again = await pool.request_partnership(
            s,
            guild_id=G,
            requester_user_id=2,
            author_user_id=1,
            now=clock.advance(timedelta(days=7)),
        )
    assert again.request_id != outcome.request_id


async def test_private_preferences_rule_a_request_out(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    for uid in (1, 2):
        await seeker(sessions, clock, uid)
    async with unit_of_work(sessions) as s:
        await update_private(
            s, guild_id=G, user_id=1, changes=PrivateChanges(pref_genders="woman"), now=clock.now()
        )
        await update_private(
            s, guild_id=G, user_id=2, changes=PrivateChanges(gender="man"), now=clock.now()
        )
    async with unit_of_work(sessions) as s:
        outcome = await pool.request_partnership(
            s, guild_id=G, requester_user_id=2, author_user_id=1, now=clock.now()
        )
    assert outcome.ruled_out is True

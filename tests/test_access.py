"""The access cache: every interaction's checks come from memory, and stay true."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.access import AccessCache
from bot.clock import FakeClock
from bot.db import unit_of_work
from bot.services import guilds, outbox
from bot.services.profiles import ensure_member
from models import GuildSettings, Member

G = 42


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_the_access_role_is_read_once_and_forgotten_after_setup(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    ticks = Ticks()
    cache = AccessCache(sessions, ttl=30, monotonic=ticks)
    assert await cache.access_role(G) is None  # a community nobody configured: open to all
    async with unit_of_work(sessions) as session:
        await guilds.configure(session, guild_id=G, now=clock.now(), access_role_id=7)
    assert await cache.access_role(G) is None  # still the cached answer within the TTL
    cache.forget(G)  # what /admin setup does in the process that ran it
    assert await cache.access_role(G) == 7
    async with unit_of_work(sessions) as session:
        await guilds.configure(session, guild_id=G, now=clock.now(), access_role_id=8)
    ticks.now = 31  # another process changed it: seen once the TTL has passed
    assert await cache.access_role(G) == 8


async def test_closed_dms_are_known_from_the_dispatcher_and_from_the_database(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    ticks = Ticks()
    cache = AccessCache(sessions, ttl=30, monotonic=ticks)
    async with unit_of_work(sessions) as session:
        for user in (1, 2):
            await ensure_member(session, guild_id=G, user_id=user, now=clock.now())
    assert not await cache.dms_marked_closed(G, 1)
    cache.marked_closed(G, 1)  # the dispatcher saw a 50007 and marked them
    assert await cache.dms_marked_closed(G, 1)
    cache.cleared(G, 1)
    assert not await cache.dms_marked_closed(G, 1)
    async with unit_of_work(sessions) as session:  # marked by another process
        await outbox.mark_dms_closed(session, guild_id=G, user_id=2, now=clock.now())
    assert not await cache.dms_marked_closed(G, 2)
    ticks.now = 30
    assert await cache.dms_marked_closed(G, 2)
    async with unit_of_work(sessions) as session:
        await session.execute(update(Member).values(dms_closed=False))
    ticks.now = 61
    assert not await cache.dms_marked_closed(G, 2)


async def test_moderator_role_and_goal_areas_come_from_the_same_cached_read(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    ticks = Ticks()
    cache = AccessCache(sessions, ttl=30, monotonic=ticks)
    assert await cache.moderator_role(G) is None
    assert "writing" in await cache.goal_areas(G)  # the defaults, and nothing was written
    async with sessions() as session:
        assert await session.get(GuildSettings, G) is None
    async with unit_of_work(sessions) as session:
        await guilds.configure(
            session, guild_id=G, now=clock.now(), moderator_role_id=5, goal_areas=["chess"]
        )
    assert await cache.moderator_role(G) is None  # cached within the TTL
    cache.forget(G)
    assert await cache.moderator_role(G) == 5
    assert await cache.goal_areas(G) == ("chess",)

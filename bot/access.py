"""What every interaction is checked against, read from memory instead of the database.

Before any command, button or form is handled the bot needs two facts: the community's access
role, and whether the member's DMs were marked closed (a member who uses the bot again may be
reachable by DM again). Reading them in a write transaction on every interaction put the
database in front of Discord's 3-second deadline, so both live here:

- the community's settings every interaction needs (access role, moderator role, goal areas),
  read once in one query and kept for :data:`TTL` seconds (``/admin setup`` forgets them at once
  in the process that ran it; another process sees a change within ``TTL``);
- the members marked with closed DMs, loaded as one set and refreshed every ``TTL`` seconds;
  the dispatcher tells the cache as soon as it marks someone. Only a member in that set costs a
  write, once, to clear the mark.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import read_only
from models import GuildSettings, Member
from models.guild import DEFAULT_GOAL_AREAS

TTL = 30.0


@dataclass(frozen=True)
class GuildFacts:
    """What interactions read on every call about their community (``None``: not set)."""

    access_role_id: int | None
    moderator_role_id: int | None
    goal_areas: tuple[str, ...]


UNCONFIGURED = GuildFacts(None, None, tuple(DEFAULT_GOAL_AREAS))


class AccessCache:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl: float = TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._monotonic = monotonic
        self._facts: dict[int, tuple[float, GuildFacts]] = {}
        self._closed: set[tuple[int, int]] = set()
        self._left: set[tuple[int, int]] = set()
        self._closed_read_at: float | None = None

    async def facts(self, guild_id: int) -> GuildFacts:
        """The community's access role, moderator role and goal areas (one read per ``TTL``;
        a community nobody configured yet has the defaults, and nothing is written)."""
        now = self._monotonic()
        cached = self._facts.get(guild_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        async with read_only(self._sessions) as session:
            row = (
                await session.execute(
                    select(
                        GuildSettings.access_role_id,
                        GuildSettings.moderator_role_id,
                        GuildSettings.goal_areas,
                    ).where(GuildSettings.guild_id == guild_id)
                )
            ).one_or_none()
        found = (
            UNCONFIGURED
            if row is None
            else GuildFacts(row[0], row[1], tuple(row[2] if row[2] is not None else ()))
        )
        self._facts[guild_id] = (now, found)
        return found

    async def access_role(self, guild_id: int) -> int | None:
        """The role a member needs to use pairbot here (``None``: everyone)."""
        return (await self.facts(guild_id)).access_role_id

    async def moderator_role(self, guild_id: int) -> int | None:
        """The community's moderator role, besides Manage Server (``None``: not set)."""
        return (await self.facts(guild_id)).moderator_role_id

    async def goal_areas(self, guild_id: int) -> tuple[str, ...]:
        return (await self.facts(guild_id)).goal_areas

    def forget(self, guild_id: int) -> None:
        """The community's settings changed here: read them again next time."""
        self._facts.pop(guild_id, None)

    async def _read_flags(self) -> None:
        """Members marked with closed DMs or as gone from the server: a few, read at once."""
        now = self._monotonic()
        if self._closed_read_at is None or now - self._closed_read_at >= self._ttl:
            async with read_only(self._sessions) as session:
                rows = await session.execute(
                    select(
                        Member.guild_id, Member.user_id, Member.dms_closed, Member.left_at
                    ).where(or_(Member.dms_closed.is_(True), Member.left_at.is_not(None)))
                )
                flagged = rows.all()
            self._closed = {(g, u) for g, u, closed, _ in flagged if closed}
            self._left = {(g, u) for g, u, _, left_at in flagged if left_at is not None}
            self._closed_read_at = now

    async def dms_marked_closed(self, guild_id: int, user_id: int) -> bool:
        await self._read_flags()
        return (guild_id, user_id) in self._closed

    async def marked_left(self, guild_id: int, user_id: int) -> bool:
        """Whether the member is marked as gone from the server (see services.departures)."""
        await self._read_flags()
        return (guild_id, user_id) in self._left

    def known_left(self, guild_id: int, user_id: int) -> bool:
        """What this process last heard (no database read)."""
        return (guild_id, user_id) in self._left

    def departed(self, guild_id: int, user_id: int) -> None:
        self._left.add((guild_id, user_id))

    def returned(self, guild_id: int, user_id: int) -> None:
        self._left.discard((guild_id, user_id))

    def marked_closed(self, guild_id: int, user_id: int) -> None:
        self._closed.add((guild_id, user_id))

    def cleared(self, guild_id: int, user_id: int) -> None:
        self._closed.discard((guild_id, user_id))

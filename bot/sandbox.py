"""The real bot, wired to the local Discord emulator: used by the end-to-end tests and by
``pairbot demo``. Everything is real (discord.py over sockets, the database, the scheduler's
handlers) except time, which only moves when told to.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.app import Deps, PairBot, build_bot
from bot.clock import Clock, FakeClock
from bot.config import Settings
from bot.db import create_engine, create_sessionmaker, unit_of_work
from bot.interactions import background_settled
from bot.metrics import Metrics
from bot.scheduler import Ticker
from bot.services import outbox
from bot.services.guilds import configure
from emulator import Channel, Emulator, Guild, Member
from emulator.client import run_bot

log = logging.getLogger(__name__)


@dataclass
class Sandbox:
    emu: Emulator
    bot: PairBot
    guild: Guild
    clock: FakeClock
    forum: Channel
    pairs: Channel
    mods: Channel
    moderator: Member
    members: dict[str, Member] = field(default_factory=dict)

    def member(self, name: str, **kwargs: Any) -> Member:
        """A person joins the server (once per name)."""
        if name not in self.members:
            self.members[name] = self.guild.add_member(name, **kwargs)
        return self.members[name]

    def forum_for(self, member: Member) -> Channel:
        """The partner forum of the member's server (a sandbox has one server)."""
        return self.forum

    async def tick(self) -> None:
        """Run the scheduler's tick now, as the interval job would (after the marks that
        interactions write in the background, as a real tick would find them a moment later)."""
        await background_settled()
        await self.bot.deps.ticker.tick()

    async def advance(self, delta: timedelta, *, step: timedelta | None = None) -> None:
        """Move time forward, ticking every ``step`` (default: once at the end)."""
        if step is None:
            self.clock.advance(delta)
            await self.tick()
            return
        end = self.clock.now() + delta
        while self.clock.now() < end:
            self.clock.set(min(end, self.clock.now() + step))
            await self.tick()

    async def travel_to(self, moment: datetime, *, step: timedelta | None = None) -> None:
        await self.advance(moment - self.clock.now(), step=step)

    async def live_until(
        self,
        moment: datetime,
        *,
        max_step: timedelta = timedelta(hours=6),
        after_tick: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Move the clock to ``moment`` as a running bot lives through it: a tick whenever
        outbox work falls due (and at least every ``max_step``), and one more right after to
        send what that work queued. ``after_tick`` lets simulated people react right away."""
        await self.tick()
        while self.clock.now() < moment:
            async with self.bot.deps.sessions() as session:
                due = await outbox.next_due_at(session, after=self.clock.now())
            step = min(moment, self.clock.now() + max_step)
            if due is not None:
                step = min(step, due)
            self.clock.set(step)
            await self.tick()
            await self.tick()
            if after_tick is not None:
                await after_tick()


@asynccontextmanager
async def sandbox(
    *,
    database_url: str,
    clock: FakeClock,
    guild_name: str = "Study Hall",
    configure_guild: bool = True,
    metrics: Metrics | None = None,
    wall_clock: Clock | None = None,
    **settings: Any,
) -> AsyncIterator[Sandbox]:
    """An emulator with a community (a partner forum, a #pairs channel for private threads, a
    #mods channel and a moderator), and the real PairBot connected to it. The database at
    ``database_url`` must already be migrated. The scheduler's interval is set far out so that
    only explicit :meth:`Sandbox.tick` calls run due work: tests stay deterministic.
    ``metrics`` measures the bot (none by default); ``wall_clock`` replaces the real time the bot
    tells an interaction's age by (a test skews it to make interactions look old)."""
    async with Emulator(interaction_deadline=3.0) as emu:
        # Discord's rate limits are on; they, the nonce window and the bot's pacing count on
        # the emulator's clock, which follows the fake clock (plus the time spent waiting).
        emu.clock.follow(clock.now)
        guild = emu.create_guild(guild_name)
        forum = guild.create_forum("find-a-partner")
        pairs = guild.create_text_channel("pairs")
        mods = guild.create_text_channel("mods")
        moderator = guild.add_member("mod", admin=True)
        engine = create_engine(database_url)
        deps = Deps(
            settings=Settings(dev_guild_id=guild.id, tick_seconds=3600, **settings),
            engine=engine,
            sessions=create_sessionmaker(engine),
            clock=clock,
            ticker=Ticker(3600),
            pace_clock=emu.clock,
            metrics=metrics,
        )
        if wall_clock is not None:
            deps.wall_clock = wall_clock
        if configure_guild:
            async with unit_of_work(deps.sessions) as session:
                await configure(
                    session,
                    guild_id=guild.id,
                    now=clock.now(),
                    forum_channel_id=forum.id,
                    pair_channel_id=pairs.id,
                    mod_channel_id=mods.id,
                )
        bot = build_bot(deps, guild_ready_timeout=0.05)
        try:
            async with run_bot(emu, bot):
                await deps.ticker.tick()  # let the start-up catch-up tick finish
                yield Sandbox(emu, bot, guild, clock, forum, pairs, mods, moderator)
        finally:
            await engine.dispose()

"""The Bot: loads every cog, starts the tick, syncs commands, and shuts down cleanly."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import discord
import yarl
from discord.ext import commands
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.access import AccessCache
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.dispatch import DiscordMessenger, Dispatcher, Pacer, SharedPacer
from bot.interactions import PairTree
from bot.metrics import Metrics, OpsServer, serve
from bot.pacing import PaceClock, RoutePacer, pace_requests
from bot.scheduler import Ticker
from bot.services.ports import Messenger
from bot.startup import StartupError
from cogs import EXTENSIONS

log = logging.getLogger(__name__)


@dataclass
class Deps:
    """What the bot's parts need, built once in ``__main__`` (or a test) and handed in."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    ticker: Ticker
    extras: dict[str, Any] = field(default_factory=dict)
    # How the dispatcher sends; None means the real discord.py client (tests may substitute).
    messenger: Messenger | None = None
    # The process's metrics (bot.metrics); served on /metrics and /healthz when
    # settings.metrics_enabled. None: nothing is measured.
    metrics: Metrics | None = None
    # What the bot paces its requests on: None is the event loop's clock; the sandbox passes
    # the emulator's clock, which follows the tests' fake clock (no real-time waits).
    pace_clock: PaceClock | None = None
    # Real time, to tell how old an interaction is (its snowflake is Discord's real time), even
    # while ``clock`` is a test's or the demo's FakeClock. Tests may skew it.
    wall_clock: Clock = field(default_factory=SystemClock)


def point_at(api_base_url: str | None, gateway_url: str | None) -> None:
    """Send discord.py's REST and gateway traffic somewhere other than discord.com (the
    emulator). Interaction callbacks and webhooks share ``Route.BASE``."""
    if api_base_url:
        discord.http.Route.BASE = api_base_url.rstrip("/")
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class PairBot(commands.Bot):
    def __init__(
        self, deps: Deps, *, extensions: tuple[str, ...] = EXTENSIONS, **options: Any
    ) -> None:
        intents = discord.Intents.default()  # no privileged intents: members, message content
        # Optional: with Server Members on in the portal, departures arrive as they happen
        # (GUILD_MEMBER_REMOVE) instead of being found out when a message can't be delivered.
        intents.members = deps.settings.members_intent
        if deps.metrics is not None and "http_trace" not in options:
            options["http_trace"] = deps.metrics.http_trace()  # requests and 429s
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=PairTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.deps = deps
        settings = deps.settings
        # Every REST request: under the global limit and one under each tight route limit.
        self.request_pacer = RoutePacer(
            global_per_second=settings.send_rate_per_second, clock=deps.pace_clock
        )
        pace_requests(self, self.request_pacer)
        self.add_listener(self._own_message, "on_message")
        self._extensions = extensions
        self.failed_extensions: list[str] = []
        self._closed_cleanly = False
        self.access = AccessCache(deps.sessions)
        self.ops_server: OpsServer | None = None
        # Built before the cogs load so that features can register their due-work handlers.
        messenger = deps.messenger or DiscordMessenger(
            self,
            rate_per_second=settings.send_rate_per_second,
            # The request pacer spaces this process's requests; several processes share
            # PostgreSQL, and so one send budget besides. SQLite is one process.
            pacer=self._shared_pacer() if deps.engine.dialect.name == "postgresql" else Pacer(None),
        )
        self.dispatcher = Dispatcher(
            on_dms_closed=self.access.marked_closed,
            on_departed=self.access.departed,
            sessions=deps.sessions,
            clock=deps.clock,
            messenger=messenger,
            membership=messenger.still_member
            if isinstance(messenger, DiscordMessenger)
            else None,
            batch_size=settings.claim_batch_size,
            lease=timedelta(seconds=settings.lease_seconds),
            on_outcomes=self._count_deliveries if deps.metrics is not None else None,
            shards=claimed_shards(settings),
        )

    async def _own_message(self, message: discord.Message) -> None:
        """Our own sends come back on the gateway with their nonce: the dispatcher's receipts."""
        if self.user is not None and message.author.id == self.user.id:
            nonce = message.nonce if isinstance(message.nonce, str) else None
            self.dispatcher.saw_own_message(
                nonce=nonce, message_id=message.id, channel_id=message.channel.id
            )

    def _shared_pacer(self) -> SharedPacer:
        deps = self.deps
        rate = deps.settings.send_rate_per_second
        if deps.pace_clock is None:
            return SharedPacer(deps.sessions, rate_per_second=rate, local=Pacer(None))
        clock = deps.pace_clock
        return SharedPacer(
            deps.sessions,
            rate_per_second=rate,
            time=clock.now,
            sleep=clock.sleep,
            local=Pacer(None),
        )

    def _count_deliveries(self, counts: dict[str, int]) -> None:
        if self.deps.metrics is not None:
            for state, n in counts.items():
                self.deps.metrics.delivery(state, n)

    async def setup_hook(self) -> None:
        for name in self._extensions:
            try:
                await self.load_extension(name)
            except Exception:
                self.failed_extensions.append(name)
                log.exception("extension %s failed to load; carrying on without it", name)
        await self.sync_commands()
        self.deps.ticker.add_handler("dispatch", self.dispatcher.run_once)
        metrics, settings = self.deps.metrics, self.deps.settings
        if metrics is not None and settings.metrics_enabled:
            self.deps.ticker.add_handler(
                "metrics", lambda: metrics.refresh_outbox(self.deps.sessions, self.deps.clock)
            )
            try:
                self.ops_server = await serve(
                    metrics,
                    host=settings.metrics_host,
                    port=settings.metrics_port,
                    # Healthy while a tick finished within three intervals (and a minute's grace).
                    stale_after=3 * settings.tick_seconds + 60,
                    connected=lambda: self.is_ready() and not self.is_closed(),
                )
            except OSError as exc:
                raise StartupError(
                    f"cannot serve /metrics on {settings.metrics_host}:{settings.metrics_port} "
                    f"({exc.strerror or exc}); choose another metrics_port or set "
                    "metrics_enabled = false"
                ) from None
        self.deps.ticker.start()

    async def sync_commands(self) -> None:
        guild_id = self.deps.settings.dev_guild_id
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to development guild %s", len(synced), guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d global commands", len(synced))

    async def on_ready(self) -> None:
        log.info("connected as %s in %d server(s)", self.user, len(self.guilds))

    async def on_shard_ready(self, shard_id: int) -> None:
        log.info("shard %d of %s ready", shard_id, self.shard_count)

    async def close(self) -> None:
        """Stop the scheduler (letting a running tick finish), the gateway, then the database.
        Safe to call more than once."""
        if self._closed_cleanly:
            return
        await self.deps.ticker.stop()
        if self.ops_server is not None:
            await self.ops_server.stop()
        await super().close()
        await self.deps.engine.dispose()
        self._closed_cleanly = True
        log.info("pairbot stopped cleanly")


class ShardedPairBot(PairBot, commands.AutoShardedBot):
    """PairBot running several shards in one process (discord.py's ``AutoShardedBot``): each
    shard is its own gateway session, carrying only the events and interactions of its guilds.
    Still a :class:`PairBot`, so the cogs see the same bot."""


def shard_options(settings: Settings) -> dict[str, Any]:
    """discord.py's sharding options for this process (none for an unsharded bot)."""
    shards = settings.shards
    if shards is None:
        return {}
    count, ids = shards
    if len(ids) == 1:
        return {"shard_id": ids[0], "shard_count": count}
    return {"shard_ids": ids, "shard_count": count}


def claimed_shards(settings: Settings) -> tuple[int, list[int]] | None:
    """Whose outbox work this process claims: only its shards' guilds' when it runs some of the
    bot's shards (another process has the rest), everyone's otherwise."""
    shards = settings.shards
    if shards is None or len(shards[1]) == shards[0]:
        return None
    return shards


def build_bot(deps: Deps, **options: Any) -> PairBot:
    """The bot for this process's shards: a :class:`ShardedPairBot` when it runs more than one
    shard, else a plain :class:`PairBot` (told its one shard, if the bot is sharded)."""
    sharding = shard_options(deps.settings)
    cls = ShardedPairBot if "shard_ids" in sharding else PairBot
    return cls(deps, **sharding, **options)

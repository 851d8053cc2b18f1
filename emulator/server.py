"""The :class:`Emulator`: one aiohttp server on 127.0.0.1 serving REST, the gateway and uploads."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .clock import EmulatorClock
from .errors import EmulatorError, Violation
from .faults import Faults, RoutePattern
from .gateway import PRIVILEGED_INTENTS, Gateway
from .interactions import Actions, InteractionRecord
from .model import Guild, User
from .permissions import DEFAULT_BOT, DEFAULT_EVERYONE
from .rest import RequestRecord, Rest
from .world import World

T = TypeVar("T")


class Emulator:
    """A local Discord that the real discord.py talks to over real sockets.

    ``async with Emulator() as emu:`` starts it on an ephemeral port; point discord.py at it with
    :func:`emulator.client.point_discord_py_at`, create guilds and members, and drive the bot
    through the members (``await alice.slash("profile edit", timezone="Europe/Berlin")``).
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        bot_name: str = "pairbot",
        interaction_deadline: float = 3.0,
        reply_timeout: float = 10.0,
        token_lifetime: float = 900.0,
        heartbeat_interval_ms: int = 41_250,
        heartbeat_grace: float = 5.0,
        gateway_clock: Callable[[], float] = time.monotonic,
        compress_gateway: bool = True,
        shard_count: int = 1,
        privileged_intents: int = PRIVILEGED_INTENTS,
        nonce_window: float = 300.0,
        route_limit: tuple[int, float] = (1000, 1.0),
        discord_limits: bool = True,
        clock: EmulatorClock | None = None,
    ) -> None:
        #: Rate limits and the nonce window count on it; ``emu.clock.follow(fake.now)`` puts
        #: them on a test's fake clock.
        self.clock = clock or EmulatorClock()
        self.world = World(bot_name=bot_name, token=token)
        self.world.nonce_window = nonce_window
        self.world.clock = self.clock
        self.gateway = Gateway(
            self.world,
            heartbeat_interval_ms=heartbeat_interval_ms,
            heartbeat_grace=heartbeat_grace,
            clock=gateway_clock,
            compress=compress_gateway,
            allowed_intents=privileged_intents,
        )
        self.world.gateway = self.gateway
        self.actions = Actions(
            self.world,
            deadline=interaction_deadline,
            reply_timeout=reply_timeout,
            token_lifetime=token_lifetime,
        )
        self.world.actions = self.actions
        self.faults = Faults(self.world.closed_dms, clock=self.clock, discord_limits=discord_limits)
        self.faults.route_limit(*route_limit)
        self.rest = Rest(
            self.world,
            self.actions,
            self.faults,
            self.gateway,
            shard_count=shard_count,
        )
        self._runner: web.AppRunner | None = None
        self._port = 0

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/resume", self.gateway.handle)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment)
        app.router.add_route("*", "/api/{tail:.*}", self.rest.handle)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.world.base_url = self.base_url
        self.gateway.url = self.gateway_url

    async def stop(self) -> None:
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        for message in self.world.messages.values():
            for att in message.attachments:
                if str(att.id) == request.match_info["attachment_id"]:
                    return web.Response(
                        body=att.data, content_type=att.content_type or "application/octet-stream"
                    )
        raise web.HTTPNotFound()

    # --- addresses ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if not self._port:
            raise EmulatorError("the emulator is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What ``discord.http.Route.BASE`` should be."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # --- identity -------------------------------------------------------------------------------
    @property
    def token(self) -> str:
        """The only bot token the emulator accepts."""
        return self.world.token

    @property
    def bot_user(self) -> User:
        return self.world.bot_user

    @property
    def application_id(self) -> int:
        return self.world.application_id

    # --- world building ------------------------------------------------------------------------
    def create_guild(
        self,
        name: str = "Test Server",
        *,
        owner: str = "owner",
        bot_permissions: int = DEFAULT_BOT,
        everyone_permissions: int = DEFAULT_EVERYONE,
        shard: tuple[int, int] | None = None,
        guild_id: int | None = None,
    ) -> Guild:
        """A guild with @everyone, an owner, the bot (with its managed role) and #general;
        ``shard=(shard_id, shard_count)`` gives it an id that shard carries, ``guild_id`` fixes
        its id (a benchmark's prebuilt database names its guilds)."""
        return self.world.create_guild(
            name,
            owner=owner,
            bot_permissions=bot_permissions,
            everyone_permissions=everyone_permissions,
            shard=shard,
            guild_id=guild_id,
        )

    @property
    def guilds(self) -> list[Guild]:
        return list(self.world.guilds.values())

    # --- observing ------------------------------------------------------------------------------
    @property
    def violations(self) -> list[Violation]:
        """Requests Discord would have refused, and routes the emulator does not know."""
        return self.world.violations

    def assert_no_violations(self) -> None:
        if self.violations:
            lines = "\n".join(f"  - {v}" for v in self.violations)
            raise AssertionError(f"{len(self.violations)} Discord API violation(s):\n{lines}")

    @property
    def requests(self) -> list[RequestRecord]:
        return self.rest.requests

    def requests_to(self, route: str) -> list[RequestRecord]:
        """Requests matching ``"POST /channels/*/messages"`` (method optional)."""
        pattern = RoutePattern(route)
        return [r for r in self.requests if pattern.matches(r.method, r.path)]

    @property
    def invalid_requests(self) -> int:
        """401/403/429 answers (Discord bans an IP at 10,000 per 10 minutes)."""
        return self.rest.invalid_requests

    @property
    def interactions(self) -> list[InteractionRecord]:
        return list(self.actions.by_id.values())

    def commands(self, guild: Guild | None = None) -> list[dict[str, Any]]:
        """Synced slash commands (global, or one guild's)."""
        return list(self.world.commands.get(guild.id if guild else None, {}).values())

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float = 5.0) -> T:  # noqa: ASYNC109
        """Wait until ``predicate()`` returns something truthy (re-checked after every change)."""
        return await self.world.wait_for(predicate, timeout=timeout)

    # --- gateway control ------------------------------------------------------------------------
    @property
    def bot_connected(self) -> bool:
        return self.gateway.connected()

    async def wait_until_connected(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until a bot has identified (or resumed) and holds a live socket."""
        await self.world.wait_for(
            self.gateway.connected, timeout=timeout, what="the bot to connect"
        )

    async def drop_gateway(self, *, code: int = 4000) -> None:
        """Close the bot's socket(s); discord.py RESUMEs and missed events are replayed."""
        await self.gateway.drop(code=code)

    async def request_reconnect(self) -> None:
        """Send op 7 (Reconnect)."""
        await self.gateway.request_reconnect()

    async def request_heartbeat(self) -> None:
        """Send op 1 (Heartbeat request); a client that does not answer within the grace is
        closed with 4009 by the zombie check."""
        await self.gateway.request_heartbeat()

    async def close_gateway(self, code: int) -> None:
        """Close the bot's socket(s) with a Discord close code (4000–4014) and its consequence."""
        await self.gateway.kick(code)

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """Send op 9 (Invalid Session)."""
        await self.gateway.invalidate_sessions(resumable=resumable)

"""The bot paces its own REST requests to stay under Discord's rate limits.

Every request discord.py's ``HTTPClient.request`` makes passes through a :class:`RoutePacer`:
at most ``global_per_second`` requests in any second for the whole bot (Discord allows 50), and
one under Discord's limit on the routes that have a tight one (message posts 5 per 5 s per
channel, DM opens, thread creates). So discord.py never sees a 429 from our own sending and
never has to wait out an exhausted bucket.

A request counts in its window from the moment it starts until a full window after it
*finished* (while in flight it blocks its slot): Discord counts a request when it arrives, which
is somewhere in between, so the pacer's windows always cover Discord's.

Time comes from a :class:`PaceClock`: the event loop's in production, the emulator's (which
follows the tests' fake clock) in the sandbox, so pacing never sleeps real time in tests.
aiolimiter and similar libraries read ``loop.time()`` directly and count at the start only,
which is why this is our own.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import discord
import discord.http


class PaceClock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""
        ...

    def sleep(self, seconds: float) -> Awaitable[object]: ...

    @property
    def fake(self) -> bool:
        """A clock that jumps when slept on (tests), rather than one that runs."""
        ...


class LoopClock:
    """The event loop's clock and real sleeps (production)."""

    fake = False

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def sleep(self, seconds: float) -> Awaitable[object]:
        return asyncio.sleep(seconds)


@dataclass(frozen=True)
class RouteLimit:
    limit: int
    per: float
    #: One bucket for the whole bot, not one per channel/guild.
    shared: bool = False


#: Discord's tight limits (see emulator.faults.DISCORD_ROUTE_LIMITS for the same numbers as
#: the emulator enforces them); every other route only counts against the global limit.
DISCORD_ROUTE_LIMITS: dict[tuple[str, str], RouteLimit] = {
    ("POST", "/channels/{channel_id}/messages"): RouteLimit(5, 5.0),
    ("POST", "/users/@me/channels"): RouteLimit(10, 10.0, shared=True),
    ("POST", "/channels/{channel_id}/threads"): RouteLimit(5, 5.0),
    ("POST", "/channels/{channel_id}/messages/{message_id}/threads"): RouteLimit(5, 5.0),
}


class Window:
    """At most ``limit`` requests per ``per`` seconds, a request holding its slot from start
    until ``per`` after it finished."""

    def __init__(self, limit: int, per: float, *, concurrency: int | None = None) -> None:
        self.limit = max(1, limit)
        self.per = per
        self.concurrency = concurrency or self.limit
        # Finish times, oldest first; requests in flight are counted in ``_inflight``.
        self._finished: deque[float] = deque()
        self._inflight = 0
        self._lock = asyncio.Lock()  # FIFO: requests on one route keep their order
        self._released = asyncio.Event()

    async def acquire(self, clock: PaceClock, settle: Callable[[], Awaitable[object]]) -> None:
        """Take a slot; before waiting on the clock, ``settle`` lets the requests already in
        flight finish (they happen now, and their finish times count)."""
        async with self._lock:
            while True:
                now = clock.now()
                while self._finished and now - self._finished[0] >= self.per:
                    self._finished.popleft()
                if len(self._finished) + self._inflight < self.limit and (
                    self._inflight < self.concurrency
                ):
                    self._inflight += 1
                    return
                if self._inflight:  # wait for one to finish, then look again
                    self._released.clear()
                    await self._released.wait()
                    continue
                if await settle():
                    continue  # time may have moved meanwhile
                await clock.sleep(self._finished[0] + self.per - now)

    def idle(self, now: float) -> bool:
        """Nothing in flight, queued or inside the window: the bucket can be forgotten."""
        return (
            not self._inflight
            and not self._lock.locked()
            and all(now - t >= self.per for t in self._finished)
        )

    def release(self, clock: PaceClock) -> None:
        self._inflight -= 1
        now = clock.now()
        # Finish times arrive in order on one clock, except after a clock was set back.
        if self._finished and now < self._finished[-1]:
            now = self._finished[-1]
        self._finished.append(now)
        self._released.set()


class RoutePacer:
    """Paces every request by route and globally (see the module docstring)."""

    def __init__(
        self,
        *,
        global_per_second: float = 40.0,
        limits: dict[tuple[str, str], RouteLimit] | None = None,
        clock: PaceClock | None = None,
    ) -> None:
        self.clock: PaceClock = clock or LoopClock()
        self.limits = DISCORD_ROUTE_LIMITS if limits is None else limits
        self._global = Window(max(1, int(global_per_second)), 1.0)
        self._routes: dict[str, Window] = {}
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._slots_taken = 0
        #: Requests that had to wait, and for how long in total (seconds on the pace clock).
        self.waits = 0
        self.waited = 0.0

    def _window(self, method: str, path: str, major: str) -> Window | None:
        limit = self.limits.get((method, path))
        if limit is None:
            return None
        key = f"{method} {path}:{'' if limit.shared else major}"
        window = self._routes.get(key)
        if window is None:
            self._forget_idle_windows()
            # One under Discord's limit, so a bucket never reports 0 remaining; one at a time,
            # because discord.py counts requests in flight against the bucket's remaining
            # and sleeps out the whole reset when that looks used up.
            window = self._routes[key] = Window(limit.limit - 1, limit.per, concurrency=1)
        return window

    @asynccontextmanager
    async def slot(self, method: str, path: str, major: str = "") -> AsyncIterator[None]:
        started = self.clock.now()
        windows = [w for w in (self._window(method, path, major), self._global) if w]
        held: list[Window] = []
        flying = False
        try:
            for window in windows:
                await window.acquire(self.clock, self._settle)
                held.append(window)
            waited = self.clock.now() - started
            if waited > 0:
                self.waits += 1
                self.waited += waited
            self._inflight += 1
            self._idle.clear()
            flying = True
            yield
        finally:
            if flying:
                self._inflight -= 1
                if not self._inflight:
                    self._idle.set()
            for window in held:
                window.release(self.clock)

    def _forget_idle_windows(self) -> None:
        """Every few hundred new buckets, drop those with nothing in their window any more
        (one per DM channel would otherwise pile up for good)."""
        self._slots_taken += 1
        if self._slots_taken % 512:
            return
        now = self.clock.now()
        for key, window in list(self._routes.items()):
            if window.idle(now):
                del self._routes[key]

    async def _settle(self) -> bool:
        """On a fake clock (which jumps when slept on), wait until none of the bot's requests
        is in flight; whether there was one. A wait on the clock then starts after everything
        already sent has been answered, so no request in flight is stamped late. A real clock
        runs on its own: nothing to wait for."""
        if not self.clock.fake or not self._inflight:
            return False
        await self._idle.wait()
        return True


def pace_requests(client: discord.Client, pacer: RoutePacer) -> None:
    """Route every ``client.http.request`` through ``pacer``."""
    http = client.http
    original: Callable[..., Awaitable[Any]] = http.request

    async def request(route: discord.http.Route, *args: Any, **kwargs: Any) -> Any:
        async with pacer.slot(route.method, route.path, route.major_parameters):
            return await original(route, *args, **kwargs)

    http.request = request  # type: ignore[method-assign]

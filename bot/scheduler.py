"""The tick: APScheduler 3 runs one in-memory interval job that drives every kind of due work.

APScheduler is only the metronome. The database is the store of record (see the outbox), so a
tick that is missed or cut short loses nothing: the next one picks the work up. One tick runs at
start-up to catch up after downtime.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

TICK_JOB_ID = "pairbot-tick"

TickHandler = Callable[[], Awaitable[object]]


class Ticker:
    """Runs its handlers one after another on every tick; a failing handler is logged and the
    others still run."""

    def __init__(self, interval_seconds: float) -> None:
        self.interval_seconds = interval_seconds
        self._handlers: list[tuple[str, TickHandler]] = []
        self._scheduler: AsyncIOScheduler | None = None
        self._lock = asyncio.Lock()
        self._kicks: set[asyncio.Task[None]] = set()
        self._stopped = False
        self._kick_waiting = False
        self.ticks = 0

    def add_handler(self, name: str, handler: TickHandler) -> None:
        self._handlers.append((name, handler))

    async def tick(self) -> None:
        """Run every handler once. Concurrent calls wait for each other instead of overlapping."""
        async with self._lock:
            await self._run_handlers()

    async def _run_handlers(self) -> None:
        """One tick's work, under the lock (subclasses time it here)."""
        if self._stopped:
            return
        self.ticks += 1
        for name, handler in self._handlers:
            try:
                await handler()
            except Exception:
                log.exception("tick handler %s failed; it will run again next tick", name)

    def kick(self) -> None:
        """Run a tick soon, without waiting for the interval (work a member is waiting for:
        a request to deliver, a reply to send). Durable either way: the rows are already stored.

        Kicks coalesce: while one kicked tick is still waiting to start, more kicks add
        nothing, since that tick will see everything stored before it starts."""
        if self._scheduler is None or self._kick_waiting:
            return
        self._kick_waiting = True
        task = asyncio.get_running_loop().create_task(self._kicked())
        self._kicks.add(task)
        task.add_done_callback(self._kicks.discard)

    async def settled(self) -> None:
        """Wait until every kicked tick has run (a simulation does this before it moves its
        clock, so a kick sees the moment it was kicked at, as it would in a live bot)."""
        while self._kicks:
            await asyncio.gather(*self._kicks, return_exceptions=True)

    async def _kicked(self) -> None:
        async with self._lock:
            self._kick_waiting = False
            await self._run_handlers()

    async def _interval(self) -> None:
        """The interval job: a kick, not the tick itself. APScheduler cancels the jobs it is
        running when it shuts down, and a tick cut off half-way (mid-send, mid-transaction) is
        what :meth:`stop` promises not to do; a kicked tick is this Ticker's own task, which
        :meth:`stop` lets finish."""
        self.kick()

    def start(self) -> None:
        """Schedule the interval job and run one catch-up tick now."""
        if self._scheduler is not None:
            return
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.add_job(
            self._interval,
            "interval",
            seconds=self.interval_seconds,
            id=TICK_JOB_ID,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        scheduler.start()
        self._scheduler = scheduler
        self._catch_up = asyncio.get_running_loop().create_task(self.tick())

    async def stop(self) -> None:
        if self._scheduler is None:
            return
        self._scheduler.shutdown(wait=False)
        self._scheduler = None
        self._stopped = True
        async with self._lock:  # let a running tick finish its unit of work
            pass
        await asyncio.gather(self._catch_up, *self._kicks, return_exceptions=True)

    @property
    def running(self) -> bool:
        return self._scheduler is not None

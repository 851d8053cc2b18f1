"""What operators can see: Prometheus metrics (``prometheus-client``) and a health check, served
on ``GET /metrics`` and ``GET /healthz`` when ``metrics_enabled`` is set (loopback by default).

The metrics live in their own registry (:class:`Metrics`), one per process, so tests and a
second bot in one process never share counters. Where a measurement is taken:

- command latency (interaction created → first response, and → final answer) and missed
  deadlines:
  :meth:`Metrics.first_response`, called by ``bot/interactions.py`` when the first response
  (a defer or a reply) has gone out; :meth:`Metrics.dropped_too_old` for an interaction dropped
  because it was already past Discord's deadline;
- tick length: :class:`TimedTicker` (each handler and the whole tick);
- outbox depth and the age of the oldest due row: refreshed once per tick
  (:meth:`Metrics.refresh_outbox`, a tick handler);
- sends and 429s: every HTTP request discord.py makes, through aiohttp's trace hooks
  (:meth:`Metrics.http_trace`), and each delivery's outcome from the dispatcher
  (:meth:`Metrics.delivery`).

Nothing private is a label: only command names, handler names, outcome states and HTTP
methods and statuses.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.db import unit_of_work
from bot.scheduler import Ticker, TickHandler
from bot.services import outbox

log = logging.getLogger(__name__)

DEADLINE_SECONDS = 3.0  # Discord's: an interaction not answered in 3 s has failed
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0, 30.0)
TICK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class Metrics:
    """Every metric the bot exports, in one registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.command_latency = Histogram(
            "pairbot_command_first_response_seconds",
            "From the interaction's creation (its snowflake) to pairbot's first response.",
            ["command"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.final_answer_latency = Histogram(
            "pairbot_command_final_answer_seconds",
            "From the interaction's creation (its snowflake) to the answer the member reads "
            "(the followup after the defer, or a first response that was the answer).",
            ["command"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.deadlines_missed = Counter(
            "pairbot_deadlines_missed_total",
            "Interactions whose first response came after Discord's 3 s deadline, or that were "
            "dropped because they were already too old.",
            ["command", "why"],
            registry=r,
        )
        self.tick_seconds = Histogram(
            "pairbot_tick_seconds",
            "How long one tick took, in all and per handler ('all' is the whole tick).",
            ["handler"],
            buckets=TICK_BUCKETS,
            registry=r,
        )
        self.tick_failures = Counter(
            "pairbot_tick_handler_failures_total",
            "Tick handlers that raised (logged; they run again next tick).",
            ["handler"],
            registry=r,
        )
        self.outbox_due = Gauge(
            "pairbot_outbox_due_rows",
            "Outbox rows due now and not yet sent (pending, next attempt in the past).",
            registry=r,
        )
        self.outbox_oldest_due_age = Gauge(
            "pairbot_outbox_oldest_due_age_seconds",
            "How long the oldest due outbox row has been waiting (0 when none is due).",
            registry=r,
        )
        self.deliveries = Counter(
            "pairbot_deliveries_total",
            "Outbox deliveries by what happened (sent, failed, retry).",
            ["outcome"],
            registry=r,
        )
        self.http_requests = Counter(
            "pairbot_discord_requests_total",
            "HTTP requests to Discord by method and status class (2xx, 4xx, 429, 5xx, error).",
            ["method", "status"],
            registry=r,
        )
        self.rate_limited = Counter(
            "pairbot_discord_429_total",
            "Responses with status 429 (discord.py waits them out and retries).",
            registry=r,
        )
        self.last_tick_finished: float | None = None  # time.monotonic()

    # ------------------------------------------------------------------- measurement points

    def first_response(self, command: str, created_at: datetime, responded_at: datetime) -> None:
        """The first response to an interaction went out at ``responded_at``; ``created_at`` is
        the interaction's own creation time (``interaction.created_at``, from its snowflake).

        To be called by ``bot/interactions.py`` right after the defer or the first reply
        succeeds (once per interaction), with ``command`` the command's qualified name (or
        ``"component"``/``"modal"``)."""
        seconds = max(0.0, (responded_at - created_at).total_seconds())
        self.command_latency.labels(command).observe(seconds)
        if seconds > DEADLINE_SECONDS:
            self.deadlines_missed.labels(command, "late").inc()

    def final_answer(self, command: str, created_at: datetime, answered_at: datetime) -> None:
        """The member's answer was sent at ``answered_at`` (once per interaction; taken as the
        request starts, so that it is recorded by the time the member can read the answer)."""
        seconds = max(0.0, (answered_at - created_at).total_seconds())
        self.final_answer_latency.labels(command).observe(seconds)

    def dropped_too_old(self, command: str) -> None:
        """An interaction was dropped unanswered because it was already past the deadline."""
        self.deadlines_missed.labels(command, "dropped").inc()

    def delivery(self, outcome: str, count: int = 1) -> None:
        if count:
            self.deliveries.labels(outcome).inc(count)

    def tick_finished(self) -> None:
        self.last_tick_finished = time.monotonic()

    def http_trace(self) -> aiohttp.TraceConfig:
        """An aiohttp trace config for ``discord.Client(http_trace=...)``: counts every request
        discord.py makes, and each 429 (including the ones it retries by itself)."""
        trace = aiohttp.TraceConfig()

        async def on_end(
            _session: aiohttp.ClientSession,
            _ctx: SimpleNamespace,
            params: aiohttp.TraceRequestEndParams,
        ) -> None:
            status = params.response.status
            label = "429" if status == 429 else f"{status // 100}xx"
            self.http_requests.labels(params.method, label).inc()
            if status == 429:
                self.rate_limited.inc()

        async def on_error(
            _session: aiohttp.ClientSession,
            _ctx: SimpleNamespace,
            params: aiohttp.TraceRequestExceptionParams,
        ) -> None:
            self.http_requests.labels(params.method, "error").inc()

        trace.on_request_end.append(on_end)
        trace.on_request_exception.append(on_error)
        return trace

    async def refresh_outbox(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock
    ) -> None:
        """Set the outbox gauges from the database (one indexed query)."""
        async with unit_of_work(sessions) as session:
            now = clock.now()
            due, oldest = await outbox.due_backlog(session, now=now)
        self.outbox_due.set(due)
        self.outbox_oldest_due_age.set(
            max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class TimedTicker(Ticker):
    """The ticker, timing each handler and each whole tick into :class:`Metrics`."""

    def __init__(self, interval_seconds: float, metrics: Metrics) -> None:
        super().__init__(interval_seconds)
        self.metrics = metrics

    def add_handler(self, name: str, handler: TickHandler) -> None:
        histogram = self.metrics.tick_seconds.labels(name)
        failures = self.metrics.tick_failures.labels(name)

        async def timed() -> object:
            started = time.perf_counter()
            try:
                return await handler()
            except Exception:
                failures.inc()
                raise
            finally:
                histogram.observe(time.perf_counter() - started)

        super().add_handler(name, timed)

    async def _run_handlers(self) -> None:
        """Every tick, the interval's and a kicked one alike, without the wait for the lock."""
        started = time.perf_counter()
        await super()._run_handlers()
        self.metrics.tick_seconds.labels("all").observe(time.perf_counter() - started)
        self.metrics.tick_finished()


# --------------------------------------------------------------------------- the HTTP endpoint


@dataclass
class Health:
    """What ``/healthz`` reports: healthy while the gateway is connected and the tick has run
    within ``stale_after`` seconds (a stuck tick means reminders are not going out)."""

    metrics: Metrics
    stale_after: float
    connected: Callable[[], bool]
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = time.monotonic()

    def report(self) -> tuple[bool, dict[str, Any]]:
        now = time.monotonic()
        last = self.metrics.last_tick_finished
        tick_age = now - last if last is not None else None
        problems = []
        if not self.connected():
            problems.append("not connected to Discord")
        if tick_age is None:
            if now - self.started > self.stale_after:
                problems.append("no tick has finished yet")
        elif tick_age > self.stale_after:
            problems.append(f"the last tick finished {tick_age:.0f} s ago")
        body = {
            "status": "ok" if not problems else "unhealthy",
            "problems": problems,
            "discord_connected": self.connected(),
            "seconds_since_last_tick": None if tick_age is None else round(tick_age, 3),
        }
        return not problems, body


class OpsServer:
    """``GET /healthz`` and ``GET /metrics`` on ``host:port`` (aiohttp, in the bot's own event
    loop). Port 0 picks a free port (see :attr:`port` once started)."""

    def __init__(self, health: Health, *, host: str, port: int) -> None:
        self.health = health
        self.host = host
        self.requested_port = port
        self.port = port
        self._runner: web.AppRunner | None = None

    async def _healthz(self, _request: web.Request) -> web.Response:
        ok, body = self.health.report()
        return web.Response(
            text=json.dumps(body), status=200 if ok else 503, content_type="application/json"
        )

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(
            body=self.health.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def serve(
    metrics: Metrics, *, host: str, port: int, stale_after: float, connected: Callable[[], bool]
) -> OpsServer:
    server = OpsServer(
        Health(metrics, stale_after=stale_after, connected=connected), host=host, port=port
    )
    await server.start()
    return server

"""The one place that imports discord.py: point it at the emulator, and run a bot against it."""

from __future__ import annotations

import asyncio
import contextlib
import types
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import discord
import discord.gateway
import discord.http
import discord.webhook.async_
import yarl

from .server import Emulator

ClientT = TypeVar("ClientT", bound=discord.Client)


def point_discord_py_at(emulator: Emulator) -> Callable[[], None]:
    """Send discord.py's REST (including interaction webhooks) and gateway to the emulator.

    Both are class attributes, so this affects every client in the process; call the returned
    function to restore Discord's real addresses.
    """
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = emulator.api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(emulator.gateway_url)

    undo_sleeps = sleep_on_emulator_clock(emulator) if emulator.clock.fake else None

    def undo() -> None:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway
        if undo_sleeps is not None:
            undo_sleeps()

    return undo


class _AsyncioOnClock(types.ModuleType):
    """``asyncio`` as discord.py's HTTP modules see it, except that ``sleep`` (waiting out a
    429, a bucket's reset or a 5xx retry) is a wait on the emulator's clock."""

    def __init__(self, sleep: Callable[[float], Any]) -> None:
        super().__init__("asyncio")
        self._sleep = sleep

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, delay: float, result: Any = None) -> Any:
        await self._sleep(delay)
        return result


def sleep_on_emulator_clock(emulator: Emulator) -> Callable[[], None]:
    """Make discord.py's rate-limit and retry sleeps waits on ``emulator.clock`` (a fake clock
    in tests: no real-time waits); returns the undo function."""
    modules = (discord.http, discord.webhook.async_)
    old = [m.asyncio for m in modules]
    shim = _AsyncioOnClock(emulator.clock.sleep)
    for module in modules:
        module.asyncio = shim  # type: ignore[attr-defined]

    def undo() -> None:
        for module, previous in zip(modules, old, strict=True):
            module.asyncio = previous  # type: ignore[attr-defined]

    return undo


@contextlib.asynccontextmanager
async def run_bot(
    emulator: Emulator, client: ClientT, *, ready_timeout: float = 10.0
) -> AsyncIterator[ClientT]:
    """Start ``client`` against the emulator, wait for ``on_ready``, and close it afterwards.

    Build the client with a small ``guild_ready_timeout`` (e.g. 0.05): discord.py waits that long
    after the last GUILD_CREATE before READY.
    """
    undo = point_discord_py_at(emulator)
    task = asyncio.create_task(client.start(emulator.token), name="emulator-bot")
    try:
        ready = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait(
            {ready, task}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            ready.cancel()
            task.result()
            raise RuntimeError("the bot stopped before it was ready")
        if ready not in done:
            ready.cancel()
            raise TimeoutError(f"the bot was not ready within {ready_timeout}s")
        yield client
    finally:
        await client.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, timeout=5)
        undo()

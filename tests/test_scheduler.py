"""The tick's scheduler (bot/scheduler.py): stopping lets a tick that the interval job started
finish its work instead of cutting it off half-way (APScheduler cancels the jobs it runs when it
shuts down; with two shards a process ticked so often that every SIGTERM cut a tick off)."""

from __future__ import annotations

import asyncio

from bot.scheduler import Ticker


async def test_stop_lets_an_interval_tick_finish_instead_of_cancelling_it() -> None:
    ticker = Ticker(0.01)
    calls = 0
    running = asyncio.Event()
    release = asyncio.Event()
    finished: list[str] = []

    async def handler() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            return  # the catch-up tick that start() runs itself
        running.set()
        try:
            await release.wait()
        except asyncio.CancelledError:
            finished.append("cancelled")
            raise
        finished.append("finished")

    ticker.add_handler("slow", handler)
    ticker.start()
    await asyncio.wait_for(running.wait(), timeout=10)  # a tick the interval job started
    stopping = asyncio.create_task(ticker.stop())
    await asyncio.sleep(0)
    release.set()
    await asyncio.wait_for(stopping, timeout=10)
    assert finished == ["finished"]
    assert not ticker.running

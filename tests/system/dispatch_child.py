"""A bot process reduced to its dispatcher, for the system tests that kill it: the real
Dispatcher, the real discord.py messenger pointed at an emulator, the real clock, a database
given by URL. It ticks until no work is pending or claimed, then prints ``done``.

``python -m tests.system.dispatch_child --db URL --api URL --token T [--lease S] ...``
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from datetime import timedelta

import discord

from bot.clock import SystemClock
from bot.db import create_engine, create_sessionmaker
from bot.dispatch import DiscordMessenger, Dispatcher
from bot.services import outbox

log = logging.getLogger(__name__)


async def run(args: argparse.Namespace) -> int:
    discord.http.Route.BASE = args.api.rstrip("/")
    engine = create_engine(args.db)
    sessions = create_sessionmaker(engine)
    client = discord.Client(intents=discord.Intents.none())
    await client.login(args.token)
    dispatcher = Dispatcher(
        sessions=sessions,
        clock=SystemClock(),
        messenger=DiscordMessenger(client, rate_per_second=args.rate),
        batch_size=args.batch,
        lease=timedelta(seconds=args.lease),
        max_in_flight=args.in_flight,
        max_attempts=args.max_attempts,
    )
    print(f"ready {dispatcher.worker}", flush=True)
    deadline = time.monotonic() + args.max_seconds
    status = 1
    try:
        while time.monotonic() < deadline:
            await dispatcher.run_once()
            async with sessions() as session:
                counts = await outbox.state_counts(session)
            if counts.get("pending", 0) + counts.get("claimed", 0) == 0:
                print("done", flush=True)
                status = 0
                break
            await asyncio.sleep(args.tick)
    finally:
        await client.close()
        await engine.dispose()
    return status


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--api", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--tick", type=float, default=0.2)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--in-flight", type=int, default=10)
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--max-attempts", type=int, default=100)
    parser.add_argument("--max-seconds", type=float, default=40.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())

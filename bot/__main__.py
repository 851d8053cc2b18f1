"""The ``pairbot`` command line: run, migrate, check-config, demo, match."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot import __version__
from bot.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("pairbot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pairbot", description="Accountability partners for Discord communities."
    )
    parser.add_argument("--version", action="version", version=f"pairbot {__version__}")
    parser.add_argument(
        "--config", type=Path, help="config file (default: $PAIRBOT_CONFIG, else ./config.toml)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="connect to Discord and serve the community")
    sub.add_parser("migrate", help="upgrade the database to the newest schema")
    sub.add_parser("check-config", help="validate the configuration and exit")
    backup = sub.add_parser(
        "backup", help="copy the SQLite database to a file, safely while pairbot runs"
    )
    backup.add_argument("destination", type=Path, help="the backup file to write")
    demo = sub.add_parser(
        "demo", help="run the bot against a local Discord emulator with a simulated community"
    )
    demo.add_argument("--members", type=positive_int, default=24, help="community size")
    demo.add_argument("--weeks", type=positive_int, default=4, help="simulated weeks")
    demo.add_argument("--seed", type=int, default=7, help="makes the community reproducible")
    demo.add_argument("--transcript", type=Path, help="also write the transcript to FILE")
    simulate = sub.add_parser(
        "simulate",
        help="live a seeded community through weeks with the real bot and check its invariants",
    )
    simulate.add_argument("--members", type=positive_int, default=60, help="community size")
    simulate.add_argument("--weeks", type=positive_int, default=4, help="simulated weeks")
    simulate.add_argument("--seed", type=int, default=1, help="makes the community reproducible")
    simulate.add_argument("--show", type=int, default=20, help="how many breaches to print")
    simulate.add_argument("--memory", action="store_true", help="also print peak traced memory")
    match = sub.add_parser("match", help="match a pool file offline (no Discord, no database)")
    match.add_argument("--pool", type=Path, required=True, help="the pool, as JSON")
    match.add_argument("--out", type=Path, help="write the result JSON here (default: stdout)")
    match.add_argument("--edges", type=Path, help="write every allowed pair as JSON lines")
    match.add_argument("--seed", type=int, default=0, help="tie-breaking seed")
    return parser


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be 1 or more (got {value})")
    return value


def _engine(settings: Settings) -> AsyncEngine:
    from bot.db import create_engine
    from bot.startup import StartupError, describe_database_error

    url = settings.resolved_database_url
    try:
        return create_engine(
            url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            connect_timeout=settings.database_connect_timeout,
            pool_timeout=settings.database_pool_timeout,
        )
    except OSError as exc:  # the SQLite file's folder can't be made
        raise StartupError(describe_database_error(url, exc)) from None


async def _prepare(settings: Settings, engine: AsyncEngine, *, migrate: bool) -> None:
    """Reach the database (one clear line if it can't be used) and migrate it if asked."""
    from bot.migrate import upgrade
    from bot.startup import check_database, database_failure

    await check_database(engine)
    if migrate:
        try:
            await upgrade(engine)
        except Exception as exc:
            failure = database_failure(settings.resolved_database_url, exc)
            if failure is None:
                raise
            raise failure from exc


async def _migrate(settings: Settings) -> None:
    from bot.startup import lock_for

    lock = lock_for(settings.resolved_database_url)
    if lock is not None:
        lock.acquire()  # not while a `pairbot run` uses the file
    try:
        engine = _engine(settings)
        try:
            await _prepare(settings, engine, migrate=True)
        finally:
            await engine.dispose()
    finally:
        if lock is not None:
            lock.release()


async def _run(settings: Settings) -> int:
    import discord

    from bot.app import Deps, build_bot, point_at
    from bot.clock import Clock, FileClock, SystemClock
    from bot.db import create_sessionmaker
    from bot.metrics import Metrics, TimedTicker
    from bot.startup import lock_for

    if settings.token is None:
        print(
            "pairbot: no Discord token. Set PAIRBOT_TOKEN (or token in config.toml); the README's "
            "'Running for real' says how to get one. To see pairbot without a token: pairbot demo",
            file=sys.stderr,
        )
        return 2
    # One process per SQLite file, held until this process ends.
    lock = lock_for(settings.resolved_database_url)
    if lock is not None:
        lock.acquire()
    engine = _engine(settings)
    try:
        await _prepare(settings, engine, migrate=settings.migrate_on_start)
    except BaseException:
        await engine.dispose()
        raise
    point_at(settings.api_base_url, settings.gateway_url)
    metrics = Metrics()
    clock: Clock = FileClock(settings.clock_file) if settings.clock_file else SystemClock()
    deps = Deps(
        settings=settings,
        engine=engine,
        sessions=create_sessionmaker(engine),
        clock=clock,
        ticker=TimedTicker(settings.tick_seconds, metrics),
        metrics=metrics,
    )
    bot = build_bot(deps)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with bot:
            serving = asyncio.create_task(bot.start(settings.token.get_secret_value()))
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            # A signal: close while everything is still running, and wait for it to finish
            # (scheduler, gateway, database), so that nothing is cut off half-way.
            await bot.close()
            await serving
    except discord.LoginFailure:
        print("pairbot: Discord refused the token; check PAIRBOT_TOKEN.", file=sys.stderr)
        return 2
    except discord.PrivilegedIntentsRequired:
        print(
            "pairbot: Discord refused the Server Members intent; turn it on for the bot in the "
            "developer portal, or set members_intent = false.",
            file=sys.stderr,
        )
        return 2
    finally:
        await engine.dispose()
        if lock is not None:
            lock.release()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("pairbot: error: choose a command (run, migrate, check-config, ...)", file=sys.stderr)
        return 2
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"pairbot: {exc}", file=sys.stderr)
        return 2

    from bot.logs import setup_logging
    from bot.startup import StartupError

    token = settings.token.get_secret_value() if settings.token else ""
    setup_logging(settings.log_level, secrets=[token], json_format=settings.log_format == "json")
    if args.command == "check-config":
        db = settings.resolved_database_url.split("://", 1)[0]
        print(
            f"configuration is valid (database: {db}, token: "
            f"{'set' if settings.token else 'not set'}, log level: {settings.log_level})"
        )
        return 0
    if args.command in ("migrate", "run"):
        try:
            if args.command == "run":
                return asyncio.run(_run(settings))
            asyncio.run(_migrate(settings))
        except StartupError as exc:
            print(f"pairbot: {exc}", file=sys.stderr)
            return 2
        print("database is up to date")
        return 0
    if args.command == "backup":
        from bot.backup import BackupError, backup_sqlite

        try:
            pages = backup_sqlite(settings.resolved_database_url, args.destination)
        except BackupError as exc:
            print(f"pairbot: {exc}", file=sys.stderr)
            return 2
        print(f"backed up {pages} pages to {args.destination}")
        return 0
    if args.command == "match":
        from bot.offline_match import main as match_main

        return match_main(args.pool, args.out, args.edges, args.seed)
    if args.command == "demo":
        from bot.demo import main as demo_main

        return demo_main(args)
    if args.command == "simulate":
        from bot.simulation import main as simulate_main

        return simulate_main(args)
    parser.print_usage(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

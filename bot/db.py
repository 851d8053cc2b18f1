"""Engine and session factory.

SQLite (the embedded default) gets WAL, a 5 s busy timeout, foreign keys, and transactions that
``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes fails at once with
"database is locked" when another connection writes, whereas an immediate one waits its turn.
PostgreSQL goes through asyncpg.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    """The database file of an SQLite URL, also in SQLite's ``file:PATH?mode=..`` form
    (``None`` for PostgreSQL or an in-memory database)."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database:
        return None
    if database.startswith("file:"):
        database = database.removeprefix("file:").split("?", 1)[0]
        if parsed.query.get("mode") == "memory":
            return None
    if not database or database == ":memory:" or database.startswith(":memory:"):
        return None
    return Path(database)


def create_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    connect_timeout: float | None = None,
    pool_timeout: float | None = None,
) -> AsyncEngine:
    """Create the async engine for ``url``, preparing SQLite files and pragmas.

    ``pool_size``/``max_overflow`` (PostgreSQL) bound the connections this process opens;
    ``connect_timeout`` is how long connecting may take before it fails (PostgreSQL);
    ``pool_timeout`` how long a session waits for a free pooled connection before it fails
    (PostgreSQL, and an SQLite file), so that a member hears "try again" rather than waiting
    on a busy pool."""
    parsed = make_url(url)
    # Bound parameters carry member text and private fields: keep them out of error messages,
    # which end up in logs.
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        if pool_timeout is not None and path is not None:  # a file has a queue pool
            kwargs["pool_timeout"] = pool_timeout
        engine = create_async_engine(url, **kwargs)
        _prepare_sqlite(engine)
        return engine
    kwargs["pool_pre_ping"] = True
    if pool_size is not None:
        kwargs["pool_size"] = pool_size
    if max_overflow is not None:
        kwargs["max_overflow"] = max_overflow
    if pool_timeout is not None:
        kwargs["pool_timeout"] = pool_timeout
    if connect_timeout is not None:
        kwargs["connect_args"] = {"timeout": connect_timeout}
    return create_async_engine(url, **kwargs)


def _prepare_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            return  # each statement reads a consistent snapshot on its own, taking no lock
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


READ_ONLY = "pairbot_read_only"


@asynccontextmanager
async def read_only(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for reads that must never wait for (or hold) SQLite's write lock: on SQLite
    no transaction is opened, so each statement sees the latest committed data by itself; on
    PostgreSQL it is an ordinary transaction, rolled back at the end. Never write in it."""
    async with sessions() as session:
        await session.connection(execution_options={READ_ONLY: True})
        yield session


@asynccontextmanager
async def unit_of_work(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One session, one transaction: committed when the block ends, rolled back on error."""
    async with sessions() as session, session.begin():
        yield session

"""What `pairbot run` and `pairbot migrate` check before they start: one process per SQLite file
(a lock), and a database that answers. Each problem is one line for the operator
(:class:`StartupError`); the CLI prints it and exits with status 2.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import sqlite3
from pathlib import Path

import filelock
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import sqlite_path


class StartupError(Exception):
    """A reason the process can't start, in one line fit for the operator."""


class SqliteLock:
    """An exclusive lock on ``<database>.lock`` next to the SQLite file, held while the process
    runs: a second `pairbot run` on the same file would answer every interaction twice and pace
    its sends apart from the first (issue 13). The operating system releases the lock when the
    process ends, however it ends, so a crash never leaves a stale lock behind."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(database.name + ".lock")
        self._lock = filelock.UnixFileLock(str(self.path), timeout=0)

    def acquire(self) -> None:
        try:
            self.database.parent.mkdir(parents=True, exist_ok=True)
            self._lock.acquire(timeout=0)
        except filelock.Timeout:
            raise StartupError(
                f"another pairbot process is already using {self.database} (it holds "
                f"{self.path}); stop it first, or give this one its own data_dir "
                "(several processes need PostgreSQL)"
            ) from None
        except OSError as exc:
            raise StartupError(_storage_problem(self.database.parent, exc)) from None

    def release(self) -> None:
        self._lock.release()

    @property
    def held(self) -> bool:
        return self._lock.is_locked


def lock_for(url: str) -> SqliteLock | None:
    path = sqlite_path(url)
    return SqliteLock(path) if path is not None else None


def _storage_problem(folder: Path, exc: OSError) -> str:
    reason = exc.strerror or type(exc).__name__
    if exc.errno == errno.ENOSPC:
        return f"the disk holding {folder} is full; free some space and start again"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (
            f"cannot write to the data directory {folder} ({reason}); make it writable for "
            "this user, or set data_dir to a folder that is"
        )
    return (
        f"cannot use the data directory {folder} ({reason}); check data_dir (or "
        "PAIRBOT_DATA_DIR) points at a folder this user can create and write"
    )


def describe_database_error(url: str, error: BaseException) -> str:
    """One line saying why the database at ``url`` can't be used, with what to check. Never the
    password: the URL is shown without it."""
    parsed = make_url(url)
    cause: BaseException = error
    if isinstance(error, sa_exc.DBAPIError) and error.orig is not None:
        cause = error.orig
    while (
        cause.__cause__ is not None
        and not isinstance(cause, OSError | asyncio.TimeoutError)
        and isinstance(cause.__cause__, OSError | asyncio.TimeoutError)
    ):
        cause = cause.__cause__
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        where = str(path) if path is not None else "the SQLite database"
        if isinstance(cause, OSError):
            return _storage_problem(path.parent if path else Path("."), cause)
        message = str(cause).lower()
        if "disk is full" in message or "disk or database is full" in message:
            return f"the disk holding {where} is full; free some space and start again"
        if "readonly" in message or "read-only" in message or "unable to open" in message:
            folder = path.parent if path else Path(".")
            return (
                f"cannot open or write the SQLite database {where} ({cause}); make {folder} "
                "and the file writable for this user, or set data_dir to a folder that is"
            )
        if "not a database" in message or "malformed" in message:
            return f"{where} is not a usable SQLite database ({cause}); restore it from a backup"
        return f"the SQLite database {where} failed ({type(cause).__name__}: {cause})"
    shown = parsed.render_as_string(hide_password=True)
    host = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    if isinstance(cause, asyncio.TimeoutError | TimeoutError | socket.timeout):
        return (
            f"PostgreSQL at {host} did not answer in time ({shown}); check the host and port in "
            "database_url, a firewall, or raise database_connect_timeout"
        )
    if isinstance(cause, ConnectionRefusedError):
        return (
            f"PostgreSQL refused the connection at {host} ({shown}); is it running and listening "
            "there? Check database_url"
        )
    if isinstance(cause, socket.gaierror):
        return f"cannot resolve the PostgreSQL host {parsed.host!r} ({shown}); check database_url"
    if isinstance(cause, OSError):
        return (
            f"cannot reach PostgreSQL at {host} ({cause.strerror or cause}); check database_url "
            "and the network"
        )
    chain = [cause]
    while chain[-1].__cause__ is not None and len(chain) < 10:
        chain.append(chain[-1].__cause__)
    name = " ".join(type(e).__name__ for e in chain)
    if "InvalidPassword" in name or "InvalidAuthorization" in name:
        return f"PostgreSQL at {host} refused the login ({shown}): {cause}; check the user/password"
    if "InvalidCatalogName" in name:
        return f"the PostgreSQL database {parsed.database!r} does not exist at {host}; create it"
    if "DiskFull" in name:
        return f"PostgreSQL at {host} is out of disk space ({cause}); free some and start again"
    detail = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
    return f"the database at {shown} failed: {type(chain[-1]).__name__}: {detail}"


async def check_database(engine: AsyncEngine) -> None:
    """Connect once and run a trivial query (and, on SQLite, a write) so that an unusable
    database is found here, with a clear line, not in the middle of serving."""
    url = engine.url.render_as_string(hide_password=False)
    try:
        async with engine.begin() as conn:
            # On SQLite the transaction is BEGIN IMMEDIATE (bot.db), which needs write access:
            # a read-only file or folder shows up here rather than at the first member's command.
            await conn.execute(text("SELECT 1"))
    except (TimeoutError, sa_exc.SQLAlchemyError, OSError, sqlite3.Error) as error:
        raise StartupError(describe_database_error(url, error)) from error


def database_failure(url: str, error: BaseException) -> StartupError | None:
    """A failure during migration that is the database's (not a bug) as a StartupError."""
    if isinstance(error, sa_exc.SQLAlchemyError | OSError | asyncio.TimeoutError | sqlite3.Error):
        return StartupError(describe_database_error(url, error))
    return None

"""What to tell a member when their command failed for a reason that is not theirs, true to the
kind of failure.

The generic line says "Nothing you entered was lost", which a full disk made untrue: the write
failed, so nothing was saved (issue 13). :func:`unexpected_error_text` tells storage failures
(disk full, database unreachable or read-only) apart and says so; every other unexpected error
keeps the generic line. No discord here: ``bot/interactions.py`` calls it from ``report_error``.
"""

from __future__ import annotations

import asyncio
import errno
import sqlite3
from enum import StrEnum

GENERIC = (
    "Something went wrong on my side (reference `{ref}`). Nothing you entered was lost; "
    "please try again in a moment."
)
STORAGE_FULL = (
    "I couldn't save that: my storage is full right now, so nothing was saved. Please try again "
    "later, and tell a moderator if it keeps happening (reference `{ref}`)."
)
STORAGE_UNAVAILABLE = (
    "I couldn't reach my database just now, so nothing was saved. Please try again in a few "
    "minutes (reference `{ref}`)."
)

STORAGE_SLOW = (
    "I couldn't reach my storage just now, so nothing was saved. Please try again in a minute."
)


class FailureKind(StrEnum):
    STORAGE_FULL = "storage_full"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    OTHER = "other"


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 12:
        seen.append(current)
        current = current.__cause__ or getattr(current, "orig", None) or current.__context__
    return seen


def classify(error: BaseException) -> FailureKind:
    """Storage full, storage unreachable (or read-only), or something else."""
    chain = _chain(error)
    for exc in chain:
        text = str(exc).lower()
        name = type(exc).__name__
        sqlstate = str(getattr(exc, "sqlstate", "") or getattr(exc, "pgcode", "") or "")
        if (
            (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT))
            or "database or disk is full" in text
            or "no space left on device" in text
            or name == "DiskFullError"
            or sqlstate.startswith("53")  # PostgreSQL: insufficient resources (53100 disk full)
        ):
            return FailureKind.STORAGE_FULL
    for exc in chain:
        text = str(exc).lower()
        name = type(exc).__name__
        sqlstate = str(getattr(exc, "sqlstate", "") or "")
        if (
            isinstance(exc, ConnectionError | asyncio.TimeoutError | TimeoutError)
            or (isinstance(exc, sqlite3.OperationalError) and "readonly" in text)
            or "readonly database" in text
            or "database is locked" in text
            or "unable to open database file" in text
            or (name == "TimeoutError" and "pool" in text)  # SQLAlchemy: no free connection
            or "connection was closed" in text
            or "cannotconnectnow" in name.lower()
            or name in ("ConnectionDoesNotExistError", "InterfaceError", "TooManyConnectionsError")
            or sqlstate.startswith("08")  # PostgreSQL: connection exceptions
            or sqlstate in ("57P01", "57P02", "57P03", "25006")  # shutting down, read-only
        ):
            return FailureKind.STORAGE_UNAVAILABLE
    return FailureKind.OTHER


def unexpected_error_text(error: BaseException, ref: str) -> str:
    """The member's line for an unexpected error, with the reference the log line carries."""
    kind = classify(error)
    if kind is FailureKind.STORAGE_FULL:
        return STORAGE_FULL.format(ref=ref)
    if kind is FailureKind.STORAGE_UNAVAILABLE:
        return STORAGE_UNAVAILABLE.format(ref=ref)
    return GENERIC.format(ref=ref)

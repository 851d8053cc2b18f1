"""``pairbot backup FILE``: a consistent copy of the SQLite database while the bot keeps running,
with SQLite's online backup API (``sqlite3.Connection.backup``), then checked with
``PRAGMA integrity_check``. PostgreSQL has its own tools (``pg_dump``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.db import sqlite_path

PAGES_PER_STEP = 1024  # copy in steps so the running bot's writers are never held up for long


class BackupError(Exception):
    """Why the backup could not be made, in one line."""


def backup_sqlite(url: str, destination: Path) -> int:
    """Copy the database at ``url`` to ``destination`` (replacing it); returns the pages copied."""
    source_path = sqlite_path(url)
    if source_path is None:
        raise BackupError(
            "backup copies the SQLite file; for PostgreSQL use pg_dump (see "
            "docs/running-a-large-community.md)"
        )
    if not source_path.is_file():
        raise BackupError(f"there is no database at {source_path} to back up")
    if destination.resolve() == source_path.resolve():
        raise BackupError("the backup file must not be the database itself")
    partial = destination.with_name(destination.name + ".partial")
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
        try:
            target = sqlite3.connect(partial)
            try:
                source.backup(target, pages=PAGES_PER_STEP)
                (verdict,) = target.execute("PRAGMA integrity_check").fetchone()
                (pages,) = target.execute("PRAGMA page_count").fetchone()
            finally:
                target.close()
        finally:
            source.close()
        if verdict != "ok":
            raise BackupError(f"the copy failed its integrity check ({verdict}); nothing replaced")
        partial.replace(destination)
    except (OSError, sqlite3.Error) as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"could not back up {source_path} to {destination} ({exc})") from None
    return int(pages)

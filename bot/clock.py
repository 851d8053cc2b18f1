"""The one source of "now".

Everything that needs the current time takes a :class:`Clock`, so tests and the demo can move
time forward without sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware, in UTC."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to (tests, the demo)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = moment.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


class FileClock:
    """ "Now" read from a file holding an ISO 8601 moment, for the system tests that run
    ``pairbot run`` in processes of their own and move time for all of them at once
    (``clock_file``; never set in production). The file is read again only when it changed;
    its writer replaces it atomically (write a temporary file, then rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._now: datetime | None = None

    def now(self) -> datetime:
        stat = self.path.stat()
        stamp = (stat.st_ino, stat.st_mtime_ns)
        if stamp != self._seen or self._now is None:
            moment = datetime.fromisoformat(self.path.read_text().strip())
            if moment.tzinfo is None:
                raise ValueError(f"{self.path} must hold an aware moment (with its UTC offset)")
            self._now, self._seen = moment.astimezone(UTC), stamp
        return self._now


def write_clock_file(path: Path, moment: datetime) -> None:
    """Set a :class:`FileClock`'s moment: the whole file at once, never half-written."""
    if moment.tzinfo is None:
        raise ValueError("the clock file needs an aware datetime")
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(moment.astimezone(UTC).isoformat())
    temporary.replace(path)

"""Snowflake ids and timestamps shaped like Discord's, so discord.py's ``created_at`` works."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime

DISCORD_EPOCH_MS = 1_420_070_400_000


class SnowflakeFactory:
    """Monotonic snowflakes: real time in the high bits, a counter below, never repeating."""

    def __init__(self) -> None:
        self._counter = itertools.count()
        self._last = 0

    def next(self) -> int:
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (millis << 22) | (1 << 17) | (next(self._counter) & 0xFFF)
        if value <= self._last:
            value = self._last + 1
        self._last = value
        return value

    def next_on_shard(self, shard_id: int, shard_count: int) -> int:
        """The next snowflake that shard ``shard_id`` of ``shard_count`` owns (Discord's rule:
        ``(id >> 22) % shard_count``), its timestamp moved a few milliseconds on if need be."""
        value = self.next()
        millis = value >> 22
        millis += (shard_id - millis) % shard_count
        value = (millis << 22) | (value & ((1 << 22) - 1))
        self._last = max(self._last, value)
        return value


def iso_now() -> str:
    """Discord's ISO-8601 timestamps with an explicit UTC offset."""
    return datetime.now(UTC).isoformat()


def iso_from_snowflake(snowflake: int) -> str:
    millis = (snowflake >> 22) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat()

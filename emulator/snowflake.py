"""Snowflake ids, timestamps and bot tokens shaped like Discord's, so discord.py's
``created_at`` works and token parsers see what they would in production."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import secrets
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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def bot_token(user_id: int, *, at: float | None = None) -> str:
    """A token shaped like Discord's: ``base64(user id).base64(timestamp).base64(hmac)``.

    The first part decodes to the bot's user id (libraries read it, e.g. hikari's
    ``fetch_my_user`` shortcut and discord.js's ``client.user.id`` before READY); the second is
    the creation time as 4 big-endian bytes; the third an HMAC-SHA1 (27 characters) of the two.
    """
    head = _b64(str(user_id).encode())
    stamp = _b64(int(time.time() if at is None else at).to_bytes(4, "big"))
    mac = hmac.new(secrets.token_bytes(32), f"{head}.{stamp}".encode(), hashlib.sha1).digest()
    return f"{head}.{stamp}.{_b64(mac)}"

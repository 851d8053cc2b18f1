"""Errors raised by the pure domain modules when a member's input can't be used.

They are :class:`bot.errors.InvalidInput` (so :class:`bot.errors.PairbotError`) subclasses: the
interaction layer shows ``user_message`` as it is, so every message is one or two friendly
sentences that echo at most a short, cleaned piece of what the member typed.
"""

from __future__ import annotations

import unicodedata

from bot.errors import InvalidInput

_ECHO_LIMIT = 40


def echo(text: str, limit: int = _ECHO_LIMIT) -> str:
    """A member's text made safe to quote back: no control characters, bounded length."""
    cleaned = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned


class TimeZoneError(InvalidInput):
    """Not a time zone we accept; ``suggestions`` are real IANA names worth offering instead."""

    def __init__(self, user_message: str, *, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(user_message)
        self.suggestions = suggestions


class AvailabilityError(InvalidInput):
    """Availability text we couldn't read; ``part`` is the piece that went wrong (may be empty)."""

    def __init__(self, user_message: str, *, part: str = "") -> None:
        super().__init__(user_message)
        self.part = part


class RecurrenceError(InvalidInput):
    """A meeting rhythm that can't exist (weekday out of range, unsupported interval, ...)."""

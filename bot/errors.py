"""Domain errors: each carries a short, friendly message fit to show the member who caused it."""

from __future__ import annotations


class PairbotError(Exception):
    """Base of every error a member may see. ``user_message`` is shown to them, ephemerally."""

    user_message: str = "Sorry, I couldn't do that."

    def __init__(self, user_message: str | None = None) -> None:
        if user_message is not None:
            self.user_message = user_message
        super().__init__(self.user_message)


class NotFound(PairbotError):
    user_message = "I couldn't find that."


class InvalidInput(PairbotError):
    user_message = "That doesn't look right. Please check it and try again."


class NotAllowed(PairbotError):
    user_message = "Sorry, you can't do that here."


class NotConfigured(PairbotError):
    user_message = (
        "pairbot isn't set up in this server yet. A moderator can run `/admin setup` first."
    )


class Conflict(PairbotError):
    user_message = "That has already been done."

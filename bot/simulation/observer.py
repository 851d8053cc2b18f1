"""What every member saw, and when (on the simulation's clock).

The emulator calls :meth:`Observer.on_message` for every message it stores, edits or deletes;
the observer stamps it with the simulated time and works out its audience the way Discord
would: a DM its recipient, an ephemeral reply the one who asked, a private thread its members,
anything else everyone in the server.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from emulator import Message
from emulator.model import PRIVATE_THREAD

EVERYONE = -1
TIMESTAMP = re.compile(r"<t:(-?\d+)(?::([tTdDfFR]))?>")


@dataclass
class Seen:
    """One version of a message as it reached its audience."""

    message: Message
    at: datetime
    change: str  # create / edit
    audience: frozenset[int]
    text: str
    custom_ids: tuple[str, ...]

    @property
    def from_bot(self) -> bool:
        return self.message.author.bot


@dataclass
class Observer:
    now: Callable[[], datetime]
    bot_id: int
    log: list[Seen] = field(default_factory=list)
    by_user: dict[int, list[Seen]] = field(default_factory=lambda: defaultdict(list))
    first_seen: dict[int, datetime] = field(default_factory=dict)
    cursor: int = 0  # how far :meth:`fresh` has handed out the log

    def on_message(self, change: str, message: Message) -> None:
        if change == "delete":
            return
        audience = self.audience_of(message)
        seen = Seen(
            message=message,
            at=self.now(),
            change=change,
            audience=audience,
            text=message.text,
            custom_ids=tuple(
                str(c["custom_id"]) for c in message.interactive_components() if "custom_id" in c
            ),
        )
        self.first_seen.setdefault(message.id, seen.at)
        self.log.append(seen)
        for user in audience:
            self.by_user[user].append(seen)

    def audience_of(self, message: Message) -> frozenset[int]:
        if message.visible_to is not None:
            return frozenset({message.visible_to})
        channel = message.channel
        if channel.is_dm:
            return frozenset(u.id for u in channel.recipients if u.id != self.bot_id)
        if channel.type == PRIVATE_THREAD:
            return frozenset(channel.member_ids) - {self.bot_id}
        return frozenset({EVERYONE})

    def fresh(self) -> list[Seen]:
        """What arrived since the last call."""
        new = self.log[self.cursor :]
        self.cursor = len(self.log)
        return new


def timestamps(text: str) -> list[tuple[int, str]]:
    return [(int(m.group(1)), m.group(2) or "f") for m in TIMESTAMP.finditer(text)]

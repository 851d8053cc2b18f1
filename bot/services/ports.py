"""What the services need from Discord, as plain data and a Protocol.

Services describe a message (:class:`OutgoingMessage`) and hand it to a :class:`Messenger`; the
discord.py implementation lives in ``bot.dispatch``, tests use fakes or the emulator. Failures
come back as three plain exceptions, which is all the dispatcher needs to decide what to do:
:class:`DmClosed` (fall back to the pair's thread), :class:`Transient` (try again later, the same
nonce makes the retry safe) and :class:`Permanent` (give up, with a reason).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

log = logging.getLogger(__name__)

# Discord's limits (see docs/discord-facts.md).
CONTENT_LIMIT = 2000
EMBEDS_LIMIT = 10
EMBEDS_TOTAL_CHARS = 6000
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FIELDS_LIMIT = 25
EMBED_FIELD_NAME_LIMIT = 256
EMBED_FIELD_VALUE_LIMIT = 1024
EMBED_FOOTER_LIMIT = 2048
EMBED_AUTHOR_LIMIT = 256
ROWS_LIMIT = 5
BUTTONS_PER_ROW = 5
CUSTOM_ID_LIMIT = 100
BUTTON_LABEL_LIMIT = 80
NONCE_LIMIT = 25

ButtonStyle = Literal["primary", "secondary", "success", "danger", "link"]
ELLIPSIS = "…"


class DeliveryError(Exception):
    """Base of what a :class:`Messenger` raises."""


class DmClosed(DeliveryError):
    """The member does not accept DMs from this server (Discord 403, code 50007)."""


class MemberGone(Exception):
    """The member is no longer in the server (Discord 10007 Unknown Member): see
    :mod:`bot.services.departures`."""

    def __init__(self, user_id: int) -> None:
        super().__init__(f"member {user_id} left the server")
        self.user_id = user_id


class Transient(DeliveryError):
    """Worth trying again later: rate limited, Discord unavailable, connection lost. The outcome
    of the failed call is unknown, which is why every retry reuses the delivery's nonce."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Permanent(DeliveryError):
    """Trying again cannot help (unknown channel, missing access, invalid message)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Button:
    """A message button: ``custom_id`` for the bot's own handlers, or ``url`` for a link."""

    label: str
    custom_id: str | None = None
    style: ButtonStyle = "secondary"
    url: str | None = None
    disabled: bool = False

    def __post_init__(self) -> None:
        if (self.style == "link") != (self.url is not None):
            raise ValueError("a link button needs a url, and only a link button has one")
        if self.style != "link" and not (self.custom_id and len(self.custom_id) <= CUSTOM_ID_LIMIT):
            raise ValueError(f"custom_id must be 1..{CUSTOM_ID_LIMIT} characters")
        if not self.label:
            raise ValueError("a button needs a label")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"label": self.label, "style": self.style}
        if self.custom_id is not None:
            data["custom_id"] = self.custom_id
        if self.url is not None:
            data["url"] = self.url
        if self.disabled:
            data["disabled"] = True
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Button:
        return cls(
            label=str(data["label"]),
            custom_id=data.get("custom_id"),
            style=data.get("style", "secondary"),
            url=data.get("url"),
            disabled=bool(data.get("disabled", False)),
        )


@dataclass(frozen=True)
class OutgoingMessage:
    """A message as plain data: it is stored in the outbox payload (JSON) and rendered by the
    messenger. Embeds are Discord embed dicts; ``rows`` are rows of buttons.

    Nothing in a message pings anyone, whatever member text it quotes, except the users the bot
    itself names in ``ping_users`` (the recipient of a fallback message in the pair's thread)."""

    content: str = ""
    embeds: tuple[dict[str, Any], ...] = ()
    rows: tuple[tuple[Button, ...], ...] = ()
    ping_users: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"content": self.content}
        if self.embeds:
            data["embeds"] = [dict(e) for e in self.embeds]
        if self.rows:
            data["rows"] = [[b.to_dict() for b in row] for row in self.rows]
        if self.ping_users:
            data["ping_users"] = list(self.ping_users)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutgoingMessage:
        return cls(
            content=str(data.get("content") or ""),
            embeds=tuple(dict(e) for e in data.get("embeds") or ()),
            rows=tuple(tuple(Button.from_dict(b) for b in row) for row in data.get("rows") or ()),
            ping_users=tuple(int(u) for u in data.get("ping_users") or ()),
        )

    def fitted(self) -> OutgoingMessage:
        """The same message cut to Discord's limits, so a long goal text can't make the send fail
        permanently: content 2,000; 10 embeds of 6,000 characters together; 5 rows of 5."""
        embeds: list[dict[str, Any]] = []
        budget = EMBEDS_TOTAL_CHARS
        for embed in self.embeds[:EMBEDS_LIMIT]:
            fitted, used = _fit_embed(embed, budget)
            if used == 0 and embeds:
                break
            embeds.append(fitted)
            budget -= used
        rows = tuple(row[:BUTTONS_PER_ROW] for row in self.rows[:ROWS_LIMIT] if row)
        rows = tuple(
            tuple(
                Button(
                    label=_cut(b.label, BUTTON_LABEL_LIMIT),
                    custom_id=b.custom_id,
                    style=b.style,
                    url=b.url,
                    disabled=b.disabled,
                )
                for b in row
            )
            for row in rows
        )
        return OutgoingMessage(
            content=_cut(self.content, CONTENT_LIMIT),
            embeds=tuple(embeds),
            rows=rows,
            ping_users=self.ping_users,
        )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _fit_embed(embed: Mapping[str, Any], budget: int) -> tuple[dict[str, Any], int]:
    """One embed cut to the per-field limits and to what remains of the 6,000-character budget;
    returns it with the characters it uses."""
    out = dict(embed)
    used = 0

    def take(text: Any, limit: int) -> str:
        nonlocal used
        allowed = max(0, min(limit, budget - used))
        cut = _cut(str(text), allowed) if allowed else ""
        used += len(cut)
        return cut

    if "title" in out:
        out["title"] = take(out["title"], EMBED_TITLE_LIMIT)
    if "description" in out:
        out["description"] = take(out["description"], EMBED_DESCRIPTION_LIMIT)
    if isinstance(out.get("author"), Mapping) and "name" in out["author"]:
        out["author"] = {**out["author"], "name": take(out["author"]["name"], EMBED_AUTHOR_LIMIT)}
    if isinstance(out.get("footer"), Mapping) and "text" in out["footer"]:
        out["footer"] = {**out["footer"], "text": take(out["footer"]["text"], EMBED_FOOTER_LIMIT)}
    fields = []
    for item in list(out.get("fields") or [])[:EMBED_FIELDS_LIMIT]:
        name = take(item.get("name", ""), EMBED_FIELD_NAME_LIMIT)
        value = take(item.get("value", ""), EMBED_FIELD_VALUE_LIMIT)
        if not name or not value:
            break
        fields.append({**item, "name": name, "value": value})
    if "fields" in out:
        out["fields"] = fields
    return out, used


@dataclass(frozen=True)
class Sent:
    """Where a message went: Discord's ids, so the outbox can record (and link) it."""

    message_id: int
    channel_id: int


def nonce_for(key: str, *, fallback: bool = False) -> str:
    """A deterministic Discord nonce (≤ 25 characters) for one delivery.

    Discord de-duplicates messages that carry the same nonce with ``enforce_nonce`` for a few
    minutes, so a send retried after a crash or a lost answer returns the first message instead
    of posting a second one. The fallback send (the pair's thread) gets its own nonce."""
    digest = hashlib.blake2b(
        (key + ("#fallback" if fallback else "")).encode(), digest_size=12
    ).hexdigest()
    return "pb" + digest[: NONCE_LIMIT - 2]


class Messenger(Protocol):
    """Sends one message; raises :class:`DmClosed`, :class:`Transient` or :class:`Permanent`."""

    async def send_dm(self, *, user_id: int, message: OutgoingMessage, nonce: str) -> Sent:
        """Send ``message`` to the member's DMs."""
        ...

    async def send_to_channel(
        self, *, channel_id: int, message: OutgoingMessage, nonce: str
    ) -> Sent:
        """Send ``message`` to a text channel or thread."""
        ...


@dataclass
class RecordingMessenger:
    """A :class:`Messenger` that keeps what it was asked to send (tests, the demo's dry runs).

    ``closed_dms`` raise :class:`DmClosed`; ``failures`` maps a nonce to exceptions to raise, one
    per call, before the call succeeds. A repeated nonce returns the first message, as Discord
    does."""

    closed_dms: set[int] = field(default_factory=set)
    failures: dict[str, list[DeliveryError]] = field(default_factory=dict)
    sent: list[tuple[str, int, str]] = field(default_factory=list)
    calls: list[tuple[str, int, str]] = field(default_factory=list)
    by_nonce: dict[str, Sent] = field(default_factory=dict)
    _next_id: int = 1_000_000

    async def send_dm(self, *, user_id: int, message: OutgoingMessage, nonce: str) -> Sent:
        self.calls.append(("dm", user_id, nonce))
        if user_id in self.closed_dms:
            raise DmClosed(f"user {user_id} has closed DMs")
        return self._send("dm", user_id, nonce)

    async def send_to_channel(
        self, *, channel_id: int, message: OutgoingMessage, nonce: str
    ) -> Sent:
        self.calls.append(("channel", channel_id, nonce))
        return self._send("channel", channel_id, nonce)

    def _send(self, where: str, target: int, nonce: str) -> Sent:
        pending: Sequence[DeliveryError] = self.failures.get(nonce, [])
        if pending:
            error = self.failures[nonce].pop(0)
            raise error
        if nonce in self.by_nonce:
            return self.by_nonce[nonce]
        self._next_id += 1
        result = Sent(message_id=self._next_id, channel_id=target)
        self.by_nonce[nonce] = result
        self.sent.append((where, target, nonce))
        return result

"""The outbox: every piece of due work (a DM, a channel message, a matching round, a proposal
expiry) as a row, so that nothing scheduled lives only in memory.

A row's life: ``pending`` → ``claimed`` (``claimed_by``, ``lease_until``, ``attempt``) → ``sent``
(a message went out: ``message_id``) or ``done`` (a handler finished) | ``failed`` (a permanent
``reason``) | ``expired`` (its staleness rule said it was no longer worth doing). A claim whose
lease runs out goes back to ``pending``; ``next_attempt_at`` holds retries back (backoff).
``key`` is unique per occurrence, so enqueueing the same occurrence twice does nothing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class OutboxState(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"


FINAL_STATES = (OutboxState.SENT, OutboxState.DONE, OutboxState.FAILED, OutboxState.EXPIRED)


class OutboxItem(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        # The claim query: pending rows in order of when they may next be tried.
        Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
        # Each tick's staleness sweep: pending rows past their deadline, not every pending row.
        Index("ix_outbox_state_expires_at", "state", "expires_at"),
        # The moderators' view.
        Index("ix_outbox_guild_id_state", "guild_id", "state"),
        # A member's pending rows (privacy export) and privacy deletion.
        Index("ix_outbox_user_id_state", "user_id", "state"),
        # Cancelling a target's pending occurrences is an equality lookup, not a LIKE scan.
        Index("ix_outbox_target_state", "target", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    # ``kind:target``, the key's first two parts when it has three or more (occurrence keys are
    # ``kind:target:when``): what ``outbox.cancel_pending`` looks rows up by.
    target: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    # A delivery goes to ``user_id``'s DMs, else to ``channel_id`` (a channel or a thread).
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    channel_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    due_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default=OutboxState.PENDING.value)
    attempt: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    # Where the message really went: "dm", "channel" or "fallback" (the pair's thread).
    delivered_via: Mapped[str | None] = mapped_column(String(16))
    # A short machine-made reason (never member text): why the last attempt failed.
    reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

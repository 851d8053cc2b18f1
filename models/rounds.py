"""Where each waiting member stands across matching rounds: how many rounds they have waited
in this spell in the pool, and what they were last told, so that a round only writes to them
when something changed for them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class RoundStanding(Base):
    __tablename__ = "round_standings"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    guild_id: Mapped[int] = mapped_column(BigInteger, index=True)
    # The member's waiting spell (their waiting_since when it began): a new spell starts afresh.
    spell: Mapped[datetime | None]
    rounds_waited: Mapped[int] = mapped_column(default=0)
    last_round_at: Mapped[datetime | None]
    # Private to the member: the situation and suggested change last sent to them.
    told_key: Mapped[str | None] = mapped_column(String(200))
    told_at: Mapped[datetime | None]
    # A "you have priority" promise not yet kept or corrected.
    promise_open: Mapped[bool] = mapped_column(default=False)
    # For moderators, from public fields only (e.g. "few shared hours").
    hint: Mapped[str] = mapped_column(String(40), default="")

"""Where a bounded upkeep sweep got to (issue 13): a sweep over every member runs a small chunk
per tick and transaction, and its position is stored here, so a pass over 100,000 members
spreads over many ticks, survives a restart, and is shared by every process of the bot."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class SweepCursor(Base):
    __tablename__ = "sweep_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The highest member id the running pass has covered (0: a pass starts at the beginning).
    after_id: Mapped[int] = mapped_column(BigInteger, default=0)
    # A pass is over: the next one starts then (None: a pass is running).
    resume_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]

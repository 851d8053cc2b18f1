"""Matching rounds and partnerships (a pair, or a trio when the community allows one).

A partnership starts as a proposal (from a round or an accepted request), becomes a trial when
everyone accepts, then active; it ends by decline, expiry, a partner's choice, or a block.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base


class MatchRound(Base):
    __tablename__ = "match_rounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger, index=True)
    ran_at: Mapped[datetime]
    pool_size: Mapped[int]
    groups: Mapped[int]
    unmatched: Mapped[int]
    total_score: Mapped[float]
    seconds: Mapped[float]
    trigger: Mapped[str] = mapped_column(String(16))  # schedule / moderator / request


class Partnership(Base):
    __tablename__ = "partnerships"
    __table_args__ = (Index("ix_partnerships_guild_state", "guild_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    # proposed / trial / active / ended
    state: Mapped[str] = mapped_column(String(16), default="proposed")
    source: Mapped[str] = mapped_column(String(16))  # round / request
    round_id: Mapped[int | None] = mapped_column(ForeignKey("match_rounds.id", ondelete="SET NULL"))
    score: Mapped[float] = mapped_column(default=0.0)
    # Public reasons only (overlap, shared goal areas, languages); never private fields.
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    proposed_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    trial_ends_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))  # declined/expired/ended/...
    meeting_weekday: Mapped[int | None]
    meeting_time: Mapped[str | None] = mapped_column(String(5))  # HH:MM local
    meeting_zone: Mapped[str | None] = mapped_column(String(64))
    meeting_interval_weeks: Mapped[int] = mapped_column(default=1)
    meeting_anchor: Mapped[date | None] = mapped_column(Date)
    meeting_minutes: Mapped[int] = mapped_column(default=45)
    reminder_minutes: Mapped[int] = mapped_column(default=30)

    members: Mapped[list[PartnershipMember]] = relationship(
        back_populates="partnership", cascade="all, delete-orphan", lazy="selectin"
    )


class PartnershipMember(Base):
    __tablename__ = "partnership_members"

    partnership_id: Mapped[int] = mapped_column(
        ForeignKey("partnerships.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    accepted: Mapped[bool | None]
    decided_at: Mapped[datetime | None]
    # Private: seen by this member alone.
    private_reason: Mapped[str | None] = mapped_column(Text)
    trial_choice: Mapped[str | None] = mapped_column(String(16))  # continue / part
    # Last check-in answer or meeting confirmation: a partner silent for weeks is noticed.
    last_active_at: Mapped[datetime | None]
    ghost_asked_at: Mapped[datetime | None]

    partnership: Mapped[Partnership] = relationship(back_populates="members")

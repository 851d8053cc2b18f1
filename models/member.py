"""A member's profile. Public fields live in ``members``; private ones (gender, age, partner
preferences) in ``member_private`` so that no query for a post or a moderator view can pick them
up by accident."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        # Members by guild and user id (every command); its leading column serves by-guild scans.
        UniqueConstraint("guild_id", "user_id"),
        # The pool of one community by status (a matching round's seekers).
        Index("ix_members_guild_id_pool_status", "guild_id", "pool_status"),
        # Every tick: pauses that have ended, across communities.
        Index("ix_members_pool_status_paused_until", "pool_status", "paused_until"),
        # Every tick: members whose post must be synced again (pool.stale_posts).
        Index("ix_members_forum_post_stale", "forum_post_stale"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    display_name: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str | None] = mapped_column(String(64))
    availability: Mapped[str | None] = mapped_column(Text)
    goal_areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    intro: Mapped[str | None] = mapped_column(Text)
    goals_text: Mapped[str | None] = mapped_column(Text)
    rhythm: Mapped[str | None] = mapped_column(String(16))
    medium: Mapped[str | None] = mapped_column(String(16))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    dms_closed: Mapped[bool] = mapped_column(default=False)
    # When the member was seen leaving the server (None: present, or back since): nothing is
    # sent to them, and their first interaction after a rejoin clears it.
    left_at: Mapped[datetime | None]
    # idle / seeking / paused; a member in a proposed or active partnership is not in the pool.
    pool_status: Mapped[str] = mapped_column(String(16), default="idle")
    paused_until: Mapped[datetime | None]
    waiting_since: Mapped[datetime | None]
    priority: Mapped[bool] = mapped_column(default=False)  # carried over or declined last round
    forum_post_id: Mapped[int | None] = mapped_column(BigInteger)
    forum_post_stale: Mapped[bool] = mapped_column(default=False)
    # Check-in day and time in the member's zone; None = the day before the pair's meeting.
    checkin_weekday: Mapped[int | None]
    checkin_time: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    private: Mapped[MemberPrivate | None] = relationship(
        back_populates="member", cascade="all, delete-orphan", uselist=False, lazy="raise"
    )


class MemberPrivate(Base):
    __tablename__ = "member_private"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    gender: Mapped[str | None] = mapped_column(String(32))
    age_bracket: Mapped[str | None] = mapped_column(String(16))
    pref_genders: Mapped[list[str]] = mapped_column(JSON, default=list)
    pref_age_min: Mapped[int | None]
    pref_age_max: Mapped[int | None]
    pref_languages: Mapped[list[str]] = mapped_column(JSON, default=list)

    member: Mapped[Member] = relationship(back_populates="private", lazy="raise")

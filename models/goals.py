"""The accountability loop: goals, DM check-ins, a partner's feedback, weekly reflections on
missed goals, and snoozed weeks."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class Goal(Base):
    __tablename__ = "goals"
    __table_args__ = (
        # A member's goals by status (/goal list, check-ins); its leading column also serves
        # the lookups by member alone.
        Index("ix_goals_member_id_status", "member_id", "status"),
        # A community's goals by status (insights, upkeep by community).
        Index("ix_goals_guild_id_status", "guild_id", "status"),
        # The upkeep across communities: live goals, and goals missed lately.
        Index("ix_goals_status_updated_at", "status", "updated_at"),
        # The goals sweep's chunk: unreviewed goals of a window of member ids (issue 13).
        Index("ix_goals_reviewed_at_member_id", "reviewed_at", "member_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    partnership_id: Mapped[int | None] = mapped_column(
        ForeignKey("partnerships.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(Text)
    area: Mapped[str | None] = mapped_column(String(40))
    due_date: Mapped[date] = mapped_column(Date)  # the due moment's date in the member's zone
    # The due moment (UTC): the end of the picked day, or a fixed time before the pair's next
    # meeting (see bot.domain.goals); None only on rows older than migration 0004 until backfill.
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    # How the due moment was chosen: meeting (the pair's next meeting) / day (a date or a week).
    due_rule: Mapped[str] = mapped_column(String(16), default="day")
    # When the review closed the goal's cycle (missed, or left done/partly); None while it runs.
    reviewed_at: Mapped[datetime | None]
    # open / done / partly / missed / dropped
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CheckIn(Base):
    """One check-in question about one goal; a later answer to the same one updates it."""

    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("goal_id", "asked_for"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    asked_for: Mapped[datetime]  # the check-in occurrence (UTC)
    answer: Mapped[str | None] = mapped_column(String(16))  # done / partly / missed
    note: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]


class Feedback(Base):
    """A partner's answer to a check-in, delivered to the member."""

    __tablename__ = "checkin_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    checkin_id: Mapped[int] = mapped_column(
        ForeignKey("checkins.id", ondelete="CASCADE"), index=True
    )
    from_member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class MissedReflection(Base):
    """Why a goal was missed and what would help; shared with the partner, first on the next
    meeting's agenda."""

    __tablename__ = "missed_reflections"

    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(
        ForeignKey("goals.id", ondelete="CASCADE"), unique=True
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    week_start: Mapped[date] = mapped_column(Date)
    # family / work / distraction / underestimated / unsure / other
    reason: Mapped[str] = mapped_column(String(24))
    reflection: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Snooze(Base):
    """A week off (holiday): no check-ins or prompts, streaks unbroken."""

    __tablename__ = "snoozes"
    __table_args__ = (UniqueConstraint("member_id", "week_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    week_start: Mapped[date] = mapped_column(Date)  # Monday, member-local
    created_at: Mapped[datetime]

"""Meetings of a partnership, who said they met, and reports to moderators."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class Meeting(Base):
    """One occurrence of a pair's recurring meeting (materialised from its recurrence)."""

    __tablename__ = "meetings"
    __table_args__ = (UniqueConstraint("partnership_id", "occurs_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(
        ForeignKey("partnerships.id", ondelete="CASCADE"), index=True
    )
    occurs_at: Mapped[datetime]
    # scheduled / cancelled (the time changed) / done (both answered "did you meet?")
    state: Mapped[str] = mapped_column(String(16), default="scheduled")


class MeetingAnswer(Base):
    """A partner's answer to "Did you meet?": yes / rescheduled / no."""

    __tablename__ = "meeting_answers"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    answer: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[datetime]


class Report(Base):
    """A member's report to the moderators. Holds the reporter's own words and public context,
    never anyone's private fields."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger, index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    reported_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    partnership_id: Mapped[int | None] = mapped_column(
        ForeignKey("partnerships.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime]

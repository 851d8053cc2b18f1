"""A community's settings, set by its moderators with ``/admin setup``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

DEFAULT_GOAL_AREAS = ["fitness", "study", "career", "writing", "creative", "habits"]


class GuildSettings(Base):
    __tablename__ = "guild_settings"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    forum_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    pair_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    mod_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    access_role_id: Mapped[int | None] = mapped_column(BigInteger)
    moderator_role_id: Mapped[int | None] = mapped_column(BigInteger)
    goal_areas: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(DEFAULT_GOAL_AREAS))
    match_weekday: Mapped[int] = mapped_column(default=0)
    match_time_utc: Mapped[str] = mapped_column(String(5), default="17:00")
    repeat_window_days: Mapped[int] = mapped_column(default=90)
    odd_policy: Mapped[str] = mapped_column(String(16), default="carry_over")
    min_overlap_minutes: Mapped[int] = mapped_column(default=60)
    trial_days: Mapped[int] = mapped_column(default=14)
    proposal_hours: Mapped[int] = mapped_column(default=72)
    ghost_weeks: Mapped[int] = mapped_column(default=3)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

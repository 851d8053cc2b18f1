"""The global send budget (issue 13): Discord allows a bot 50 requests a second in all, however
many processes it runs, so the processes of one bot count their sends per second here, in the
shared PostgreSQL database (see ``bot/services/send_budget.py``)."""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class SendBudget(Base):
    __tablename__ = "send_budget"

    # The slot the sends are counted for: Unix time × slots per second (SharedPacer), floored.
    second: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # Sends reserved for that second by every process (may pass the limit; grants never do).
    used: Mapped[int] = mapped_column(default=0)

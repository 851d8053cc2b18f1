"""goal cycle: a goal's due moment in UTC, how it was chosen, and when its cycle was reviewed

Existing goals keep their meaning: ``due_at`` is backfilled as 23:59 on ``due_date`` in the
member's zone (UTC when unset), the deadline every goal had before; goals already closed
(done, partly, missed, dropped) count as reviewed at their due moment, open ones are not.

Revision ID: 0004_goal_cycle
Revises: 0003
"""
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0004_goal_cycle"
down_revision: str | None = "0004_round_standings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _deadline(due: date, zone: str | None) -> datetime:
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return datetime.combine(due, time(23, 59), tzinfo=tz).astimezone(UTC)


def upgrade() -> None:
    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("due_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("due_rule", sa.String(length=16), nullable=False, server_default="day")
        )
        batch_op.add_column(
            sa.Column("reviewed_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_goals_due_at"), ["due_at"], unique=False)
    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.alter_column("due_rule", server_default=None)

    bind = op.get_bind()
    goals = sa.table(
        "goals",
        sa.column("id", sa.Integer()),
        sa.column("member_id", sa.Integer()),
        sa.column("due_date", sa.Date()),
        sa.column("status", sa.String()),
        sa.column("due_at", models.base.UTCDateTime(timezone=True)),
        sa.column("reviewed_at", models.base.UTCDateTime(timezone=True)),
    )
    members = sa.table("members", sa.column("id", sa.Integer()), sa.column("timezone", sa.String()))
    rows = bind.execute(
        sa.select(goals.c.id, goals.c.due_date, goals.c.status, members.c.timezone).join(
            members, members.c.id == goals.c.member_id
        )
    ).all()
    for goal_id, due, status, zone in rows:
        at = _deadline(due, zone)
        bind.execute(
            goals.update()
            .where(goals.c.id == goal_id)
            .values(due_at=at, reviewed_at=None if status in ("open", "partly") else at)
        )


def downgrade() -> None:
    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_goals_due_at"))
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("due_rule")
        batch_op.drop_column("due_at")

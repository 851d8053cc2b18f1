"""sweep cursor: the goals sweep runs in bounded chunks across ticks from a stored position, and
an index serves its chunk query; an index for the tick's stale posts (issue 13)

Revision ID: 0007_sweep_cursor
Revises: 0006_member_left
Create Date: 2026-12-06 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0007_sweep_cursor"
down_revision: str | None = "0006_member_left"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sweep_cursors",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("after_id", sa.BigInteger(), nullable=False),
        sa.Column("resume_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sweep_cursors")),
    )
    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_goals_reviewed_at_member_id", ["reviewed_at", "member_id"], unique=False
        )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index("ix_members_forum_post_stale", ["forum_post_stale"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_forum_post_stale")
    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.drop_index("ix_goals_reviewed_at_member_id")
    op.drop_table("sweep_cursors")

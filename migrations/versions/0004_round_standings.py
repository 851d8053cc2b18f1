"""round standings: how long each waiting member has waited and what they were last told

Revision ID: 0004_round_standings
Revises: 0003
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0004_round_standings"
down_revision: str | None = "0004_ops_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "round_standings",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("spell", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rounds_waited", sa.Integer(), nullable=False),
        sa.Column("last_round_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("told_key", sa.String(length=200), nullable=True),
        sa.Column("told_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("promise_open", sa.Boolean(), nullable=False),
        sa.Column("hint", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"],
            name=op.f("fk_round_standings_member_id_members"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_round_standings")),
    )
    with op.batch_alter_table("round_standings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_round_standings_guild_id"), ["guild_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("round_standings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_round_standings_guild_id"))
    op.drop_table("round_standings")

"""ops indexes: an index or key column for each hot query (issue 13)

The outbox gains ``target`` (``kind:target``, the key's first two parts) so that cancelling a
target's pending rows is an equality lookup instead of ``key LIKE 'prefix%'``; rows still waiting
(pending or claimed) get it filled in here, finished rows never need it. Single-column indexes
that a new composite one starts with are dropped.

Revision ID: 0004_ops_indexes
Revises: 0003
Create Date: 2026-12-03 15:22:05.084392
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op



revision: str = '0004_ops_indexes'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_goals_member_id'))
        batch_op.create_index('ix_goals_guild_id_status', ['guild_id', 'status'], unique=False)
        batch_op.create_index('ix_goals_member_id_status', ['member_id', 'status'], unique=False)
        batch_op.create_index('ix_goals_status_updated_at', ['status', 'updated_at'], unique=False)

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_members_guild_id'))
        batch_op.create_index('ix_members_guild_id_pool_status', ['guild_id', 'pool_status'], unique=False)
        batch_op.create_index('ix_members_pool_status_paused_until', ['pool_status', 'paused_until'], unique=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('target', sa.String(length=200), nullable=True))
        batch_op.drop_index(batch_op.f('ix_outbox_user_id'))
        batch_op.create_index('ix_outbox_state_expires_at', ['state', 'expires_at'], unique=False)
        batch_op.create_index('ix_outbox_target_state', ['target', 'state'], unique=False)
        batch_op.create_index('ix_outbox_user_id_state', ['user_id', 'state'], unique=False)

    # Keys of three or more parts ``kind:target:rest``: target is ``kind:target``.
    if op.get_bind().dialect.name == "postgresql":
        first_two = "split_part(key, ':', 1) || ':' || split_part(key, ':', 2)"
        has_three = "key LIKE '%:%:%'"
    else:
        rest = "substr(key, instr(key, ':') + 1)"
        first_two = f"substr(key, 1, instr(key, ':') + instr({rest}, ':') - 1)"
        has_three = f"instr(key, ':') > 0 AND instr({rest}, ':') > 0"
    op.execute(
        f"UPDATE outbox SET target = {first_two} "
        f"WHERE state IN ('pending', 'claimed') AND {has_three}"
    )


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_user_id_state')
        batch_op.drop_index('ix_outbox_target_state')
        batch_op.drop_index('ix_outbox_state_expires_at')
        batch_op.create_index(batch_op.f('ix_outbox_user_id'), ['user_id'], unique=False)
        batch_op.drop_column('target')

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index('ix_members_pool_status_paused_until')
        batch_op.drop_index('ix_members_guild_id_pool_status')
        batch_op.create_index(batch_op.f('ix_members_guild_id'), ['guild_id'], unique=False)

    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.drop_index('ix_goals_status_updated_at')
        batch_op.drop_index('ix_goals_member_id_status')
        batch_op.drop_index('ix_goals_guild_id_status')
        batch_op.create_index(batch_op.f('ix_goals_member_id'), ['member_id'], unique=False)


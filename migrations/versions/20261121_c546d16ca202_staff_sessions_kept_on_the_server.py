"""staff sessions kept on the server

A signed-in browser's cookie carries a random key; this table keeps the key's hash, when the
session started and was last seen, from where, and when it ended. Logging out ends a session
for good (a copied cookie no longer works), and users and admins can end sessions.

Revision ID: c546d16ca202
Revises: 475fd27dc9c3
Create Date: 2026-11-21 19:50:34.486395
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import crm.core.types

revision: str = 'c546d16ca202'
down_revision: str | None = '475fd27dc9c3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('staff_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('started_at', crm.core.types.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', crm.core.types.UTCDateTime(), nullable=False),
    sa.Column('ended_at', crm.core.types.UTCDateTime(), nullable=True),
    sa.Column('ip_address', sqlmodel.sql.sqltypes.AutoString(length=45), nullable=True),
    sa.Column('user_agent', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    with op.batch_alter_table('staff_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_sessions_user_id'), ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('staff_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_sessions_user_id'))

    op.drop_table('staff_sessions')

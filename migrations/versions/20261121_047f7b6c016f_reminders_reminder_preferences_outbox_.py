"""reminders, reminder preferences, outbox attachments

Reminders owed are rows with a unique key; staff choose immediate reminders or a daily digest
and subscribe to the weekly report; outbox messages carry attachments (the report's chart and
spreadsheets).

Revision ID: 047f7b6c016f
Revises: 2afd1c522900
Create Date: 2026-11-21 12:16:08.858227
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import crm.core.types

revision: str = '047f7b6c016f'
down_revision: str | None = '2afd1c522900'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('outbox_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('content_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_messages.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbox_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_attachments_message_id'), ['message_id'], unique=False)

    op.create_table('reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('enrollment_id', sa.Integer(), nullable=True),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('checklist_item_id', sa.Integer(), nullable=True),
    sa.Column('occurrence_at', crm.core.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', crm.core.types.UTCDateTime(), nullable=False),
    sa.Column('delivered_at', crm.core.types.UTCDateTime(), nullable=True),
    sa.Column('outbox_message_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['checklist_item_id'], ['checklist_items.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['outbox_message_id'], ['outbox_messages.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key')
    )
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminders_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reminders_checklist_item_id'), ['checklist_item_id'], unique=False)
        batch_op.create_index('ix_reminders_enrollment_kind', ['enrollment_id', 'kind', 'occurrence_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reminders_outbox_message_id'), ['outbox_message_id'], unique=False)
        batch_op.create_index('ix_reminders_user_undelivered', ['user_id', 'delivered_at'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminder_delivery', sa.String(length=16), nullable=False, server_default='immediate'))
        batch_op.add_column(sa.Column('weekly_report', sa.Boolean(), nullable=False, server_default=sa.false()))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('weekly_report')
        batch_op.drop_column('reminder_delivery')

    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_index('ix_reminders_user_undelivered')
        batch_op.drop_index(batch_op.f('ix_reminders_outbox_message_id'))
        batch_op.drop_index('ix_reminders_enrollment_kind')
        batch_op.drop_index(batch_op.f('ix_reminders_checklist_item_id'))
        batch_op.drop_index(batch_op.f('ix_reminders_application_id'))

    op.drop_table('reminders')
    with op.batch_alter_table('outbox_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_attachments_message_id'))

    op.drop_table('outbox_attachments')

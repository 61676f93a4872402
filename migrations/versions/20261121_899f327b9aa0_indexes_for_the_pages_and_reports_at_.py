"""indexes for the pages and reports at 100,000 startups

Each one is read by a query plan at the benchmark's agency scale (bench/): the board's counts
from one index; landings in a period; open enrollments, open tasks and someone's open tasks by
due moment (partial indexes); a BD manager's new leads; the enrollments moved since a moment;
the Outbox page by status. Indexes that a new one starts with give way to it, and tasks.done_at
loses its own (SQLite took `done_at IS NULL` for rare and walked every open task).

Revision ID: 899f327b9aa0
Revises: 047f7b6c016f
Create Date: 2026-11-21 13:33:55.850796
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '899f327b9aa0'
down_revision: str | None = '047f7b6c016f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrollments_programme_stage'))
        batch_op.create_index('ix_enrollments_open_due', ['due_at'], unique=False, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
        batch_op.create_index('ix_enrollments_programme_status_stage_due', ['programme_id', 'status', 'stage', 'due_at'], unique=False)
        batch_op.create_index('ix_enrollments_status_closed', ['status', 'closed_at'], unique=False)

    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_messages_status'))
        batch_op.create_index('ix_outbox_status_id', ['status', 'id'], unique=False)

    with op.batch_alter_table('stage_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stage_events_occurred_at'))
        batch_op.create_index('ix_stage_events_occurred_enrollment', ['occurred_at', 'enrollment_id'], unique=False)

    with op.batch_alter_table('startups', schema=None) as batch_op:
        batch_op.create_index('ix_startups_owner_created', ['owner_id', 'created_at'], unique=False)

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tasks_assignee_open_due'))
        batch_op.drop_index(batch_op.f('ix_tasks_done_at'))
        batch_op.create_index('ix_tasks_assignee_open', ['assignee_id', 'due_at'], unique=False, sqlite_where=sa.text('done_at IS NULL'), postgresql_where=sa.text('done_at IS NULL'))
        batch_op.create_index('ix_tasks_open_due', ['due_at'], unique=False, sqlite_where=sa.text('done_at IS NULL'), postgresql_where=sa.text('done_at IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_open_due', sqlite_where=sa.text('done_at IS NULL'), postgresql_where=sa.text('done_at IS NULL'))
        batch_op.drop_index('ix_tasks_assignee_open', sqlite_where=sa.text('done_at IS NULL'), postgresql_where=sa.text('done_at IS NULL'))
        batch_op.create_index(batch_op.f('ix_tasks_done_at'), ['done_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_assignee_open_due'), ['assignee_id', 'done_at', 'due_at'], unique=False)

    with op.batch_alter_table('startups', schema=None) as batch_op:
        batch_op.drop_index('ix_startups_owner_created')

    with op.batch_alter_table('stage_events', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_events_occurred_enrollment')
        batch_op.create_index(batch_op.f('ix_stage_events_occurred_at'), ['occurred_at'], unique=False)

    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_status_id')
        batch_op.create_index(batch_op.f('ix_outbox_messages_status'), ['status'], unique=False)

    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_index('ix_enrollments_status_closed')
        batch_op.drop_index('ix_enrollments_programme_status_stage_due')
        batch_op.drop_index('ix_enrollments_open_due', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
        batch_op.create_index(batch_op.f('ix_enrollments_programme_stage'), ['programme_id', 'status', 'stage'], unique=False)

"""intake: applications, documents of drafts

A document now belongs to a startup or, until the application is submitted, to a draft.

Revision ID: 2afd1c522900
Revises: b76761915d63
Create Date: 2026-11-21 10:41:19.579943
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import crm.core.types

revision: str = '2afd1c522900'
down_revision: str | None = 'b76761915d63'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('applications',
    sa.Column('created_at', crm.core.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', crm.core.types.UTCDateTime(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('last_activity_at', crm.core.types.UTCDateTime(), nullable=False),
    sa.Column('link_token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('link_expires_at', crm.core.types.UTCDateTime(), nullable=True),
    sa.Column('consent_version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('consent_given_at', crm.core.types.UTCDateTime(), nullable=True),
    sa.Column('submitted_at', crm.core.types.UTCDateTime(), nullable=True),
    sa.Column('withdrawn_at', crm.core.types.UTCDateTime(), nullable=True),
    sa.Column('startup_id', sa.Integer(), nullable=True),
    sa.Column('enrollment_id', sa.Integer(), nullable=True),
    sa.Column('invited_by_id', sa.Integer(), nullable=True),
    sa.Column('assigned_owner_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['assigned_owner_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['invited_by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], ),
    sa.ForeignKeyConstraint(['startup_id'], ['startups.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('link_token_hash')
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applications_assigned_owner_id'), ['assigned_owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_enrollment_id'), ['enrollment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_invited_by_id'), ['invited_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index('ix_applications_programme_submitted', ['programme_id', 'submitted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_startup_id'), ['startup_id'], unique=False)
        batch_op.create_index('ix_applications_status_activity', ['status', 'last_activity_at', 'id'], unique=False)

    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('application_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('kind', sa.String(length=32), nullable=True))
        batch_op.alter_column('startup_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_documents_application_id'), ['application_id'], unique=False)
        batch_op.create_foreign_key('fk_documents_application_id', 'applications', ['application_id'], ['id'], ondelete='CASCADE')
        batch_op.create_check_constraint('ck_documents_belongs_somewhere',
                                         'startup_id IS NOT NULL OR application_id IS NOT NULL')



def downgrade() -> None:
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_constraint('ck_documents_belongs_somewhere', type_='check')
        batch_op.drop_constraint('fk_documents_application_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_documents_application_id'))
        batch_op.alter_column('startup_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('kind')
        batch_op.drop_column('application_id')

    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index('ix_applications_status_activity')
        batch_op.drop_index(batch_op.f('ix_applications_startup_id'))
        batch_op.drop_index('ix_applications_programme_submitted')
        batch_op.drop_index(batch_op.f('ix_applications_programme_id'))
        batch_op.drop_index(batch_op.f('ix_applications_invited_by_id'))
        batch_op.drop_index(batch_op.f('ix_applications_enrollment_id'))
        batch_op.drop_index(batch_op.f('ix_applications_email'))
        batch_op.drop_index(batch_op.f('ix_applications_assigned_owner_id'))

    op.drop_table('applications')

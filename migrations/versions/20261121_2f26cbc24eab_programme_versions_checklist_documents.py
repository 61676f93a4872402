"""programme versions, checklist items and documents

Existing programmes get version 1 from their old `stages` column, and their enrollments are
pinned to it; `crm programmes load` then adds the full definitions as new versions.

Revision ID: 2f26cbc24eab
Revises: d81b900bd21f
Create Date: 2026-11-21 06:07:27.493734
"""
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import crm.core.types

revision: str = '2f26cbc24eab'
down_revision: str | None = 'd81b900bd21f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('programme_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('source_text', sa.Text(), nullable=False),
    sa.Column('checksum', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', crm.core.types.UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('programme_id', 'number')
    )
    with op.batch_alter_table('programme_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programme_versions_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_programme_versions_programme_id'), ['programme_id'], unique=False)

    op.create_table('documents',
    sa.Column('created_at', crm.core.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', crm.core.types.UTCDateTime(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('startup_id', sa.Integer(), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('storage_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['startup_id'], ['startups.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('storage_key')
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_documents_startup_id'), ['startup_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_uploaded_by_id'), ['uploaded_by_id'], unique=False)

    op.create_table('checklist_items',
    sa.Column('created_at', crm.core.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', crm.core.types.UTCDateTime(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('due_at', crm.core.types.UTCDateTime(), nullable=True),
    sa.Column('expires_at', crm.core.types.UTCDateTime(), nullable=True),
    sa.Column('evidence_note', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('evidence_document_id', sa.Integer(), nullable=True),
    sa.Column('settled_by_id', sa.Integer(), nullable=True),
    sa.Column('settled_at', crm.core.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['evidence_document_id'], ['documents.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['settled_by_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('enrollment_id', 'key')
    )
    with op.batch_alter_table('checklist_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checklist_items_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_checklist_items_enrollment_id'), ['enrollment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_checklist_items_evidence_document_id'), ['evidence_document_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_checklist_items_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_checklist_items_settled_by_id'), ['settled_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_checklist_items_status'), ['status'], unique=False)

    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('programme_version_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('fields', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('revision', sa.Integer(), nullable=False, server_default='1'))
        batch_op.create_index(batch_op.f('ix_enrollments_programme_version_id'), ['programme_version_id'], unique=False)
        batch_op.create_foreign_key(ENROLLMENT_VERSION_FK, 'programme_versions', ['programme_version_id'], ['id'])

    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('current_version', sa.Integer(), nullable=False, server_default='0'))

    _pin_existing_programmes_to_version_one()

    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.alter_column('programme_version_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('fields', existing_type=sa.JSON(), server_default=None)
        batch_op.alter_column('revision', existing_type=sa.Integer(), server_default=None)

    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.alter_column('current_version', existing_type=sa.Integer(), server_default=None)
        batch_op.drop_column('stages')


ENROLLMENT_VERSION_FK = 'fk_enrollments_programme_version_id_programme_versions'
CLOSES_AS = {'won': 'landed', 'lost': 'withdrawn'}


def _pin_existing_programmes_to_version_one() -> None:
    connection = op.get_bind()
    programmes = connection.execute(sa.text(
        'SELECT id, key, name_en, name_de, description_en, description_de, stages FROM programmes'
    )).mappings().all()
    for programme in programmes:
        stages = programme['stages']
        if isinstance(stages, str):
            stages = json.loads(stages)
        definition = {
            'key': programme['key'],
            'name': {'en': programme['name_en'], 'de': programme['name_de']},
            'description': {'en': programme['description_en'] or programme['name_en'],
                            'de': programme['description_de'] or programme['name_de']},
            'stages': [
                {'key': stage['key'], 'label': {'en': stage['label_en'], 'de': stage['label_de']},
                 'closes_as': ('rejected' if stage['key'] == 'rejected'
                               else CLOSES_AS.get(stage.get('terminal')))}
                for stage in stages
            ],
        }
        text = json.dumps(definition, ensure_ascii=False, sort_keys=True)
        connection.execute(
            sa.text('INSERT INTO programme_versions (programme_id, number, definition, source_text,'
                    ' checksum, created_at) VALUES (:programme, 1, :definition, :text, :checksum,'
                    ' :now)').bindparams(sa.bindparam('definition', type_=sa.JSON()),
                                         sa.bindparam('now', type_=crm.core.types.UTCDateTime())),
            {'programme': programme['id'], 'definition': definition, 'text': text,
             'checksum': hashlib.sha256(text.encode()).hexdigest(),
             'now': datetime.now(UTC)},
        )
        connection.execute(
            sa.text('UPDATE enrollments SET programme_version_id = (SELECT id FROM'
                    ' programme_versions WHERE programme_id = :programme AND number = 1)'
                    ' WHERE programme_id = :programme'), {'programme': programme['id']})
        connection.execute(sa.text('UPDATE programmes SET current_version = 1 WHERE id = :id'),
                           {'id': programme['id']})


def downgrade() -> None:
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stages', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.drop_column('current_version')

    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_constraint(ENROLLMENT_VERSION_FK, type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_enrollments_programme_version_id'))
        batch_op.drop_column('revision')
        batch_op.drop_column('fields')
        batch_op.drop_column('programme_version_id')

    with op.batch_alter_table('checklist_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checklist_items_status'))
        batch_op.drop_index(batch_op.f('ix_checklist_items_settled_by_id'))
        batch_op.drop_index(batch_op.f('ix_checklist_items_expires_at'))
        batch_op.drop_index(batch_op.f('ix_checklist_items_evidence_document_id'))
        batch_op.drop_index(batch_op.f('ix_checklist_items_enrollment_id'))
        batch_op.drop_index(batch_op.f('ix_checklist_items_due_at'))

    op.drop_table('checklist_items')
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_documents_uploaded_by_id'))
        batch_op.drop_index(batch_op.f('ix_documents_startup_id'))

    op.drop_table('documents')
    with op.batch_alter_table('programme_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_programme_versions_programme_id'))
        batch_op.drop_index(batch_op.f('ix_programme_versions_created_by_id'))

    op.drop_table('programme_versions')

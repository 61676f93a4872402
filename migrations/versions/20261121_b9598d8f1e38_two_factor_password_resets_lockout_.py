"""two-factor, password resets, lockout; audit events cannot be changed

Staff accounts get an encrypted TOTP secret with the last accepted time step (a code works
once), ten hashed recovery codes, single-use password-reset links, a count of failed sign-ins
and a lock time; the desk gets a one-row security policy (two-factor required for all staff).

Audit events become append-only in the database. The one UPDATE allowed replaces an event's
details by the redaction marker `{"redacted": true}` and changes nothing else (erasure under
GDPR Art. 17 drops the values an event recorded, keeping who did what when). A DELETE is
refused on PostgreSQL unless the transaction says `SET LOCAL crm.audit_maintenance = 'on'`
(the retention job and the test suite's cleanup do); SQLite, the one-command run's database,
cannot see such a setting from a trigger, so it refuses updates only.

Revision ID: b9598d8f1e38
Revises: 4c1e2a9b7d31
Create Date: 2026-11-21 19:15:56.044425
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import crm.core.types

revision: str = 'b9598d8f1e38'
down_revision: str | None = '4c1e2a9b7d31'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REDACTED = '{"redacted": true}'  # as SQLAlchemy's JSON type writes {"redacted": True}

SQLITE_TRIGGERS = (
    f"""
    CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
    WHEN NOT (NEW.details = '{REDACTED}' AND NEW.id = OLD.id
              AND NEW.occurred_at IS OLD.occurred_at AND NEW.action IS OLD.action
              AND NEW.actor_user_id IS OLD.actor_user_id AND NEW.object_type IS OLD.object_type
              AND NEW.object_id IS OLD.object_id AND NEW.ip_address IS OLD.ip_address)
    BEGIN SELECT RAISE(ABORT, 'audit events cannot be changed'); END
    """,
)

POSTGRESQL_TRIGGERS = (
    f"""
    CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE'
           AND coalesce(current_setting('crm.audit_maintenance', true), '') = 'on' THEN
            RETURN OLD;
        END IF;
        IF TG_OP = 'UPDATE' AND NEW.details::text = '{REDACTED}'
           AND (NEW.id, NEW.occurred_at, NEW.action, NEW.actor_user_id, NEW.object_type,
                NEW.object_id, NEW.ip_address)
               IS NOT DISTINCT FROM (OLD.id, OLD.occurred_at, OLD.action, OLD.actor_user_id,
                                     OLD.object_type, OLD.object_id, OLD.ip_address) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit events cannot be changed' USING ERRCODE = 'insufficient_privilege';
    END $$
    """,
    """
    CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
    """,
)


def upgrade() -> None:
    op.create_table('password_resets',
    sa.Column('created_at', crm.core.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', crm.core.types.UTCDateTime(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('expires_at', crm.core.types.UTCDateTime(), nullable=False),
    sa.Column('used_at', crm.core.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('password_resets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_resets_user_id'), ['user_id'], unique=False)

    op.create_table('recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('used_at', crm.core.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_codes_user_id'), ['user_id'], unique=False)

    op.create_table('security_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('require_two_factor', sa.Boolean(), nullable=False),
    sa.Column('updated_at', crm.core.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_changed_at', crm.core.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('locked_until', crm.core.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('totp_secret', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.add_column(sa.Column('totp_enabled_at', crm.core.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))

    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_TRIGGERS if postgresql else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER audit_events_append_only")

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_enabled_at')
        batch_op.drop_column('totp_secret')
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')
        batch_op.drop_column('password_changed_at')

    op.drop_table('security_policy')
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_codes_user_id'))

    op.drop_table('recovery_codes')
    with op.batch_alter_table('password_resets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_resets_user_id'))

    op.drop_table('password_resets')

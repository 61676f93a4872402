"""Staff accounts, invitations, password resets, recovery codes and the security policy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from crm.core.enums import Language, ReminderDelivery, Role
from crm.core.mixins import Timestamped
from crm.core.types import timestamp_field


class User(Timestamped, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)  # stored lower-cased
    name: str = Field(max_length=120)
    password_hash: str | None = Field(default=None, max_length=255)
    role: Role = Field(sa_type=String(16), index=True)
    is_active: bool = Field(default=True, index=True)
    locale: Language = Field(default=Language.EN, sa_type=String(8))
    # Bumped on deactivation, role or password change: older sessions stop working.
    session_version: int = Field(default=1)
    last_login_at: datetime | None = timestamp_field(nullable=True)
    reminder_delivery: ReminderDelivery = Field(
        default=ReminderDelivery.IMMEDIATE, sa_type=String(16)
    )
    weekly_report: bool = Field(default=False)  # subscribed to the Monday pipeline report
    password_changed_at: datetime | None = timestamp_field(nullable=True)
    # Failed sign-ins since the last good one; from a threshold on, each adds a longer lock.
    failed_logins: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    locked_until: datetime | None = timestamp_field(nullable=True)
    # Two-factor: the TOTP secret, encrypted with a key derived from SECRET_KEY
    # (crm/users/two_factor.py); the last time step accepted, so a code works once.
    totp_secret: str | None = Field(default=None, max_length=255)
    totp_enabled_at: datetime | None = timestamp_field(nullable=True)
    totp_last_step: int | None = None

    @property
    def has_two_factor(self) -> bool:
        return self.totp_enabled_at is not None

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles


class Invitation(Timestamped, table=True):
    """A one-time link with which an invited user sets a password; only its hash is kept."""

    __tablename__ = "invitations"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = timestamp_field()
    accepted_at: datetime | None = timestamp_field(nullable=True)
    invited_by_id: int | None = Field(default=None, foreign_key="users.id", index=True)


class StaffSession(SQLModel, table=True):
    """A signed-in browser. Its cookie carries a random key, this row the key's hash: the server
    decides whether a session lives, so logging out ends it for good and sessions can be listed
    and ended by their user or an admin."""

    __tablename__ = "staff_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    key_hash: str = Field(max_length=64, unique=True)
    started_at: datetime = timestamp_field()
    last_seen_at: datetime = timestamp_field()
    ended_at: datetime | None = timestamp_field(nullable=True)
    ip_address: str | None = Field(default=None, max_length=45)
    user_agent: str | None = Field(default=None, max_length=200)


class PasswordReset(Timestamped, table=True):
    """A single-use emailed link to set a new password; only its hash is kept."""

    __tablename__ = "password_resets"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = timestamp_field()
    used_at: datetime | None = timestamp_field(nullable=True)


class RecoveryCode(SQLModel, table=True):
    """One of a user's ten single-use codes for signing in without the authenticator app."""

    __tablename__ = "recovery_codes"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    code_hash: str = Field(max_length=255)  # argon2id
    used_at: datetime | None = timestamp_field(nullable=True)


class SecurityPolicy(SQLModel, table=True):
    """The desk's one row of security settings, changed by admins (audited)."""

    __tablename__ = "security_policy"

    id: int = Field(default=1, primary_key=True)
    require_two_factor: bool = Field(default=False)
    # Webhooks to loopback, private and link-local addresses (an intranet system): refused
    # unless an admin allows them (SSRF, crm/webhooks/addresses.py).
    webhooks_allow_private: bool = Field(default=False)
    updated_at: datetime | None = timestamp_field(nullable=True)  # who: the audit event

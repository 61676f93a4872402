"""Signing in: the password, then the second factor if the account has one; failures counted
towards the account's lock (crm/users/lockout.py) and every outcome audited."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from crm.core import audit
from crm.core.clock import utcnow
from crm.users import lockout, two_factor
from crm.users.models import User
from crm.users.passwords import hash_password, needs_rehash, verify_password
from crm.users.services import find_by_email


class AccountLocked(Exception):
    """Too many failed sign-ins; `until` is None when only a reset or an admin unlocks it."""

    def __init__(self, until: datetime | None):
        super().__init__("account locked")
        self.until = until


def _refuse_if_locked(db: Session, user: User, ip_address: str | None, now: datetime) -> None:
    if lockout.locked(user, now):
        audit.record(db, "auth.login_locked", actor_user_id=user.id, object_type="user",
                     object_id=user.id, ip_address=ip_address)
        raise AccountLocked(None if lockout.is_hard_locked(user) else user.locked_until)


def _fail(db: Session, user: User | None, ip_address: str | None, reason: str) -> None:
    if user is not None and user.is_active:
        lockout.register_failure(user, utcnow())
    audit.record(db, "auth.login_failed", actor_user_id=user.id if user else None,
                 object_type="user" if user else None, object_id=user.id if user else None,
                 ip_address=ip_address, reason=reason)


def check_password(db: Session, email: str, password: str, ip_address: str | None) -> User | None:
    """The active, unlocked user with this password, or None (the failure is counted and
    audited); raises AccountLocked without looking at the password when the account is locked.
    """
    user = find_by_email(db, email)
    if user is not None and user.is_active:
        _refuse_if_locked(db, user, ip_address, utcnow())
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
        _fail(db, user, ip_address,
              "inactive" if user is not None and not user.is_active else "bad_credentials")
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def check_second_factor(db: Session, user: User, code: str, ip_address: str | None) -> bool:
    """A TOTP code or an unused recovery code; a wrong one counts like a wrong password."""
    now = utcnow()
    _refuse_if_locked(db, user, ip_address, now)
    if two_factor.accept_code(user, code, now):
        return True
    if two_factor.use_recovery_code(db, user, code, now):
        audit.record(db, "auth.recovery_code_used", actor_user_id=user.id, object_type="user",
                     object_id=user.id, ip_address=ip_address,
                     left=two_factor.recovery_codes_left(db, user))
        return True
    _fail(db, user, ip_address, "bad_second_factor")
    return False


def complete(db: Session, user: User, ip_address: str | None) -> None:
    """The user is in: failures forgotten, the time noted, a login audited."""
    lockout.clear(user)
    user.last_login_at = utcnow()
    audit.record(db, "auth.login", actor_user_id=user.id, object_type="user", object_id=user.id,
                 ip_address=ip_address, second_factor=user.has_two_factor)


def confirm_password(db: Session, user: User, password: str, ip_address: str | None) -> bool:
    """Re-authentication before a sensitive change; a wrong password counts towards the lock."""
    _refuse_if_locked(db, user, ip_address, utcnow())
    if verify_password(user.password_hash, password):
        return True
    lockout.register_failure(user, utcnow())
    audit.record(db, "auth.reauth_failed", actor_user_id=user.id, object_type="user",
                 object_id=user.id, ip_address=ip_address)
    return False

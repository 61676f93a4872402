"""Changing one's sign-in: password, email address, two-factor, and the emailed password reset.
Each change is audited and announced by email to the account's address."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from crm.core import audit
from crm.core.clock import utcnow
from crm.core.enums import Language
from crm.core.tokens import hash_token, new_token
from crm.outbox.services import queue_email
from crm.users import two_factor
from crm.users.models import PasswordReset, User
from crm.users.services import end_sessions, find_by_email, normalize_email, set_password

RESET_VALIDITY = timedelta(minutes=30)

#: What a security notice can announce (templates/emails/account/security_notice.*).
NOTICES = ("password_changed", "password_reset", "email_changed", "two_factor_on",
           "two_factor_off", "recovery_codes_renewed")


def _notify(db: Session, user: User, change: str, to_address: str | None = None) -> None:
    assert change in NOTICES
    stamp = int(utcnow().timestamp() * 1000)
    queue_email(db, dedupe_key=f"security-notice:{user.id}:{change}:{stamp}",
                to_address=to_address or user.email, locale=Language(user.locale),
                template="account/security_notice", context={"user": user, "change": change},
                user_id=user.id)


def _audit(db: Session, user: User, action: str, ip_address: str | None, **details) -> None:
    audit.record(db, action, actor_user_id=user.id, object_type="user", object_id=user.id,
                 ip_address=ip_address, **details)


def change_password(db: Session, user: User, password: str, ip_address: str | None) -> None:
    set_password(db, user, password)
    _audit(db, user, "user.password_changed", ip_address)
    _notify(db, user, "password_changed")


def change_email(db: Session, user: User, email: str, ip_address: str | None) -> bool:
    """False when another account has that address; the old address is told of the change."""
    email = normalize_email(email)
    if email == user.email:
        return True
    if find_by_email(db, email) is not None:
        return False
    old_address = user.email
    user.email = email
    end_sessions(db, user)
    _audit(db, user, "user.email_changed", ip_address)
    _notify(db, user, "email_changed", to_address=old_address)
    return True


def start_two_factor(user: User) -> str:
    return two_factor.begin_setup(user)


def enable_two_factor(db: Session, user: User, code: str,
                      ip_address: str | None) -> list[str] | None:
    """Confirm the pending secret with a code from the app: two-factor is on, and the ten
    recovery codes come back to be shown once. None when the code is wrong."""
    if user.has_two_factor or not two_factor.accept_code(user, code, utcnow()):
        return None
    user.totp_enabled_at = utcnow()
    end_sessions(db, user)  # sessions signed in without the second factor end
    codes = two_factor.new_recovery_codes(db, user)
    _audit(db, user, "user.two_factor_enabled", ip_address)
    _notify(db, user, "two_factor_on")
    return codes


def disable_two_factor(db: Session, user: User, actor: User, ip_address: str | None) -> None:
    """Two-factor off for `user`, by themselves or by an admin (a lost phone)."""
    two_factor.forget(db, user)
    end_sessions(db, user)
    audit.record(db, "user.two_factor_disabled", actor_user_id=actor.id, object_type="user",
                 object_id=user.id, ip_address=ip_address)
    _notify(db, user, "two_factor_off")


def renew_recovery_codes(db: Session, user: User, ip_address: str | None) -> list[str]:
    codes = two_factor.new_recovery_codes(db, user)
    _audit(db, user, "user.recovery_codes_renewed", ip_address)
    _notify(db, user, "recovery_codes_renewed")
    return codes


# The emailed reset --------------------------------------------------------------------------


def request_reset(db: Session, email: str, base_url: str, ip_address: str | None) -> None:
    """Email a reset link if an active account has this address; the caller says the same
    thing either way, so the form does not tell who has an account."""
    user = find_by_email(db, email)
    if user is None or not user.is_active:
        audit.record(db, "auth.reset_requested_unknown", ip_address=ip_address)
        return
    token, token_hash = new_token()
    reset = PasswordReset(user_id=user.id, token_hash=token_hash,
                          expires_at=utcnow() + RESET_VALIDITY)
    db.add(reset)
    db.flush()
    queue_email(db, dedupe_key=f"password-reset:{reset.id}", to_address=user.email,
                locale=Language(user.locale), template="account/password_reset",
                context={"user": user, "link": f"{base_url}/password/reset/{token}",
                         "expires_at": reset.expires_at},
                user_id=user.id)
    _audit(db, user, "auth.reset_requested", ip_address)


def open_reset(db: Session, token: str) -> PasswordReset | None:
    """The unused, unexpired reset for this token, whose account is still active."""
    reset = db.scalar(select(PasswordReset).where(PasswordReset.token_hash == hash_token(token)))
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return None
    user = db.get(User, reset.user_id)
    return reset if user is not None and user.is_active else None


def complete_reset(db: Session, reset: PasswordReset, password: str,
                   ip_address: str | None) -> User:
    """The new password is set; this link and every other open one for the account are used
    up, the account's lock is lifted and all its sessions end. Two-factor stays on."""
    user = db.get(User, reset.user_id)
    now = utcnow()
    db.execute(update(PasswordReset)
               .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
               .values(used_at=now))
    set_password(db, user, password)
    _audit(db, user, "user.password_reset", ip_address)
    _notify(db, user, "password_reset")
    return user

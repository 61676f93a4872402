"""Two-factor sign-in: TOTP secrets kept encrypted, codes that work once, recovery codes."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

import pyotp
import segno
from sqlalchemy import delete, func, select
from sqlmodel import Session

from crm.core import secrets as secrets_at_rest
from crm.users.models import RecoveryCode, User
from crm.users.passwords import hash_password, verify_password

ISSUER = "Landing Desk"
RECOVERY_CODE_COUNT = 10
_STEP_SECONDS = 30
_DRIFT_STEPS = 1  # a code from the step before or after counts too: phone clocks drift
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_PURPOSE = b"landing-desk totp secret"  # the key derivation's label: unchanged, old seeds read
_CODE_HALF = 5  # "abcde-fghjk": 10 characters of 31, about 50 bits


def begin_setup(user: User) -> str:
    """A new secret for the user's authenticator app, pending until a code confirms it."""
    secret = pyotp.random_base32()
    user.totp_secret = secrets_at_rest.encrypt(_PURPOSE, secret)
    user.totp_enabled_at = None
    user.totp_last_step = None
    return secret


def secret_of(user: User) -> str | None:
    if not user.totp_secret:
        return None
    return secrets_at_rest.decrypt(_PURPOSE, user.totp_secret)


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_code_data_uri(uri: str) -> str:
    """The otpauth URI as an SVG QR code in a data: URI (the CSP allows data: images)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def accept_code(user: User, code: str, now: datetime) -> bool:
    """Whether `code` is the user's current TOTP code; each time step is accepted once, so a
    code seen over someone's shoulder or replayed is refused."""
    secret = secret_of(user)
    code = "".join(code.split())
    if secret is None or len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // _STEP_SECONDS
    for step in range(current - _DRIFT_STEPS, current + _DRIFT_STEPS + 1):
        if step <= (user.totp_last_step or 0):
            continue
        if hmac.compare_digest(totp.at(step * _STEP_SECONDS), code):
            user.totp_last_step = step
            return True
    return False


def _normalized(code: str) -> str:
    return "".join(character for character in code.lower() if character.isalnum())


def new_recovery_codes(db: Session, user: User) -> list[str]:
    """Ten fresh single-use codes replacing any earlier ones; shown once, kept as salted argon2id
    hashes like passwords (about 50 bits each: a fast hash would not do)."""
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(2 * _CODE_HALF))
        codes.append(f"{raw[:_CODE_HALF]}-{raw[_CODE_HALF:]}")
        db.add(RecoveryCode(user_id=user.id, code_hash=hash_password(raw)))
    return codes


def use_recovery_code(db: Session, user: User, code: str, now: datetime) -> bool:
    """Whether `code` is one of the user's unused recovery codes; if so it is used up.
    Only input shaped like a code is compared (each comparison is an argon2 hash)."""
    typed = _normalized(code)
    if len(typed) != 2 * _CODE_HALF or set(typed) - set(_CODE_ALPHABET):
        return False
    unused = db.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                   RecoveryCode.used_at.is_(None)))
    for stored in unused:
        if verify_password(stored.code_hash, typed):
            stored.used_at = now
            return True
    return False


def recovery_codes_left(db: Session, user: User) -> int:
    return db.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


def forget(db: Session, user: User) -> None:
    """Two-factor off: the secret and the recovery codes are gone."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))

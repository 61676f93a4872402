"""API tokens: created by a user for themself, shown once, kept as a hash, scoped and expiring.

A token reads as `ldt_<8 characters>_<43 characters>`: the first part (its prefix) is kept to
tell tokens apart in lists; the database holds only the SHA-256 of the whole (the token is 256
random bits, so a fast hash is as good as a slow one and each request costs one index lookup).
A token acts as its user: the same role and ownership rules as the web pages; a deactivated
user's tokens stop working with their account.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from crm.api.models import ApiToken
from crm.core import audit
from crm.core.clock import utcnow
from crm.core.enums import Role
from crm.core.tokens import hash_token
from crm.users.models import User

TOKEN_START = "ldt_"  # noqa: S105 - the visible start of every token, no secret
READ, WRITE = "read", "write"
SCOPES = (READ, WRITE)
EXPIRY_DAYS = (7, 30, 90, 365)  # the choices offered; a year at most
LAST_USED_PRECISION = timedelta(minutes=1)  # `last_used_at` is written at most this often
TOKENS_PER_USER = 20


class TokenRefused(Exception):
    """The token cannot be created (too many, or write access for a viewer)."""


@dataclass(frozen=True)
class Authenticated:
    token: ApiToken
    user: User


def may_write(user: User) -> bool:
    """Viewers read only: a write scope would give them nothing."""
    return not user.has_role(Role.VIEWER)


def create_token(db: Session, user: User, *, name: str, scopes: list[str], days: int,
                 ip_address: str | None = None) -> tuple[ApiToken, str]:
    """A new token for `user` and its secret (to show once; it is not kept)."""
    if days not in EXPIRY_DAYS or not scopes or set(scopes) - set(SCOPES):
        raise ValueError("unknown scope or lifetime")
    if WRITE in scopes and not may_write(user):
        raise TokenRefused("viewers' tokens read only")
    if len(active_tokens(db, user)) >= TOKENS_PER_USER:
        raise TokenRefused("too many tokens")
    prefix = TOKEN_START + secrets.token_urlsafe(6)[:8]
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    ordered = [scope for scope in SCOPES if scope in scopes or scope == READ]  # write reads too
    token = ApiToken(user_id=user.id, name=name.strip(), prefix=prefix,
                     token_hash=hash_token(secret), scopes=" ".join(ordered),
                     expires_at=utcnow() + timedelta(days=days))
    db.add(token)
    db.flush()
    audit.record(db, "api_token.created", actor_user_id=user.id, object_type="api_token",
                 object_id=token.id, ip_address=ip_address, scopes=ordered, days=days)
    return token, secret


def revoke_token(db: Session, token: ApiToken, actor: User, *,
                 ip_address: str | None = None) -> None:
    """The token stops working now (its row stays, for the list and the audit trail)."""
    if token.revoked_at is not None:
        return
    token.revoked_at = utcnow()
    db.add(token)
    db.flush()
    audit.record(db, "api_token.revoked", actor_user_id=actor.id, object_type="api_token",
                 object_id=token.id, ip_address=ip_address, owner_id=token.user_id)


def active_tokens(db: Session, user: User, now: datetime | None = None) -> list[ApiToken]:
    now = now or utcnow()
    return list(db.scalars(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def tokens_of(db: Session, user: User) -> list[ApiToken]:
    """All of a user's tokens, newest first (revoked and expired ones included)."""
    return list(db.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                           .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def authenticate(db: Session, presented: str, now: datetime | None = None) -> Authenticated | None:
    """The live token and active user the presented secret belongs to, or None."""
    if not presented.startswith(TOKEN_START) or len(presented) > 200:
        return None
    now = now or utcnow()
    found = db.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                       .where(ApiToken.token_hash == hash_token(presented))).first()
    if found is None:
        return None
    token, user = found
    if token.revoked_at is not None or token.expires_at <= now or not user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        db.execute(update(ApiToken).where(ApiToken.id == token.id)
                   .values(last_used_at=now).execution_options(synchronize_session=False))
        db.commit()  # kept even when the request then fails
    return Authenticated(token, user)


def has_scope(token: ApiToken, scope: str) -> bool:
    return scope in token.scopes.split()

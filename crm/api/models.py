"""API tokens: a user's credentials for /api/v1, stored as hashes, scoped, expiring, revocable."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field

from crm.core.mixins import Timestamped
from crm.core.types import timestamp_field


class ApiToken(Timestamped, table=True):
    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=120)
    # The token's first characters ("ldt_AbCd1234"), shown in lists so a user can tell tokens
    # apart; the whole token is shown once and only its SHA-256 is kept.
    prefix: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    scopes: str = Field(max_length=32)  # "read" or "read write"
    expires_at: datetime = timestamp_field()
    revoked_at: datetime | None = timestamp_field(nullable=True)
    last_used_at: datetime | None = timestamp_field(nullable=True)

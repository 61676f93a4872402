"""The desk's security policy: whether every staff account must use two-factor sign-in, and
whether webhooks may go to private addresses."""

from __future__ import annotations

from sqlmodel import Session

from crm.core import audit
from crm.core.clock import utcnow
from crm.users.models import SecurityPolicy, User


def current(db: Session) -> SecurityPolicy:
    return db.get(SecurityPolicy, 1) or SecurityPolicy(id=1)


def require_two_factor(db: Session, required: bool, actor: User) -> None:
    policy = current(db)
    if policy.require_two_factor == required:
        return
    policy.require_two_factor = required
    policy.updated_at = utcnow()
    db.add(policy)
    audit.record(db, "policy.two_factor_required" if required else "policy.two_factor_optional",
                 actor_user_id=actor.id, object_type="security_policy", object_id=1)


def allow_private_webhooks(db: Session, allowed: bool, actor: User) -> None:
    """Let webhooks go to loopback, private and link-local addresses (an intranet receiver),
    or not (crm/webhooks/addresses.py)."""
    policy = current(db)
    if policy.webhooks_allow_private == allowed:
        return
    policy.webhooks_allow_private = allowed
    policy.updated_at = utcnow()
    db.add(policy)
    audit.record(db, "policy.private_webhooks_allowed" if allowed
                 else "policy.private_webhooks_refused",
                 actor_user_id=actor.id, object_type="security_policy", object_id=1)

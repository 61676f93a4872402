"""Who owns a new applicant: the programme's rule (country desk, then round robin)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from crm.core.enums import Role
from crm.intake.models import Application
from crm.users.access import EDITOR_ROLES
from crm.users.models import User
from crm.workflow.definitions import OwnerRule


def owner_by_rule(db: Session, programme_id: int, rule: OwnerRule, country: str) -> User | None:
    """The country desk's staff (if the rule names active ones), else the active BD managers;
    among several, the one after whoever received the programme's latest application."""
    candidates: list[User] = []
    desk = [email.lower() for email in rule.country_desks.get(country, [])]
    if desk:
        candidates = list(db.scalars(select(User).where(
            User.email.in_(desk), User.is_active, User.role.in_(EDITOR_ROLES),
        ).order_by(User.id)))
    if not candidates and rule.round_robin_bd_managers:
        candidates = list(db.scalars(select(User).where(
            User.is_active, User.role == Role.BD_MANAGER).order_by(User.id)))
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    previous = db.scalar(select(Application.assigned_owner_id).where(
        Application.programme_id == programme_id,
        Application.assigned_owner_id.in_([user.id for user in candidates]),
    ).order_by(Application.submitted_at.desc(), Application.id.desc()).limit(1))
    ids = [user.id for user in candidates]
    following = (ids.index(previous) + 1) % len(ids) if previous in ids else 0
    return candidates[following]

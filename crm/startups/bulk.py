"""Bulk actions on startups selected in the list: assign an owner, add a tag.

Each startup is checked on its own (`can_edit_startup`): those the actor may not change are
left alone and reported back, the others change and get an audit event each, written like a
profile edit ("startup.updated" with before/after), so a startup's history reads the same
whichever way it changed. The startup's version is bumped, so an edit form showing the older
state is refused rather than silently undoing the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session

from crm.core import audit
from crm.core.clock import utcnow
from crm.core.enums import Role
from crm.startups.access import can_edit_startup
from crm.startups.models import Startup, StartupTag
from crm.users.access import EDITOR_ROLES
from crm.users.models import User


class NotAllowed(Exception):
    """The actor may not change startups at all (a viewer)."""


class InvalidOwner(Exception):
    """The chosen owner is not someone the actor may hand startups to."""


@dataclass
class BulkOutcome:
    requested: int
    changed: list[Startup] = field(default_factory=list)
    unchanged: list[Startup] = field(default_factory=list)  # already so
    refused: list[Startup] = field(default_factory=list)  # another BD manager's
    missing: int = 0  # deleted meanwhile


def may_act_in_bulk(user: User) -> bool:
    return user.is_authenticated and user.has_role(*EDITOR_ROLES)


def owner_choices(db: Session, actor: User) -> list[User]:
    """Whom the actor may assign startups to: BD managers themselves only; managers and admins
    any active BD manager, manager or admin. One query at most."""
    if not may_act_in_bulk(actor):
        return []
    if not actor.has_role(Role.ADMIN, Role.MANAGER):
        return [actor]
    return list(db.scalars(select(User).where(User.is_active, User.role.in_(EDITOR_ROLES))
                           .order_by(User.name, User.id)))


def _startups(db: Session, startup_ids: Iterable[int]) -> tuple[list[Startup], int]:
    wanted = list(dict.fromkeys(startup_ids))
    found = list(db.scalars(select(Startup).where(Startup.id.in_(wanted))
                            .order_by(Startup.name, Startup.id)))
    return found, len(wanted) - len(found)


def _touch(startup: Startup) -> None:
    startup.version = (startup.version or 0) + 1


def assign_owner(db: Session, actor: User, startup_ids: Iterable[int],
                 new_owner: User) -> BulkOutcome:
    """Make `new_owner` the owner of each selected startup the actor may change."""
    if not may_act_in_bulk(actor):
        raise NotAllowed(actor.id)
    if not new_owner.is_active or not new_owner.has_role(*EDITOR_ROLES):
        raise InvalidOwner(new_owner.id)
    if not actor.has_role(Role.ADMIN, Role.MANAGER) and new_owner.id != actor.id:
        raise InvalidOwner(new_owner.id)
    startups, missing = _startups(db, startup_ids)
    outcome = BulkOutcome(len(startups) + missing, missing=missing)
    previous_ids = {s.owner_id for s in startups if s.owner_id not in (None, new_owner.id)}
    names = dict(db.execute(select(User.id, User.name).where(User.id.in_(previous_ids))).all()
                 ) if previous_ids else {}
    now = utcnow()
    for startup in startups:
        if not can_edit_startup(actor, startup):
            outcome.refused.append(startup)
            continue
        if startup.owner_id == new_owner.id:
            outcome.unchanged.append(startup)
            continue
        before = startup.owner_id
        startup.owner_id = new_owner.id
        startup.owner_assigned_at = now
        _touch(startup)
        db.add(startup)
        outcome.changed.append(startup)
        audit.record(db, "startup.updated", actor_user_id=actor.id, object_type="startup",
                     object_id=startup.id, changes={"owner_id": [before, new_owner.id]},
                     owner_names=[names.get(before) if before else None, new_owner.name],
                     bulk=True)
    db.flush()
    return outcome


def add_tag(db: Session, actor: User, startup_ids: Iterable[int], tag: str) -> BulkOutcome:
    """Add `tag` (already cleaned) to each selected startup the actor may change."""
    if not may_act_in_bulk(actor):
        raise NotAllowed(actor.id)
    startups, missing = _startups(db, startup_ids)
    outcome = BulkOutcome(len(startups) + missing, missing=missing)
    tags: dict[int, list[str]] = {}
    if startups:
        for startup_id, existing in db.execute(
                select(StartupTag.startup_id, StartupTag.tag)
                .where(StartupTag.startup_id.in_([s.id for s in startups]))).all():
            tags.setdefault(startup_id, []).append(existing)
    for startup in startups:
        if not can_edit_startup(actor, startup):
            outcome.refused.append(startup)
            continue
        before = sorted(tags.get(startup.id, []), key=str.casefold)
        if tag in before:
            outcome.unchanged.append(startup)
            continue
        db.add(StartupTag(startup_id=startup.id, tag=tag))
        _touch(startup)
        db.add(startup)
        outcome.changed.append(startup)
        audit.record(db, "startup.updated", actor_user_id=actor.id, object_type="startup",
                     object_id=startup.id,
                     changes={"tags": [before, sorted([*before, tag], key=str.casefold)]},
                     bulk=True)
    db.flush()
    return outcome

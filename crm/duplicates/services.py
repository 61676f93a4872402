"""Saying two startups are not duplicates, so the find page stops offering the pair."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from crm.core import audit
from crm.duplicates.models import DuplicateDismissal
from crm.startups.access import can_edit_startup
from crm.startups.models import Startup
from crm.startups.services import NotAllowed
from crm.users.models import User


def may_merge(user: User | None, first: Startup, second: Startup) -> bool:
    """Whoever may edit both records may merge them or say they are not duplicates."""
    return can_edit_startup(user, first) and can_edit_startup(user, second)


def dismiss_pair(db: Session, first: Startup, second: Startup, actor: User) -> bool:
    """Record that the two are different startups; False if that was recorded already."""
    if first.id == second.id:
        raise ValueError("a startup is not a pair")
    if not may_merge(actor, first, second):
        raise NotAllowed(first.id if not can_edit_startup(actor, first) else second.id)
    low, high = sorted((first.id, second.id))
    if db.get(DuplicateDismissal, (low, high)) is not None:
        return False
    try:
        with db.begin_nested():  # someone else may be dismissing the same pair right now
            db.add(DuplicateDismissal(first_startup_id=low, second_startup_id=high,
                                      dismissed_by_id=actor.id))
    except IntegrityError:
        return False
    audit.record(db, "duplicates.dismissed", actor_user_id=actor.id, object_type="startup",
                 object_id=low, other_startup_id=high)
    db.flush()
    return True

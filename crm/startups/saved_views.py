"""Saved views of the startups list: a user's named query strings, replayed as links."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from crm.core import audit
from crm.startups.listing import ListView
from crm.startups.models import SavedView
from crm.users.models import User


class NameTaken(Exception):
    """The user already has a view of that name."""


def views_of(db: Session, user_id: int) -> list[SavedView]:
    """The user's saved views by name (nobody else's): one query."""
    return list(db.scalars(select(SavedView).where(SavedView.user_id == user_id)
                           .order_by(SavedView.name, SavedView.id)))


def save_view(db: Session, user: User, name: str, view: ListView) -> SavedView:
    """Store the view under `name` for `user`. The query is stored as the list reads it back,
    so "owner=me" stays "me" and whoever opens the link sees their own startups."""
    name = " ".join(name.split())
    if db.scalar(select(SavedView.id).where(SavedView.user_id == user.id,
                                            SavedView.name == name)) is not None:
        raise NameTaken(name)
    saved = SavedView(user_id=user.id, name=name, query=view.query_string())
    try:
        with db.begin_nested():
            db.add(saved)
            db.flush()
    except IntegrityError as error:  # saved by a second click meanwhile
        raise NameTaken(name) from error
    audit.record(db, "saved_view.created", actor_user_id=user.id, object_type="saved_view",
                 object_id=saved.id, name=saved.name, query=saved.query)
    return saved


def delete_view(db: Session, user: User, saved: SavedView) -> None:
    """Delete one of the user's own views (the view checks ownership; this refuses too)."""
    if saved.user_id != user.id:
        raise PermissionError(saved.id)
    audit.record(db, "saved_view.deleted", actor_user_id=user.id, object_type="saved_view",
                 object_id=saved.id, name=saved.name)
    db.delete(saved)
    db.flush()

"""Reads of the audit trail: a filtered page of events (keyset on id), the same for a file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, select
from sqlmodel import Session

from crm.audit.actions import WILDCARD
from crm.audit.forms import NO_ACTOR, OLDEST, AuditFilterForm
from crm.core.audit import AuditEvent
from crm.reports.periods import Period
from crm.users.models import User

PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilters:
    """What the page's form asked for, as the query needs it (times in UTC)."""

    action: str | None = None  # one action, or a group as "auth.*"
    actor: str | None = None  # a user id, or NO_ACTOR
    object_type: str | None = None
    object_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    ip_address: str | None = None
    oldest_first: bool = False

    @classmethod
    def of(cls, form: AuditFilterForm, tz_name: str) -> AuditFilters:
        start, end = form.start.data, form.end.data
        return cls(action=form.action.data or None, actor=form.actor.data or None,
                   object_type=form.object_type.data or None, object_id=form.object_id.data,
                   since=_day_start(start, tz_name), until=_day_after(end, tz_name),
                   ip_address=form.ip_address.data or None,
                   oldest_first=form.sort.data == OLDEST)

    def where(self, query: Select) -> Select:
        if self.action and self.action.endswith(WILDCARD):
            query = query.where(AuditEvent.action.startswith(
                self.action.removesuffix(WILDCARD) + ".", autoescape=True))
        elif self.action:
            query = query.where(AuditEvent.action == self.action)
        if self.actor == NO_ACTOR:
            query = query.where(AuditEvent.actor_user_id.is_(None))
        elif self.actor:
            query = query.where(AuditEvent.actor_user_id == int(self.actor))
        if self.object_type:
            query = query.where(AuditEvent.object_type == self.object_type)
        if self.object_id is not None:
            query = query.where(AuditEvent.object_id == self.object_id)
        if self.since is not None:
            query = query.where(AuditEvent.occurred_at >= self.since)
        if self.until is not None:
            query = query.where(AuditEvent.occurred_at < self.until)
        if self.ip_address:
            query = query.where(AuditEvent.ip_address == self.ip_address)
        return query


def _day_start(day: date | None, tz_name: str) -> datetime | None:
    return Period.of_days(day, day, tz_name).start if day else None


def _day_after(day: date | None, tz_name: str) -> datetime | None:
    return Period.of_days(day, day, tz_name).end if day else None


@dataclass(frozen=True)
class EventRow:
    event: AuditEvent
    actor_name: str | None


@dataclass(frozen=True)
class EventPage:
    """Events in the order asked for; the cursors of the older and newer pages (None: none)."""

    rows: list[EventRow]
    older_than: int | None
    newer_than: int | None


def _rows(db: Session, query: Select) -> list[EventRow]:
    return [EventRow(event, name) for event, name in db.execute(query)]


def _selected(filters: AuditFilters) -> Select:
    return filters.where(select(AuditEvent, User.name)
                         .outerjoin(User, User.id == AuditEvent.actor_user_id))


def event_page(db: Session, filters: AuditFilters, *, before: int | None = None,
               after: int | None = None) -> EventPage:
    """One page of events (one query): the first, or those older than `before` or newer than
    `after` (ids grow with time). Events are never deleted, so the row a cursor came from
    still exists: a page reached through a cursor always has a way back."""
    query = _selected(filters).limit(PAGE_SIZE + 1)
    if before is not None:
        query = query.where(AuditEvent.id < before)
    if after is not None:
        query = query.where(AuditEvent.id > after)
    walking_up = after is not None or (before is None and filters.oldest_first)
    rows = _rows(db, query.order_by(AuditEvent.id.asc() if walking_up else AuditEvent.id.desc()))
    more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    if not rows:
        return EventPage([], None, None)
    ids = [row.event.id for row in rows]
    by_cursor = before is not None or after is not None
    older_than = min(ids) if (by_cursor if walking_up else more) else None
    newer_than = max(ids) if (more if walking_up else by_cursor) else None
    if walking_up != filters.oldest_first:
        rows.reverse()
    return EventPage(rows, older_than, newer_than)


def events_for_file(db: Session, filters: AuditFilters, limit: int) -> list[EventRow]:
    """At most `limit` events in the order asked for (one query)."""
    order = AuditEvent.id.asc() if filters.oldest_first else AuditEvent.id.desc()
    return _rows(db, _selected(filters).order_by(order).limit(limit))


def staff(db: Session) -> list[tuple[int, str]]:
    """Every staff account (active or not) by name: the "who" filter's choices."""
    return [(user_id, name) for user_id, name in
            db.execute(select(User.id, User.name).order_by(User.name, User.id))]

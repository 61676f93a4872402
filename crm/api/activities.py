"""/api/v1 activities: a startup's logged notes, calls, meetings, visits, events and emails,
newest first by when they happened; logging a new one."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select

from crm.api.blueprint import actor, api, tag
from crm.api.common import (
    ListQuery,
    Strict,
    bad_cursor,
    json_response,
    page_response,
    read_responses,
    write_responses,
)
from crm.api.guards import editable
from crm.api.moments import Moment
from crm.api.startups import StartupPath
from crm.core.enums import LOGGABLE_ACTIVITY_KINDS, ActivityKind
from crm.db import get_or_404, get_session
from crm.startups import services
from crm.startups.forms import BODY_MAX, SUBJECT_MAX
from crm.startups.models import Activity, Startup
from crm.users.models import User

TAGS = tag("Activities", "What happened with a startup: notes, calls, meetings, visits, events "
                         "and emails, as logged on its page.")
CURSOR_KIND = "activities"
LoggableKind = Literal[tuple(kind.value for kind in LOGGABLE_ACTIVITY_KINDS)]  # type: ignore[valid-type]


class ActivityOut(BaseModel):
    id: int
    startup_id: int
    kind: ActivityKind = Field(description="`import` and `merge` are written by the desk itself.")
    subject: str
    body: str
    occurred_at: datetime
    author_id: int | None
    author_name: str | None
    created_at: datetime


class ActivityPage(BaseModel):
    items: list[ActivityOut]
    next_cursor: str | None


class ActivityCreate(Strict):
    kind: LoggableKind
    subject: str = Field(min_length=1, max_length=SUBJECT_MAX, pattern=r"\S")
    body: str = Field(default="", max_length=BODY_MAX)
    occurred_at: Moment | None = Field(default=None, description="ISO 8601 with an offset "
                                       "(e.g. 2026-03-02T14:30:00+01:00); default: now.")


# The page's key: (occurred_at, id), both descending ------------------------------------------


def _encode_cursor(activity: Activity) -> str:
    raw = json.dumps([CURSOR_KIND, activity.occurred_at.isoformat(), activity.id],
                     separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        kind, moment, last_id = json.loads(base64.urlsafe_b64decode(
            cursor + "=" * (-len(cursor) % 4)))
        occurred_at = datetime.fromisoformat(moment)
        if kind != CURSOR_KIND or type(last_id) is not int or occurred_at.tzinfo is None:
            raise ValueError("not this list's cursor")
        return occurred_at.astimezone(UTC), last_id
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, OverflowError):
        raise bad_cursor() from None


def _activity_out(activity: Activity, author_name: str | None) -> ActivityOut:
    return ActivityOut(id=activity.id, startup_id=activity.startup_id, kind=activity.kind,
                       subject=activity.subject, body=activity.body,
                       occurred_at=activity.occurred_at, author_id=activity.author_id,
                       author_name=author_name, created_at=activity.created_at)


@api.get("/startups/<int:startup_id>/activities", tags=TAGS, summary="A startup's activities",
         description="Newest first by when they happened.", responses=read_responses(ActivityPage))
def list_activities(path: StartupPath, query: ListQuery):
    after = _decode_cursor(query.cursor) if query.cursor is not None else None
    startup = get_or_404(Startup, path.startup_id)
    statement = (select(Activity, User.name).outerjoin(User, User.id == Activity.author_id)
                 .where(Activity.startup_id == startup.id))
    if after is not None:
        occurred_at, last_id = after
        statement = statement.where(or_(
            Activity.occurred_at < occurred_at,
            and_(Activity.occurred_at == occurred_at, Activity.id < last_id)))
    rows = get_session().execute(statement.order_by(Activity.occurred_at.desc(),
                                                    Activity.id.desc())
                                 .limit(query.limit + 1)).all()
    page = rows[:query.limit]
    next_cursor = _encode_cursor(page[-1][0]) if len(rows) > query.limit else None
    return page_response(ActivityPage(items=[_activity_out(activity, name)
                                             for activity, name in page],
                                      next_cursor=next_cursor), next_cursor)


@api.post("/startups/<int:startup_id>/activities", tags=TAGS, summary="Log an activity",
          responses=write_responses(201, ActivityOut))
def log_activity(path: StartupPath, body: ActivityCreate):
    startup = editable(get_or_404(Startup, path.startup_id))
    user = actor()
    activity = services.log_activity(get_session(), startup, ActivityKind(body.kind),
                                     body.subject, body.body, body.occurred_at, user)
    return json_response(_activity_out(activity, user.name), 201)

"""The events the desk sends to webhooks, and `emit`: their outbox rows, in the caller's
transaction (rolled back with the change that caused them), delivered after the commit."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlmodel import Session

from crm.core.after_commit import send_task
from crm.core.clock import utcnow
from crm.core.enums import EnrollmentStatus, OutboxStatus
from crm.db import insert_skipping_duplicates
from crm.webhooks.models import WebhookDelivery, WebhookEndpoint

if TYPE_CHECKING:
    from crm.intake.models import Application
    from crm.programmes.models import Programme
    from crm.startups.models import Startup
    from crm.workflow.models import Enrollment, StageEvent

STARTUP_CREATED = "startup.created"
STAGE_CHANGED = "enrollment.stage_changed"
APPLICATION_SUBMITTED = "application.submitted"
ENROLLMENT_CLOSED = "enrollment.closed"
TEST = "webhook.test"  # sent by an admin's "Send test event", to that endpoint only

#: The events an endpoint may subscribe to, with what the admin sees.
EVENT_LABELS = {
    STARTUP_CREATED: _l("A startup is created"),
    STAGE_CHANGED: _l("An enrollment changes stage (enrolling included)"),
    ENROLLMENT_CLOSED: _l("An enrollment is closed (landed, withdrawn, rejected)"),
    APPLICATION_SUBMITTED: _l("An application is submitted"),
}
DELIVER_TASK = "workers.webhooks.deliver_webhooks"


def subscribers(db: Session, *events: str) -> dict[str, list[int]]:
    """The active endpoints subscribed to each of these events: one small query."""
    listening = db.execute(select(WebhookEndpoint.id, WebhookEndpoint.events)
                           .where(WebhookEndpoint.active).order_by(WebhookEndpoint.id)).all()
    return {event: [endpoint_id for endpoint_id, subscribed in listening if event in subscribed]
            for event in events}


def emit(db: Session, event: str, data: dict[str, Any], *, event_id: str | None = None,
         endpoint_ids: list[int] | None = None) -> None:
    """Queue the event for every active endpoint subscribed to it (or for `endpoint_ids`), and
    a delivery run for after the commit. An event id queued before for an endpoint is not
    queued again for it."""
    if endpoint_ids is None:
        endpoint_ids = subscribers(db, event)[event]
    if not endpoint_ids:
        return
    event_id, now = event_id or str(uuid.uuid4()), utcnow()
    payload = json.dumps({"id": event_id, "type": event, "created_at": now.isoformat(),
                          "data": data}, ensure_ascii=False, separators=(",", ":"))
    db.execute(insert_skipping_duplicates(db, WebhookDelivery), [
        {"endpoint_id": endpoint_id, "event": event, "event_id": event_id,
         "dedupe_key": f"{endpoint_id}:{event_id}", "payload": payload,
         "status": OutboxStatus.PENDING, "attempts": 0, "next_attempt_at": now,
         "created_at": now, "updated_at": now} for endpoint_id in endpoint_ids])
    send_task(db, DELIVER_TASK)


# What each event says (ids, keys and states; no personal contact data) --------------------------


def startup(startup: Startup) -> dict[str, Any]:
    return {"id": startup.id, "name": startup.name, "country": startup.country,
            "source": str(startup.source)}


def application(application: Application, programme: Programme) -> dict[str, Any]:
    return {"application_id": application.id, "programme_key": programme.key,
            "startup_id": application.startup_id}


def emit_stage_change(db: Session, enrollment: Enrollment, programme_key: str,
                      change: StageEvent) -> None:
    """enrollment.stage_changed, and enrollment.closed when the new stage closed it (one query
    for both when nobody listens)."""
    listening = subscribers(db, STAGE_CHANGED, ENROLLMENT_CLOSED)
    data = {"enrollment_id": enrollment.id, "startup_id": enrollment.startup_id,
            "programme_key": programme_key, "from_stage": change.from_stage,
            "to_stage": change.to_stage, "occurred_at": change.occurred_at.isoformat(),
            "actor_kind": str(change.actor_kind)}
    emit(db, STAGE_CHANGED, data, endpoint_ids=listening[STAGE_CHANGED])
    if enrollment.status != EnrollmentStatus.OPEN:
        emit(db, ENROLLMENT_CLOSED, {**data, "outcome": str(enrollment.status)},
             endpoint_ids=listening[ENROLLMENT_CLOSED])

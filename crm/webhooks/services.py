"""Webhook endpoints: register, change, remove, rotate their secret, send a test event or a
delivery again. Each change is audited; nothing here commits."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import update
from sqlmodel import Session

from crm.core import audit
from crm.core import secrets as secrets_at_rest
from crm.core.after_commit import send_task
from crm.core.enums import OutboxStatus
from crm.users import policy
from crm.users.models import User
from crm.webhooks import addresses, events
from crm.webhooks.models import WebhookDelivery, WebhookEndpoint

_PURPOSE = b"landing-desk webhook secret"  # the key derivation's label: never change it
RESENDABLE = (OutboxStatus.FAILED, OutboxStatus.DEAD)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def secret_of(endpoint: WebhookEndpoint) -> str | None:
    """The signing secret; None when it was encrypted under another SECRET_KEY."""
    return secrets_at_rest.decrypt(_PURPOSE, endpoint.secret_encrypted)


def origin(url: str) -> str:
    """scheme://host[:port]: what the audit trail keeps of a URL (its path or query may hold
    a receiver's own token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def create_endpoint(db: Session, *, url: str, description: str, subscribed: Sequence[str],
                    actor: User) -> tuple[WebhookEndpoint, str]:
    """A new active endpoint and its secret (shown once: only its encryption is kept).
    Raises AddressRefused for a URL webhooks may not go to."""
    addresses.check(url, policy.current(db).webhooks_allow_private)
    secret = new_secret()
    endpoint = WebhookEndpoint(url=url, description=description, events=_known(subscribed),
                               secret_encrypted=secrets_at_rest.encrypt(_PURPOSE, secret),
                               created_by_id=actor.id)
    db.add(endpoint)
    db.flush()
    audit.record(db, "webhook.created", actor_user_id=actor.id, object_type="webhook_endpoint",
                 object_id=endpoint.id, url=origin(url), events=endpoint.events,
                 description=description)
    return endpoint, secret


def update_endpoint(db: Session, endpoint: WebhookEndpoint, *, url: str, description: str,
                    subscribed: Sequence[str], active: bool, actor: User) -> dict[str, Any]:
    """Apply the changes; {field: [before, after]} (the URL as its origin, or `url_changed`).
    Raises AddressRefused for a URL webhooks may not go to."""
    if url != endpoint.url:
        addresses.check(url, policy.current(db).webhooks_allow_private)
    after = {"description": description, "events": _known(subscribed), "active": active}
    changes: dict[str, Any] = {name: [getattr(endpoint, name), value]
                               for name, value in after.items() if getattr(endpoint, name) != value}
    if url != endpoint.url:
        changes["url"] = [origin(endpoint.url), origin(url)]
        endpoint.url = url
    for name, (_before, value) in changes.items():
        if name != "url":
            setattr(endpoint, name, value)
    if changes:
        db.add(endpoint)
        audit.record(db, "webhook.updated", actor_user_id=actor.id,
                     object_type="webhook_endpoint", object_id=endpoint.id, changes=changes)
    return changes


def delete_endpoint(db: Session, endpoint: WebhookEndpoint, actor: User) -> None:
    """The endpoint goes, its delivery log with it (the audit trail keeps what happened)."""
    audit.record(db, "webhook.deleted", actor_user_id=actor.id, object_type="webhook_endpoint",
                 object_id=endpoint.id, url=origin(endpoint.url), events=endpoint.events)
    db.delete(endpoint)  # the database deletes its deliveries (ON DELETE CASCADE)
    db.flush()


def rotate_secret(db: Session, endpoint: WebhookEndpoint, actor: User) -> str:
    """A new secret at once (the old one signs nothing more); returned to be shown once."""
    secret = new_secret()
    endpoint.secret_encrypted = secrets_at_rest.encrypt(_PURPOSE, secret)
    db.add(endpoint)
    audit.record(db, "webhook.secret_rotated", actor_user_id=actor.id,
                 object_type="webhook_endpoint", object_id=endpoint.id)
    return secret


def send_test(db: Session, endpoint: WebhookEndpoint, actor: User) -> bool:
    """A webhook.test event for this endpoint alone, delivered right after the commit; False
    for an inactive endpoint (its deliveries wait)."""
    if not endpoint.active:
        return False
    events.emit(db, events.TEST, {"endpoint_id": endpoint.id, "sent_by_user_id": actor.id,
                                  "message": "This is a test event from Landing Desk."},
                endpoint_ids=[endpoint.id])
    audit.record(db, "webhook.test_sent", actor_user_id=actor.id,
                 object_type="webhook_endpoint", object_id=endpoint.id)
    return True


def send_again(db: Session, delivery: WebhookDelivery, actor: User, now: datetime) -> bool:
    """Make a failed or dead delivery due now with a fresh count of attempts (same event id:
    receivers recognise it); False if it is neither any more."""
    resent = db.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status.in_(RESENDABLE))
        .values(status=OutboxStatus.PENDING, next_attempt_at=now, attempts=0, last_error=None)
        .execution_options(synchronize_session=False)).rowcount
    if not resent:
        return False
    audit.record(db, "webhook.delivery_resent", actor_user_id=actor.id,
                 object_type="webhook_endpoint", object_id=delivery.endpoint_id,
                 delivery_id=delivery.id, event=delivery.event, status=str(delivery.status),
                 attempts=delivery.attempts, last_error=delivery.last_error)
    send_task(db, events.DELIVER_TASK)
    return True


def _known(subscribed: Sequence[str]) -> list[str]:
    """The subscribable events among these, in the order the form lists them."""
    return [event for event in events.EVENT_LABELS if event in subscribed]

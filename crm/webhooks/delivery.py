"""Delivery of due webhook events: each claimed once, POSTed signed, retried with backoff, then
dead.

Claims work as for emails (crm/core/claims.py): one row at a time, each claim and each outcome
committed at once, so overlapping runs never send an event twice at the same time. Only a crash
between the receiver's answer and the commit of the outcome sends it again, with the same event
id (Landing-Desk-Delivery), by which receivers drop the copy. Deliveries of an inactive endpoint
wait until it is active again.

A 2xx answer is success, 410 Gone gives the event up at once, anything else (redirects included:
they are not followed) and a connection that fails or stays silent for 10 seconds are retried
after OUTBOX_RETRY_BASE_SECONDS × 2^attempts, up to OUTBOX_MAX_ATTEMPTS attempts. No response
body is read or kept.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlmodel import Session

from crm.config import Settings
from crm.core import claims
from crm.core.clock import utcnow
from crm.core.enums import OutboxStatus
from crm.outbox.delivery import DeliveryResult, retry_delay
from crm.users import policy
from crm.webhooks import addresses, signing
from crm.webhooks.models import WebhookDelivery, WebhookEndpoint
from crm.webhooks.services import secret_of

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
USER_AGENT = "Landing-Desk-Webhooks/1"
_ERROR_LENGTH = 500


@dataclass(frozen=True)
class Claim:
    """A delivery this run may send until `lease`, and its endpoint."""

    delivery: WebhookDelivery
    endpoint: WebhookEndpoint
    lease: datetime


def deliver_due(db: Session, settings: Settings, now: datetime | None = None,
                limit: int = 50) -> DeliveryResult:
    """POST up to `limit` due events. Unlike a service, this commits the session it is given
    (which should have nothing pending): each claim and each outcome in a transaction of its
    own, none open while waiting for a receiver."""
    now, started = now or utcnow(), time.monotonic()
    claim_time = timedelta(seconds=settings.outbox_claim_seconds)
    counts = {OutboxStatus.SENT: 0, OutboxStatus.FAILED: 0,
              OutboxStatus.DEAD: claims.bury_interrupted(db, WebhookDelivery, now,
                                                        settings.outbox_max_attempts)}
    allow_private = policy.current(db).webhooks_allow_private
    db.commit()
    with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False) as client:
        for _ in range(limit):
            lease = now + timedelta(seconds=time.monotonic() - started) + claim_time
            claim = _claim_next(db, now, lease)
            if claim is None:
                break
            counts[_deliver(db, client, claim, now, settings, allow_private)] += 1
    return DeliveryResult(sent=counts[OutboxStatus.SENT], failed=counts[OutboxStatus.FAILED],
                          dead=counts[OutboxStatus.DEAD])


def _claim_next(db: Session, now: datetime, lease: datetime) -> Claim | None:
    """The next due delivery to an active endpoint, marked `sending` until `lease`."""
    conditions = (*claims.due(WebhookDelivery, now), WebhookDelivery.endpoint_id.in_(
        select(WebhookEndpoint.id).where(WebhookEndpoint.active)))
    claimed_id = claims.claim_next(db, WebhookDelivery, conditions, lease)
    if claimed_id is None:
        db.commit()
        return None
    delivery = db.get(WebhookDelivery, claimed_id, populate_existing=True)
    claim = Claim(delivery=delivery, endpoint=db.get(WebhookEndpoint, delivery.endpoint_id),
                  lease=lease)
    db.commit()
    return claim


def _deliver(db: Session, client: httpx.Client, claim: Claim, now: datetime,
             settings: Settings, allow_private: bool) -> OutboxStatus:
    delivery, endpoint = claim.delivery, claim.endpoint
    secret = secret_of(endpoint)
    if secret is None:
        return _record(db, claim, OutboxStatus.DEAD,
                       error="the secret cannot be read (SECRET_KEY changed): rotate it")
    try:
        target = addresses.check(endpoint.url, allow_private)
    except addresses.Unresolvable as refused:
        return _failed(db, claim, now, settings, str(refused))
    except addresses.AddressRefused as refused:
        return _record(db, claim, OutboxStatus.DEAD, error=f"refused: {refused}")
    body = delivery.payload.encode()
    headers = {"Host": target.host_header, "Content-Type": "application/json",
               "User-Agent": USER_AGENT,
               signing.SIGNATURE_HEADER: signing.signature(secret, body, int(time.time())),
               signing.EVENT_HEADER: delivery.event, signing.DELIVERY_HEADER: delivery.event_id}
    started = time.monotonic()
    try:
        with client.stream("POST", target.connect_url, content=body, headers=headers,
                           extensions={"sni_hostname": target.hostname}) as response:
            status = response.status_code  # the body is never read
    except httpx.TimeoutException:
        return _failed(db, claim, now, settings, f"no answer within {TIMEOUT_SECONDS:g} s",
                       response_ms=_ms_since(started))
    except httpx.HTTPError as error:
        return _failed(db, claim, now, settings,
                       f"{type(error).__name__}: {error}" if str(error) else type(error).__name__,
                       response_ms=_ms_since(started))
    answer = {"response_status": status, "response_ms": _ms_since(started)}
    if 200 <= status < 300:
        log.info("webhook delivery %s sent (HTTP %s)", delivery.id, status)
        return _record(db, claim, OutboxStatus.SENT, delivered_at=now, **answer)
    if status == 410:
        return _record(db, claim, OutboxStatus.DEAD, error="HTTP 410 Gone", **answer)
    error = f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
    return _failed(db, claim, now, settings, error, **answer)


def _failed(db: Session, claim: Claim, now: datetime, settings: Settings, error: str,
            **answer) -> OutboxStatus:
    delivery = claim.delivery
    log.warning("webhook delivery %s failed (attempt %s): %s", delivery.id, delivery.attempts,
                error)
    if delivery.attempts >= settings.outbox_max_attempts:
        return _record(db, claim, OutboxStatus.DEAD, error=error, **answer)
    base = timedelta(seconds=settings.outbox_retry_base_seconds)
    return _record(db, claim, OutboxStatus.FAILED, error=error,
                   next_attempt_at=now + retry_delay(delivery.attempts, base), **answer)


def _record(db: Session, claim: Claim, status: OutboxStatus, *, error: str | None = None,
            next_attempt_at: datetime | None = None, delivered_at: datetime | None = None,
            response_status: int | None = None, response_ms: int | None = None
            ) -> OutboxStatus:
    return claims.record_outcome(
        db, WebhookDelivery, claim.delivery.id, claim.lease, status,
        last_error=error and error[:_ERROR_LENGTH], next_attempt_at=next_attempt_at,
        delivered_at=delivered_at, response_status=response_status, response_ms=response_ms)


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)

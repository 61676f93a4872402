"""Reads for the webhook pages: the endpoints with their latest delivery, an endpoint's log."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import defer
from sqlmodel import Session

from crm.webhooks.models import WebhookDelivery, WebhookEndpoint

PAGE_SIZE = 50


def endpoints_with_latest(db: Session) -> list[tuple[WebhookEndpoint, WebhookDelivery | None]]:
    """Every endpoint, oldest first, with its newest delivery (None: none yet). One query."""
    latest = (select(WebhookDelivery.endpoint_id, func.max(WebhookDelivery.id).label("id"))
              .group_by(WebhookDelivery.endpoint_id).subquery())
    return [(endpoint, latest) for endpoint, latest in db.execute(
        select(WebhookEndpoint, WebhookDelivery)
        .outerjoin(latest, latest.c.endpoint_id == WebhookEndpoint.id)
        .outerjoin(WebhookDelivery, WebhookDelivery.id == latest.c.id)
        .options(defer(WebhookDelivery.payload, raiseload=True))
        .order_by(WebhookEndpoint.id))]


def delivery_page(db: Session, endpoint_id: int, before_id: int | None
                  ) -> tuple[list[WebhookDelivery], int | None]:
    """One page of the endpoint's deliveries, newest first, older than `before_id` if given;
    and the `before_id` of the next page (None: this is the last)."""
    query = (select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
             .options(defer(WebhookDelivery.payload, raiseload=True))
             .order_by(WebhookDelivery.id.desc()).limit(PAGE_SIZE + 1))
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    found = list(db.scalars(query))
    more = len(found) > PAGE_SIZE
    return found[:PAGE_SIZE], found[PAGE_SIZE - 1].id if more else None

"""Every refusal (403) is an audit event "access.denied": who, which endpoint and method, the
record the address named, from where; at most one per person (or address) and endpoint a
minute, so a crawler cannot fill the table. The query string is left out: it may hold search
terms, which can be personal data."""

from __future__ import annotations

import logging

from flask import Flask, request
from flask_login import current_user
from limits import RateLimitItemPerMinute
from werkzeug.exceptions import Forbidden

from crm.core import audit
from crm.core.errors import render_error
from crm.db import get_session
from crm.extensions import limiter
from crm.startups import bulk, services

log = logging.getLogger(__name__)

ONE_A_MINUTE = RateLimitItemPerMinute(1)


def init_app(app: Flask) -> None:
    # Services check too: a refusal they raise (a view that forgot, an id in a form) is a 403.
    for refusal in (Forbidden, services.NotAllowed, bulk.NotAllowed):
        app.register_error_handler(refusal, _refused)


def _refused(_error: Exception):
    record_denial()
    return render_error(Forbidden.code)


def record_denial() -> None:
    """Write the refusal's event in a transaction of its own: what the request wrote so far is
    rolled back (a refused request changes nothing), the event is committed."""
    actor_id = current_user.id if current_user.is_authenticated else None
    endpoint = request.endpoint or "-"
    if not _first_this_minute(str(actor_id or request.remote_addr), endpoint):
        return
    object_type, object_id = _named_record()
    db = get_session()
    db.rollback()
    try:
        audit.record(db, "access.denied", actor_user_id=actor_id, object_type=object_type,
                     object_id=object_id, ip_address=request.remote_addr, endpoint=endpoint,
                     method=request.method)
        db.commit()
    except Exception:  # the refusal stands even when it cannot be recorded
        db.rollback()
        log.exception("access.denied on %s could not be recorded", endpoint)


def _first_this_minute(who: str, endpoint: str) -> bool:
    try:
        return limiter.limiter.hit(ONE_A_MINUTE, "access.denied", who, endpoint)
    except Exception:  # the counter's store is down: rather one event too many than none
        log.warning("access.denied: rate-limit store unavailable, recording anyway")
        return True


def _named_record() -> tuple[str | None, int | None]:
    """The first record the address names ("startup_id" -> startup), if any."""
    for name, value in (request.view_args or {}).items():
        if name.endswith("_id") and isinstance(value, int):
            return name.removesuffix("_id"), value
    return None, None

"""Delivery of due outbox emails over SMTP: each claimed once, retried with backoff, then dead.

Rows are claimed one at a time (crm/core/claims.py: a lease, the attempt counted, each claim and
each outcome committed at once): overlapping runs, a second worker or `crm outbox deliver` never
send a message twice at the same time. A crash after the server took a message but before its
outcome committed leaves it `sending`; it is sent once more when the claim lapses, with the same
Message-ID, by which the receiving side can drop the copy. That window, the only way a message
goes out twice, is as small as SMTP allows: from the server's "250" after DATA to the commit of
the outcome, a single UPDATE. The claim lasts OUTBOX_CLAIM_SECONDS (10 minutes by default),
failures wait OUTBOX_RETRY_BASE_SECONDS × 2^attempts (1 minute × 2^n by default, at most 6
hours, ±20 %).
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session

from crm.config import Settings
from crm.core import claims
from crm.core.clock import utcnow
from crm.core.enums import OutboxStatus
from crm.core.uploads import sent_name
from crm.outbox.models import OutboxAttachment, OutboxMessage
from crm.outbox.queries import attachments_of
from crm.outbox.smtp import Courier, describe_error, is_permanent, parse_smtp_url

log = logging.getLogger(__name__)

MAX_DELAY = timedelta(hours=6)
JITTER = 0.2  # ±20 %, so messages that failed together are not retried together
_MIME_TYPE = re.compile(r"(?P<maintype>[a-z]+)/(?P<subtype>[a-z0-9][a-z0-9.+_-]*)")


@dataclass(frozen=True)
class Claim:
    """A message this run may send until `lease`, with its attachments."""

    message: OutboxMessage
    attachments: list[OutboxAttachment]
    lease: datetime


@dataclass(frozen=True)
class DeliveryResult:
    sent: int = 0
    failed: int = 0
    dead: int = 0

    def __str__(self) -> str:
        return f"sent {self.sent}, failed {self.failed}, dead {self.dead}"


def deliver_due(db: Session, settings: Settings, now: datetime | None = None,
                limit: int = 50) -> DeliveryResult:
    """Send up to `limit` due emails over settings.smtp_url; without one, send nothing.

    Unlike a service, this commits the session it is given (which should have nothing
    pending): every claim and every outcome in a short transaction of its own. A connection
    that cannot be opened or breaks ends the run after that message; the rest stay due for the
    next run.
    """
    if not settings.smtp_url:
        log.info("SMTP_URL is not set: due emails stay in the outbox")
        return DeliveryResult()
    now, started = now or utcnow(), time.monotonic()
    claim_time = timedelta(seconds=settings.outbox_claim_seconds)
    counts = {OutboxStatus.SENT: 0, OutboxStatus.FAILED: 0,
              OutboxStatus.DEAD: claims.bury_interrupted(db, OutboxMessage, now,
                                                        settings.outbox_max_attempts)}
    with Courier(parse_smtp_url(settings.smtp_url)) as courier:
        for _ in range(limit):
            # A claim lasts claim_time from when it is taken, however long the run has taken.
            lease = now + timedelta(seconds=time.monotonic() - started) + claim_time
            claim = _claim_next(db, now, lease)
            if claim is None:
                break
            status = _deliver(db, courier, claim, now, settings)
            counts[status] += 1
            if courier.broken:
                break
    return DeliveryResult(sent=counts[OutboxStatus.SENT], failed=counts[OutboxStatus.FAILED],
                          dead=counts[OutboxStatus.DEAD])


def _claim_next(db: Session, now: datetime, lease: datetime) -> Claim | None:
    """The next due message, marked `sending` until `lease`, attempt counted."""
    claimed_id = claims.claim_next(db, OutboxMessage, claims.due(OutboxMessage, now), lease)
    if claimed_id is None:
        db.commit()
        return None
    claim = Claim(message=db.get(OutboxMessage, claimed_id, populate_existing=True),
                  attachments=attachments_of(db, claimed_id), lease=lease)
    db.commit()  # no transaction stays open while talking to the server
    return claim


def _deliver(db: Session, courier: Courier, claim: Claim, now: datetime,
             settings: Settings) -> OutboxStatus:
    message, lease = claim.message, claim.lease
    try:
        # Syntax only: the server decides what it delivers (.test and intranet names included).
        validate_email(message.to_address, check_deliverability=False,
                       globally_deliverable=False, test_environment=True)
        email = build_email(message, settings, now, claim.attachments)
    except (EmailNotValidError, ValueError):  # not an address, or one no header can carry
        return _record(db, message, lease, OutboxStatus.DEAD, error="unusable address")
    try:
        courier.send(email, message.to_address)
    except Exception as error:  # anything that stops a send is this attempt's outcome
        reason = describe_error(error)
        log.warning("outbox message %s not sent (attempt %s): %s", message.id, message.attempts,
                    reason)
        if is_permanent(error) or message.attempts >= settings.outbox_max_attempts:
            return _record(db, message, lease, OutboxStatus.DEAD, error=reason)
        base = timedelta(seconds=settings.outbox_retry_base_seconds)
        return _record(db, message, lease, OutboxStatus.FAILED, error=reason,
                       next_attempt_at=now + retry_delay(message.attempts, base))
    log.info("outbox message %s sent", message.id)
    return _record(db, message, lease, OutboxStatus.SENT, sent_at=now)


def _record(db: Session, message: OutboxMessage, lease: datetime, status: OutboxStatus, *,
            error: str | None = None, next_attempt_at: datetime | None = None,
            sent_at: datetime | None = None) -> OutboxStatus:
    return claims.record_outcome(db, OutboxMessage, message.id, lease, status, last_error=error,
                                 next_attempt_at=next_attempt_at, sent_at=sent_at)


def retry_delay(attempts: int, base: timedelta) -> timedelta:
    """base × 2^attempts, at most 6 hours, ±20 %."""
    delay = min(base * 2 ** min(attempts, 16), MAX_DELAY)
    return delay * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 - jitter, not a secret


def message_id(dedupe_key: str, base_url: str) -> str:
    """Derived from the dedupe key, so every copy of one email carries the same Message-ID."""
    digest = hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]
    return f"<{digest}@{urlsplit(base_url).hostname or 'landing-desk'}>"


def build_email(message: OutboxMessage, settings: Settings, now: datetime,
                attachments: Sequence[OutboxAttachment] = ()) -> EmailMessage:
    """The row as a text (and HTML, if any) email with its attachments: those with a content id
    inline beside the HTML (multipart/related), the others attached. Raises ValueError for a
    header value with a line break; the subject has its line breaks folded to spaces instead."""
    email = EmailMessage(policy=policy.SMTP)
    email["From"] = settings.mail_from
    email["To"] = message.to_address
    email["Subject"] = " ".join(message.subject.split())
    email["Date"] = format_datetime(now)
    email["Message-ID"] = message_id(message.dedupe_key, settings.base_url)
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to these
    email.set_content(message.body_text, cte="quoted-printable")
    inline, attached = [], []
    for file in attachments:  # an inline image needs HTML to show in; else it is attached
        (inline if file.content_id and message.body_html else attached).append(file)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html", cte="quoted-printable")
        html = email.get_body(preferencelist=("html",))
        for file in inline:
            html.add_related(file.content, *mime_type(file.content_type),
                             cid=f"<{file.content_id}>", disposition="inline",
                             filename=attachment_filename(file))
    for file in attached:
        email.add_attachment(file.content, *mime_type(file.content_type),
                             filename=attachment_filename(file))
    email["Content-Language"] = message.locale  # after the parts: they take Content-* with them
    return email


def attachment_filename(attachment: OutboxAttachment) -> str:
    """Its name without folders or control characters, never empty."""
    return sent_name(attachment.filename) or "attachment"


def mime_type(content_type: str) -> tuple[str, str]:
    """(maintype, subtype) of a content type; anything unusable is application/octet-stream."""
    found = _MIME_TYPE.fullmatch(content_type.partition(";")[0].strip().lower())
    if found is None or found["maintype"] == "multipart":
        return "application", "octet-stream"
    return found["maintype"], found["subtype"]

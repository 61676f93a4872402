"""Queue emails as outbox rows in the caller's transaction; a repeated key queues nothing.
Send a failed or dead one again at once."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import render_template
from flask_babel import force_locale
from sqlalchemy import insert, select, update
from sqlmodel import Session

from crm.core import audit
from crm.core.clock import utcnow
from crm.core.enums import Language, OutboxStatus
from crm.outbox.models import OutboxAttachment, OutboxMessage

_CONTENT_ID = re.compile(r"[A-Za-z0-9._-]+(@[A-Za-z0-9.-]+)?")


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email. With a `content_id` it is shown inline where the HTML names
    it as `cid:<content_id>` (`<img src="cid:trend@landing-desk" alt="…">`); without one it is
    attached under `filename`."""

    filename: str
    content_type: str  # e.g. "image/png", "text/csv"
    content: bytes
    content_id: str | None = None  # letters, digits, ".", "_", "-", at most one "@"

    def __post_init__(self) -> None:
        if self.content_id is not None and not _CONTENT_ID.fullmatch(self.content_id):
            raise ValueError(f"content id {self.content_id!r} cannot go into a header")


@dataclass(frozen=True)
class RenderedEmail:
    """An email written out in its recipient's language, ready to be queued."""

    dedupe_key: str
    to_address: str
    locale: Language
    subject: str
    body_text: str
    body_html: str
    user_id: int | None = None
    startup_id: int | None = None


def render_email(*, dedupe_key: str, to_address: str, locale: Language, template: str,
                 context: dict, user_id: int | None = None,
                 startup_id: int | None = None) -> RenderedEmail:
    """`emails/<template>.{subject.txt,txt,html}` rendered in the recipient's language; a
    template error raises (jinja2.TemplateError) before anything is written."""
    with force_locale(locale.value):
        subject = render_template(f"emails/{template}.subject.txt", **context).strip()
        body_text = render_template(f"emails/{template}.txt", **context)
        body_html = render_template(f"emails/{template}.html", **context)
    return RenderedEmail(dedupe_key, to_address, locale, subject, body_text, body_html,
                         user_id, startup_id)


def queue_email(
    db: Session,
    *,
    dedupe_key: str,
    to_address: str,
    locale: Language,
    template: str,
    context: dict,
    user_id: int | None = None,
    startup_id: int | None = None,
    attachments: Sequence[Attachment] = (),
) -> OutboxMessage:
    """Render `emails/<template>.{subject.txt,txt,html}` in the recipient's language and queue
    it, with its `attachments`, once: a dedupe key queued before returns that message as it is.
    """
    existing = db.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    email = render_email(dedupe_key=dedupe_key, to_address=to_address, locale=locale,
                         template=template, context=context, user_id=user_id,
                         startup_id=startup_id)
    message = OutboxMessage(
        dedupe_key=email.dedupe_key,
        to_address=email.to_address,
        locale=email.locale,
        subject=email.subject,
        body_text=email.body_text,
        body_html=email.body_html,
        user_id=email.user_id,
        startup_id=email.startup_id,
    )
    db.add(message)
    db.flush()
    db.add_all(OutboxAttachment(message_id=message.id, filename=attachment.filename,
                                content_type=attachment.content_type,
                                content_id=attachment.content_id, content=attachment.content)
               for attachment in attachments)
    db.flush()
    return message


def queued_ids(db: Session, dedupe_keys: Collection[str]) -> dict[str, int]:
    """The messages already queued under any of these keys: their ids by key. One query."""
    if not dedupe_keys:
        return {}
    return dict(db.execute(select(OutboxMessage.dedupe_key, OutboxMessage.id)
                           .where(OutboxMessage.dedupe_key.in_(dedupe_keys))).all())


def queue_rendered(db: Session, emails: Sequence[RenderedEmail]) -> list[int]:
    """Queue rendered emails (none queued before: see `queued_ids`) in one statement sent in
    multi-row batches, as `queue_email` would one by one; their ids, in order. For the many
    emails of one sweep: one round trip per batch, not two per email."""
    if not emails:
        return []
    now = utcnow()
    rows = [{"dedupe_key": email.dedupe_key, "to_address": email.to_address,
             "locale": email.locale, "subject": email.subject, "body_text": email.body_text,
             "body_html": email.body_html, "status": OutboxStatus.PENDING, "attempts": 0,
             "next_attempt_at": now, "last_error": None, "sent_at": None,
             "startup_id": email.startup_id, "user_id": email.user_id,
             "created_at": now, "updated_at": now} for email in emails]
    inserted = db.connection().execute(
        insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True), rows)
    return list(inserted.scalars())


RETRYABLE = (OutboxStatus.FAILED, OutboxStatus.DEAD)
# The key of a dead row that only reports why a message could not be written (its body is the
# error, not an email): never retried; the real message goes out once its template works.
TEMPLATE_ERROR_PREFIX = "template-error:"


def can_retry(message: OutboxMessage) -> bool:
    return (message.status in RETRYABLE
            and not message.dedupe_key.startswith(TEMPLATE_ERROR_PREFIX))


def retry_now(db: Session, message: OutboxMessage, actor_id: int, now: datetime,
              ip_address: str | None = None) -> bool:
    """Make a failed or dead message due now with a fresh count of attempts; False if it is
    neither any more (a worker or another admin got there first) or cannot be retried."""
    retried = db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status.in_(RETRYABLE),
               OutboxMessage.dedupe_key.not_like(f"{TEMPLATE_ERROR_PREFIX}%"))
        .values(status=OutboxStatus.PENDING, next_attempt_at=now, attempts=0, last_error=None)
        .execution_options(synchronize_session=False)).rowcount
    if not retried:
        return False
    audit.record(db, "outbox.retried", actor_user_id=actor_id, object_type="outbox_message",
                 object_id=message.id, ip_address=ip_address,
                 status=str(message.status), attempts=message.attempts,
                 last_error=message.last_error)
    db.refresh(message)
    return True

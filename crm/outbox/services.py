"""Queue emails as outbox rows in the caller's transaction; a repeated key queues nothing."""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale
from sqlalchemy import select
from sqlmodel import Session

from crm.core.enums import Language
from crm.outbox.models import OutboxMessage


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
) -> OutboxMessage:
    """Render `emails/<template>.{txt,html}` in the recipient's language and queue it once."""
    existing = db.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    with force_locale(locale.value):
        subject = render_template(f"emails/{template}.subject.txt", **context).strip()
        body_text = render_template(f"emails/{template}.txt", **context)
        body_html = render_template(f"emails/{template}.html", **context)
    message = OutboxMessage(
        dedupe_key=dedupe_key,
        to_address=to_address,
        locale=locale,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        user_id=user_id,
        startup_id=startup_id,
    )
    db.add(message)
    db.flush()
    return message

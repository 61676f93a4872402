"""A queued message as the Outbox page shows it: the headers it is (or would be) sent with, and
its HTML with the inline images in place."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import unquote

from crm.config import Settings
from crm.outbox.delivery import build_email, mime_type
from crm.outbox.models import OutboxAttachment, OutboxMessage

_CID_REFERENCE = re.compile(r"""cid:([^"'\s<>()]+)""", re.IGNORECASE)


def sent_headers(message: OutboxMessage, attachments: Sequence[OutboxAttachment],
                 settings: Settings, now: datetime) -> list[tuple[str, str]] | None:
    """The top-level headers, as delivery builds them (dated when sent, else now); None if
    the message cannot be built (its address carries a line break)."""
    try:
        email = build_email(message, settings, message.sent_at or now, attachments)
    except ValueError:
        return None
    return [(name, str(value)) for name, value in email.items()]


def html_with_inline_images(html: str, attachments: Sequence[OutboxAttachment]) -> str:
    """`cid:` references to the message's inline images as data: URLs, so a page that may load
    nothing from anywhere shows them; other references are left as they are."""
    images = {attachment.content_id: attachment for attachment in attachments
              if attachment.content_id and mime_type(attachment.content_type)[0] == "image"}

    def data_url(reference: re.Match) -> str:
        image = images.get(unquote(reference.group(1)))
        if image is None:
            return reference.group(0)
        maintype, subtype = mime_type(image.content_type)
        return f"data:{maintype}/{subtype};base64,{base64.b64encode(image.content).decode()}"

    return _CID_REFERENCE.sub(data_url, html)

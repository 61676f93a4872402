"""The admin's Outbox: every queued email, its delivery, its rendering; retry a failed one."""

from __future__ import annotations

import io

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.core.clock import utcnow
from crm.core.enums import OutboxStatus, Role, parse_enum
from crm.db import get_or_404, get_session
from crm.outbox import preview, queries, services
from crm.outbox.delivery import attachment_filename
from crm.outbox.models import OutboxAttachment, OutboxMessage
from crm.users.access import role_required

bp = Blueprint("outbox", __name__, url_prefix="/admin/outbox")

#: The HTML body's own page, shown in a sandboxed frame: no scripts, nothing loaded from
#: anywhere (images come inline as data: URLs), framed by our pages only.
EMAIL_HTML_POLICY = ("sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                     "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


@bp.get("/")
@role_required(Role.ADMIN)
def index():
    db = get_session()
    status = parse_enum(OutboxStatus, request.args.get("status"))
    messages, next_before = queries.message_page(db, status, request.args.get("before", type=int))
    return render_template(
        "admin/outbox.html", messages=messages, next_before=next_before, status=status,
        statuses=list(OutboxStatus), summary=queries.outbox_summary(db, utcnow()),
        paged="before" in request.args,
        smtp_configured=bool(current_app.config["SETTINGS"].smtp_url))


@bp.get("/<int:message_id>")
@role_required(Role.ADMIN)
def show(message_id: int):
    message = get_or_404(OutboxMessage, message_id)
    attachments = queries.attachments_of(get_session(), message.id)
    return render_template(
        "admin/outbox_message.html", message=message, attachments=attachments,
        headers=preview.sent_headers(message, attachments, current_app.config["SETTINGS"],
                                     utcnow()),
        filename_of=attachment_filename, retryable=services.can_retry(message),
        template_error=message.dedupe_key.startswith(services.TEMPLATE_ERROR_PREFIX))


@bp.get("/<int:message_id>/html")
@role_required(Role.ADMIN)
def html(message_id: int):
    message = get_or_404(OutboxMessage, message_id)
    if not message.body_html:
        abort(404)
    body = preview.html_with_inline_images(
        message.body_html, queries.attachments_of(get_session(), message.id))
    response = make_response(body)
    response.headers["Content-Security-Policy"] = EMAIL_HTML_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.get("/<int:message_id>/attachments/<int:attachment_id>")
@role_required(Role.ADMIN)
def attachment(message_id: int, attachment_id: int):
    file = get_session().scalar(select(OutboxAttachment).where(
        OutboxAttachment.id == attachment_id, OutboxAttachment.message_id == message_id))
    if file is None:
        abort(404)
    # Always a download, never rendered in our origin, whatever its type.
    return send_file(
        io.BytesIO(file.content), mimetype="application/octet-stream", as_attachment=True,
        download_name=attachment_filename(file), conditional=False, etag=False, max_age=0)


@bp.post("/<int:message_id>/retry")
@role_required(Role.ADMIN)
def retry(message_id: int):
    message = get_or_404(OutboxMessage, message_id)
    if services.retry_now(get_session(), message, current_user.id, utcnow(),
                          request.remote_addr):
        flash(_("The email will be sent again with the next delivery run."), "success")
    else:
        flash(_("This email is no longer failed or dead, so it was left as it is."), "info")
    return redirect(url_for(".show", message_id=message.id))

"""Download of stored documents: logged-in staff only, always as an attachment."""

from __future__ import annotations

from flask import Blueprint, abort, send_file
from flask_login import current_user, login_required

from crm.core.uploads import content_disposition
from crm.db import get_or_404, get_session
from crm.documents import services
from crm.documents.models import Document

bp = Blueprint("documents", __name__, url_prefix="/documents")


@bp.get("/<int:document_id>")
@login_required
def download(document_id: int):
    document = get_or_404(Document, document_id)
    path = services.record_download(get_session(), document, current_user.id)
    if not path.is_file():
        abort(404)
    # An attachment with the type found in its content: never rendered in our origin.
    response = send_file(path, mimetype=document.content_type, conditional=False, etag=False)
    response.headers["Content-Disposition"] = content_disposition(document.filename, "document")
    return response

"""The pipeline board: one column per stage of a programme."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required

from crm.core.clock import utcnow
from crm.db import get_session
from crm.programmes import queries
from crm.workflow.engine import current_version

bp = Blueprint("pipeline", __name__, url_prefix="/pipeline")


@bp.get("/")
@login_required
def board():
    db = get_session()
    programmes = queries.active_programmes(db)
    wanted = request.args.get("programme", "")
    programme = next((p for p in programmes if p.key == wanted), programmes[0] if programmes
                     else None)
    definition = current_version(db, programme).parsed if programme else None
    columns = queries.board(db, programme, definition) if programme else []
    return render_template("programmes/board.html", programmes=programmes, programme=programme,
                           columns=columns, now=utcnow())

"""The reports page: where the pipeline stands today."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from crm.core.clock import utcnow
from crm.db import get_session
from crm.reports import queries

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.get("/")
@login_required
def index():
    return render_template("reports/index.html", overview=queries.overview(get_session(), utcnow()))


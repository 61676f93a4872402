"""Admin pages for programmes: versions, differences, new definitions, enrollment migration."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("programme_admin", __name__, url_prefix="/admin/programmes")

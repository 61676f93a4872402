"""Staff actions on enrollments from a startup's page: enroll, move, close, fields, checklist."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("workflow", __name__)

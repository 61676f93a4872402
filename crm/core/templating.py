"""What every template may use: navigation, labels of enums, the language form."""

from __future__ import annotations

from flask import Flask, has_request_context, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm.core import enums
from crm.core.clock import utcnow

NAVIGATION = [
    ("work.index", _l("My work"), None),
    ("startups.index", _l("Startups"), None),
    ("pipeline.board", _l("Pipeline"), None),
    ("applications.index", _l("Applications"), None),
    ("tasks.index", _l("Tasks"), None),
    ("reports.index", _l("Reports"), None),
    ("admin.users", _l("Admin"), (enums.Role.ADMIN,)),
]
#: Blueprints whose pages belong to another blueprint's navigation entry.
NAVIGATION_SECTIONS = {"programme_admin": "admin", "outbox": "admin", "duplicates": "startups",
                       "weekly_reports": "reports"}


def init_app(app: Flask) -> None:
    @app.context_processor
    def _layout_context():
        from crm.users.forms import LocaleForm

        locale = str(get_locale() or "en")
        if not has_request_context():  # emails rendered by a command or a task
            return {"current_locale": locale, "labels": enums, "now_utc": utcnow}
        navigation = [
            (endpoint, label)
            for endpoint, label, roles in NAVIGATION
            if roles is None or (current_user.is_authenticated and current_user.has_role(*roles))
        ]
        return {
            "navigation": navigation,
            "navigation_section": NAVIGATION_SECTIONS.get(request.blueprint, request.blueprint),
            "current_locale": locale,
            "locale_form": LocaleForm(formdata=None, locale=locale,
                                      next=request.full_path.rstrip("?")),
            "labels": enums,
            "now_utc": utcnow,
        }

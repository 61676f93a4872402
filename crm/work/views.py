"""My work: one page with what the user (or, for managers, a teammate) should do next."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import get_locale
from flask_login import current_user, login_required

from crm.core.clock import utcnow
from crm.core.enums import Role
from crm.db import get_or_404, get_session
from crm.startups import services
from crm.users.models import User
from crm.work import queries

bp = Blueprint("work", __name__, url_prefix="/work")


def _whose_work() -> User:
    """The current user, or the teammate a manager or admin picked with ?user=<id>."""
    chosen = request.args.get("user")
    if chosen is None or chosen == str(current_user.id):
        return current_user
    if not current_user.has_role(Role.ADMIN, Role.MANAGER):
        abort(403)
    if not chosen.isdigit():
        abort(404)
    return get_or_404(User, int(chosen))


@bp.get("/", endpoint="index")
@login_required
def index():
    db = get_session()
    person = _whose_work()
    zone = current_app.config["SETTINGS"].tz
    now = utcnow()
    locale = str(get_locale() or "en")
    groups = queries.grouped_tasks(db, person.id, queries.DayBounds.at(now, zone))
    may_act = current_user.has_role(Role.ADMIN, Role.MANAGER, Role.BD_MANAGER)
    staff = queries.active_staff(db) if may_act else []
    queries.attach_actions([line for group in groups for line in group.lines], current_user,
                           staff)
    snooze_dates = {option: services.snooze_day(option, now, zone)
                    for option in services.SNOOZE_OPTIONS}
    return render_template(
        "work/index.html", person=person, is_mine=person.id == current_user.id,
        groups=groups, sla=queries.sla_enrollments(db, person.id, now, zone, locale),
        recent=queries.recently_assigned(db, person.id, now), recent_days=queries.RECENT_DAYS,
        near_days=queries.SLA_NEAR_WORKING_DAYS, snooze_dates=snooze_dates,
        teammates=staff if current_user.has_role(Role.ADMIN, Role.MANAGER) else [],
        back=request.full_path.rstrip("?"),
    )

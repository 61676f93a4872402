"""The pipeline board: one column per stage of a programme, with filters, paging and moves.

Moves go through `crm.workflow.engine.move` only. The board works without JavaScript (forms
and Post/Redirect/Get); board.js adds drag and drop and in-place answers (JSON).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlmodel import Session
from wtforms import HiddenField, IntegerField
from wtforms.validators import InputRequired
from wtforms.widgets import HiddenInput

from crm.core.clock import utcnow
from crm.core.enums import EnrollmentStatus, LeadSource, StartupStatus
from crm.core.security import same_site_path
from crm.db import abandon_request_changes, get_or_404, get_session
from crm.programmes import queries
from crm.programmes.models import Programme, ProgrammeVersion
from crm.programmes.queries import Card, Column, Cursor, SlaState
from crm.startups.access import can_edit_startup, editable_startup
from crm.startups.filters import OWNER_ME, OWNER_NONE, StartupFilters
from crm.workflow import engine
from crm.workflow.definitions import ProgrammeDefinition, StageDefinition
from crm.workflow.engine import Actor, EnrollmentChanged, GateNotMet, WorkflowError
from crm.workflow.forms import MoveForm
from crm.workflow.models import Enrollment

bp = Blueprint("pipeline", __name__, url_prefix="/pipeline")

NOTICE_KEY = "board_notice"  # the answer to a move without JavaScript, shown next to the card


class BoardMoveForm(MoveForm):
    """A card's "Move to…" form: which enrollment, where to, at which revision."""

    enrollment_id = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    next = HiddenField()


def _locale() -> str:
    return str(get_locale() or "en")


def board_targets(definition: ProgrammeDefinition, from_stage: str) -> list[StageDefinition]:
    """Where a card may be moved on the board: the engine's allowed targets, except closing
    stages that need a reason (withdrawn, rejected) — those close on the startup's page."""
    return [definition.stage(key) for key in definition.allowed_targets(from_stage)
            if not _needs_reason(definition.stage(key))]


def _needs_reason(stage: StageDefinition) -> bool:
    return bool(stage.closes_as) and stage.closes_as != EnrollmentStatus.LANDED


@dataclass
class Board:
    """What the board's templates need to show cards, their SLA and their move forms."""

    programme: Programme
    definition: ProgrammeDefinition  # the current version: the columns
    card_definitions: dict[int, ProgrammeDefinition]  # older versions some cards are still on
    filters: StartupFilters
    now: datetime
    back: str  # where a move form returns to (this page)

    def definition_of(self, card: Card) -> ProgrammeDefinition:
        return self.card_definitions.get(card.programme_version_id, self.definition)

    def can_move(self, card: Card) -> bool:
        return card.is_open and can_edit_startup(current_user, card)

    def targets(self, card: Card) -> list[StageDefinition]:
        return board_targets(self.definition_of(card), card.stage)

    def drop_targets(self, card: Card) -> str:
        """Every stage the engine allows from here: the server explains what it refuses."""
        return " ".join(self.definition_of(card).allowed_targets(card.stage))

    def sla(self, card: Card) -> SlaState:
        if not card.is_open:
            return SlaState.NONE
        definition = self.definition_of(card)
        days = (definition.reminders_for(card.stage).due_soon_working_days
                if card.stage in definition.stage_keys() else 2)
        return queries.sla_state(card.due_at, self.now, days)

    def filter_args(self) -> dict[str, str]:
        return {"programme": self.programme.key, **self.filters.to_args()}

    def more_url(self, column: Column, *, fragment: bool = False) -> str:
        return url_for("pipeline.column", stage=column.stage.key, after=str(column.next_cursor),
                       **self.filter_args(), **({"fragment": "1"} if fragment else {}))


def _filters() -> StartupFilters:
    return StartupFilters.from_args(request.args).without("programme", "stage")


def _programme_and_version(db: Session, programmes: list[Programme], wanted: str, *,
                           fall_back: bool = True):
    """The programme asked for (else the first one, a shared link to a programme closed
    meanwhile still opens the board), and its current version."""
    programme = next((p for p in programmes if p.key == wanted),
                     programmes[0] if programmes and fall_back else None)
    if programme is None:
        return None, None
    try:
        return programme, engine.current_version(db, programme)
    except WorkflowError:  # a programme row without a loaded definition
        return programme, None


def _card_definitions(db: Session, version: ProgrammeVersion, cards: list[Card]):
    """The definitions of the older versions some cards are still on (one query, if any)."""
    return queries.definitions(db, {card.programme_version_id for card in cards} - {version.id})


@bp.get("/")
@login_required
def board():
    db = get_session()
    programmes = queries.active_programmes(db)
    wanted = request.args.get("programme", "")
    programme, version = _programme_and_version(db, programmes, wanted)
    notice = session.pop(NOTICE_KEY, None)
    if version is None:
        return render_template("programmes/board.html", programmes=programmes,
                               programme=programme, board=None, columns=[], notice=notice)
    definition = version.parsed
    now = utcnow()
    filters = _filters()
    columns = queries.board(db, programme, definition, filters, current_user.id, now=now)
    if notice and notice.get("ok"):
        _pin_moved_card(db, columns, notice["id"])
    cards = [card for column in columns for card in column.cards]
    board_view = Board(programme, definition, _card_definitions(db, version, cards), filters,
                       now, back=request.full_path.rstrip("?"))
    return render_template("programmes/board.html", programmes=programmes, programme=programme,
                           board=board_view, columns=columns, notice=notice,
                           notice_on_board=_shows(cards, notice),
                           choices=queries.filter_choices(db), filters=filters,
                           form_labels=_filter_labels())


def _shows(cards: list[Card], notice: dict | None) -> bool:
    return bool(notice) and any(card.enrollment_id == notice.get("id") for card in cards)


def _pin_moved_card(db: Session, columns: list[Column], enrollment_id: int) -> None:
    """Show a card just moved on top of its new column, even when that column is long."""
    if any(card.enrollment_id == enrollment_id for column in columns for card in column.cards):
        return
    moved = queries.card(db, enrollment_id)
    column = next((column for column in columns if moved and column.stage.key == moved.stage),
                  None)
    if column is not None:
        column.cards.insert(0, moved)


@bp.get("/column")
@login_required
def column():
    """The next cards of one column: a page of its own, or (fragment=1) the cards for board.js."""
    db = get_session()
    programmes = queries.active_programmes(db)
    programme, version = _programme_and_version(db, programmes,
                                                 request.args.get("programme", ""),
                                                 fall_back=False)
    stage_key = request.args.get("stage", "")
    if version is None or stage_key not in version.parsed.stage_keys():
        abort(404)
    definition = version.parsed
    now = utcnow()
    filters = _filters()
    after = Cursor.parse(request.args.get("after"))
    cards, next_cursor = queries.column_cards(db, programme, definition.stage(stage_key),
                                              filters, current_user.id, after=after)
    fragment = request.args.get("fragment") == "1"
    # Cards loaded into the board return there after a move; on this page, to this page.
    back = (url_for("pipeline.board", programme=programme.key, **filters.to_args()) if fragment
            else request.full_path.rstrip("?"))
    board_view = Board(programme, definition, _card_definitions(db, version, cards), filters,
                       now, back=back)
    # A column of its own shows its exact counts (one column: a range of its index).
    page = Column(definition.stage(stage_key), cards=cards, next_cursor=next_cursor, cap=None)
    if fragment:
        return render_template("programmes/_board_more.html", board=board_view, column=page)
    notice = session.pop(NOTICE_KEY, None)
    page.count, page.overdue = queries.stage_counts(
        db, programme, definition, filters, current_user.id, now=now, cap=None,
        stage_keys={stage_key}).get(stage_key, (0, 0))
    return render_template("programmes/_board_column_page.html", programme=programme,
                           board=board_view, column=page, paged=after is not None, notice=notice,
                           notice_on_board=_shows(cards, notice))


@bp.post("/move")
@login_required
def move():
    """Move one card through the engine; answer JSON to board.js, else redirect back."""
    db = get_session()
    wants_json = request.accept_mimetypes.best == "application/json"
    # The form names the enrollment; /pipeline/move?enrollment_id=N is the same request.
    enrollment = get_or_404(Enrollment, request.values.get("enrollment_id", type=int) or 0)
    editable_startup(enrollment.startup_id)  # 403 for viewers and others' startups
    form = BoardMoveForm()
    back = same_site_path(form.next.data) or url_for("pipeline.board")
    if not form.validate_on_submit() or form.enrollment_id.data != enrollment.id:
        return _refused(enrollment, back, wants_json, 422,
                        _("This form is incomplete. Reload the page and try again."))
    definition = engine.definition_of(db, enrollment)
    target = (definition.stage(form.to_stage.data)
              if form.to_stage.data in definition.stage_keys() else None)
    if target is not None and _needs_reason(target) and enrollment.status == EnrollmentStatus.OPEN:
        return _refused(enrollment, back, wants_json, 422,
                        _("%(stage)s needs a reason: close the enrollment on the startup's page.",
                          stage=target.label(_locale())),
                        link=url_for("startups.show", startup_id=enrollment.startup_id,
                                     _anchor=f"enrollment-{enrollment.id}"))
    try:
        engine.move(db, enrollment, form.to_stage.data, Actor.user(current_user),
                    expected_revision=form.revision.data)
    except WorkflowError as error:
        missing = ([item.label(_locale()) for item in error.missing]
                   if isinstance(error, GateNotMet) else [])
        status = 409 if isinstance(error, EnrollmentChanged) else 422
        return _refused(enrollment, back, wants_json, status, str(error.message), missing)
    message = _("Moved to %(stage)s.", stage=target.label(_locale()))
    if not wants_json:
        session[NOTICE_KEY] = {"id": enrollment.id, "ok": True, "message": message}
        return redirect(_with_anchor(back, enrollment.id))
    moved = queries.card(db, enrollment.id)
    programme = db.get(Programme, enrollment.programme_id)
    board_view = Board(programme, definition, {}, StartupFilters(), utcnow(), back=back)
    card_html = render_template("programmes/_board_card.html", board=board_view, card=moved,
                                just_moved=True)
    return {"ok": True, "message": message, "to_stage": moved.stage, "card_html": card_html}


def _with_anchor(path: str, enrollment_id: int) -> str:
    return f"{path.split('#')[0]}#card-{enrollment_id}"


def _refused(enrollment: Enrollment, back: str, wants_json: bool, status: int, message: str,
             missing: list[str] | None = None, link: str | None = None):
    """Undo what the request wrote; say why next to the card (JSON, or after the redirect)."""
    abandon_request_changes()
    answer = {"ok": False, "id": enrollment.id, "message": message, "missing": missing or []}
    if link:
        answer["link"] = link
    if wants_json:
        return answer, status
    session[NOTICE_KEY] = answer
    return redirect(_with_anchor(back, enrollment.id))


def _filter_labels() -> dict:
    return {
        "owner_special": [(OWNER_ME, _("Me")), (OWNER_NONE, _("Unassigned"))],
        "statuses": list(StartupStatus),
        "sources": list(LeadSource),
    }

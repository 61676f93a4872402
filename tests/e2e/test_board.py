"""The pipeline board in the browser: drag a card to the next stage, drag it to a gated stage
and read why not on the card, move one with the keyboard, and load more cards in place."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from crm.core.clock import utcnow
from crm.core.enums import Role
from crm.programmes.models import Programme
from crm.startups.models import Startup
from crm.workflow import engine
from crm.workflow.engine import Actor
from crm.workflow.models import Enrollment
from tests.e2e.conftest import login_in_browser
from tests.factories import current_version_id, make_programme, make_startup


@pytest.fixture
def board_data(app, make_user):
    """A BD manager's three startups: two in Lead, one in Intake (whose next stage is gated)."""
    owner = make_user(Role.BD_MANAGER, name="Priya Raghavan")
    ids = {}
    with app.app_context(), Session(app.extensions["db_engine"]) as db:
        programme = make_programme(db)
        for name, stage in (("Aarogya Sense", "lead"), ("Gated GmbH", "intake"),
                            ("Keyboard Ltd", "lead")):
            startup = make_startup(db, name, owner_id=owner.id)
            enrollment = engine.enroll(db, startup=startup, programme=programme,
                                       actor=Actor.system(), stage=stage)
            db.commit()
            ids[name] = enrollment.id
    return owner, ids


def open_board(page: Page, live_server: str, email: str) -> None:
    login_in_browser(page, live_server, email)
    page.goto(f"{live_server}/pipeline/?programme=corridor")
    expect(page.locator("#column-lead [data-count]")).to_have_text("2")


def test_drag_a_card_to_the_next_stage(page, live_server, board_data):
    owner, ids = board_data
    open_board(page, live_server, owner.email)
    card = f"#card-{ids['Aarogya Sense']}"
    page.drag_and_drop(card, "#column-intake")
    expect(page.locator(f"#column-intake {card}")).to_be_visible()
    expect(page.locator(f"{card} [data-notice]")).to_have_text("Moved to Intake.")
    expect(page.locator("#column-lead [data-count]")).to_have_text("1")
    expect(page.locator("#column-intake [data-count]")).to_have_text("2")
    expect(page.locator("#board-live")).to_have_text("Moved to Intake.")
    page.reload()  # it was saved, not only drawn
    expect(page.locator(f"#column-intake {card}")).to_be_visible()


def test_a_gated_stage_refuses_the_drop_and_says_why_on_the_card(page, live_server, board_data):
    owner, ids = board_data
    open_board(page, live_server, owner.email)
    card = f"#card-{ids['Gated GmbH']}"
    page.drag_and_drop(card, "#column-qualified")
    notice = page.locator(f"{card} [data-notice]")
    expect(notice).to_contain_text("This stage cannot be entered yet.")
    expect(notice.locator("li")).to_have_text(["Website", "Referred by"])
    expect(page.locator(f"#column-intake {card}")).to_be_visible()  # put back
    expect(page.locator("#column-qualified [data-count]")).to_have_text("0")
    expect(page.locator("#column-intake [data-count]")).to_have_text("1")
    expect(page.locator("#board-live")).to_contain_text("Missing: Website, Referred by")
    # Not a stage the engine would allow at all: the column does not take the card.
    page.drag_and_drop(f"#card-{ids['Keyboard Ltd']}", "#column-qualified")
    expect(page.locator(f"#column-lead #card-{ids['Keyboard Ltd']}")).to_be_visible()


def test_move_a_card_with_the_keyboard(page, live_server, board_data):
    owner, ids = board_data
    open_board(page, live_server, owner.email)
    card = page.locator(f"#card-{ids['Keyboard Ltd']}")
    card.focus()
    page.keyboard.press("Tab")  # the startup's link
    page.keyboard.press("Tab")  # "Move to" (Intake is offered first)
    expect(page.get_by_label("Move to (Keyboard Ltd)")).to_be_focused()
    expect(page.get_by_label("Move to (Keyboard Ltd)")).to_have_value("intake")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Move Keyboard Ltd")).to_be_focused()
    page.keyboard.press("Enter")
    moved = page.locator(f"#column-intake #card-{ids['Keyboard Ltd']}")
    expect(moved).to_be_focused()  # focus follows the card to where it landed
    expect(page.locator("#board-live")).to_have_text("Moved to Intake.")
    # Its form now offers the moves from Intake.
    expect(page.get_by_label("Move to (Keyboard Ltd)").locator("option")).to_have_text(
        ["Qualified", "Lead", "Landed"])


def test_more_cards_load_in_place(app, page, live_server, board_data):
    owner, _ids = board_data
    with Session(app.extensions["db_engine"]) as db:
        programme = db.exec(select(Programme)).one()
        version_id = current_version_id(db, programme)
        start = utcnow() - timedelta(days=40)
        for number in range(30):
            startup = Startup(name=f"Queued {number:02}", country="KR")
            db.add(startup)
            db.flush()
            db.add(Enrollment(startup_id=startup.id, programme_id=programme.id,
                              programme_version_id=version_id, stage="lead",
                              stage_entered_at=start + timedelta(minutes=number)))
        db.commit()
    login_in_browser(page, live_server, owner.email)
    page.goto(f"{live_server}/pipeline/?programme=corridor")
    cards = page.locator("#column-lead [data-card]")
    expect(cards).to_have_count(20)
    page.get_by_role("link", name="More in Lead").click()
    expect(cards).to_have_count(32)
    expect(page.get_by_role("link", name="More in Lead")).to_have_count(0)
    expect(cards.nth(20)).to_be_focused()
    expect(cards.nth(20)).to_contain_text("Queued 20")

"""The enrollment panel on a startup's page, through the test client: enroll, move, close,
fields, checklist with evidence uploads, stale pages, permissions, German, query counts."""

from __future__ import annotations

import hashlib
import html
import io
import re
from datetime import UTC, datetime

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import func, select
from sqlmodel import Session

from crm.core.audit import AuditEvent
from crm.core.enums import EnrollmentStatus, Role
from crm.documents.models import Document
from crm.outbox.models import OutboxMessage
from crm.programmes.models import Programme
from crm.startups.models import Startup
from crm.workflow.models import ChecklistItem, ChecklistStatus, Enrollment, StageEvent
from tests.conftest import csrf_token, fresh
from tests.factories import definition, make_programme, make_startup

SMALL_PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
             b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
             b"trailer << /Root 1 0 R >>\n%%EOF\n")
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64


# --- helpers ------------------------------------------------------------------------------------


def page_of(client, startup: Startup) -> str:
    response = client.get(f"/startups/{startup.id}")
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    return html.unescape(response.get_data(as_text=True))


def post(client, url: str, startup: Startup, data: dict | None = None, **kwargs):
    token = csrf_token(client, f"/startups/{startup.id}")
    return client.post(url, data={**(data or {}), "csrf_token": token}, **kwargs)


def flashes(page: str) -> list[str]:
    return [html.unescape(text) for text in re.findall(r'<p class="flash[^"]*">(.*?)</p>', page)]


def after(client, response) -> str:
    """Follow the redirect back to the startup page (Post/Redirect/Get) and return that page."""
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    location = response.headers["Location"]
    assert re.match(r"^/startups/\d+(#[\w-]+)?$", location), location
    followed = client.get(location.split("#")[0])
    assert followed.status_code == 200
    return html.unescape(followed.get_data(as_text=True))


def enrollment_of(db: Session, startup: Startup) -> Enrollment:
    return fresh(db).scalars(select(Enrollment).where(Enrollment.startup_id == startup.id)
                             .order_by(Enrollment.id.desc())).first()


def item_of(db: Session, enrollment: Enrollment, key: str) -> ChecklistItem:
    return fresh(db).scalar(select(ChecklistItem).where(
        ChecklistItem.enrollment_id == enrollment.id, ChecklistItem.key == key))


def count(db: Session, model, *conditions) -> int:
    return fresh(db).scalar(select(func.count()).select_from(model).where(*conditions))


def enroll(client, db, startup: Startup, programme: Programme) -> Enrollment:
    page = after(client, post(client, f"/startups/{startup.id}/enrollments", startup,
                              {"programme": programme.id}))
    assert f"Enrolled in {programme.name_en}." in flashes(page)
    return enrollment_of(db, startup)


def move(client, db, enrollment: Enrollment, to_stage: str, startup: Startup,
         revision: int | None = None):
    revision = fresh(db).get(Enrollment, enrollment.id).revision if revision is None else revision
    return post(client, f"/enrollments/{enrollment.id}/move", startup,
                {"to_stage": to_stage, "revision": revision})


def settle(client, db, enrollment: Enrollment, key: str, status: str, startup: Startup,
           revision: int | None = None, **fields):
    item = item_of(db, enrollment, key)
    revision = fresh(db).get(Enrollment, enrollment.id).revision if revision is None else revision
    return post(client, f"/enrollments/{enrollment.id}/checklist/{item.id}", startup,
                {"status": status, "revision": revision, **fields},
                content_type="multipart/form-data")


def stage_classes(page: str, enrollment: Enrollment) -> dict[str, str]:
    """Stage label → its state on the stage path of this enrollment."""
    article = re.search(rf'<article class="enrollment" id="enrollment-{enrollment.id}"'
                        r".*?</article>", page, re.S).group(0)
    path = re.search(r'<ol class="stage-path".*?</ol>', article, re.S).group(0)
    return {label.strip(): state for state, label in
            re.findall(r'<li class="stage stage-(\w+)[^"]*"[^>]*>\s*([^<]+?)\s*<span', path)}


def uploaded_files(app) -> list:
    folder = app.config["SETTINGS"].upload_folder
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


@pytest.fixture
def corridor(db) -> Programme:
    return make_programme(db)


@pytest.fixture
def bd(client_as):
    return client_as(Role.BD_MANAGER)


@pytest.fixture
def ready(db, bd, corridor):
    """A BD manager's own startup, enrolled in the corridor at its first stage (lead)."""
    client, user = bd
    startup = make_startup(db, owner_id=user.id)
    enrollment = enroll(client, db, startup, corridor)
    return client, user, startup, enrollment


# --- enroll and move ----------------------------------------------------------------------------


def test_enroll_lists_active_programmes_not_openly_enrolled_and_starts_at_the_first_stage(
        db, bd, corridor):
    client, _ = bd
    inactive = make_programme(db, definition(key="dormant", name={"en": "Dormant Desk",
                                                                  "de": "Ruhender Desk"}))
    inactive.is_active = False
    db.add(inactive)
    db.commit()
    startup = make_startup(db)  # unassigned: a BD manager may work on it

    before = page_of(client, startup)
    assert "Not enrolled in any programme." in before
    options = re.search(r'<select id="enroll-programme" name="programme">(.*?)</select>', before,
                        re.S).group(1)
    assert "Corridor" in options and "Dormant Desk" not in options

    enrollment = enroll(client, db, startup, corridor)

    assert enrollment.stage == "lead" and enrollment.status == EnrollmentStatus.OPEN
    assert count(db, StageEvent, StageEvent.enrollment_id == enrollment.id) == 1
    page = page_of(client, startup)
    assert stage_classes(page, enrollment) == {"Lead": "current", "Intake": "next",
                                               "Qualified": "next"}
    assert "Stage: Lead" in page
    assert 'id="enroll-programme"' not in page  # nothing left to enroll in
    assert count(db, ChecklistItem, ChecklistItem.enrollment_id == enrollment.id) == 3


def test_enrolling_twice_is_refused_with_a_message(db, ready, corridor):
    client, _, startup, _ = ready

    page = after(client, post(client, f"/startups/{startup.id}/enrollments", startup,
                              {"programme": corridor.id}))

    assert "This startup is already enrolled in this programme." in flashes(page)
    assert count(db, Enrollment, Enrollment.startup_id == startup.id) == 1


def test_move_forward_shows_the_path_and_the_sla_due_date(db, ready):
    client, _, startup, enrollment = ready
    revision = enrollment.revision

    page = after(client, move(client, db, enrollment, "intake", startup))

    assert "Moved to Intake." in flashes(page)
    moved = enrollment_of(db, startup)
    assert moved.stage == "intake" and moved.revision > revision
    assert count(db, StageEvent, StageEvent.enrollment_id == enrollment.id) == 2
    assert stage_classes(page, enrollment) == {"Lead": "done", "Intake": "current",
                                               "Qualified": "next"}
    due = re.search(r"<span>due (.*?)</span>", page)  # not overdue: not red
    assert due, "the SLA due date is shown"
    buttons = re.findall(r'<button type="submit" name="to_stage" value="(\w+)"', page)
    assert buttons == ["qualified", "lead"]  # forward, back; closing is the close form's


def test_an_overdue_enrollment_shows_its_due_date_in_red(db, ready):
    client, _, startup, enrollment = ready
    stored = fresh(db).get(Enrollment, enrollment.id)
    stored.due_at = datetime(2020, 1, 6, 9, tzinfo=UTC)
    db.commit()

    page = page_of(client, startup)

    assert re.search(r'<span class="overdue">due Jan 6, 2020 \(overdue\)</span>', page)


def test_a_move_whose_gate_is_not_met_names_every_missing_item_and_changes_nothing(
        db, bd, corridor):
    client, user = bd
    startup = make_startup(db, owner_id=user.id, contact_email=None)  # no website, no email
    enrollment = enroll(client, db, startup, corridor)
    after(client, move(client, db, enrollment, "intake", startup))
    before = enrollment_of(db, startup)
    events = count(db, StageEvent, StageEvent.enrollment_id == enrollment.id)
    audits = count(db, AuditEvent)

    page = after(client, move(client, db, enrollment, "qualified", startup))

    assert flashes(page) == ["This stage cannot be entered yet.",
                             "Missing: Website, Referred by, A contact with an email address"]
    now = enrollment_of(db, startup)
    assert (now.stage, now.revision, now.due_at) == ("intake", before.revision, before.due_at)
    assert count(db, StageEvent, StageEvent.enrollment_id == enrollment.id) == events
    assert count(db, AuditEvent) == audits
    assert count(db, OutboxMessage) == 0


def test_a_move_whose_gate_is_met_goes_through_and_queues_the_stage_email(db, bd, corridor):
    client, user = bd
    startup = make_startup(db, owner_id=user.id, website="https://robotics.example")
    enrollment = enroll(client, db, startup, corridor)
    after(client, move(client, db, enrollment, "intake", startup))
    after(client, post(client, f"/enrollments/{enrollment.id}/fields", startup,
                       {"key": "referred_by", "value": "karnataka",
                        "revision": enrollment_of(db, startup).revision}))

    page = after(client, move(client, db, enrollment, "qualified", startup))

    assert "Moved to Qualified." in flashes(page)
    assert enrollment_of(db, startup).stage == "qualified"
    assert count(db, OutboxMessage, OutboxMessage.to_address == "founder@robotics.example") == 1


def test_a_stale_page_is_refused_instead_of_overwriting(db, ready):
    client, _, startup, enrollment = ready
    shown_revision = enrollment_of(db, startup).revision
    after(client, move(client, db, enrollment, "intake", startup))  # someone else, meanwhile

    stale_move = after(client, move(client, db, enrollment, "lead", startup,
                                    revision=shown_revision))
    stale_field = after(client, post(client, f"/enrollments/{enrollment.id}/fields", startup,
                                     {"key": "referred_by", "value": "karnataka",
                                      "revision": shown_revision}))
    stale_item = after(client, settle(client, db, enrollment, "address", "done", startup,
                                      revision=shown_revision))
    stale_close = after(client, post(client, f"/enrollments/{enrollment.id}/close", startup,
                                     {"outcome": "withdrawn", "reason": "No budget",
                                      "revision": shown_revision}))

    for page in (stale_move, stale_field, stale_item, stale_close):
        assert "This enrollment changed meanwhile. Look at it again." in flashes(page)
    now = enrollment_of(db, startup)
    assert (now.stage, now.status, now.fields) == ("intake", EnrollmentStatus.OPEN, {})
    assert item_of(db, enrollment, "address").status == ChecklistStatus.OPEN


def test_a_checklist_change_makes_older_pages_stale(db, ready):
    client, _, startup, enrollment = ready
    shown_revision = enrollment_of(db, startup).revision

    after(client, settle(client, db, enrollment, "address", "done", startup))
    page = after(client, settle(client, db, enrollment, "address", "open", startup,
                                revision=shown_revision))

    assert "This enrollment changed meanwhile. Look at it again." in flashes(page)
    assert item_of(db, enrollment, "address").status == ChecklistStatus.DONE


def test_a_form_without_revision_is_refused(db, ready):
    client, _, startup, enrollment = ready

    page = after(client, post(client, f"/enrollments/{enrollment.id}/move", startup,
                              {"to_stage": "intake"}))

    assert "This form is incomplete. Reload the page and try again." in flashes(page)
    assert enrollment_of(db, startup).stage == "lead"


def test_closing_moves_are_not_buttons_and_a_crafted_one_is_sent_to_the_close_form(db, ready):
    client, _, startup, enrollment = ready

    page = after(client, move(client, db, enrollment, "rejected", startup))

    assert "Use “Close this enrollment” to end it." in flashes(page)
    assert enrollment_of(db, startup).status == EnrollmentStatus.OPEN


# --- close --------------------------------------------------------------------------------------


def close(client, db, enrollment, startup, outcome: str, reason: str = ""):
    return post(client, f"/enrollments/{enrollment.id}/close", startup,
                {"outcome": outcome, "reason": reason,
                 "revision": enrollment_of(db, startup).revision})


def test_withdrawing_needs_a_reason(db, ready):
    client, _, startup, enrollment = ready

    page = after(client, close(client, db, enrollment, startup, "withdrawn", "   "))

    assert "Give a reason for closing." in flashes(page)
    assert enrollment_of(db, startup).status == EnrollmentStatus.OPEN


def test_rejecting_with_a_reason_closes_and_shows_it(db, ready, corridor):
    client, _, startup, enrollment = ready
    after(client, move(client, db, enrollment, "intake", startup))

    page = after(client, close(client, db, enrollment, startup, "rejected",
                               "Not in our focus sectors"))

    assert "Closed as Rejected." in flashes(page)
    closed = enrollment_of(db, startup)
    assert (closed.status, closed.stage) == (EnrollmentStatus.REJECTED, "rejected")
    assert closed.close_reason == "Not in our focus sectors"
    assert "Reason: Not in our focus sectors" in page
    assert stage_classes(page, enrollment) == {"Lead": "done", "Intake": "done",
                                               "Qualified": "next", "Rejected": "current"}
    assert "Tick as done" not in page and "Close this enrollment" not in page
    assert 'id="enroll-programme"' in page  # may be enrolled again


def test_landing_without_the_checklist_names_the_open_items(db, ready):
    client, _, startup, enrollment = ready

    page = after(client, close(client, db, enrollment, startup, "landed"))

    assert flashes(page) == ["This stage cannot be entered yet.",
                             "Missing: Address, Residence permit, Bank account"]
    assert enrollment_of(db, startup).status == EnrollmentStatus.OPEN


# --- fields -------------------------------------------------------------------------------------


def test_setting_referred_by(db, ready):
    client, _, startup, enrollment = ready

    page = after(client, post(client, f"/enrollments/{enrollment.id}/fields", startup,
                              {"key": "referred_by", "value": "duesseldorf",
                               "revision": enrollment_of(db, startup).revision}))

    assert "Saved." in flashes(page)
    assert enrollment_of(db, startup).fields == {"referred_by": "duesseldorf"}
    assert '<option value="duesseldorf" selected>Düsseldorf</option>' in page

    refused = after(client, post(client, f"/enrollments/{enrollment.id}/fields", startup,
                                 {"key": "referred_by", "value": "mars",
                                  "revision": enrollment_of(db, startup).revision}))
    assert "Choose one of the offered answers." in flashes(refused)
    assert enrollment_of(db, startup).fields == {"referred_by": "duesseldorf"}


# --- checklist ----------------------------------------------------------------------------------


def test_tick_waive_reopen_and_a_dependency_refused(db, ready):
    client, user, startup, enrollment = ready

    refused = after(client, settle(client, db, enrollment, "permit", "done", startup))
    assert flashes(refused) == ["Settle the items this one depends on first.",
                                "Settle these first: Address"]
    assert item_of(db, enrollment, "permit").status == ChecklistStatus.OPEN

    page = after(client, settle(client, db, enrollment, "address", "done", startup,
                                note="Anmeldung at Bürgerbüro Mitte"))
    assert "Address: saved." in flashes(page)
    address = item_of(db, enrollment, "address")
    assert address.status == ChecklistStatus.DONE and address.settled_by_id == user.id
    assert address.evidence_note == "Anmeldung at Bürgerbüro Mitte"
    assert "Anmeldung at Bürgerbüro Mitte" in page and f"Done by {user.name}" in page

    after(client, settle(client, db, enrollment, "permit", "done", startup,
                         expires_on="2027-03-31"))
    permit = item_of(db, enrollment, "permit")
    assert permit.status == ChecklistStatus.DONE
    assert permit.expires_at == datetime(2027, 3, 30, 22, 0, tzinfo=UTC)  # midnight in Berlin
    page = after(client, settle(client, db, enrollment, "bank", "waived", startup))
    assert item_of(db, enrollment, "bank").status == ChecklistStatus.WAIVED
    assert "expires Mar 31, 2027" in page and "3 of 3 settled" in page

    page = after(client, settle(client, db, enrollment, "address", "open", startup))
    assert item_of(db, enrollment, "address").status == ChecklistStatus.OPEN
    assert item_of(db, enrollment, "address").settled_by_id is None
    assert "2 of 3 settled" in page
    assert count(db, AuditEvent, AuditEvent.action == "checklist.settled") == 4


def test_not_applicable_and_a_bad_expiry_date(db, ready):
    client, _, startup, enrollment = ready

    after(client, settle(client, db, enrollment, "bank", "not_applicable", startup))
    page = after(client, settle(client, db, enrollment, "address", "done", startup,
                                expires_on="31.02.2027"))

    assert item_of(db, enrollment, "bank").status == ChecklistStatus.NOT_APPLICABLE
    assert any(message.startswith("Expires on:") for message in flashes(page))
    assert item_of(db, enrollment, "address").status == ChecklistStatus.OPEN


# --- evidence files -----------------------------------------------------------------------------


def test_a_small_pdf_is_stored_outside_static_and_downloadable_by_staff(app, db, ready,
                                                                        client_as, client):
    bd_client, user, startup, enrollment = ready

    page = after(bd_client, settle(bd_client, db, enrollment, "address", "done", startup,
                                   evidence=(io.BytesIO(SMALL_PDF), "Anmeldung Rao.pdf")))

    document = fresh(db).scalars(select(Document)).one()
    assert (document.filename, document.content_type) == ("Anmeldung Rao.pdf", "application/pdf")
    assert document.size_bytes == len(SMALL_PDF)
    assert document.sha256 == hashlib.sha256(SMALL_PDF).hexdigest()
    assert (document.startup_id, document.uploaded_by_id) == (startup.id, user.id)
    assert item_of(db, enrollment, "address").evidence_document_id == document.id
    [stored] = uploaded_files(app)
    assert stored.read_bytes() == SMALL_PDF
    assert stored.name == document.storage_key and "Anmeldung" not in str(stored)
    assert app.static_folder not in str(stored)
    assert f'href="/documents/{document.id}">Anmeldung Rao.pdf</a>' in page

    viewer_client, _ = client_as(Role.VIEWER)
    download = viewer_client.get(f"/documents/{document.id}")
    assert download.status_code == 200
    assert download.data == SMALL_PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "no-store" in download.headers["Cache-Control"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert count(db, AuditEvent, AuditEvent.action == "document.downloaded") == 1

    anonymous = client.get(f"/documents/{document.id}")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert viewer_client.get(f"/documents/{document.id + 1}").status_code == 404


def test_an_image_with_a_misleading_name_is_stored_under_a_fitting_one(db, ready):
    client, _, startup, enrollment = ready
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32

    after(client, settle(client, db, enrollment, "address", "done", startup,
                         evidence=(io.BytesIO(png), "../../scan.pdf")))

    document = fresh(db).scalars(select(Document)).one()
    assert (document.filename, document.content_type) == ("scan.png", "image/png")


@pytest.mark.parametrize(("content", "name", "message"), [
    (WINDOWS_EXE, "deck.pdf", "Only PDF, PNG and JPEG files are accepted; this file is none of "
                              "them, whatever its name says."),
    (b"%PDF-1.4\n" + b"0" * (15 * 1024 * 1024), "huge.pdf", "The file is larger than 15 MB."),
    (b"", "empty.pdf", "The file is empty."),
])
def test_a_refused_file_gets_a_clear_message_and_leaves_nothing(app, db, ready, content, name,
                                                                 message):
    client, _, startup, enrollment = ready

    page = after(client, settle(client, db, enrollment, "address", "done", startup,
                                evidence=(io.BytesIO(content), name)))

    assert message in flashes(page)
    assert count(db, Document) == 0 and uploaded_files(app) == []
    assert item_of(db, enrollment, "address").status == ChecklistStatus.OPEN


def test_a_refused_action_removes_the_file_it_stored(app, db, ready):
    client, _, startup, enrollment = ready

    page = after(client, settle(client, db, enrollment, "permit", "done", startup,
                                evidence=(io.BytesIO(SMALL_PDF), "permit.pdf")))

    assert "Settle the items this one depends on first." in flashes(page)
    assert count(db, Document) == 0 and uploaded_files(app) == []


# --- permissions --------------------------------------------------------------------------------


def every_post(db, startup: Startup, enrollment: Enrollment, programme: Programme) -> list:
    item = item_of(db, enrollment, "address")
    revision = enrollment_of(db, startup).revision
    return [
        (f"/startups/{startup.id}/enrollments", {"programme": programme.id}),
        (f"/enrollments/{enrollment.id}/move", {"to_stage": "intake", "revision": revision}),
        (f"/enrollments/{enrollment.id}/close", {"outcome": "withdrawn", "reason": "x",
                                                 "revision": revision}),
        (f"/enrollments/{enrollment.id}/fields", {"key": "referred_by", "value": "karnataka",
                                                  "revision": revision}),
        (f"/enrollments/{enrollment.id}/checklist/{item.id}", {"status": "done",
                                                               "revision": revision}),
    ]


ACTION_MARKERS = ('id="enroll-programme"', 'name="to_stage"', "Tick as done",
                  "Close this enrollment", 'action="/enrollments/')


def denied(db) -> int:
    return count(db, AuditEvent, AuditEvent.action == "access.denied")


@pytest.mark.parametrize("role", [Role.VIEWER, Role.BD_MANAGER])
def test_who_may_not_edit_gets_403_on_every_post_and_sees_no_forms(db, ready, corridor,
                                                                   client_as, role):
    _, _, startup, enrollment = ready  # owned by another BD manager
    make_programme(db, definition(key="korea", name={"en": "Korea Desk", "de": "Korea-Desk"}))
    client, _ = client_as(role)
    audits = count(db, AuditEvent)
    assert denied(db) == 0

    for url, data in every_post(db, startup, enrollment, corridor):
        assert post(client, url, startup, data).status_code == 403, url

    page = page_of(client, startup)
    assert "Corridor" in page and "Address" in page  # they see it all...
    for marker in ACTION_MARKERS:  # ...but no form to change it
        assert marker not in page, marker
    now = enrollment_of(db, startup)
    assert (now.stage, now.status, now.fields) == ("lead", EnrollmentStatus.OPEN, {})
    # Only the refusals are recorded (access.denied, one per endpoint a minute), no change.
    assert count(db, Enrollment) == 1 and count(db, AuditEvent) - denied(db) == audits


def test_a_viewer_is_refused_even_on_an_unassigned_startup(db, client_as, corridor):
    client, _ = client_as(Role.VIEWER)
    startup = make_startup(db)

    response = post(client, f"/startups/{startup.id}/enrollments", startup,
                    {"programme": corridor.id})

    assert response.status_code == 403
    assert 'id="enroll-programme"' not in page_of(client, startup)


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
def test_managers_and_admins_may_edit_anyones_startup(db, ready, client_as, role):
    _, _, startup, enrollment = ready
    client, _ = client_as(role)

    assert 'name="to_stage"' in page_of(client, startup)
    page = after(client, move(client, db, enrollment, "intake", startup))

    assert "Moved to Intake." in flashes(page)
    assert enrollment_of(db, startup).stage == "intake"


def test_a_checklist_item_of_another_enrollment_is_not_found(db, ready, bd):
    client, user, startup, enrollment = ready
    other = make_startup(db, "Other GmbH", owner_id=user.id)
    other_enrollment = enroll(client, db, other, fresh(db).get(Programme,
                                                              enrollment.programme_id))
    foreign_item = item_of(db, other_enrollment, "address")

    response = post(client, f"/enrollments/{enrollment.id}/checklist/{foreign_item.id}",
                    startup, {"status": "done", "revision": enrollment_of(db, startup).revision})

    assert response.status_code == 404
    assert item_of(db, other_enrollment, "address").status == ChecklistStatus.OPEN


def test_posts_need_a_csrf_token_and_a_login(db, ready, client):
    bd_client, _, startup, enrollment = ready

    no_token = bd_client.post(f"/enrollments/{enrollment.id}/move",
                              data={"to_stage": "intake", "revision": 1})
    anonymous = client.post(f"/enrollments/{enrollment.id}/move",
                            data={"to_stage": "intake", "revision": 1})

    assert no_token.status_code == 400 and anonymous.status_code in (400, 401)
    assert enrollment_of(db, startup).stage == "lead"


def test_get_is_not_an_action(db, ready):
    client, _, _, enrollment = ready

    assert client.get(f"/enrollments/{enrollment.id}/move").status_code == 405


# --- German -------------------------------------------------------------------------------------


def german(app, msgid: str) -> str:
    with app.test_request_context(), force_locale("de"):
        text = gettext(msgid)
    assert text != msgid, f"no German translation for {msgid!r}"
    return text


def test_the_panel_in_german(app, db, bd, corridor):
    client, user = bd
    startup = make_startup(db, owner_id=user.id, contact_email=None)
    enrollment = enroll(client, db, startup, corridor)
    after(client, move(client, db, enrollment, "intake", startup))
    client.post("/locale", data={"locale": "de", "next": f"/startups/{startup.id}",
                                 "csrf_token": csrf_token(client, f"/startups/{startup.id}")})

    page = page_of(client, startup)
    assert '<html lang="de">' in page
    for msgid in ("Landing checklist", "Close this enrollment", "Tick as done", "Waive",
                  "Evidence", "Move to"):
        assert german(app, msgid) in page, msgid
    assert stage_classes(page, enrollment) == {"Interessent": "done", "Fragebogen": "current",
                                               "Qualifiziert": "next"}
    assert "Korridor" in page and "Aufenthaltstitel" in page and "Vermittelt durch" in page

    refused = after(client, move(client, db, enrollment, "qualified", startup))
    assert flashes(refused) == [
        german(app, "This stage cannot be entered yet."),
        "Es fehlt: Website, Vermittelt durch, Ein Kontakt mit E-Mail-Adresse",
    ]


# --- queries ------------------------------------------------------------------------------------


def test_the_startup_page_runs_the_same_queries_for_one_and_three_enrollments(
        app, db, bd, count_queries):
    client, user = bd
    programmes = [make_programme(db, definition(key=key, name={"en": name, "de": name}))
                  for key, name in (("alpha", "Alpha"), ("beta", "Beta"), ("gamma", "Gamma"))]
    one = make_startup(db, "One GmbH", owner_id=user.id)
    three = make_startup(db, "Three GmbH", owner_id=user.id)
    for startup, enrolled_in in ((one, programmes[:1]), (three, programmes)):
        for programme in enrolled_in:
            enrollment = enroll(client, db, startup, programme)
            after(client, settle(client, db, enrollment, "address", "done", startup,
                                 evidence=(io.BytesIO(SMALL_PDF), "a.pdf")))
            after(client, settle(client, db, enrollment, "bank", "waived", startup))
        after(client, close(client, db, enrollment, startup, "withdrawn", "Went to Berlin"))

    page_of(client, one)  # warm up: connections, caches
    with count_queries() as for_one:
        page_of(client, one)
    with count_queries() as for_three:
        page = page_of(client, three)

    assert page.count('<article class="enrollment"') == 3
    assert page.count('href="/documents/') == 3
    assert len(for_one) == len(for_three), "\n".join(for_three)
    # The user; the startup with its sectors, tags, contacts and staff; enrollments (each with
    # the stage it was closed from); checklists; tasks; the programmes with the startup's drafts
    # and open enrollments; five timeline sources. Managers see the change history too (12).
    assert len(for_three) <= 11, "\n".join(for_three)

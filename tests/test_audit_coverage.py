"""Every change to a record leaves an audit event naming who (the actor), what (the action)
and which record; during a request also from where. The changes are made through the real
services, one by one, in the order a working day might bring them."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import yaml
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from crm.core.audit import AuditEvent
from crm.core.enums import ActivityKind, EnrollmentStatus, Language, Role
from crm.db import get_session
from crm.documents.models import Document
from crm.documents.services import record_download, store_document
from crm.duplicates.merge import merge_startups
from crm.duplicates.services import dismiss_pair
from crm.exports.services import export_inline, request_export
from crm.imports import services as imports
from crm.outbox.models import OutboxMessage
from crm.programmes.models import Programme
from crm.programmes.services import load_definition
from crm.startups import profile, services
from crm.startups.listing import ListView
from crm.startups.models import Contact, Startup, Task
from crm.startups.saved_views import delete_view, save_view
from crm.users import services as users
from crm.users.models import User
from crm.workflow import engine
from crm.workflow.engine import Actor
from crm.workflow.models import ChecklistItem, ChecklistStatus, Enrollment
from tests.conftest import fresh
from tests.factories import SIMPLE_DEFINITION
from tests.helpers import post
from tests.test_intake import fill_in, post_form, url
from tests.test_intake import programme as programme  # noqa: PLC0414 - the fixture, reused
from tests.test_route_matrix import SMALL_PDF, World
from tests.test_route_matrix import world as world  # noqa: PLC0414 - the fixture, reused

Change = tuple[str, Callable[[], object], str, str]  # name, the change, action, object type


def _changes(db, world: World) -> list[Change]:
    bd, admin = db.get(User, world.users["bd"].id), db.get(User, world.users["admin"].id)
    manager, spare = db.get(User, world.users["manager"].id), db.get(User, world.users["spare"].id)
    own = db.get(Startup, world.of("own")["startup"])
    contact = db.get(Contact, world.of("own")["contact"])
    task = db.get(Task, world.of("own")["task"])
    enrollment = db.get(Enrollment, world.of("own")["enrollment"])
    item = db.get(ChecklistItem, world.of("own")["item"])
    programme = db.scalar(select(Programme).where(Programme.key == world.programme_key))
    message = db.get(OutboxMessage, world.of("own")["outbox_message"])
    job = imports.upload(db, FileStorage(io.BytesIO(b"Name,Country\nNew Robotics,DE\n"),
                                         filename="more.csv"), bd)
    twin = profile.create_startup(db, {"name": "Own Twin", "country": "DE"}, bd,
                                  allow_duplicates=True)
    other_twin = profile.create_startup(db, {"name": "Other Twin", "country": "DE"}, bd,
                                        allow_duplicates=True)
    state: dict[str, object] = {}
    later = datetime.now(UTC) + timedelta(days=3)
    new_version = yaml.safe_dump({**SIMPLE_DEFINITION, "description": {
        "en": "A new version.", "de": "Eine neue Version."}}, allow_unicode=True)
    return [
        ("new startup", lambda: profile.create_startup(
            db, {"name": "Cover Robotics", "country": "DE"}, bd, allow_duplicates=True),
         "startup.created", "startup"),
        ("profile", lambda: profile.update_profile(db, own, {"city": "Köln"}, own.version, bd),
         "startup.updated", "startup"),
        ("contact added", lambda: state.update(contact=profile.add_contact(
            db, own, {"name": "Ana Lima", "email": "ana@own.example"}, bd)),
         "contact.added", "startup"),
        ("contact changed", lambda: profile.update_contact(
            db, own, contact, {"name": "Asha R."}, contact.version, bd),
         "contact.updated", "startup"),
        ("contact removed", lambda: profile.remove_contact(
            db, own, state["contact"], state["contact"].version, bd),
         "contact.removed", "startup"),
        ("activity", lambda: services.log_activity(db, own, ActivityKind.CALL, "Called", "",
                                                   None, bd), "activity.logged", "startup"),
        ("task", lambda: services.create_task(db, own, "Send the offer", None, bd, bd),
         "task.created", "task"),
        ("task done", lambda: services.complete_task(db, task, own, bd), "task.completed",
         "task"),
        ("task open again", lambda: services.reopen_task(db, task, own, bd), "task.reopened",
         "task"),
        ("task snoozed", lambda: services.snooze_task(db, task, later, bd), "task.snoozed",
         "task"),
        ("task reassigned", lambda: services.reassign_task(db, task, manager, bd),
         "task.reassigned", "task"),
        ("enrollment field", lambda: engine.set_field(db, enrollment, "referred_by",
                                                      "karnataka", Actor.user(bd)),
         "enrollment.field_set", "enrollment"),
        ("checklist", lambda: engine.settle_checklist_item(db, item, ChecklistStatus.DONE,
                                                           Actor.user(bd)),
         "checklist.settled", "enrollment"),
        ("move", lambda: engine.move(db, enrollment, "intake", Actor.user(bd)),
         "enrollment.moved", "enrollment"),
        ("close", lambda: engine.close(db, enrollment, EnrollmentStatus.WITHDRAWN,
                                       Actor.user(bd), reason="Went to Munich"),
         "enrollment.moved", "enrollment"),
        ("enroll", lambda: engine.enroll(db, startup=twin, programme=programme,
                                         actor=Actor.user(bd)),
         "enrollment.enrolled", "enrollment"),
        ("document", lambda: state.update(document=store_document(db, own.id, FileStorage(
            io.BytesIO(SMALL_PDF), filename="permit.pdf", content_type="application/pdf"),
            bd.id)), "document.uploaded", "document"),
        ("document read", lambda: record_download(db, state["document"], bd.id),
         "document.downloaded", "document"),
        ("programme version", lambda: load_definition(db, new_version, "upload", admin.id,
                                                      programme_key=programme.key),
         "programme.version_loaded", "programme"),
        ("not the same", lambda: dismiss_pair(db, own, other_twin, bd), "duplicates.dismissed",
         "startup"),
        ("merge", lambda: merge_startups(db, own, other_twin, {}, bd), "startup.merged",
         "startup"),
        ("saved view", lambda: state.update(view=save_view(db, bd, "Mine", ListView())),
         "saved_view.created", "saved_view"),
        ("saved view deleted", lambda: delete_view(db, bd, state["view"]),
         "saved_view.deleted", "saved_view"),
        ("export", lambda: export_inline(db, bd, ListView(), "csv"), "startups.exported",
         "startups"),
        ("export job", lambda: request_export(db, bd, ListView(), "xlsx"),
         "startups.export_requested", "export_job"),
        ("import mapping", lambda: imports.save_mapping(
            db, job, {"0": "name", "1": "country"}, "", "", bd), "import.mapped", "import_job"),
        ("email sent again", lambda: message and services_retry(db, message, admin),
         "outbox.retried", "outbox_message"),
        ("role", lambda: users.change_role(db, spare, Role.BD_MANAGER, admin),
         "user.role_changed", "user"),
        ("deactivated", lambda: users.set_active(db, spare, False, admin), "user.deactivated",
         "user"),
        ("invited", lambda: users.invite_user(db, email="new.staff@desk.example",
                                              name="New Staff", role=Role.VIEWER,
                                              locale=Language.EN, actor=admin,
                                              base_url="http://localhost"),
         "user.created", "user"),
    ]


def services_retry(db, message: OutboxMessage, admin: User) -> bool:
    from crm.outbox.services import retry_now

    return retry_now(db, message, admin.id, datetime.now(UTC))


def test_every_change_to_a_record_is_an_audit_event(app, world):
    with app.app_context():
        db = get_session()
        missing = []
        for name, change, action, object_type in _changes(db, world):
            last = db.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) or 0
            change()
            db.flush()
            events = db.scalars(select(AuditEvent).where(AuditEvent.id > last)).all()
            # An export's record is a list of startups: its details name the view's query.
            if not any(event.action == action and event.actor_user_id is not None
                       and event.object_type == object_type
                       and (event.object_id is not None or object_type == "startups")
                       for event in events):
                missing.append(f"{name}: wanted {action} on {object_type}, got "
                               f"{[(e.action, e.actor_user_id, e.object_type) for e in events]}")
        db.rollback()
    assert not missing, "\n".join(missing)


def test_a_change_made_in_a_request_says_from_where(client_as, world, db, app):
    client, bd = client_as(Role.BD_MANAGER)
    own = profile_startup_of(db, bd)
    response = post(client, f"/startups/{own}/activities", {"kind": "note", "subject": "Met"})
    assert response.status_code == 302
    event = fresh(db).scalars(select(AuditEvent).where(AuditEvent.action == "activity.logged")
                              .order_by(AuditEvent.id.desc())).first()
    assert (event.actor_user_id, event.object_id, event.ip_address) == (bd.id, own,
                                                                       "127.0.0.1")


def profile_startup_of(db, owner: User) -> int:
    startup = Startup(name="Request Robotics", country="DE", owner_id=owner.id)
    db.add(startup)
    db.commit()
    return startup.id


def test_sign_ins_are_events_from_where(client, make_user, db):
    from tests.conftest import login

    user = make_user(Role.VIEWER)
    assert login(client, user.email, "not the password").status_code == 200
    assert login(client, "nobody@desk.example", "whatever").status_code == 200
    assert login(client, user.email).status_code == 302
    assert post(client, "/logout", token_from="/tasks/").status_code == 302
    events = fresh(db).scalars(select(AuditEvent).where(AuditEvent.action.startswith("auth."))
                               .order_by(AuditEvent.id)).all()
    assert [(event.action, event.actor_user_id, event.ip_address) for event in events] == [
        ("auth.login_failed", user.id, "127.0.0.1"), ("auth.login_failed", None, "127.0.0.1"),
        ("auth.login", user.id, "127.0.0.1"), ("auth.logout", user.id, "127.0.0.1")]
    assert "nobody" not in str([event.details for event in events])


def test_an_applicant_removing_an_upload_is_an_event(client, db, programme):
    fill_in(client, programme)  # the answers and a pitch deck
    document = fresh(db).scalars(select(Document)).one()
    document_id, application_id = document.id, document.application_id
    removed = post_form(client, url(programme, f"/documents/{document_id}/remove"),
                        page=url(programme, "/documents"))
    assert removed.status_code == 302
    event = fresh(db).scalars(select(AuditEvent).where(
        AuditEvent.action == "document.removed")).one()
    assert (event.object_type, event.object_id, event.ip_address) == (
        "document", document_id, "127.0.0.1")
    assert event.details["application_id"] == application_id

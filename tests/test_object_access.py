"""Ids of another BD manager's records inside a FORM (not the address) are refused, and nothing
changes: bulk actions, merge and "not the same", a task given to someone who may not work on
it, a board move, a checklist item of another enrollment, another startup's contact, an owner
a BD manager may not choose, another person's saved view, another draft's upload. The
services refuse as well as the views (called directly, without a view in front)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.core.audit import AuditEvent
from crm.core.enums import ActivityKind, EnrollmentStatus
from crm.db import get_session
from crm.documents.models import Document
from crm.duplicates import merge as merging
from crm.duplicates.models import DuplicateDismissal
from crm.duplicates.services import dismiss_pair
from crm.startups import bulk, profile, services
from crm.startups.models import Contact, SavedView, Startup, StartupTag, Task
from crm.startups.saved_views import delete_view
from crm.users.models import User
from crm.workflow import engine
from crm.workflow.engine import Actor
from crm.workflow.models import ChecklistItem, ChecklistStatus, Enrollment
from tests.conftest import csrf_token, fresh, login
from tests.helpers import text_of
from tests.test_imports import form_values
from tests.test_route_matrix import World
from tests.test_route_matrix import world as world  # noqa: PLC0414 - the fixture, reused


@pytest.fixture
def bd(app, world: World):
    """The first BD manager's client; the second's records are world.of("other")."""
    client = app.test_client()
    assert login(client, world.users["bd"].email).status_code == 302
    client.token = csrf_token(client, "/tasks/")
    return client


def post(client, url: str, data: dict):
    return client.post(url, data={**data, "csrf_token": client.token})


def startup(db, world: World, whose: str) -> Startup:
    return fresh(db).get(Startup, world.of(whose)["startup"], populate_existing=True)


def changes_to(db, object_type: str, object_id: int) -> int:
    """Audit events other than refusals about this record (each change writes one)."""
    return fresh(db).scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == object_type, AuditEvent.object_id == object_id,
        AuditEvent.action != "access.denied"))


# Through the forms -----------------------------------------------------------------------------


def test_bulk_actions_skip_the_other_bd_managers_startups(bd, db, world):
    own, other = world.of("own")["startup"], world.of("other")["startup"]
    events = changes_to(db, "startup", other)
    response = post(bd, "/startups/bulk/tag", {"ids": [own, other], "tag": "hot-lead"})
    assert response.status_code == 302
    assert "1 of 2 updated; 1 belongs to another BD manager (Startup other)." in text_of(
        bd.get(response.headers["Location"]))
    tagged = set(fresh(db).scalars(select(StartupTag.startup_id)
                                   .where(StartupTag.tag == "hot-lead")))
    assert tagged == {own}
    # "Select all on this page" carries the page's ids in a hidden field: the same check.
    post(bd, "/startups/bulk/assign", {"whole_page": "y", "page_ids": f"{other}",
                                       "owner": str(world.users["bd"].id)})
    assert startup(db, world, "other").owner_id == world.users["other_bd"].id
    assert changes_to(db, "startup", other) == events


def test_merge_and_not_the_same_refuse_the_other_bd_managers_startup(bd, db, world):
    own, other = startup(db, world, "own"), startup(db, world, "other")
    merged = post(bd, "/duplicates/merge", {"a": own.id, "b": other.id, "a_version": own.version,
                                            "b_version": other.version, "survivor": "a"})
    assert merged.status_code == 403
    dismissed = post(bd, "/duplicates/dismiss", {"a": own.id, "b": other.id})
    assert dismissed.status_code == 403
    assert startup(db, world, "own") and startup(db, world, "other")
    assert fresh(db).scalar(select(func.count()).select_from(DuplicateDismissal)) == 0
    assert changes_to(db, "startup", other.id) == changes_to(db, "startup", other.id)
    denied = fresh(db).scalars(select(AuditEvent.details).where(
        AuditEvent.action == "access.denied")).all()
    assert {details["endpoint"] for details in denied} >= {"duplicates.merge",
                                                           "duplicates.dismiss"}


def test_a_task_is_not_given_to_someone_who_may_not_work_on_its_startup(bd, db, world):
    task_id = world.of("own")["task"]
    response = post(bd, f"/tasks/{task_id}/reassign",
                    {"assignee": str(world.users["other_bd"].id)})
    assert response.status_code == 302
    assert fresh(db).get(Task, task_id, populate_existing=True).assignee_id == world.users[
        "bd"].id
    created = post(bd, f"/startups/{world.of('own')['startup']}/tasks",
                   {"title": "Call", "assignee": str(world.users["other_bd"].id)})
    assert created.status_code == 422
    assert fresh(db).scalar(select(func.count()).select_from(Task)
                            .where(Task.title == "Call")) == 0


def test_a_board_move_names_the_enrollment_in_the_form(bd, db, world):
    other = world.of("other")["enrollment"]
    stage = fresh(db).get(Enrollment, other).stage
    response = post(bd, "/pipeline/move", {"enrollment_id": other, "to_stage": "intake",
                                           "revision": 1})
    assert response.status_code == 403
    assert fresh(db).get(Enrollment, other, populate_existing=True).stage == stage


def test_a_checklist_item_of_another_enrollment_is_not_there(bd, db, world):
    item_id = world.of("other")["item"]
    response = post(bd, f"/enrollments/{world.of('own')['enrollment']}/checklist/{item_id}",
                    {"status": "done", "revision": 1})
    assert response.status_code == 404
    assert fresh(db).get(ChecklistItem, item_id).status != ChecklistStatus.DONE


def test_another_startups_contact_is_not_there(bd, db, world):
    contact_id = world.of("other")["contact"]
    url = f"/startups/{world.of('own')['startup']}/contacts/{contact_id}"
    assert post(bd, f"{url}/edit", {"name": "Mallory", "email": "m@evil.example"}
                ).status_code == 404
    assert post(bd, f"{url}/remove", {}).status_code == 404
    contact = fresh(db).get(Contact, contact_id, populate_existing=True)
    assert contact is not None and contact.name != "Mallory"


def test_a_bd_manager_cannot_name_another_owner(bd, db, world):
    own = world.of("own")["startup"]
    url = f"/startups/{own}/edit"
    values = form_values(bd.get(url).get_data(as_text=True), url)
    refused = bd.post(url, data={**values, "owner": str(world.users["other_bd"].id)})
    assert refused.status_code == 422 and "Not a valid choice" in text_of(refused)
    assert startup(db, world, "own").owner_id == world.users["bd"].id
    # The same form with a name change and their own id goes through: the refusal was the owner.
    kept = bd.post(url, data={**values, "name": "Startup own renamed",
                              "owner": str(world.users["bd"].id)})
    assert kept.status_code == 302, text_of(kept)[-2000:]


def test_another_persons_saved_view_is_not_there(bd, db, world):
    other_view = fresh(db).scalar(select(SavedView.id).where(
        SavedView.user_id == world.users["other_bd"].id))
    assert post(bd, f"/startups/views/{other_view}/delete", {"view": ""}).status_code == 404
    assert fresh(db).get(SavedView, other_view) is not None


def test_an_applicant_cannot_remove_another_drafts_upload(app, db, world):
    applicant = app.test_client()
    landing = f"/apply/{world.programme_key}"
    started = applicant.post(f"{landing}/start", data={
        "email": "someone@applicant.example", "csrf_token": csrf_token(applicant, landing)})
    assert started.status_code == 302
    document_id = world.of("other")["document"]
    removed = applicant.post(f"{landing}/documents/{document_id}/remove",
                             data={"csrf_token": csrf_token(applicant, landing)})
    assert removed.status_code == 404
    assert fresh(db).get(Document, document_id) is not None


# In the services -------------------------------------------------------------------------------


def test_the_services_refuse_without_a_view_in_front(app, db, world):
    """Each service checks the actor itself: a view that forgot cannot open a hole."""
    bd = fresh(db).get(User, world.users["bd"].id)
    other = db.get(Startup, world.of("other")["startup"])
    own = db.get(Startup, world.of("own")["startup"])
    other_task = db.get(Task, world.of("other")["task"])
    other_contact = db.get(Contact, world.of("other")["contact"])
    other_view = db.scalar(select(SavedView).where(SavedView.user_id == world.users["other_bd"].id))
    refusals = {
        "log activity": lambda: services.log_activity(db, other, ActivityKind.NOTE, "x", "",
                                                       None, bd),
        "create task": lambda: services.create_task(db, other, "x", None, bd, bd),
        "complete task": lambda: services.complete_task(db, other_task, other, bd),
        "reassign task": lambda: services.reassign_task(db, other_task, bd, bd),
        "update profile": lambda: profile.update_profile(db, other, {"name": "X"},
                                                         other.version, bd),
        "edit contact": lambda: profile.update_contact(db, other, other_contact,
                                                       {"name": "X"}, None, bd),
        "merge": lambda: merging.merge_startups(db, own, other, {}, bd),
        "not the same": lambda: dismiss_pair(db, own, other, bd),
        "delete saved view": lambda: delete_view(db, bd, other_view),
    }
    missing = []
    for name, attempt in refusals.items():
        try:
            attempt()
        except (services.NotAllowed, bulk.NotAllowed, PermissionError):
            pass
        except TypeError as error:  # a signature this list got wrong: say so, do not hide it
            raise AssertionError(f"{name}: {error}") from error
        else:
            missing.append(name)
        db.rollback()
    assert not missing, f"these services did not refuse: {missing}"
    viewer = db.get(User, world.users["viewer"].id)
    with pytest.raises(bulk.NotAllowed):
        bulk.add_tag(db, viewer, [own.id], "x")
    db.rollback()
    outcome = bulk.add_tag(db, bd, [own.id, other.id], "x")
    assert [s.id for s in outcome.refused] == [other.id]
    db.rollback()


def test_the_engine_refuses_a_user_who_may_not_change_the_startup(app, world):
    with app.app_context():  # the engine reads the desk's settings
        db = get_session()
        bd = db.get(User, world.users["bd"].id)
        enrollment = db.get(Enrollment, world.of("other")["enrollment"])
        item = db.get(ChecklistItem, world.of("other")["item"])
        attempts = {
            "move": lambda: engine.move(db, enrollment, "intake", Actor.user(bd)),
            "close": lambda: engine.close(db, enrollment, EnrollmentStatus.WITHDRAWN,
                                          Actor.user(bd), reason="x"),
            "set field": lambda: engine.set_field(db, enrollment, "referred_by", "karnataka",
                                                  Actor.user(bd)),
            "settle item": lambda: engine.settle_checklist_item(db, item, ChecklistStatus.DONE,
                                                                Actor.user(bd)),
        }
        missing = []
        for name, attempt in attempts.items():
            try:
                attempt()
            except services.NotAllowed:
                pass
            else:
                missing.append(name)
            db.rollback()
    assert not missing, f"the engine let a BD manager change another's enrollment: {missing}"

"""Merging two startups through the merge screen: nothing is lost, the picks are applied, the
merge is on the timeline and in the audit trail, and every refusal changes nothing."""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlmodel import Session
from werkzeug.datastructures import FileStorage

from crm.core.audit import AuditEvent
from crm.core.enums import ActivityKind, EnrollmentStatus, Role, StartupStatus
from crm.db import get_session
from crm.documents.models import Document
from crm.documents.services import store_document
from crm.duplicates.merge import MergeRefused, merge_startups
from crm.duplicates.models import DuplicateDismissal
from crm.outbox.models import OutboxMessage
from crm.startups.models import Activity, Contact, Startup, StartupSector, StartupTag, Task
from crm.startups.services import NotAllowed
from crm.workflow import engine
from crm.workflow.engine import Actor
from crm.workflow.models import ChecklistItem, Enrollment, StageEvent
from tests.conftest import csrf_token, fresh
from tests.factories import definition, make_programme, make_startup

SMALL_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def count(db: Session, model, *conditions) -> int:
    return fresh(db).scalar(select(func.count()).select_from(model).where(*conditions))


def holdings(db: Session, *startup_ids: int) -> dict[str, int]:
    """Everything hanging off these startups, counted."""
    enrollment_ids = select(Enrollment.id).where(Enrollment.startup_id.in_(startup_ids))
    return {
        "enrollments": count(db, Enrollment, Enrollment.startup_id.in_(startup_ids)),
        "stage_events": count(db, StageEvent, StageEvent.enrollment_id.in_(enrollment_ids)),
        "checklist": count(db, ChecklistItem, ChecklistItem.enrollment_id.in_(enrollment_ids)),
        "activities": count(db, Activity, Activity.startup_id.in_(startup_ids),
                             Activity.kind != ActivityKind.MERGE),
        "tasks": count(db, Task, Task.startup_id.in_(startup_ids)),
        "documents": count(db, Document, Document.startup_id.in_(startup_ids)),
        "emails": count(db, OutboxMessage, OutboxMessage.startup_id.in_(startup_ids)),
    }


@dataclass
class Pair:
    keep: Startup  # the older record, shown on the left
    other: Startup
    second_programme_id: int


def _fill(db: Session, startup: Startup, user, programme, suffix: str) -> None:
    db.add_all([
        Activity(startup_id=startup.id, kind=ActivityKind.CALL, subject=f"Call {suffix}",
                 author_id=user.id),
        Activity(startup_id=startup.id, kind=ActivityKind.NOTE, subject=f"Note {suffix}",
                 author_id=user.id),
        Task(title=f"Follow up {suffix}", startup_id=startup.id, assignee_id=user.id,
             created_by_id=user.id),
    ])
    db.add(OutboxMessage(dedupe_key=f"test:{suffix}", to_address=f"{suffix}@example.com",
                         subject=f"Welcome {suffix}", body_text="Hello", startup_id=startup.id))
    store_document(db, startup.id, FileStorage(io.BytesIO(SMALL_PDF), filename=f"{suffix}.pdf",
                                               content_type="application/pdf"), user.id)


@pytest.fixture
def corridor(db):
    return make_programme(db)


@pytest.fixture
def bd(client_as):
    return client_as(Role.BD_MANAGER)


def make_pair(app, db, owner, corridor, *, other_owner=None, both_open=False) -> Pair:
    """Two records of one company, each with contacts, labels, enrollments, activities, tasks,
    documents; the second's corridor enrollment is closed unless `both_open`."""
    keep = make_startup(db, "Doosan Robotics Inc.", country="KR", owner_id=owner.id,
                        website="https://www.doosanrobotics.com", domain="doosanrobotics.com",
                        city="Suwon", contact_email="founder@doosanrobotics.com")
    other = make_startup(db, "두산로보틱스", country="KR",
                         owner_id=(other_owner or owner).id, website="https://doosan-robo.kr",
                         domain="doosan-robo.kr", founded_year=2015, team_size=180,
                         contact_email=None)
    second = make_programme(db, definition(key="expansion",
                                           name={"en": "Expansion", "de": "Expansion"}))
    with app.app_context():
        session = get_session()
        keep, other = session.get(Startup, keep.id), session.get(Startup, other.id)
        session.add_all([
            Contact(startup_id=other.id, name="Asha Rao", email="Founder@DoosanRobotics.com",
                    phone="+821012345678", role="CEO"),
            Contact(startup_id=other.id, name="Min-jun Kim", email="cto@doosan-robo.kr"),
            Contact(startup_id=other.id, name="Ji-woo Park", email=None),
            StartupSector(startup_id=keep.id, sector="Robotics"),
            StartupSector(startup_id=other.id, sector="robotics"),
            StartupSector(startup_id=other.id, sector="Manufacturing"),
            StartupTag(startup_id=other.id, tag="fair-2026"),
        ])
        # Each startup's owner works on it (the engine refuses anyone else).
        engine.enroll(session, startup=keep, programme=corridor, actor=Actor.user(owner))
        actor = Actor.user(other_owner or owner)
        first = engine.enroll(session, startup=other, programme=corridor, actor=actor)
        engine.move(session, first, "intake", actor)
        if not both_open:
            engine.close(session, first, EnrollmentStatus.WITHDRAWN, actor, reason="Doubled")
        engine.enroll(session, startup=other,
                      programme=session.get(type(corridor), second.id), actor=actor)
        _fill(session, keep, owner, corridor, "keep")
        _fill(session, other, owner, corridor, "other")
        session.commit()
    fresh(db)
    keep, other = db.get(Startup, keep.id), db.get(Startup, other.id)
    db.expunge(keep)  # a snapshot of both as the merge screen showed them
    db.expunge(other)
    return Pair(keep, other, second.id)


def merge_form(client, pair: Pair, **data) -> dict:
    token = csrf_token(client, f"/duplicates/merge?a={pair.keep.id}&b={pair.other.id}")
    return {"csrf_token": token, "a": pair.keep.id, "b": pair.other.id,
            "a_version": pair.keep.version, "b_version": pair.other.version,
            "survivor": "a", "confirm": "y", **data}


def flashes(page: str) -> list[str]:
    return [html.unescape(text) for text in re.findall(r'<p class="flash[^"]*"[^>]*>(.*?)</p>',
                                                       page, re.S)]


# The merge itself -----------------------------------------------------------------------------


def test_the_merge_screen_shows_both_records_their_differences_and_what_moves(app, db, bd,
                                                                             corridor):
    client, user = bd
    pair = make_pair(app, db, user, corridor)
    response = client.get(f"/duplicates/merge?a={pair.keep.id}&b={pair.other.id}")
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert "Doosan Robotics Inc." in page and "두산로보틱스" in page
    assert 'name="pick_name" value="a" checked' in page  # the left value by default
    assert 'name="pick_founded_year" value="b" checked' in page  # left is empty: the right one
    assert 'name="pick_country"' not in page and "the same in both" in page  # KR in both
    counts = re.search(r"Enrollments</th>\s*<td>(\d+).*?<td>(\d+)", page, re.S).groups()
    assert counts == ("1", "2")
    assert re.search(r"Contacts</th><td>1</td><td>3</td>", page)
    assert "I have checked the values: merge, and delete the other record" in page


def test_merging_loses_nothing_and_applies_the_picks(app, db, bd, corridor):
    client, user = bd
    pair = make_pair(app, db, user, corridor)
    before = holdings(db, pair.keep.id, pair.other.id)
    assert before["enrollments"] == 3 and before["documents"] == 2
    assert all(before.values()), before  # something of every kind to lose
    response = client.post("/duplicates/merge", data=merge_form(
        client, pair, pick_name="b", pick_website="b", pick_city="a", pick_founded_year="b",
        pick_team_size="b"))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/startups/{pair.keep.id}"

    assert fresh(db).get(Startup, pair.other.id) is None
    survivor = fresh(db).get(Startup, pair.keep.id)
    assert holdings(db, survivor.id) == before
    assert (survivor.name, survivor.website, survivor.domain, survivor.city,
            survivor.founded_year, survivor.team_size) == (
        "두산로보틱스", "https://doosan-robo.kr", "doosan-robo.kr", "Suwon", 2015, 180)
    assert survivor.version == pair.keep.version + 1
    assert survivor.status == StartupStatus.ACTIVE
    assert survivor.name_skeleton == "tsnrptks" and "dusan" in survivor.search_text
    assert "min jun kim" in survivor.search_text  # the moved contacts are searchable

    # Contacts: the same address (in another case) became one, filled in; the rest moved.
    contacts = fresh(db).scalars(select(Contact).where(Contact.startup_id == survivor.id)
                                 .order_by(Contact.id)).all()
    assert [(c.name, c.email) for c in contacts] == [
        ("Asha Rao", "founder@doosanrobotics.com"), ("Min-jun Kim", "cto@doosan-robo.kr"),
        ("Ji-woo Park", None)]
    assert (contacts[0].phone, contacts[0].role) == ("+821012345678", "CEO")
    sectors = fresh(db).scalars(select(StartupSector.sector)
                                .where(StartupSector.startup_id == survivor.id)).all()
    assert sorted(sectors) == ["Manufacturing", "Robotics"]
    assert fresh(db).scalars(select(StartupTag.tag).where(
        StartupTag.startup_id == survivor.id)).all() == ["fair-2026"]

    merge_activity = fresh(db).scalar(select(Activity).where(
        Activity.startup_id == survivor.id, Activity.kind == ActivityKind.MERGE))
    assert merge_activity.subject == "Merged with 두산로보틱스"
    assert merge_activity.author_id == user.id
    event = fresh(db).scalar(select(AuditEvent).where(AuditEvent.action == "startup.merged"))
    assert (event.object_type, event.object_id, event.actor_user_id) == (
        "startup", survivor.id, user.id)
    assert event.details["changes"]["name"] == ["Doosan Robotics Inc.", "두산로보틱스"]
    assert event.details["changes"]["domain"] == ["doosanrobotics.com", "doosan-robo.kr"]
    assert event.details["changes"]["sectors"] == [["Robotics"], ["Manufacturing", "Robotics"]]
    assert event.details["absorbed_id"] == pair.other.id
    assert event.details["absorbed_values"]["founded_year"] == 2015
    assert event.details["moved"]["enrollments"] == 2
    assert fresh(db).scalar(select(AuditEvent).where(
        AuditEvent.action == "startup.merged_into", AuditEvent.object_id == pair.other.id))

    page = html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert ("Merged: everything of 두산로보틱스 is now here, and its record is deleted."
            in flashes(page))
    assert "Merged with 두산로보틱스" in page  # on the timeline
    assert ("Moved here: 2 contacts, 2 enrollments, 2 activities, 2 tasks, 1 document, "
            "1 email." in merge_activity.body)


def test_keeping_the_right_record_moves_the_left_ones_things_to_it(app, db, bd, corridor):
    client, user = bd
    pair = make_pair(app, db, user, corridor)
    before = holdings(db, pair.keep.id, pair.other.id)
    response = client.post("/duplicates/merge", data=merge_form(
        client, pair, survivor="b", pick_name="a", pick_city="a"))
    assert response.headers["Location"] == f"/startups/{pair.other.id}"
    assert fresh(db).get(Startup, pair.keep.id) is None
    survivor = fresh(db).get(Startup, pair.other.id)
    assert holdings(db, survivor.id) == before
    # Picked values come from the left record; a field not sent keeps the survivor's value.
    assert survivor.name == "Doosan Robotics Inc." and survivor.city == "Suwon"
    assert survivor.founded_year == 2015 and survivor.domain == "doosan-robo.kr"
    assert count(db, Contact, Contact.startup_id == survivor.id) == 3


def test_the_absorbed_records_not_duplicate_answers_carry_over(app, db, bd, corridor):
    client, user = bd
    pair = make_pair(app, db, user, corridor)
    third = make_startup(db, "Doosan Bobcat", owner_id=user.id, contact_email=None)
    low, high = sorted((pair.other.id, third.id))
    db.add(DuplicateDismissal(first_startup_id=low, second_startup_id=high))
    db.commit()
    client.post("/duplicates/merge", data=merge_form(client, pair))
    rows = fresh(db).execute(select(DuplicateDismissal.first_startup_id,
                                    DuplicateDismissal.second_startup_id)).all()
    assert [tuple(row) for row in rows] == [tuple(sorted((pair.keep.id, third.id)))]


# Refusals -------------------------------------------------------------------------------------


def _unchanged(db: Session, pair: Pair, before: dict[str, int]) -> None:
    assert fresh(db).get(Startup, pair.other.id) is not None
    assert fresh(db).get(Startup, pair.keep.id).name == pair.keep.name
    assert fresh(db).get(Startup, pair.keep.id).version == pair.keep.version
    assert holdings(db, pair.keep.id, pair.other.id) == before
    assert count(db, Activity, Activity.kind == ActivityKind.MERGE) == 0
    assert count(db, AuditEvent, AuditEvent.action.like("startup.merged%")) == 0


def test_a_bd_manager_may_not_merge_someone_elses_startup(app, db, bd, corridor, make_user):
    client, user = bd
    colleague = make_user(Role.BD_MANAGER)
    pair = make_pair(app, db, user, corridor, other_owner=colleague)
    before = holdings(db, pair.keep.id, pair.other.id)
    assert client.get(f"/duplicates/merge?a={pair.keep.id}&b={pair.other.id}").status_code == 403
    data = {  # the merge screen is refused, so the token comes from another page
        "csrf_token": csrf_token(client, "/duplicates/"), "a": pair.keep.id,
        "b": pair.other.id, "a_version": pair.keep.version, "b_version": pair.other.version,
        "survivor": "a", "confirm": "y"}
    assert client.post("/duplicates/merge", data=data).status_code == 403
    _unchanged(db, pair, before)
    with app.app_context():  # the service refuses too, whatever the view does
        session = get_session()
        with pytest.raises(NotAllowed):
            merge_startups(session, session.get(Startup, pair.keep.id),
                           session.get(Startup, pair.other.id), {}, user)
        session.rollback()


def test_a_viewer_may_not_open_the_merge_screen(app, db, client_as, corridor, make_user):
    client, _viewer = client_as(Role.VIEWER)
    owner = make_user(Role.BD_MANAGER)
    pair = make_pair(app, db, owner, corridor)
    assert client.get(f"/duplicates/merge?a={pair.keep.id}&b={pair.other.id}").status_code == 403


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
def test_managers_may_merge_anyones_startups(app, db, client_as, corridor, make_user, role):
    client, _manager = client_as(role)
    pair = make_pair(app, db, make_user(Role.BD_MANAGER), corridor,
                     other_owner=make_user(Role.BD_MANAGER))
    response = client.post("/duplicates/merge", data=merge_form(client, pair, pick_owner_id="b"))
    assert response.status_code == 302
    assert fresh(db).get(Startup, pair.keep.id).owner_id == pair.other.owner_id


def test_a_record_changed_meanwhile_is_not_overwritten(app, db, bd, corridor):
    client, user = bd
    pair = make_pair(app, db, user, corridor)
    data = merge_form(client, pair, pick_name="b")
    other = fresh(db).get(Startup, pair.other.id)
    other.city = "Changwon"  # someone saved the profile meanwhile
    other.version += 1
    db.commit()
    before = holdings(db, pair.keep.id, pair.other.id)
    response = client.post("/duplicates/merge", data=data)
    assert response.status_code == 409
    page = html.unescape(response.get_data(as_text=True))
    assert "두산로보틱스 was changed by someone else meanwhile." in page
    assert "Changwon" in page  # the screen shows the values as they are now
    assert f'name="b_version" type="hidden" value="{other.version}"' in page
    _unchanged(db, pair, before)
    assert fresh(db).get(Startup, pair.other.id).city == "Changwon"


def test_a_startup_is_not_merged_with_itself(app, db, bd, corridor):
    client, user = bd
    pair = make_pair(app, db, user, corridor)
    before = holdings(db, pair.keep.id, pair.other.id)
    response = client.get(f"/duplicates/merge?a={pair.keep.id}&b={pair.keep.id}")
    assert response.status_code == 400
    assert "A startup cannot be merged with itself." in response.get_data(as_text=True)
    response = client.post("/duplicates/merge",
                           data=merge_form(client, pair, b=pair.keep.id,
                                           b_version=pair.keep.version))
    assert response.status_code == 400
    _unchanged(db, pair, before)
    with app.app_context():
        session = get_session()
        startup = session.get(Startup, pair.keep.id)
        with pytest.raises(MergeRefused):
            merge_startups(session, startup, startup, {}, user)
        session.rollback()


def test_two_open_enrollments_in_one_programme_are_refused_with_a_way_out(app, db, bd,
                                                                         corridor):
    client, user = bd
    pair = make_pair(app, db, user, corridor, both_open=True)
    before = holdings(db, pair.keep.id, pair.other.id)
    page = html.unescape(client.get(
        f"/duplicates/merge?a={pair.keep.id}&b={pair.other.id}").get_data(as_text=True))
    assert "Both startups have an open enrollment in Corridor." in page
    assert re.search(r'<button type="submit" class="button-primary" disabled>', page)
    response = client.post("/duplicates/merge", data=merge_form(client, pair))
    assert response.status_code == 409
    assert "Close one of them on its startup's page first" in html.unescape(
        response.get_data(as_text=True))
    _unchanged(db, pair, before)


def test_without_confirmation_nothing_happens_and_the_picks_are_kept(app, db, bd, corridor):
    client, user = bd
    pair = make_pair(app, db, user, corridor)
    before = holdings(db, pair.keep.id, pair.other.id)
    data = merge_form(client, pair, pick_name="b", pick_city="b")
    del data["confirm"]
    response = client.post("/duplicates/merge", data=data)
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert "Tick this to confirm the merge." in page
    assert 'name="pick_name" value="b" checked' in page
    assert 'name="pick_city" value="b" checked' in page
    _unchanged(db, pair, before)


def test_a_value_from_neither_record_is_refused(app, db, bd, corridor):
    client, user = bd
    pair = make_pair(app, db, user, corridor)
    before = holdings(db, pair.keep.id, pair.other.id)
    response = client.post("/duplicates/merge", data=merge_form(client, pair, pick_name="c"))
    assert response.status_code == 422
    assert "Pick the left or the right value." in response.get_data(as_text=True)
    _unchanged(db, pair, before)
    with app.app_context():
        session = get_session()
        with pytest.raises(MergeRefused):
            merge_startups(session, session.get(Startup, pair.keep.id),
                           session.get(Startup, pair.other.id), {"owner_id": 999_999}, user)
        session.rollback()


def test_missing_or_unknown_ids(app, db, bd, corridor):
    client, user = bd
    pair = make_pair(app, db, user, corridor)
    assert client.get("/duplicates/merge").status_code == 400
    assert client.get(f"/duplicates/merge?a={pair.keep.id}&b=999999").status_code == 404
    assert client.post("/duplicates/merge", data={
        "csrf_token": csrf_token(client, "/duplicates/")}).status_code == 400

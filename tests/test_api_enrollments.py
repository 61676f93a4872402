"""/api/v1/enrollments: the list and its filters and cursor, one enrollment, enroll, and moves
through the workflow engine with its gates and refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from crm.core.audit import AuditEvent
from crm.core.enums import ActorKind, EnrollmentStatus, Role
from crm.startups.models import Startup
from crm.workflow import engine
from crm.workflow.engine import Actor
from crm.workflow.models import Enrollment, StageEvent
from tests.conftest import fresh
from tests.factories import definition, make_programme, make_startup
from tests.helpers import count

LONG_AGO = datetime(2024, 1, 8, 9, tzinfo=UTC)


@pytest.fixture
def programme(db):
    return make_programme(db)


def enrolled(app, db, startup, programme, *, stage: str | None = None,
             now: datetime | None = None) -> Enrollment:
    """An enrollment made by the engine (as the system), committed."""
    with app.app_context():
        enrollment = engine.enroll(db, startup=startup, programme=programme,
                                   actor=Actor.system(), stage=stage, now=now)
        db.commit()
    return enrollment


def stored(db, enrollment_id: int) -> Enrollment:
    return fresh(db).get(Enrollment, enrollment_id, populate_existing=True)


def moves_of(db, enrollment_id: int) -> list[tuple[str | None, str]]:
    return [(event.from_stage, event.to_stage) for event in fresh(db).scalars(
        select(StageEvent).where(StageEvent.enrollment_id == enrollment_id)
        .order_by(StageEvent.id))]


def moves_url(enrollment_id: int) -> str:
    return f"/api/v1/enrollments/{enrollment_id}/moves"


# Listing --------------------------------------------------------------------------------------


def test_the_list_shows_each_enrollment_with_its_stage_in_both_languages(app, db, api_as,
                                                                        programme):
    enrollment = enrolled(app, db, make_startup(db), programme)

    response = api_as(Role.VIEWER).get("/api/v1/enrollments")

    assert response.status_code == 200
    [item] = response.json["items"]
    assert item["id"] == enrollment.id and item["programme"] == "corridor"
    assert item["stage"] == {"key": "lead", "label": {"en": "Lead", "de": "Interessent"}}
    assert item["status"] == "open" and item["overdue"] is False
    assert item["revision"] == enrollment.revision and item["fields"] == {}
    assert item["due_at"] and item["stage_entered_at"]
    assert response.json["next_cursor"] is None


def test_the_list_filters(app, db, api_as, make_user, programme):
    caller = api_as(Role.BD_MANAGER)
    other = make_programme(db, definition(key="other"))
    mine = make_startup(db, "Mine", owner_id=caller.user.id)
    theirs = make_startup(db, "Theirs", owner_id=make_user(Role.BD_MANAGER).id)
    nobodys = make_startup(db, "Nobody's")
    at_lead = enrolled(app, db, mine, programme)
    late = enrolled(app, db, theirs, programme, stage="intake", now=LONG_AGO)
    elsewhere = enrolled(app, db, nobodys, other)
    closed = enrolled(app, db, nobodys, programme)
    with app.app_context():
        engine.move(db, closed, "withdrawn", Actor.system(), note="Chose Munich")
        db.commit()

    def ids(query: str) -> set[int]:
        response = caller.get(f"/api/v1/enrollments?{query}")
        assert response.status_code == 200, response.json
        return {item["id"] for item in response.json["items"]}

    assert ids("") == {at_lead.id, late.id, elsewhere.id, closed.id}
    assert ids("programme=other") == {elsewhere.id}
    assert ids("programme=corridor&stage=intake") == {late.id}
    assert ids("status=withdrawn") == {closed.id}
    assert ids("status=open&programme=corridor") == {at_lead.id, late.id}
    assert ids(f"startup_id={nobodys.id}") == {elsewhere.id, closed.id}
    assert ids("overdue=true") == {late.id}
    assert ids("owner=me") == {at_lead.id}
    assert ids(f"owner={theirs.owner_id}") == {late.id}
    assert ids("owner=none") == {elsewhere.id, closed.id}
    [overdue] = caller.get("/api/v1/enrollments?overdue=true").json["items"]
    assert overdue["overdue"] is True


@pytest.mark.parametrize("query, field", [
    ("status=lost", "query.status"), ("owner=someone", "query.owner"),
    ("limit=101", "query.limit"), ("programme=nonexistent", "query.programme"),
    ("startup_id=0", "query.startup_id"), ("colour=red", "query.colour"),
])
def test_bad_filters_are_named(api_as, programme, query, field):
    response = api_as(Role.VIEWER).get(f"/api/v1/enrollments?{query}")

    assert response.status_code == 422
    assert field in {error["field"] for error in response.json["errors"]}


def test_pages_follow_the_cursor_and_a_foreign_cursor_is_refused(app, db, api_as, programme):
    created = [enrolled(app, db, make_startup(db, f"Startup {number}"), programme).id
               for number in range(5)]
    caller = api_as(Role.VIEWER)

    seen, url = [], "/api/v1/enrollments?limit=2"
    for _ in range(3):
        response = caller.get(url)
        seen += [item["id"] for item in response.json["items"]]
        cursor = response.json["next_cursor"]
        if cursor is None:
            assert "Link" not in response.headers
            break
        assert 'rel="next"' in response.headers["Link"]
        url = f"/api/v1/enrollments?limit=2&cursor={cursor}"

    assert seen == created
    for cursor in ("not-a-cursor", "WyJzdGFydHVwcyIsMV0"):  # garbage; a cursor of another list
        response = caller.get(f"/api/v1/enrollments?cursor={cursor}")
        assert response.status_code == 400 and response.json["type"].endswith("bad-cursor")


def test_a_page_costs_the_same_queries_however_many_items(app, db, api_as, count_queries,
                                                         programme):
    other = make_programme(db, definition(key="other"))
    for number in range(6):
        enrolled(app, db, make_startup(db, f"Startup {number}"),
                 programme if number % 2 else other)
    caller = api_as(Role.VIEWER)
    assert caller.get("/api/v1/enrollments").status_code == 200  # the token's first use noted

    costs = []
    for query in ("limit=1", "limit=6", "limit=6&programme=corridor"):
        with count_queries() as statements:
            response = caller.get(f"/api/v1/enrollments?{query}")
        assert response.status_code == 200
        costs.append(len(statements) - ("programme=" in query))  # the programme looked up

    assert len(response.json["items"]) == 3
    assert costs[0] == costs[1] == costs[2]


# One enrollment ---------------------------------------------------------------------------------


def test_one_enrollment_has_its_checklist_moves_and_revision_as_etag(app, db, api_as,
                                                                   programme):
    enrollment = enrolled(app, db, make_startup(db), programme)

    response = api_as(Role.VIEWER).get(f"/api/v1/enrollments/{enrollment.id}")

    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{enrollment.revision}"'
    body = response.json
    assert [(item["key"], item["status"]) for item in body["checklist"]] == [
        ("address", "open"), ("permit", "open"), ("bank", "open")]
    assert body["checklist"][2]["due_at"] and body["checklist"][0]["due_at"] is None
    assert body["checklist"][1]["label"] == {"en": "Residence permit", "de": "Aufenthaltstitel"}
    assert [stage["key"] for stage in body["allowed_moves"]] == [
        "intake", "landed", "withdrawn", "rejected"]
    assert api_as(Role.VIEWER).get("/api/v1/enrollments/999999").status_code == 404


# Enrolling --------------------------------------------------------------------------------------


def test_enrolling_goes_through_the_engine(db, api_as, programme):
    caller = api_as(Role.MANAGER)
    startup = make_startup(db)

    response = caller.post("/api/v1/enrollments", json={
        "startup_id": startup.id, "programme": "corridor", "stage": "intake",
        "fields": {"referred_by": "karnataka"}})

    assert response.status_code == 201, response.json
    enrollment = stored(db, response.json["id"])
    assert response.headers["Location"].endswith(f"/api/v1/enrollments/{enrollment.id}")
    assert response.headers["ETag"] == f'"{enrollment.revision}"'
    assert (enrollment.stage, enrollment.fields) == ("intake", {"referred_by": "karnataka"})
    assert moves_of(db, enrollment.id) == [(None, "intake")]
    assert fresh(db).scalars(select(AuditEvent.actor_user_id).where(
        AuditEvent.action == "enrollment.enrolled")).all() == [caller.user.id]

    again = caller.post("/api/v1/enrollments",
                        json={"startup_id": startup.id, "programme": "corridor"})
    assert again.status_code == 409 and again.json["type"].endswith("already-enrolled")


@pytest.mark.parametrize("body, status, where", [
    ({"programme": "nonexistent"}, 422, "body.programme"),
    ({"startup_id": 999999}, 422, "body.startup_id"),
    ({"stage": "landed"}, 409, None),  # a closing stage: not a start
    ({"stage": "nowhere"}, 409, None),
    ({"fields": {"unknown": "x"}}, 422, None),
    ({"fields": {"referred_by": "moon"}}, 422, None),
    ({"colour": "red"}, 422, "body.colour"),
])
def test_a_refused_enrollment_writes_nothing(db, api_as, programme, body, status, where):
    startup = make_startup(db)

    response = api_as(Role.MANAGER).post("/api/v1/enrollments", json={
        "startup_id": startup.id, "programme": "corridor", **body})

    assert response.status_code == status, response.json
    if where:
        assert where in {error["field"] for error in response.json["errors"]}
    if status == 409:
        assert response.json["type"].endswith("transition-not-allowed")
        assert [stage["key"] for stage in response.json["allowed"]] == [
            "lead", "intake", "qualified"]
    assert count(db, Enrollment) == 0 and count(db, StageEvent) == 0


def test_enrolling_into_a_gate_that_is_not_met_names_what_is_missing(db, api_as):
    make_programme(db)
    startup = make_startup(db, contact_email=None)

    response = api_as(Role.MANAGER).post("/api/v1/enrollments", json={
        "startup_id": startup.id, "programme": "corridor", "stage": "qualified"})

    assert response.status_code == 409 and response.json["type"].endswith("gate-not-met")
    assert {item["key"] for item in response.json["missing"]} == {
        "website", "referred_by", "contact_email"}
    assert count(db, Enrollment) == 0


# Moving -----------------------------------------------------------------------------------------


def test_a_move_goes_through_the_engine_and_is_recorded(app, db, api_as, programme):
    caller = api_as(Role.BD_MANAGER)
    enrollment = enrolled(app, db, make_startup(db, owner_id=caller.user.id), programme)

    response = caller.post(moves_url(enrollment.id), json={"to_stage": "intake",
                                                           "note": "Call went well"})

    assert response.status_code == 200, response.json
    event, after = response.json["event"], response.json["enrollment"]
    assert (event["from_stage"], event["to_stage"], event["note"]) == (
        "lead", "intake", "Call went well")
    assert after["stage"]["key"] == "intake" and after["revision"] > enrollment.revision
    assert response.headers["ETag"] == f'"{after["revision"]}"'
    assert stored(db, enrollment.id).revision == after["revision"]
    [recorded] = fresh(db).scalars(select(StageEvent).where(StageEvent.to_stage == "intake"))
    assert (recorded.actor_kind, recorded.actor_user_id) == (ActorKind.USER, caller.user.id)
    [audit] = fresh(db).scalars(select(AuditEvent).where(AuditEvent.action == "enrollment.moved"))
    assert (audit.actor_user_id, audit.object_id, audit.details["after"]) == (
        caller.user.id, enrollment.id, "intake")


def test_a_gate_not_met_is_409_with_what_is_missing(app, db, api_as, programme):
    enrollment = enrolled(app, db, make_startup(db), programme, stage="intake")

    response = api_as(Role.MANAGER).post(moves_url(enrollment.id), json={"to_stage": "qualified"})

    assert response.status_code == 409
    assert response.json["type"] == "urn:landing-desk:problem:gate-not-met"
    assert response.json["stage"] == "qualified"
    assert response.json["missing"] == [
        {"kind": "startup_field", "key": "website", "label": {"en": "Website", "de": "Website"}},
        {"kind": "enrollment_field", "key": "referred_by",
         "label": {"en": "Referred by", "de": "Vermittelt durch"}}]
    assert stored(db, enrollment.id).stage == "intake"
    assert moves_of(db, enrollment.id) == [(None, "intake")]


def test_a_move_the_programme_does_not_allow_lists_the_allowed_ones(app, db, api_as, programme):
    enrollment = enrolled(app, db, make_startup(db), programme)

    response = api_as(Role.MANAGER).post(moves_url(enrollment.id), json={"to_stage": "qualified"})

    assert response.status_code == 409
    assert response.json["type"].endswith("transition-not-allowed")
    assert [stage["key"] for stage in response.json["allowed"]] == [
        "intake", "landed", "withdrawn", "rejected"]
    assert stored(db, enrollment.id).stage == "lead"


def test_closing_needs_a_reason_and_a_closed_enrollment_stays_closed(app, db, api_as,
                                                                    programme):
    caller = api_as(Role.MANAGER)
    enrollment = enrolled(app, db, make_startup(db), programme)

    unexplained = caller.post(moves_url(enrollment.id), json={"to_stage": "withdrawn"})
    closed = caller.post(moves_url(enrollment.id), json={"to_stage": "withdrawn",
                                                         "note": "Chose Munich"})
    after = caller.post(moves_url(enrollment.id), json={"to_stage": "intake"})

    assert unexplained.status_code == 422
    assert unexplained.json["detail"] == "Give a reason for closing."
    assert closed.status_code == 200
    assert closed.json["enrollment"]["status"] == "withdrawn"
    assert closed.json["enrollment"]["allowed_moves"] == []
    assert after.status_code == 409 and after.json["type"].endswith("enrollment-closed")
    assert stored(db, enrollment.id).status == EnrollmentStatus.WITHDRAWN
    assert moves_of(db, enrollment.id) == [(None, "lead"), ("lead", "withdrawn")]


def test_a_stale_revision_is_refused_with_the_current_one(app, db, api_as, programme):
    caller = api_as(Role.MANAGER)
    enrollment = enrolled(app, db, make_startup(db), programme)
    seen = enrollment.revision
    assert caller.post(moves_url(enrollment.id), json={"to_stage": "intake",
                                                       "revision": seen}).status_code == 200
    current = stored(db, enrollment.id).revision

    in_body = caller.post(moves_url(enrollment.id), json={"to_stage": "lead", "revision": seen})
    in_header = caller.post(moves_url(enrollment.id), json={"to_stage": "lead"},
                            headers={"If-Match": f'"{seen}"'})
    not_ours = caller.post(moves_url(enrollment.id), json={"to_stage": "lead"},
                           headers={"If-Match": "yesterday"})

    assert in_body.status_code == 409 and in_body.json["type"].endswith("stale")
    assert in_header.status_code == 412 and in_header.json["type"].endswith("stale")
    assert in_body.json["current_version"] == in_header.json["current_version"] == current
    assert not_ours.status_code == 412
    assert stored(db, enrollment.id).stage == "intake"
    fresh_etag = caller.get(f"/api/v1/enrollments/{enrollment.id}").headers["ETag"]
    assert caller.post(moves_url(enrollment.id), json={"to_stage": "lead"},
                       headers={"If-Match": fresh_etag}).status_code == 200


def test_a_bd_manager_moves_only_their_own_startups_enrollments(app, db, api_as, make_user,
                                                                programme):
    caller = api_as(Role.BD_MANAGER)
    colleague = make_user(Role.BD_MANAGER)
    theirs = enrolled(app, db, make_startup(db, owner_id=colleague.id), programme)

    response = caller.post(moves_url(theirs.id), json={"to_stage": "intake"})
    enrolling = caller.post("/api/v1/enrollments", json={
        "startup_id": theirs.startup_id, "programme": "corridor"})

    assert response.status_code == enrolling.status_code == 403
    assert stored(db, theirs.id).stage == "lead" and count(db, Enrollment) == 1
    assert count(db, AuditEvent, AuditEvent.action == "access.denied") == 2


def test_a_read_only_token_cannot_move(app, db, api_as, programme):
    enrollment = enrolled(app, db, make_startup(db), programme)
    caller = api_as(Role.MANAGER, scopes=("read",))

    response = caller.post(moves_url(enrollment.id), json={"to_stage": "intake"})

    assert response.status_code == 403
    assert response.json["type"].endswith("insufficient-scope")
    assert caller.get(f"/api/v1/enrollments/{enrollment.id}").status_code == 200
    assert stored(db, enrollment.id).stage == "lead"


def test_a_restricted_startups_enrollment_does_not_move(app, db, api_as, programme):
    startup = make_startup(db)
    enrollment = enrolled(app, db, startup, programme)
    startup.restricted_at = LONG_AGO
    db.commit()

    response = api_as(Role.MANAGER).post(moves_url(enrollment.id), json={"to_stage": "intake"})

    assert response.status_code == 409 and response.json["type"].endswith("restricted")
    assert stored(db, enrollment.id).stage == "lead"
    assert fresh(db).get(Startup, startup.id).restricted_at is not None


@pytest.mark.parametrize("body, field", [
    ({}, "body.to_stage"), ({"to_stage": "Intake!"}, "body.to_stage"),
    ({"to_stage": "intake", "revision": "one"}, "body.revision"),
    ({"to_stage": "intake", "note": "x" * 501}, "body.note"),
    ({"to_stage": "intake", "colour": "red"}, "body.colour"),
])
def test_a_bad_move_body_is_422_naming_the_field(app, db, api_as, programme, body, field):
    enrollment = enrolled(app, db, make_startup(db), programme)

    response = api_as(Role.MANAGER).post(moves_url(enrollment.id), json=body)

    assert response.status_code == 422
    assert field in {error["field"] for error in response.json["errors"]}
    assert stored(db, enrollment.id).stage == "lead"

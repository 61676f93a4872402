"""The workflow engine: enroll, move, close, gates, checklist, actions, SLAs, migration, races.

Every refusal is checked the hard way: the caller commits after the error, and a second
connection must find every engine table exactly as before.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from flask_babel import force_locale
from sqlalchemy import event as sa_event
from sqlalchemy import func, select, text
from sqlmodel import Session

from crm.core.audit import AuditEvent
from crm.core.enums import ActorKind, EnrollmentStatus, Language, Role
from crm.outbox.models import OutboxMessage
from crm.programmes.models import Programme
from crm.programmes.services import DEFINITIONS_DIR
from crm.startups.models import Contact, Startup, Task
from crm.workflow import engine
from crm.workflow.definitions import Bilingual
from crm.workflow.engine import (
    Actor,
    AlreadyEnrolled,
    DependenciesOpen,
    EnrollmentChanged,
    EnrollmentClosed,
    GateNotMet,
    MissingItem,
    TransitionNotAllowed,
    WorkflowError,
)
from crm.workflow.models import ChecklistItem, ChecklistStatus, Enrollment, StageEvent
from tests.factories import SIMPLE_DEFINITION, definition, make_programme, make_startup

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
SYSTEM = Actor.system()
APPLICANT = Actor.applicant()
WEBSITE = "https://robotics.example"
WATCHED = (Enrollment, StageEvent, ChecklistItem, AuditEvent, OutboxMessage, Task)


def berlin(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A Düsseldorf wall-clock moment as the aware UTC datetime the engine is given."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


T0 = berlin(2026, 3, 2)  # Monday 2 March 2026, 10:00 in Düsseldorf (09:00 UTC)


def stages(**changes_by_key) -> list[dict]:
    """SIMPLE_DEFINITION's stages with some settings of some stages replaced."""
    return [{**stage, **changes_by_key.get(stage["key"], {})}
            for stage in SIMPLE_DEFINITION["stages"]]


# Fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def app_context(app):
    """The engine queues emails with render_template; the tests' session stays `db`."""
    with app.app_context():
        yield


@pytest.fixture
def programme(db) -> Programme:
    return make_programme(db)


@pytest.fixture
def owner(make_user):
    return make_user(name="Katrin Vogel", locale=Language.DE)


@pytest.fixture
def manager(make_user):
    return make_user(Role.MANAGER, name="Ravi Menon")


@pytest.fixture
def startup(db, owner) -> Startup:
    return make_startup(db, website=WEBSITE, owner_id=owner.id)


def snapshot(app) -> dict[str, list[dict]]:
    """Every row of the tables the engine writes, as a second connection sees them."""
    with Session(app.extensions["db_engine"]) as other:
        return {model.__name__: [columns(row) for row in
                                 other.scalars(select(model).order_by(model.id))]
                for model in WATCHED}


def columns(row) -> dict:
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


def refused(app, db, error_type, action, *args, **kwargs):
    """Run an engine call that must be refused; even a commit afterwards writes nothing."""
    before = snapshot(app)
    with pytest.raises(error_type) as info:
        action(db, *args, **kwargs)
    assert not (db.new or db.dirty or db.deleted), "a refused call left changes in the session"
    db.commit()
    assert snapshot(app) == before
    return info.value


def enroll(db, programme, startup, *, now=T0, actor=SYSTEM, **kwargs) -> Enrollment:
    enrollment = engine.enroll(db, startup=startup, programme=programme, actor=actor, now=now,
                               **kwargs)
    db.commit()
    return enrollment


def move(db, enrollment, to_stage, *, now, actor=SYSTEM, **kwargs) -> StageEvent:
    event = engine.move(db, enrollment, to_stage, actor, now=now, **kwargs)
    db.commit()
    return event


def events(db, enrollment) -> list[StageEvent]:
    return list(db.scalars(select(StageEvent).where(StageEvent.enrollment_id == enrollment.id)
                           .order_by(StageEvent.occurred_at, StageEvent.id)))


def items(db, enrollment) -> dict[str, ChecklistItem]:
    return {item.key: item for item in db.scalars(
        select(ChecklistItem).where(ChecklistItem.enrollment_id == enrollment.id))}


def settle(db, enrollment, key, status=ChecklistStatus.DONE, *, now=T0, actor=SYSTEM, **kwargs):
    engine.settle_checklist_item(db, items(db, enrollment)[key], status, actor, now=now,
                                 **kwargs)
    db.commit()


def outbox(db) -> list[OutboxMessage]:
    return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def audit(db, action: str) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)
                           .order_by(AuditEvent.id)))


def qualify(db, enrollment, *, now=T0, actor=SYSTEM) -> StageEvent:
    """lead → intake → qualified, answering the field the qualified gate needs."""
    engine.set_field(db, enrollment, "referred_by", "karnataka", actor)
    move(db, enrollment, "intake", now=now, actor=actor)
    return move(db, enrollment, "qualified", now=now + HOUR, actor=actor)


def german(message) -> str:
    with force_locale("de"):
        return str(message)


# Enroll ---------------------------------------------------------------------------------------


def test_enroll_starts_at_the_first_stage_with_sla_checklist_event_and_audit(db, programme,
                                                                            startup):
    enrollment = enroll(db, programme, startup)

    assert enrollment.stage == "lead"
    assert enrollment.status == EnrollmentStatus.OPEN
    assert enrollment.stage_entered_at == T0
    # lead: 5 working days from Monday 2 March → end of Monday 9 March in Düsseldorf (CET).
    assert enrollment.due_at == utc(2026, 3, 9, 23)
    assert enrollment.programme_version_id == engine.current_version(db, programme).id
    assert enrollment.fields == {}

    checklist = items(db, enrollment)
    assert sorted(checklist) == ["address", "bank", "permit"]
    assert all(item.status == ChecklistStatus.OPEN for item in checklist.values())
    assert checklist["address"].due_at is None and checklist["permit"].due_at is None
    # bank: 10 working days from Monday 2 March → end of Monday 16 March.
    assert checklist["bank"].due_at == utc(2026, 3, 16, 23)

    [event] = events(db, enrollment)
    assert (event.from_stage, event.to_stage, event.occurred_at) == (None, "lead", T0)
    assert event.seconds_in_previous_stage is None
    [record] = audit(db, "enrollment.enrolled")
    assert (record.object_type, record.object_id) == ("enrollment", enrollment.id)
    assert record.details == {"actor_kind": "system", "before": None, "after": "lead"}


@pytest.mark.parametrize("kind", ["user", "applicant", "system"])
def test_enroll_records_who_did_it(db, programme, startup, manager, kind):
    actor = {"user": Actor.user(manager), "applicant": APPLICANT, "system": SYSTEM}[kind]
    enrollment = enroll(db, programme, startup, actor=actor)
    [event] = events(db, enrollment)
    assert event.actor_kind == ActorKind(kind)
    assert event.actor_user_id == (manager.id if kind == "user" else None)
    [record] = audit(db, "enrollment.enrolled")
    assert record.actor_user_id == event.actor_user_id
    assert record.details["actor_kind"] == kind


def test_enroll_at_the_intake_stage_with_answers_runs_its_actions(db, programme, startup, owner):
    enrollment = enroll(db, programme, startup, stage="intake", actor=APPLICANT,
                        fields={"referred_by": "duesseldorf"})
    assert enrollment.stage == "intake" and enrollment.fields == {"referred_by": "duesseldorf"}
    assert enrollment.due_at == utc(2026, 3, 5, 23)  # 3 working days: Tue, Wed, Thu
    [task] = db.scalars(select(Task)).all()
    assert (task.title, task.assignee_id, task.created_by_id) == ("Prüfen", owner.id, None)
    [notification] = outbox(db)
    assert notification.to_address == owner.email
    assert notification.dedupe_key == f"stage-owner:{events(db, enrollment)[0].id}"


def test_enroll_refusals_write_nothing(app, db, programme, startup):
    refused(app, db, TransitionNotAllowed, engine.enroll, startup=startup, programme=programme,
            actor=SYSTEM, stage="nowhere", now=T0)
    error = refused(app, db, TransitionNotAllowed, engine.enroll, startup=startup,
                    programme=programme, actor=SYSTEM, stage="landed", now=T0)
    assert str(error.message) == "An enrollment cannot start in a closing stage."
    error = refused(app, db, WorkflowError, engine.enroll, startup=startup, programme=programme,
                    actor=SYSTEM, fields={"referred_by": "mars"}, now=T0)
    assert german(error.message) == "Wählen Sie eine der angebotenen Antworten."
    refused(app, db, WorkflowError, engine.enroll, startup=startup, programme=programme,
            actor=SYSTEM, fields={"budget": "large"}, now=T0)
    # Straight into a gated stage: the gate applies to a new enrollment too.
    bare = make_startup(db, "Pune Payments", contact_email=None)
    error = refused(app, db, GateNotMet, engine.enroll, startup=bare, programme=programme,
                    actor=SYSTEM, stage="qualified", now=T0)
    assert [item.key for item in error.missing] == ["website", "referred_by", "contact_email"]


def test_enroll_into_an_inactive_programme_or_one_without_a_version_is_refused(app, db,
                                                                             programme, startup):
    programme.is_active = False
    db.commit()
    refused(app, db, WorkflowError, engine.enroll, startup=startup, programme=programme,
            actor=SYSTEM, now=T0)
    empty = Programme(key="empty", name_en="Empty", name_de="Leer")
    db.add(empty)
    db.commit()
    error = refused(app, db, WorkflowError, engine.enroll, startup=startup, programme=empty,
                    actor=SYSTEM, now=T0)
    assert str(error.message) == "This programme has no definition loaded yet."


def test_already_enrolled_is_refused_while_an_enrollment_is_open(app, db, programme, startup):
    first = enroll(db, programme, startup)
    error = refused(app, db, AlreadyEnrolled, engine.enroll, startup=startup,
                    programme=programme, actor=SYSTEM, now=T0 + HOUR)
    assert german(error.message) == "Dieses Startup nimmt bereits an diesem Programm teil."

    # Another programme is fine; and once closed, the startup may enrol again.
    other = make_programme(db, definition(key="other_programme"))
    enroll(db, other, startup)
    engine.close(db, first, EnrollmentStatus.WITHDRAWN, SYSTEM, reason="Paused", now=T0 + DAY)
    db.commit()
    again = enroll(db, programme, startup, now=T0 + 2 * DAY)
    assert again.id != first.id and again.stage == "lead"
    assert db.scalar(select(func.count()).select_from(Enrollment)
                     .where(Enrollment.programme_id == programme.id)) == 2


def test_a_lost_enroll_race_is_caught_by_the_unique_index(db, programme, startup, monkeypatch):
    """Both requests saw no open enrollment; the database refuses the second insert."""
    enroll(db, programme, startup)
    monkeypatch.setattr(engine, "_has_open_enrollment", lambda *_args: False)
    with pytest.raises(AlreadyEnrolled):
        engine.enroll(db, startup=startup, programme=programme, actor=SYSTEM, now=T0 + HOUR)
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Enrollment)) == 1
    assert db.scalar(select(func.count()).select_from(StageEvent)) == 1


# Moves ----------------------------------------------------------------------------------------


def test_forward_back_and_close_moves_record_time_spent(db, programme, startup, manager):
    enrollment = enroll(db, programme, startup)
    actor = Actor.user(manager)
    move(db, enrollment, "intake", now=T0 + 3 * HOUR, actor=actor)
    move(db, enrollment, "lead", now=T0 + 3 * HOUR + 2 * DAY, actor=actor, note="Back")
    engine.close(db, enrollment, EnrollmentStatus.REJECTED, actor, reason="  Not a fit  ",
                 now=T0 + 3 * HOUR + 2 * DAY + timedelta(seconds=61.9))
    db.commit()

    history = [(e.from_stage, e.to_stage, e.seconds_in_previous_stage, e.note, e.actor_user_id)
               for e in events(db, enrollment)]
    assert history == [
        (None, "lead", None, None, None),
        ("lead", "intake", 3 * 3600, None, manager.id),
        ("intake", "lead", 2 * 86_400, "Back", manager.id),
        ("lead", "rejected", 61, "Not a fit", manager.id),
    ]
    assert enrollment.status == EnrollmentStatus.REJECTED
    assert enrollment.stage == "rejected"
    assert enrollment.close_reason == "Not a fit"
    assert enrollment.closed_at == T0 + 3 * HOUR + 2 * DAY + timedelta(seconds=61.9)
    assert enrollment.due_at is None
    assert [record.details["after"] for record in audit(db, "enrollment.moved")] == [
        "intake", "lead", "rejected"]


def test_stays_of_fractional_seconds_add_up_to_the_whole_time(db, programme, startup):
    """Nine stays of 0.9 s each: truncating each would record 0 s for 8.1 s in the programme."""
    start = T0 + timedelta(milliseconds=500)
    enrollment = enroll(db, programme, startup, now=start)
    for step in range(1, 10):
        move(db, enrollment, "intake" if step % 2 else "lead",
             now=start + step * timedelta(milliseconds=900))
    recorded = sum(e.seconds_in_previous_stage for e in events(db, enrollment)[1:])
    assert recorded == 8  # from second 0 (at 0.5 s) to second 8 (at 8.6 s)
    assert abs(recorded - (enrollment.stage_entered_at - start).total_seconds()) < 1


@pytest.mark.parametrize("outcome", [EnrollmentStatus.WITHDRAWN, EnrollmentStatus.REJECTED])
def test_an_open_enrollment_can_close_from_any_active_stage(db, programme, startup, outcome):
    enrollment = enroll(db, programme, startup)
    qualify(db, enrollment)
    event = engine.close(db, enrollment, outcome, SYSTEM, reason="Moved to Berlin",
                         now=T0 + DAY)
    db.commit()
    assert (event.from_stage, event.to_stage) == ("qualified", outcome.value)
    assert enrollment.status == outcome and enrollment.closed_at == T0 + DAY


@pytest.mark.parametrize(("start", "target"), [
    ("lead", "qualified"),  # two steps forward
    ("qualified", "lead"),  # two steps back
    ("lead", "lead"),  # staying is not a move
])
def test_moves_beyond_one_step_are_refused(app, db, programme, startup, start, target):
    enrollment = enroll(db, programme, startup)
    if start == "qualified":
        qualify(db, enrollment)
    error = refused(app, db, TransitionNotAllowed, engine.move, enrollment, target, SYSTEM,
                    now=T0 + DAY)
    assert german(error.message) == "Dieser Schritt ist aus der aktuellen Phase nicht erlaubt."


def test_a_move_to_an_unknown_stage_is_refused(app, db, programme, startup):
    enrollment = enroll(db, programme, startup)
    error = refused(app, db, TransitionNotAllowed, engine.move, enrollment, "signed", SYSTEM,
                    now=T0 + DAY)
    assert german(error.message) == "Dieses Programm hat keine solche Phase."


def test_declared_transitions_add_to_the_one_step_rule(db, startup):
    programme = make_programme(db, definition(transitions=[{"from": "qualified", "to": "lead"},
                                                           {"from": "lead", "to": "qualified"}]))
    enrollment = enroll(db, programme, startup)
    engine.set_field(db, enrollment, "referred_by", "karnataka", SYSTEM)
    move(db, enrollment, "qualified", now=T0 + HOUR)
    move(db, enrollment, "lead", now=T0 + 2 * HOUR)
    assert [e.to_stage for e in events(db, enrollment)] == ["lead", "qualified", "lead"]


def test_a_real_programme_allows_its_declared_shortcut_and_no_other(app, db, startup, owner,
                                                                    manager):
    data = yaml.safe_load((DEFINITIONS_DIR / "karnataka_corridor.yaml").read_text("utf-8"))
    programme = make_programme(db, data)
    enrollment = enroll(db, programme, startup)
    # lead → qualified would skip two stages (first contact, intake received): refused.
    refused(app, db, TransitionNotAllowed, engine.move, enrollment, "qualified", SYSTEM,
            now=T0 + HOUR)
    refused(app, db, TransitionNotAllowed, engine.move, enrollment, "landing_support", SYSTEM,
            now=T0 + HOUR)
    move(db, enrollment, "intake_received", now=T0 + HOUR, actor=Actor.user(manager))
    assert enrollment.stage == "intake_received"
    [task] = db.scalars(select(Task)).all()
    assert task.title == "Fragebogen prüfen"  # the owner reads German


def test_closed_enrollments_refuse_every_change(app, db, programme, startup):
    enrollment = enroll(db, programme, startup)
    engine.close(db, enrollment, EnrollmentStatus.WITHDRAWN, SYSTEM, reason="Paused",
                 now=T0 + DAY)
    db.commit()
    error = refused(app, db, EnrollmentClosed, engine.move, enrollment, "intake", SYSTEM,
                    now=T0 + 2 * DAY)
    assert german(error.message) == "Diese Teilnahme ist abgeschlossen."
    refused(app, db, EnrollmentClosed, engine.move, enrollment, "rejected", SYSTEM,
            now=T0 + 2 * DAY)
    refused(app, db, EnrollmentClosed, engine.close, enrollment, EnrollmentStatus.LANDED,
            SYSTEM, now=T0 + 2 * DAY)
    refused(app, db, EnrollmentClosed, engine.settle_checklist_item,
            items(db, enrollment)["address"], ChecklistStatus.DONE, SYSTEM, now=T0 + 2 * DAY)


@pytest.mark.parametrize("outcome", [EnrollmentStatus.WITHDRAWN, EnrollmentStatus.REJECTED])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_closing_as_withdrawn_or_rejected_needs_a_reason(app, db, programme, startup, outcome,
                                                         reason):
    enrollment = enroll(db, programme, startup)
    error = refused(app, db, WorkflowError, engine.close, enrollment, outcome, SYSTEM,
                    reason=reason, now=T0 + DAY)
    assert german(error.message) == "Geben Sie einen Grund für den Abschluss an."


def test_closing_needs_an_outcome_the_programme_has(app, db, startup):
    programme = make_programme(db, definition(stages=[
        s for s in SIMPLE_DEFINITION["stages"] if s["key"] != "rejected"]))
    enrollment = enroll(db, programme, startup)
    refused(app, db, WorkflowError, engine.close, enrollment, EnrollmentStatus.OPEN, SYSTEM,
            now=T0 + DAY)
    error = refused(app, db, TransitionNotAllowed, engine.close, enrollment,
                    EnrollmentStatus.REJECTED, SYSTEM, reason="No", now=T0 + DAY)
    assert str(error.message) == "This programme has no stage for this outcome."


def test_a_stale_expected_revision_is_refused(app, db, programme, startup):
    enrollment = enroll(db, programme, startup)
    seen = enrollment.revision
    move(db, enrollment, "intake", now=T0 + HOUR, expected_revision=seen)
    assert enrollment.revision > seen
    error = refused(app, db, EnrollmentChanged, engine.move, enrollment, "qualified", SYSTEM,
                    expected_revision=seen, now=T0 + DAY)
    assert german(error.message) == ("Diese Teilnahme wurde inzwischen geändert. "
                                     "Sehen Sie sie sich noch einmal an.")
    refused(app, db, EnrollmentChanged, engine.close, enrollment, EnrollmentStatus.WITHDRAWN,
            SYSTEM, reason="Gone", expected_revision=seen, now=T0 + DAY)
    move(db, enrollment, "lead", now=T0 + DAY, expected_revision=enrollment.revision)

    # The checklist and the answers belong to the enrollment: they bump and check it too.
    seen = enrollment.revision
    settle(db, enrollment, "address", expected_revision=seen)
    assert enrollment.revision > seen
    refused(app, db, EnrollmentChanged, engine.settle_checklist_item,
            items(db, enrollment)["bank"], ChecklistStatus.DONE, SYSTEM,
            expected_revision=seen, now=T0 + DAY)
    refused(app, db, EnrollmentChanged, engine.set_field, enrollment, "referred_by",
            "karnataka", SYSTEM, expected_revision=seen)
    engine.set_field(db, enrollment, "referred_by", "karnataka", SYSTEM,
                     expected_revision=enrollment.revision)
    db.commit()


# Gates ----------------------------------------------------------------------------------------

FULL_GATE = {"checklist": ["address", "bank"], "startup_fields": ["website", "city"],
             "enrollment_fields": ["referred_by"], "contact_with_email": True}


def test_an_unmet_gate_names_every_missing_item_in_english_and_german(app, db):
    programme = make_programme(db, definition(stages=stages(qualified={"gate": FULL_GATE})))
    bare = make_startup(db, "Pune Payments", contact_email=None)
    db.add_all([Contact(startup_id=bare.id, name="No mail"),
                Contact(startup_id=bare.id, name="Blank mail", email="")])
    db.commit()
    enrollment = enroll(db, programme, bare)
    move(db, enrollment, "intake", now=T0 + HOUR)

    error = refused(app, db, GateNotMet, engine.move, enrollment, "qualified", SYSTEM,
                    now=T0 + DAY)
    assert error.stage.key == "qualified"
    assert error.missing == [
        MissingItem("checklist", "address", Bilingual(en="Address", de="Adresse")),
        MissingItem("checklist", "bank", Bilingual(en="Bank account", de="Geschäftskonto")),
        MissingItem("startup_field", "website", Bilingual(en="Website", de="Website")),
        MissingItem("startup_field", "city", Bilingual(en="City", de="Stadt")),
        MissingItem("enrollment_field", "referred_by",
                    Bilingual(en="Referred by", de="Vermittelt durch")),
        MissingItem("contact_email", "contact_email",
                    Bilingual(en="A contact with an email address",
                              de="Ein Kontakt mit E-Mail-Adresse")),
    ]
    assert str(error.message) == "This stage cannot be entered yet."
    assert german(error.message) == "Diese Phase kann noch nicht erreicht werden."
    assert engine.missing_for(db, enrollment, "qualified") == error.missing

    # Meet the gate one requirement at a time: each disappears from the list.
    settle(db, enrollment, "address", ChecklistStatus.WAIVED)
    settle(db, enrollment, "bank", ChecklistStatus.NOT_APPLICABLE)
    bare.website, bare.city = WEBSITE, "Düsseldorf"
    db.commit()
    assert [m.key for m in engine.missing_for(db, enrollment, "qualified")] == [
        "referred_by", "contact_email"]
    engine.set_field(db, enrollment, "referred_by", "duesseldorf", SYSTEM)
    db.add(Contact(startup_id=bare.id, name="Mail", email="ceo@payments.example"))
    db.commit()
    assert engine.missing_for(db, enrollment, "qualified") == []
    move(db, enrollment, "qualified", now=T0 + DAY)
    assert enrollment.stage == "qualified"


def test_every_startup_gate_field_has_a_label(db):
    gate_fields = list(engine.STARTUP_FIELD_LABELS)
    programme = make_programme(db, definition(stages=stages(
        intake={"gate": {"startup_fields": gate_fields}})))
    bare = make_startup(db, "Pune Payments")
    enrollment = enroll(db, programme, bare)
    missing = engine.missing_for(db, enrollment, "intake")
    assert [m.key for m in missing] == ["website", "city", "founded_year", "team_size",
                                        "funding_stage", "description", "owner_id"]
    assert all(m.label.en and m.label.de for m in missing)


def test_landing_requires_the_whole_checklist_and_waived_or_na_count(app, db, programme,
                                                                    startup):
    enrollment = enroll(db, programme, startup)
    error = refused(app, db, GateNotMet, engine.close, enrollment, EnrollmentStatus.LANDED,
                    SYSTEM, now=T0 + DAY)
    assert [m.key for m in error.missing] == ["address", "permit", "bank"]
    settle(db, enrollment, "address")
    settle(db, enrollment, "permit", ChecklistStatus.NOT_APPLICABLE)
    error = refused(app, db, GateNotMet, engine.move, enrollment, "landed", SYSTEM,
                    now=T0 + DAY)
    assert [(m.key, m.label.de) for m in error.missing] == [("bank", "Geschäftskonto")]
    settle(db, enrollment, "bank", ChecklistStatus.WAIVED)

    event = engine.close(db, enrollment, EnrollmentStatus.LANDED, SYSTEM, now=T0 + DAY)
    db.commit()
    assert (event.from_stage, event.to_stage, event.note) == ("lead", "landed", None)
    assert (enrollment.status, enrollment.stage) == (EnrollmentStatus.LANDED, "landed")
    assert enrollment.closed_at == T0 + DAY and enrollment.close_reason is None
    assert enrollment.due_at is None


# Checklist and fields -------------------------------------------------------------------------


def test_an_item_waits_for_its_dependencies(app, db, programme, startup, manager):
    enrollment = enroll(db, programme, startup)
    error = refused(app, db, DependenciesOpen, engine.settle_checklist_item,
                    items(db, enrollment)["permit"], ChecklistStatus.DONE, SYSTEM, now=T0)
    assert error.item_key == "permit"
    assert error.open_dependencies == [
        MissingItem("checklist", "address", Bilingual(en="Address", de="Adresse"))]
    assert german(error.message) == "Erledigen Sie zuerst die Punkte, von denen dieser abhängt."

    settle(db, enrollment, "address", ChecklistStatus.WAIVED)
    expiry = utc(2027, 3, 1, 23)
    settle(db, enrollment, "permit", now=T0 + HOUR, actor=Actor.user(manager),
           note="  Blue card  ", expires_at=expiry)
    permit = items(db, enrollment)["permit"]
    assert permit.status == ChecklistStatus.DONE
    assert (permit.settled_by_id, permit.settled_at) == (manager.id, T0 + HOUR)
    assert (permit.evidence_note, permit.expires_at) == ("Blue card", expiry)
    settle(db, enrollment, "bank", expires_at=expiry)
    assert items(db, enrollment)["bank"].expires_at is None  # bank accounts do not expire

    # Reopening keeps the evidence but forgets who settled it and when.
    settle(db, enrollment, "permit", ChecklistStatus.OPEN, now=T0 + DAY)
    permit = items(db, enrollment)["permit"]
    assert (permit.status, permit.settled_by_id, permit.settled_at) == (
        ChecklistStatus.OPEN, None, None)
    assert permit.evidence_note == "Blue card"
    assert [(r.details["item"], r.details["after"]) for r in audit(db, "checklist.settled")] == [
        ("address", "waived"), ("permit", "done"), ("bank", "done"), ("permit", "open")]


def test_fields_accept_only_declared_keys_and_choices(app, db, programme, startup, manager):
    enrollment = enroll(db, programme, startup)
    refused(app, db, WorkflowError, engine.set_field, enrollment, "referred_by", "mars", SYSTEM)
    error = refused(app, db, WorkflowError, engine.set_field, enrollment, "budget", "1", SYSTEM)
    assert str(error.message) == "This programme has no field budget."

    engine.set_field(db, enrollment, "referred_by", "karnataka", Actor.user(manager))
    db.commit()
    engine.set_field(db, enrollment, "referred_by", "duesseldorf", Actor.user(manager))
    db.commit()
    db.refresh(enrollment)
    assert enrollment.fields == {"referred_by": "duesseldorf"}
    assert [(r.details["before"], r.details["after"], r.actor_user_id)
            for r in audit(db, "enrollment.field_set")] == [
        (None, "karnataka", manager.id), ("karnataka", "duesseldorf", manager.id)]


# On-enter actions -----------------------------------------------------------------------------


def test_entering_a_stage_creates_a_task_for_the_owner(db, programme, startup, owner, manager):
    enrollment = enroll(db, programme, startup)
    move(db, enrollment, "intake", now=T0, actor=Actor.user(manager))
    [task] = db.scalars(select(Task)).all()
    assert task.title == "Prüfen"  # in the owner's language
    assert (task.assignee_id, task.created_by_id) == (owner.id, manager.id)
    assert (task.startup_id, task.enrollment_id) == (startup.id, enrollment.id)
    assert task.due_at == utc(2026, 3, 4, 23)  # 2 working days: Tue 3, Wed 4 March


def test_a_task_without_an_owner_is_unassigned_and_in_english(db, programme):
    startup = make_startup(db, "Orphan Labs")
    enrollment = enroll(db, programme, startup)
    move(db, enrollment, "intake", now=T0)
    [task] = db.scalars(select(Task)).all()
    assert (task.title, task.assignee_id) == ("Review", None)
    assert outbox(db) == []  # no owner to notify


def test_entering_a_stage_emails_each_contact_in_their_language(db, programme, startup, owner):
    db.add_all([
        Contact(startup_id=startup.id, name="Jonas Becker", email="jonas@robotics.example",
                language=Language.DE),
        Contact(startup_id=startup.id, name="No Mail"),
    ])
    db.commit()
    enrollment = enroll(db, programme, startup)
    event = qualify(db, enrollment, actor=Actor.user(owner))
    contacts = {c.email: c for c in db.scalars(select(Contact)) if c.email}

    mails = {m.to_address: m for m in outbox(db) if m.dedupe_key.startswith("stage-email:")}
    assert sorted(mails) == ["founder@robotics.example", "jonas@robotics.example"]
    english, german_mail = mails["founder@robotics.example"], mails["jonas@robotics.example"]
    assert (english.locale, english.subject) == (Language.EN, "Welcome to the Corridor")
    assert (german_mail.locale, german_mail.subject) == (Language.DE,
                                                         "Willkommen im Programm Korridor")
    assert german_mail.body_text.startswith("Hallo Jonas Becker,")
    assert "Katrin Vogel" in german_mail.body_text
    assert english.body_text.startswith("Hello Asha Rao,")
    assert german_mail.dedupe_key == f"stage-email:{event.id}:{contacts[german_mail.to_address].id}"
    assert {m.startup_id for m in mails.values()} == {startup.id}
    # The owner moved it: no notification to themselves.
    assert not [m for m in outbox(db) if m.dedupe_key.startswith("stage-owner:")]


@pytest.mark.parametrize("mover", ["owner", "colleague", "applicant", "system"])
def test_the_owner_is_notified_unless_they_made_the_move(db, programme, startup, owner, manager,
                                                         mover):
    actor = {"owner": Actor.user(owner), "colleague": Actor.user(manager),
             "applicant": APPLICANT, "system": SYSTEM}[mover]
    enrollment = enroll(db, programme, startup)
    event = move(db, enrollment, "intake", now=T0 + HOUR, actor=actor)
    notifications = [m for m in outbox(db) if m.dedupe_key.startswith("stage-owner:")]
    if mover == "owner":
        assert notifications == []
        return
    [notification] = notifications
    assert notification.dedupe_key == f"stage-owner:{event.id}"
    assert (notification.to_address, notification.user_id) == (owner.email, owner.id)
    assert notification.locale == Language.DE
    assert notification.subject == "Bengaluru Robotics: Fragebogen"
    assert "http://localhost/startups/" in notification.body_text


def test_outbox_keys_are_unique_across_repeated_entries(db, programme, startup, manager):
    enrollment = enroll(db, programme, startup)
    actor = Actor.user(manager)
    engine.set_field(db, enrollment, "referred_by", "karnataka", actor)
    for offset, stage in enumerate(["intake", "lead", "intake", "qualified", "intake",
                                    "qualified"], start=1):
        move(db, enrollment, stage, now=T0 + offset * HOUR, actor=actor)
    keys = [m.dedupe_key for m in outbox(db)]
    assert len(keys) == len(set(keys)) == 3 + 2  # three owner notes, two welcome emails
    assert db.scalar(select(func.count()).select_from(Task)) == 3


# Working-day SLAs through the engine ----------------------------------------------------------


@pytest.mark.parametrize(("stage", "entered", "due"), [
    # Good Friday 3 Apr and Easter Monday 6 Apr: 5 working days from Thursday 2 Apr are
    # 7, 8, 9, 10 and 13 Apr; due at midnight after Monday 13 Apr (CEST).
    ("lead", berlin(2026, 4, 2), utc(2026, 4, 13, 22)),
    # Corpus Christi (Thursday 4 June, NRW): 5, 8, 9 June.
    ("intake", berlin(2026, 6, 3), utc(2026, 6, 9, 22)),
    # Christmas 2026 (Fri 25, Sat 26): 24, 28, 29 Dec; CET.
    ("intake", berlin(2026, 12, 23), utc(2026, 12, 29, 23)),
    ("lead", berlin(2026, 12, 23), utc(2026, 12, 31, 23)),
    # Christmas 2025 (Thu 25, Fri 26): 24, 29, 30 Dec.
    ("intake", berlin(2025, 12, 23), utc(2025, 12, 30, 23)),
    # Spring forward, Sunday 29 March 2026: due before it at 23:00 UTC, after it at 22:00.
    ("intake", berlin(2026, 3, 24), utc(2026, 3, 27, 23)),
    ("intake", berlin(2026, 3, 25), utc(2026, 3, 30, 22)),
    ("intake", utc(2026, 3, 29, 0, 30), utc(2026, 4, 1, 22)),  # 01:30 CET, Sunday
    # 23:30 UTC Thursday is already Friday 00:30 in Düsseldorf: 30, 31 Mar, 1 Apr.
    ("intake", utc(2026, 3, 26, 23, 30), utc(2026, 4, 1, 22)),
    # Fall back, Sunday 25 October 2026.
    ("intake", berlin(2026, 10, 20), utc(2026, 10, 23, 22)),
    ("intake", berlin(2026, 10, 21), utc(2026, 10, 26, 23)),
    ("intake", utc(2026, 10, 22, 22, 30), utc(2026, 10, 28, 23)),  # Friday 00:30 CEST
    ("intake", utc(2026, 10, 25, 0, 30), utc(2026, 10, 28, 23)),  # 02:30 CEST, first time
    ("intake", utc(2026, 10, 25, 1, 30), utc(2026, 10, 28, 23)),  # 02:30 CET, second time
    # 10 working days from Friday 29 May: 1–3, 5, 8–12 and 15 June (Corpus Christi skipped).
    ("qualified", berlin(2026, 5, 29), utc(2026, 6, 15, 22)),
])
def test_sla_due_moments_follow_nrw_working_days_and_dst(db, startup, stage, entered, due):
    programme = make_programme(db, definition(stages=stages(qualified={"gate": {}})))
    enrollment = enroll(db, programme, startup, stage=stage, now=entered)
    assert enrollment.due_at == due
    db.expire_all()
    assert db.get(Enrollment, enrollment.id).due_at == due  # as stored


def test_a_move_restarts_the_sla_and_checklist_and_task_dates_use_working_days(db, programme,
                                                                                startup):
    enrollment = enroll(db, programme, startup, now=berlin(2026, 4, 2))
    # bank: 10 working days after Maundy Thursday, skipping Good Friday and Easter Monday.
    assert items(db, enrollment)["bank"].due_at == utc(2026, 4, 20, 22)
    move(db, enrollment, "intake", now=berlin(2026, 12, 23, 17))
    assert enrollment.due_at == utc(2026, 12, 29, 23)
    [task] = db.scalars(select(Task)).all()
    assert task.due_at == utc(2026, 12, 28, 23)  # 2 working days: 24 and 28 December
    move(db, enrollment, "lead", now=berlin(2026, 12, 28, 9))
    assert enrollment.due_at == utc(2027, 1, 5, 23)  # 29, 30, 31 Dec, 4 and 5 Jan
    engine.close(db, enrollment, EnrollmentStatus.WITHDRAWN, SYSTEM, reason="x",
                 now=berlin(2026, 12, 29))
    db.commit()
    assert enrollment.due_at is None


# Version migration ----------------------------------------------------------------------------

V2 = definition(
    stages=[
        {"key": "prospect", "label": {"en": "Prospect", "de": "Interessent"},
         "sla_working_days": 4},
        SIMPLE_DEFINITION["stages"][1],
        {"key": "review", "label": {"en": "Review", "de": "Prüfung"}, "sla_working_days": 7},
        *SIMPLE_DEFINITION["stages"][3:],
    ],
    checklist=[*SIMPLE_DEFINITION["checklist"],
               {"key": "insurance", "label": {"en": "Health insurance",
                                              "de": "Krankenversicherung"},
                "owner": "startup", "due_in_working_days": 5}],
)
MAPPING = {"lead": "prospect", "intake": "intake", "qualified": "review"}
T1 = berlin(2026, 3, 9)  # Monday a week later


@pytest.fixture
def two_versions(db, programme):
    """Four enrollments on version 1 (lead, intake, qualified, withdrawn), then version 2."""
    names = ["Lead Co", "Intake Co", "Qualified Co", "Closed Co"]
    startups = [make_startup(db, name, website=WEBSITE) for name in names]
    at_lead, at_intake, at_qualified, closed = (enroll(db, programme, s) for s in startups)
    move(db, at_intake, "intake", now=T0 + HOUR)
    qualify(db, at_qualified)
    settle(db, at_qualified, "address")
    engine.close(db, closed, EnrollmentStatus.WITHDRAWN, SYSTEM, reason="Gone", now=T0 + DAY)
    db.commit()
    make_programme(db, V2)
    db.refresh(programme)
    assert programme.current_version == 2
    return programme, (at_lead, at_intake, at_qualified, closed)


def test_migration_moves_open_enrollments_to_the_new_version(app, db, two_versions, manager):
    programme, (at_lead, at_intake, at_qualified, closed) = two_versions
    before = snapshot(app)
    version_two = engine.current_version(db, programme).id
    intake_due = at_intake.due_at

    moved = engine.migrate_enrollments(db, programme, from_number=1, to_number=2,
                                       stage_mapping=MAPPING, actor=Actor.user(manager), now=T1)
    db.commit()
    assert moved == 3
    for enrollment in (at_lead, at_intake, at_qualified, closed):
        db.refresh(enrollment)
    assert [e.stage for e in (at_lead, at_intake, at_qualified)] == [
        "prospect", "intake", "review"]
    assert {e.programme_version_id for e in (at_lead, at_intake, at_qualified)} == {version_two}

    # A changed key is a stage change: event, time spent, new SLA from the new version.
    last = events(db, at_lead)[-1]
    assert (last.from_stage, last.to_stage, last.note) == ("lead", "prospect", "version 1 → 2")
    assert (last.actor_kind, last.actor_user_id) == (ActorKind.USER, manager.id)
    assert last.seconds_in_previous_stage == int((T1 - T0).total_seconds())
    assert at_lead.stage_entered_at == T1
    assert at_lead.due_at == utc(2026, 3, 13, 23)  # 4 working days: 10–13 March
    assert events(db, at_qualified)[-1].to_stage == "review"
    assert at_qualified.due_at == utc(2026, 3, 18, 23)  # 7 working days: 10–18 March
    # The same key: no event, the stay and its due date go on.
    assert [e.to_stage for e in events(db, at_intake)] == ["lead", "intake"]
    assert (at_intake.stage_entered_at, at_intake.due_at) == (T0 + HOUR, intake_due)

    for enrollment in (at_lead, at_intake, at_qualified):
        checklist = items(db, enrollment)
        assert sorted(checklist) == ["address", "bank", "insurance", "permit"]
        assert checklist["insurance"].due_at == utc(2026, 3, 16, 23)  # 5 working days
    assert items(db, at_qualified)["address"].status == ChecklistStatus.DONE

    # The closed enrollment is history: untouched.
    old_closed = next(row for row in before["Enrollment"] if row["id"] == closed.id)
    assert columns(closed) == old_closed
    assert sorted(items(db, closed)) == ["address", "bank", "permit"]
    [record] = audit(db, "programme.enrollments_migrated")
    assert record.details == {"count": 3, "from_version": 1, "to_version": 2,
                              "mapping": MAPPING}

    # They now follow the new version's order.
    move(db, at_intake, "review", now=T1 + HOUR)
    assert at_intake.stage == "review"


@pytest.mark.parametrize(("from_number", "to_number", "mapping", "names"), [
    (1, 2, {"lead": "prospect", "intake": "intake"}, "qualified"),  # a stage in use unmapped
    (1, 2, {**MAPPING, "lead": "lead"}, "lead"),  # to a stage version 2 no longer has
    (1, 2, {**MAPPING, "qualified": "landed"}, "qualified"),  # to a closing stage
    (1, 1, MAPPING, None),
    (1, 3, MAPPING, None),
])
def test_an_invalid_migration_is_refused_and_changes_nothing(app, db, two_versions, from_number,
                                                            to_number, mapping, names):
    programme, _enrollments = two_versions
    error = refused(app, db, WorkflowError, engine.migrate_enrollments, programme,
                    from_number=from_number, to_number=to_number, stage_mapping=mapping,
                    actor=SYSTEM, now=T1)
    if names:
        assert str(error.message) == ("Map every stage in use to an active stage of the new "
                                      f"version (missing: {names}).")
    else:
        assert german(error.message) == "Wählen Sie zwei verschiedene Versionen dieses Programms."


# Two managers at once -------------------------------------------------------------------------


@pytest.mark.parametrize("change", ["settle", "answer"])
def test_a_checklist_or_field_change_on_a_moved_enrollment_is_refused(app, db, programme,
                                                                       startup, change):
    """The second manager ticks an item or answers a field on what they saw before a move."""
    enrollment = enroll(db, programme, startup)
    with _second_session(app) as other:
        theirs = other.get(Enrollment, enrollment.id)
        item = other.scalar(select(ChecklistItem).where(
            ChecklistItem.enrollment_id == enrollment.id, ChecklistItem.key == "address"))
        move(db, enrollment, "intake", now=T0 + HOUR)
        with pytest.raises(EnrollmentChanged):
            if change == "settle":
                engine.settle_checklist_item(other, item, ChecklistStatus.DONE, SYSTEM,
                                             now=T0 + 2 * HOUR)
            else:
                engine.set_field(other, theirs, "referred_by", "karnataka", SYSTEM)
        other.rollback()
    db.expire_all()
    assert items(db, enrollment)["address"].status == ChecklistStatus.OPEN
    assert db.get(Enrollment, enrollment.id).fields == {}
    assert audit(db, "checklist.settled") == audit(db, "enrollment.field_set") == []


def _second_session(app) -> Session:
    return Session(app.extensions["db_engine"], expire_on_commit=False)


def test_two_managers_moving_the_same_enrollment_one_wins(app, db, programme, startup, owner,
                                                          manager):
    enrollment = enroll(db, programme, startup)
    with _second_session(app) as other:
        # Both load the same revision (on PostgreSQL the second connection holds a transaction).
        theirs = other.get(Enrollment, enrollment.id)
        assert theirs.revision == enrollment.revision

        move(db, enrollment, "intake", now=T0 + HOUR, actor=Actor.user(manager))  # commits
        with pytest.raises(EnrollmentChanged):
            engine.move(other, theirs, "intake", Actor.user(owner), now=T0 + 2 * HOUR)
        other.rollback()

    db.expire_all()
    history = [(e.to_stage, e.actor_user_id) for e in events(db, enrollment)]
    assert history == [("lead", None), ("intake", manager.id)]
    assert db.scalar(select(func.count()).select_from(Task)) == 1
    assert len(outbox(db)) == 1  # the winner's note to the owner


class Contender:
    """A second request in a thread (own app context and connection) that writes while the
    test's session holds its uncommitted change: it has to wait for the first to finish."""

    def __init__(self, app, work):
        self.app, self.work = app, work
        self.outcome: dict = {}
        self.writing = threading.Event()
        self.thread = threading.Thread(target=self._run)
        sa_event.listen(app.extensions["db_engine"], "before_cursor_execute", self._watch)
        self.thread.start()

    def _watch(self, _conn, _cursor, statement, *_args) -> None:
        if (threading.get_ident() == self.thread.ident
                and statement.lstrip().upper().startswith(("UPDATE", "INSERT"))):
            self.writing.set()

    def _run(self) -> None:
        with self.app.app_context(), _second_session(self.app) as session:
            try:
                self.outcome["result"] = self.work(session)
            except Exception as error:  # handed to the test's thread
                self.outcome["error"] = error
                session.rollback()

    def wait_until_blocked(self, db) -> None:
        assert self.writing.wait(10), "the second request never started writing"
        if db.get_bind().dialect.name == "postgresql":
            deadline = time.monotonic() + 10
            with self.app.extensions["db_engine"].connect() as watcher:
                while not watcher.execute(
                        text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar():
                    assert time.monotonic() < deadline, "the second request never waited"
                    watcher.rollback()
                    time.sleep(0.02)
        else:  # SQLite: the writer waits in its busy handler for the first one's lock
            time.sleep(0.3)
        assert self.thread.is_alive(), "the second request did not wait for the first"

    def result(self) -> dict:
        self.thread.join(timeout=40)
        sa_event.remove(self.app.extensions["db_engine"], "before_cursor_execute", self._watch)
        assert not self.thread.is_alive()
        return self.outcome


def test_concurrent_moves_the_second_waits_then_is_refused(app, db, programme, startup,
                                                           manager, owner):
    enrollment = enroll(db, programme, startup)
    with _second_session(app) as loader:
        theirs = loader.get(Enrollment, enrollment.id)
        loader.expunge(theirs)
    engine.move(db, enrollment, "intake", Actor.user(manager), now=T0 + HOUR)  # not committed

    def second(session):
        session.add(theirs)
        return engine.move(session, theirs, "intake", Actor.user(owner), now=T0 + 2 * HOUR)

    contender = Contender(app, second)
    contender.wait_until_blocked(db)
    db.commit()
    outcome = contender.result()
    assert isinstance(outcome.get("error"), EnrollmentChanged), outcome
    db.expire_all()
    assert [(e.to_stage, e.actor_user_id) for e in events(db, enrollment)] == [
        ("lead", None), ("intake", manager.id)]


def test_concurrent_enrollments_the_second_is_refused(app, db, programme, startup):
    engine.enroll(db, startup=startup, programme=programme, actor=SYSTEM, now=T0)  # not committed
    startup_id, programme_id = startup.id, programme.id

    def second(session):
        return engine.enroll(session, startup=session.get(Startup, startup_id),
                             programme=session.get(Programme, programme_id), actor=APPLICANT,
                             now=T0 + HOUR)

    contender = Contender(app, second)
    contender.wait_until_blocked(db)
    db.commit()
    outcome = contender.result()
    assert isinstance(outcome.get("error"), AlreadyEnrolled), outcome
    assert db.scalar(select(func.count()).select_from(Enrollment)) == 1
    assert db.scalar(select(func.count()).select_from(StageEvent)) == 1


# Closing moves, closed enrollments, items of another version, checklist start ------------------


def test_a_move_into_a_losing_stage_needs_a_reason_like_close(app, db, programme, startup):
    enrollment = enroll(db, programme, startup)
    error = refused(app, db, WorkflowError, engine.move, enrollment, "withdrawn", SYSTEM,
                    note="  ", now=T0 + HOUR)
    assert "reason" in str(error)
    move(db, enrollment, "withdrawn", now=T0 + HOUR, note="Chose Munich")
    assert (enrollment.status, enrollment.close_reason) == (EnrollmentStatus.WITHDRAWN,
                                                            "Chose Munich")


def test_fields_of_a_closed_enrollment_cannot_change(app, db, programme, startup):
    enrollment = enroll(db, programme, startup)
    engine.close(db, enrollment, EnrollmentStatus.REJECTED, SYSTEM, reason="Not a fit",
                 now=T0 + HOUR)
    db.commit()
    refused(app, db, EnrollmentClosed, engine.set_field, enrollment, "referred_by",
            "karnataka", SYSTEM)


def test_an_item_the_version_does_not_declare_is_refused(app, db, programme, startup):
    enrollment = enroll(db, programme, startup)
    stray = ChecklistItem(enrollment_id=enrollment.id, key="visa")
    db.add(stray)
    db.commit()
    refused(app, db, WorkflowError, engine.settle_checklist_item, stray, ChecklistStatus.DONE,
            SYSTEM)


def test_checklist_due_dates_count_from_the_stage_that_starts_the_checklist(db, startup):
    starting = definition(stages=stages(intake={"on_enter": {"start_checklist": True}}))
    programme = make_programme(db, starting)
    enrollment = enroll(db, programme, startup)
    items = {item.key: item for item in db.scalars(select(ChecklistItem))}
    assert items["bank"].due_at is None  # not due while the startup is only a lead
    move(db, enrollment, "intake", now=berlin(2026, 3, 16))  # Monday
    db.expire_all()
    bank = db.scalar(select(ChecklistItem).where(ChecklistItem.key == "bank"))
    # 10 working days after Monday 16 March: Tue 17 … Mon 30 March; due at its end.
    assert bank.due_at == utc(2026, 3, 30, 22)
    assert db.scalar(select(ChecklistItem).where(ChecklistItem.key == "address")).due_at is None


def test_the_startup_status_follows_its_enrollments(db, programme, make_user):
    startup = make_startup(db, website=WEBSITE)
    assert startup.status == "lead"
    enrollment = enroll(db, programme, startup)
    assert db.get(Startup, startup.id).status == "active"
    for key in ("address", "permit", "bank"):
        item = db.scalar(select(ChecklistItem).where(ChecklistItem.enrollment_id == enrollment.id,
                                                     ChecklistItem.key == key))
        engine.settle_checklist_item(db, item, ChecklistStatus.WAIVED, SYSTEM, now=T0 + HOUR)
    engine.close(db, enrollment, EnrollmentStatus.LANDED, SYSTEM, now=T0 + DAY)
    db.commit()
    assert db.get(Startup, startup.id).status == "landed"
    assert db.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "startup.status_changed")) == 2

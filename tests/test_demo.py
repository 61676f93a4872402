"""The demo data: made through the workflow engine, consistent, loadable twice, and usable."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import timedelta

import phonenumbers
from sqlalchemy import func, select

from crm.cli import cli
from crm.core.clock import utcnow
from crm.core.enums import ActorKind, EnrollmentStatus, Role
from crm.db import unit_of_work
from crm.demo.data import CORRIDOR, DEMO_PASSWORD, DEMO_USERS, SECTORS
from crm.demo.loader import load_demo_data
from crm.models import (
    Application,
    AuditEvent,
    ChecklistItem,
    Contact,
    Enrollment,
    OutboxMessage,
    Programme,
    ProgrammeVersion,
    StageEvent,
    Startup,
    StartupSector,
    Task,
    User,
    metadata,
)
from crm.programmes.services import DEFINITIONS_DIR
from crm.workflow.models import ChecklistStatus
from tests.conftest import login

CREATED = ("demo data: 4 programmes, 7 users, 60 startups (created 60, kept 0), 3 applications, "
           "weekly reports queued 3, already queued 0, failed 0")
KEPT = ("demo data: 4 programmes, 7 users, 60 startups (created 0, kept 60), 3 applications, "
        "weekly reports queued 0, already queued 3, failed 0")


def load(app) -> str:
    """As `crm demo load` does it: in an app context, committed by the unit of work."""
    with app.app_context(), unit_of_work() as session:
        return load_demo_data(session)


def row_counts(db) -> dict[str, int]:
    return {table.name: db.scalar(select(func.count()).select_from(table))
            for table in metadata.sorted_tables}


def definitions(db) -> dict[int, object]:
    """The parsed current definition of every programme, by programme id."""
    return {
        programme.id: db.scalar(select(ProgrammeVersion).where(
            ProgrammeVersion.programme_id == programme.id,
            ProgrammeVersion.number == programme.current_version)).parsed
        for programme in db.scalars(select(Programme))
    }


def test_demo_data_covers_programmes_countries_sectors_and_roles(app, db):
    assert load(app) == CREATED

    programmes = db.scalars(select(Programme)).all()
    assert {programme.key for programme in programmes} == {
        path.stem for path in DEFINITIONS_DIR.glob("*.yaml")}
    assert all(programme.current_version == 1 for programme in programmes)
    startups = db.scalars(select(Startup)).all()
    assert len(startups) >= 55
    assert len({startup.country for startup in startups}) >= 5
    assert all(startup.domain and startup.website.endswith(startup.domain)
               for startup in startups)
    assert set(db.scalars(select(StartupSector.sector))) == set(SECTORS)
    users = db.scalars(select(User)).all()
    assert {user.role for user in users} == set(Role)
    assert all(user.password_hash.startswith("$argon2id$") for user in users)
    assert set(db.scalars(select(AuditEvent.object_id).where(
        AuditEvent.action == "user.created"))) == {user.id for user in users}
    assert any(owner is None for owner in db.scalars(select(Startup.owner_id)))

    contacts = db.scalars(select(Contact)).all()
    assert {contact.startup_id for contact in contacts} == {startup.id for startup in startups}
    domains = {startup.id: startup.domain for startup in startups}
    assert all(contact.email.endswith("@" + domains[contact.startup_id]) for contact in contacts)
    assert all(phonenumbers.is_possible_number(phonenumbers.parse(contact.phone))
               for contact in contacts if contact.phone)
    assert any(re.search("[\uac00-\ud7a3]", contact.name) for contact in contacts)  # Hangul


def test_enrollments_have_a_consistent_stage_history(app, db):
    load(app)
    now = utcnow()
    events = defaultdict(list)
    for event in db.scalars(select(StageEvent).order_by(StageEvent.occurred_at, StageEvent.id)):
        events[event.enrollment_id].append(event)
    enrollments = db.scalars(select(Enrollment)).all()
    owners = {startup.id: startup.owner_id for startup in db.scalars(select(Startup))}
    by_programme = definitions(db)

    for enrollment in enrollments:
        history = events[enrollment.id]
        assert history[0].from_stage is None
        assert history[0].seconds_in_previous_stage is None
        assert history[-1].to_stage == enrollment.stage
        assert history[-1].occurred_at == enrollment.stage_entered_at
        for before, after in zip(history, history[1:], strict=False):
            assert after.from_stage == before.to_stage
            assert after.seconds_in_previous_stage >= 0
            assert after.seconds_in_previous_stage == (
                after.occurred_at - before.occurred_at).total_seconds()
        # Staff enrolled the demo startups, dated back; an applicant enrolled the submitted one.
        if history[0].actor_kind == ActorKind.APPLICANT:
            assert {event.actor_user_id for event in history} == {None}
        else:
            assert {event.actor_user_id for event in history} == {owners[enrollment.startup_id]}
            assert enrollment.created_at == history[0].occurred_at
        closes_as = by_programme[enrollment.programme_id].stage(enrollment.stage).closes_as
        assert enrollment.status == (closes_as or EnrollmentStatus.OPEN)
        is_open = enrollment.status == EnrollmentStatus.OPEN
        assert (enrollment.due_at is not None) == is_open
        assert (enrollment.closed_at is not None) == (not is_open)
        assert is_open or enrollment.close_reason
        assert enrollment.stage_entered_at <= now

    for programme_id, definition in by_programme.items():
        stages = {e.stage for e in enrollments if e.programme_id == programme_id}
        assert len(stages) >= 3, definition.key
        assert stages <= set(definition.stage_keys())
    assert {e.status for e in enrollments} == set(EnrollmentStatus)
    open_enrollments = [e for e in enrollments if e.status == EnrollmentStatus.OPEN]
    overdue = [e for e in open_enrollments if e.due_at < now]
    assert 3 <= len(overdue) < len(open_enrollments) / 2
    open_pairs = [(e.startup_id, e.programme_id) for e in open_enrollments]
    assert len(open_pairs) == len(set(open_pairs))


def test_gates_were_met_the_real_way(app, db):
    load(app)
    now = utcnow()
    enrollments = db.scalars(select(Enrollment)).all()
    items = defaultdict(list)
    for item in db.scalars(select(ChecklistItem)):
        items[item.enrollment_id].append(item)
    by_programme = definitions(db)

    for enrollment in enrollments:
        checklist = items[enrollment.id]
        definition = by_programme[enrollment.programme_id]
        assert {item.key for item in checklist} == {item.key for item in definition.checklist}
        settled = {item.key: item for item in checklist if item.status != ChecklistStatus.OPEN}
        for item in settled.values():
            assert item.settled_at <= (enrollment.closed_at or now)
            assert set(definition.checklist_item(item.key).depends_on) <= set(settled)
            assert all(settled[key].settled_at <= item.settled_at
                       for key in definition.checklist_item(item.key).depends_on)
            if definition.checklist_item(item.key).expires and item.status == "done":
                assert timedelta(days=365) <= item.expires_at - item.settled_at <= timedelta(
                    days=730)
        if enrollment.status == EnrollmentStatus.LANDED:
            assert len(settled) == len(checklist)
        elif enrollment.stage == "landing_support":
            assert 0 < len(settled) < len(checklist)
        else:
            assert not settled
        if definition.key == CORRIDOR:
            assert enrollment.fields["referred_by"] in ("karnataka", "duesseldorf")

    all_items = [item for checklist in items.values() for item in checklist]
    assert any(item.status == ChecklistStatus.WAIVED for item in all_items)
    assert any(item.evidence_note and "Bürgeramt" in item.evidence_note for item in all_items)
    assert any(e.stage == "landing_support" for e in enrollments
               if e.status == EnrollmentStatus.OPEN)


def test_on_enter_actions_made_tasks_and_emails_to_example_domains(app, db):
    load(app)
    now = utcnow()
    tasks = db.scalars(select(Task)).all()
    assert any(task.title == "Review the intake questionnaire" for task in tasks)
    assert any(task.title == "Plan the landing checklist with the founders" for task in tasks)
    assert all(task.done_at is None or task.created_at <= task.done_at <= now for task in tasks)
    assert any(task.done_at is None and task.due_at < now for task in tasks)
    assert any(task.done_at is not None for task in tasks)
    closed = set(db.scalars(select(Enrollment.id).where(
        Enrollment.status != EnrollmentStatus.OPEN)))
    assert all(task.done_at for task in tasks if task.enrollment_id in closed)

    messages = db.scalars(select(OutboxMessage)).all()
    assert messages
    # Reserved names only (RFC 2606): startups at .example, the demo staff at .test.
    assert all(message.to_address.endswith((".example", ".test")) for message in messages)
    assert {message.status for message in messages} == {"pending"}
    subjects = {message.subject for message in messages}
    assert any(subject.startswith("Welcome to Düsseldorf") for subject in subjects)


def test_loading_twice_creates_nothing_new(app, db):
    load(app)
    before = row_counts(db)

    assert load(app) == KEPT
    assert row_counts(db) == before


def test_the_caller_commits(app, db):
    with app.app_context():
        load_demo_data(db)
    db.rollback()

    assert set(row_counts(db).values()) == {0}


def test_the_command_loads_the_demo_once(app, db):
    runner = app.test_cli_runner()
    first = runner.invoke(cli, ["demo", "load"])
    assert first.exit_code == 0, first.output
    assert first.output.strip() == CREATED
    before = row_counts(db)

    second = runner.invoke(cli, ["demo", "load"])
    assert second.exit_code == 0, second.output
    assert second.output.strip() == KEPT
    assert row_counts(db) == before


def test_every_demo_user_logs_in_and_is_listed_by_the_logins_command(app):
    load(app)
    for user in DEMO_USERS:
        response = login(app.test_client(), user.email, DEMO_PASSWORD)
        assert response.status_code == 302, user.email

    result = app.test_cli_runner().invoke(cli, ["demo", "logins"])
    assert result.exit_code == 0, result.output
    for user in DEMO_USERS:
        assert re.search(rf"^{re.escape(user.email)}\s+{user.role.value}\s+{DEMO_PASSWORD}$",
                         result.output, re.MULTILINE)


def test_a_bd_manager_sees_the_demo_pages(app, db):
    load(app)
    manager = next(user for user in DEMO_USERS if user.role == Role.BD_MANAGER)
    client = app.test_client()
    assert login(client, manager.email, DEMO_PASSWORD).status_code == 302
    landed = db.scalar(select(Enrollment.startup_id).where(
        Enrollment.status == EnrollmentStatus.LANDED).order_by(Enrollment.id).limit(1))

    for path in ("/", f"/pipeline/?programme={CORRIDOR}", f"/startups/{landed}", "/reports/",
                 "/tasks/"):
        assert client.get(path).status_code == 200, path


def test_demo_has_unfinished_and_submitted_applications(app, db):
    load(app)

    assert sorted(db.scalars(select(Application.status))) == ["draft", "draft", "submitted"]
    submitted = db.scalars(select(Application).where(Application.status == "submitted")).one()
    startup = db.get(Startup, submitted.startup_id)
    assert db.get(User, startup.owner_id).email.startswith("priya.raghavan@")  # the India desk
    assert load(app) == KEPT
    assert db.scalar(select(func.count()).select_from(Application)) == 3

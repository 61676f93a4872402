"""The benchmark data generator: the same seed gives the same rows (on SQLite and PostgreSQL),
the rows hang together as the app's services would have written them, and the app serves them."""

from __future__ import annotations

import hashlib
import html
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlmodel import Session

from bench.generate import (
    BENCH_NOW,
    BENCH_PASSWORD,
    SCALES,
    DatabaseNotEmpty,
    GenerationSummary,
    generate,
)
from crm import create_app
from crm.config import Settings
from crm.core.enums import EnrollmentStatus, Role
from crm.intake.models import Application
from crm.outbox.models import OutboxMessage
from crm.programmes.models import ProgrammeVersion
from crm.startups.models import Activity, Contact, Startup, Task
from crm.startups.search import name_key, name_skeleton, search_text
from crm.users.models import User
from crm.workflow.calendar import add_working_days
from crm.workflow.models import ChecklistItem, ChecklistStatus, Enrollment, StageEvent
from tests.conftest import login, scratch_postgres_database

SMALL = SCALES["small"]
# Columns whose values must come out the same for the same seed, on either database.
CHECKED = {
    "startups": (Startup.id, Startup.name, Startup.search_text, Startup.country,
                 Startup.owner_id, Startup.status, Startup.created_at),
    "enrollments": (Enrollment.id, Enrollment.startup_id, Enrollment.stage,
                    Enrollment.stage_entered_at, Enrollment.due_at, Enrollment.status),
    "stage_events": (StageEvent.id, StageEvent.enrollment_id, StageEvent.from_stage,
                     StageEvent.to_stage, StageEvent.occurred_at,
                     StageEvent.seconds_in_previous_stage),
    "tasks": (Task.id, Task.title, Task.assignee_id, Task.due_at, Task.done_at),
    "outbox_messages": (OutboxMessage.id, OutboxMessage.dedupe_key, OutboxMessage.status,
                        OutboxMessage.sent_at),
}


def checksums(url: str) -> dict[str, str]:
    engine = create_engine(url)
    with Session(engine) as db:
        sums = {name: hashlib.sha256(repr(db.execute(
            select(*columns).order_by(columns[0])).all()).encode()).hexdigest()
            for name, columns in CHECKED.items()}
    engine.dispose()
    return sums


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[str, GenerationSummary]:
    url = f"sqlite:///{tmp_path_factory.mktemp('bench') / 'small.db'}"
    return url, generate(url, SMALL, seed=42)


@pytest.fixture(scope="module")
def db(generated):
    engine = create_engine(generated[0])
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_the_same_seed_gives_the_same_rows_and_another_seed_others(generated, tmp_path):
    url, summary = generated
    again = generate(f"sqlite:///{tmp_path / 'again.db'}", SMALL, seed=42)
    other = generate(f"sqlite:///{tmp_path / 'other.db'}", SMALL, seed=7)
    assert again.rows == summary.rows
    assert (again.timeline_startup_id, again.largest_programme, again.logins) == (
        summary.timeline_startup_id, summary.largest_programme, summary.logins)
    first = checksums(url)
    assert checksums(f"sqlite:///{tmp_path / 'again.db'}") == first
    different = checksums(f"sqlite:///{tmp_path / 'other.db'}")
    assert all(different[name] != first[name] for name in CHECKED)
    assert other.rows["stage_events"] == summary.rows["stage_events"]


@pytest.fixture
def scratch_postgres_url():
    with scratch_postgres_database("landing_desk_bench") as url:
        yield url


@pytest.mark.postgres
def test_postgresql_gets_the_same_rows_as_sqlite(generated, scratch_postgres_url):
    summary = generate(scratch_postgres_url, SMALL, seed=42)
    assert summary.rows == generated[1].rows
    assert checksums(scratch_postgres_url) == checksums(generated[0])
    engine = create_engine(scratch_postgres_url)
    with Session(engine) as db:  # the sequences continue after the loaded ids
        user = User(email="new@bench.example", name="New", role=Role.VIEWER)
        startup = Startup(name="After the load", country="DE")
        db.add_all([user, startup])
        db.flush()
        assert (user.id, startup.id) == (SMALL.staff + 1, SMALL.startups + 1)
        db.rollback()
    engine.dispose()


def test_a_database_with_rows_is_refused(generated):
    with pytest.raises(DatabaseNotEmpty):
        generate(generated[0], SMALL)


def test_the_rows_have_the_scale_and_its_distributions(generated, db):
    rows = generated[1].rows
    for table in ("startups", "enrollments", "stage_events", "activities", "tasks",
                  "outbox_messages"):
        assert rows[table] == getattr(SMALL, table), table
    assert Counter(db.scalars(select(User.role))) == {
        Role.ADMIN: 1, Role.MANAGER: 4, Role.BD_MANAGER: 40, Role.VIEWER: 5}
    countries = Counter(db.scalars(select(Startup.country)))
    assert countries.most_common(1)[0][0] == "IN" and len(countries) > 15
    names = " ".join(db.scalars(select(Startup.name)))
    for letter_range in ("가힣", "ぁヿ", "一龥", "अह", "äü"):  # Hangul, kana, Han, Devanagari
        assert any(letter_range[0] <= char <= letter_range[1] for char in names), letter_range
    open_by_stage = Counter(db.execute(
        select(Enrollment.programme_version_id, Enrollment.stage)
        .where(Enrollment.status == EnrollmentStatus.OPEN)).all())
    for version in db.scalars(select(ProgrammeVersion)):  # early stages are crowded
        active = [stage.key for stage in version.parsed.active_stages()]
        assert open_by_stage[version.id, active[0]] > open_by_stage[version.id, active[-1]]
    statuses = Counter(db.scalars(select(OutboxMessage.status)))
    assert statuses["sent"] > 0.9 * SMALL.outbox_messages
    assert statuses["pending"] and statuses["failed"] and statuses["dead"]
    idle = [BENCH_NOW - moment for moment in db.scalars(select(Application.last_activity_at))]
    assert any(timedelta(days=3) < age < timedelta(days=7) for age in idle)
    assert any(timedelta(days=7) < age < timedelta(days=14) for age in idle)


def test_enrollment_histories_hang_together(db):
    definitions = {version.id: version.parsed for version in db.scalars(select(ProgrammeVersion))}
    events: dict[int, list[StageEvent]] = {}
    for event in db.scalars(select(StageEvent).order_by(StageEvent.occurred_at, StageEvent.id)):
        events.setdefault(event.enrollment_id, []).append(event)
    enrollments = db.scalars(select(Enrollment)).all()
    overdue = 0
    for enrollment in enrollments:
        history, definition = events[enrollment.id], definitions[enrollment.programme_version_id]
        assert history[0].from_stage is None and history[0].seconds_in_previous_stage is None
        for before, after in zip(history, history[1:], strict=False):
            assert after.from_stage == before.to_stage
            assert after.to_stage in definition.allowed_targets(before.to_stage)
            assert after.seconds_in_previous_stage == (
                after.occurred_at - before.occurred_at).total_seconds()
        assert history[-1].to_stage == enrollment.stage
        assert history[-1].occurred_at == enrollment.stage_entered_at
        stage = definition.stage(enrollment.stage)
        if enrollment.status == EnrollmentStatus.OPEN:
            assert stage.closes_as is None
            assert enrollment.due_at == add_working_days(enrollment.stage_entered_at,
                                                         stage.sla_working_days)
            overdue += enrollment.due_at <= BENCH_NOW
        else:
            assert stage.closes_as == enrollment.status
            assert enrollment.closed_at == enrollment.stage_entered_at
            assert enrollment.due_at is None
    open_count = sum(enrollment.status == EnrollmentStatus.OPEN for enrollment in enrollments)
    assert overdue == round(open_count * 0.05)
    items = Counter(db.scalars(select(ChecklistItem.enrollment_id)))
    assert all(items[enrollment.id] == len(definitions[enrollment.programme_version_id].checklist)
               for enrollment in enrollments)
    landed_open_items = db.scalar(
        select(func.count()).select_from(ChecklistItem)
        .join(Enrollment, Enrollment.id == ChecklistItem.enrollment_id)
        .where(Enrollment.status == EnrollmentStatus.LANDED,
               ChecklistItem.status == ChecklistStatus.OPEN))
    assert landed_open_items == 0


def test_startups_carry_what_the_services_would_have_written(generated, db):
    assert db.execute(text("PRAGMA foreign_key_check")).all() == []
    for startup in db.scalars(select(Startup).order_by(Startup.id).limit(100)):
        contacts = db.execute(select(Contact.name, Contact.email)
                              .where(Contact.startup_id == startup.id)
                              .order_by(Contact.id)).all()
        assert startup.search_text == search_text(startup.name, startup.domain, contacts)
        assert (startup.name_key, startup.name_skeleton) == (name_key(startup.name),
                                                             name_skeleton(startup.name))
    timeline = generated[1].timeline_startup_id
    entries = (
        db.scalar(select(func.count()).select_from(Activity).where(Activity.startup_id == timeline))
        + db.scalar(select(func.count()).select_from(StageEvent).join(Enrollment)
                    .where(Enrollment.startup_id == timeline))
        + db.scalar(select(func.count() + func.count(Task.done_at))
                    .where(Task.startup_id == timeline))
        + db.scalar(select(func.count()).select_from(OutboxMessage)
                    .where(OutboxMessage.startup_id == timeline)))
    assert entries == 200


def test_the_app_serves_the_generated_data(generated, db, clock, tmp_path):
    url, summary = generated
    clock(BENCH_NOW)
    app = create_app(Settings(env="test", database_url=url, upload_folder=tmp_path / "uploads",
                              broker_folder=tmp_path / "broker",
                              secret_key="test-secret-key-" + "x" * 32,
                              base_url="http://localhost", ratelimit_storage_url="memory://"))
    bd_manager, admin = app.test_client(), app.test_client()
    assert login(bd_manager, summary.logins["bd_manager"], BENCH_PASSWORD).status_code == 302
    assert login(admin, summary.logins["admin"], BENCH_PASSWORD).status_code == 302
    first = db.scalar(select(Startup.name).order_by(Startup.name).limit(1))
    timeline = db.get(Startup, summary.timeline_startup_id)
    for client, path, shows in (
            (bd_manager, "/", first),
            (bd_manager, f"/startups/{timeline.id}", timeline.name),
            (bd_manager, f"/pipeline/?programme={summary.largest_programme}", None),
            (bd_manager, "/work/", None),
            (admin, "/admin/outbox/", None)):
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[-2000:])
        assert shows is None or shows in html.unescape(response.get_data(as_text=True)), path
    app.extensions["db_engine"].dispose()

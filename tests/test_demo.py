"""The demo data: complete, consistent, loadable twice, and its users can log in."""

from __future__ import annotations

import re
from collections import defaultdict

import phonenumbers
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from crm.cli import cli
from crm.core.clock import utcnow
from crm.core.enums import EnrollmentStatus, Role
from crm.db import unit_of_work
from crm.demo.data import DEMO_PASSWORD, DEMO_USERS, SECTORS
from crm.demo.loader import load_demo_data
from crm.models import (
    AuditEvent,
    Contact,
    Enrollment,
    Programme,
    StageEvent,
    Startup,
    StartupSector,
    Task,
    User,
    metadata,
)
from tests.conftest import login


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """Argon2 with the lowest cost: the demo users' hashes stay real, the suite stays fast."""
    monkeypatch.setattr("crm.users.services.hash_password",
                        PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash)


def load(app) -> str:
    with app.app_context(), unit_of_work() as session:
        return load_demo_data(session)


def row_counts(db) -> dict[str, int]:
    return {table.name: db.scalar(select(func.count()).select_from(table))
            for table in metadata.sorted_tables}


def test_demo_data_covers_programmes_countries_sectors_and_roles(app, db):
    assert load(app) == "demo data: 4 programmes, 7 users, 60 startups (created 60, kept 0)"

    assert len(db.scalars(select(Programme)).all()) == 4
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

    for enrollment in enrollments:
        history = events[enrollment.id]
        assert history[0].from_stage is None
        assert history[-1].to_stage == enrollment.stage
        assert history[-1].occurred_at == enrollment.stage_entered_at
        for before, after in zip(history, history[1:], strict=False):
            assert after.from_stage == before.to_stage
            assert after.seconds_in_previous_stage == (
                after.occurred_at - before.occurred_at).total_seconds()
        assert {event.actor_user_id for event in history} == {owners[enrollment.startup_id]}
        is_open = enrollment.status == EnrollmentStatus.OPEN
        assert (enrollment.due_at is not None) == is_open
        assert (enrollment.closed_at is not None) == (not is_open)
        assert enrollment.stage_entered_at <= now

    for programme in db.scalars(select(Programme)):
        stages = {e.stage for e in enrollments if e.programme_id == programme.id}
        assert len(stages) >= 3, programme.key
        assert stages <= {stage["key"] for stage in programme.stages}
    assert {e.status for e in enrollments} == set(EnrollmentStatus)
    assert any(e.due_at < now for e in enrollments if e.status == EnrollmentStatus.OPEN)
    open_pairs = [(e.startup_id, e.programme_id) for e in enrollments
                  if e.status == EnrollmentStatus.OPEN]
    assert len(open_pairs) == len(set(open_pairs))

    tasks = db.scalars(select(Task)).all()
    assert any(task.done_at is None and task.due_at < now for task in tasks)
    assert any(task.done_at is not None for task in tasks)


def test_loading_twice_creates_nothing_new(app, db):
    load(app)
    before = row_counts(db)

    assert load(app) == "demo data: 4 programmes, 7 users, 60 startups (created 0, kept 60)"
    assert row_counts(db) == before


def test_the_caller_commits(db):
    load_demo_data(db)
    db.rollback()

    assert set(row_counts(db).values()) == {0}


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

"""Constraints the domain relies on hold in the database itself, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError

from crm.core.enums import EnrollmentStatus, Role
from crm.startups.models import Startup
from crm.users.models import User
from crm.workflow.models import Enrollment
from tests.factories import current_version_id, make_programme


@pytest.fixture
def startup_and_programme(db):
    programme = make_programme(db)
    startup = Startup(name="Bengaluru Robotics", country="IN")
    db.add(startup)
    db.commit()
    return startup, programme


def test_one_open_enrollment_per_startup_and_programme(db, startup_and_programme):
    startup, programme = startup_and_programme
    db.add(Enrollment(startup_id=startup.id, programme_id=programme.id,
                   programme_version_id=current_version_id(db, programme), stage="lead"))
    db.commit()
    db.add(Enrollment(startup_id=startup.id, programme_id=programme.id,
                   programme_version_id=current_version_id(db, programme), stage="lead"))
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()


def test_closed_enrollments_may_repeat(db, startup_and_programme):
    startup, programme = startup_and_programme
    for _ in range(2):
        db.add(Enrollment(startup_id=startup.id, programme_id=programme.id,
                   programme_version_id=current_version_id(db, programme), stage="lead",
                          status=EnrollmentStatus.WITHDRAWN))
    db.add(Enrollment(startup_id=startup.id, programme_id=programme.id,
                   programme_version_id=current_version_id(db, programme), stage="lead"))
    db.commit()


def test_user_email_is_unique(db):
    db.add(User(email="a@desk.example", name="A", role=Role.VIEWER))
    db.add(User(email="a@desk.example", name="B", role=Role.VIEWER))
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()


def test_timestamps_come_back_aware_in_utc(db, startup_and_programme):
    startup, programme = startup_and_programme
    berlin_noon = datetime(2026, 3, 29, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    enrollment = Enrollment(startup_id=startup.id, programme_id=programme.id,
                   programme_version_id=current_version_id(db, programme), stage="lead",
                            due_at=berlin_noon)
    db.add(enrollment)
    db.commit()
    db.expire_all()
    stored = db.get(Enrollment, enrollment.id)
    assert stored.due_at == datetime(2026, 3, 29, 10, 0, tzinfo=UTC)
    assert stored.due_at.utcoffset() == timedelta(0)


def test_naive_timestamps_are_refused(db, startup_and_programme):
    startup, programme = startup_and_programme
    db.add(Enrollment(startup_id=startup.id, programme_id=programme.id,
                   programme_version_id=current_version_id(db, programme), stage="lead",
                      due_at=datetime(2026, 1, 1, 12, 0)))  # noqa: DTZ001 - the point of the test
    with pytest.raises(Exception, match="naive datetime"):
        db.commit()
    db.rollback()

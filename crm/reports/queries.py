"""Aggregate figures of the pipeline, computed in SQL."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlmodel import Session

from crm.core.enums import EnrollmentStatus
from crm.programmes.models import Programme
from crm.startups.models import Startup
from crm.workflow.models import Enrollment


@dataclass
class Overview:
    startups_by_status: list[tuple[str, int]]
    startups_by_country: list[tuple[str, int]]
    open_enrollments_by_programme: list[tuple[Programme, int, int]]  # (programme, open, overdue)


def overview(db: Session, now) -> Overview:
    by_status = db.execute(
        select(Startup.status, func.count()).group_by(Startup.status)
        .order_by(func.count().desc())
    ).all()
    by_country = db.execute(
        select(Startup.country, func.count()).group_by(Startup.country)
        .order_by(func.count().desc(), Startup.country)
    ).all()
    overdue = func.count(case((Enrollment.due_at < now, Enrollment.id)))
    per_programme = db.execute(
        select(Programme, func.count(Enrollment.id), overdue)
        .outerjoin(Enrollment, (Enrollment.programme_id == Programme.id)
                   & (Enrollment.status == EnrollmentStatus.OPEN))
        .group_by(Programme.id)
        .order_by(Programme.id)
    ).all()
    return Overview(
        [(str(status), count) for status, count in by_status],
        [(country, count) for country, count in by_country],
        [(programme, count, late) for programme, count, late in per_programme],
    )

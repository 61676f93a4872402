"""Reads for the pipeline board (per stage its count and first cards) and the programme admin."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlmodel import Session

from crm.core.enums import EnrollmentStatus
from crm.programmes.models import Programme, ProgrammeVersion
from crm.startups.models import Startup
from crm.users.models import User
from crm.workflow.definitions import ProgrammeDefinition, StageDefinition
from crm.workflow.models import Enrollment

CARDS_PER_COLUMN = 20


@dataclass
class Card:
    enrollment_id: int
    startup_id: int
    startup_name: str
    country: str
    owner_name: str | None
    stage_entered_at: datetime
    due_at: datetime | None


@dataclass
class Column:
    stage: StageDefinition
    count: int = 0
    cards: list[Card] = field(default_factory=list)


def active_programmes(db: Session) -> list[Programme]:
    return list(db.scalars(select(Programme).where(Programme.is_active).order_by(Programme.id)))


def board(db: Session, programme: Programme, definition: ProgrammeDefinition,
          per_column: int = CARDS_PER_COLUMN) -> list[Column]:
    """Open enrollments in their stages; closed ones in the closing stage they ended in."""
    columns = {stage.key: Column(stage) for stage in definition.stages}
    terminal_stages = [stage.key for stage in definition.stages if stage.closes_as]
    on_board = (
        Enrollment.programme_id == programme.id,
        or_(Enrollment.status == EnrollmentStatus.OPEN, Enrollment.stage.in_(terminal_stages)),
    )
    counts = db.execute(
        select(Enrollment.stage, func.count()).where(*on_board).group_by(Enrollment.stage)
    ).all()
    for stage, count in counts:
        if stage in columns:
            columns[stage].count = count
    ranked = (
        select(
            Enrollment.id.label("enrollment_id"),
            Enrollment.stage,
            Enrollment.stage_entered_at,
            Enrollment.due_at,
            Startup.id.label("startup_id"),
            Startup.name.label("startup_name"),
            Startup.country,
            User.name.label("owner_name"),
            func.row_number()
            .over(partition_by=Enrollment.stage, order_by=(Enrollment.stage_entered_at,
                                                           Enrollment.id))
            .label("position"),
        )
        .join(Startup, Startup.id == Enrollment.startup_id)
        .outerjoin(User, User.id == Startup.owner_id)
        .where(*on_board)
        .subquery()
    )
    for row in db.execute(select(ranked).where(ranked.c.position <= per_column)
                          .order_by(ranked.c.stage, ranked.c.position)).mappings():
        if row["stage"] in columns:
            columns[row["stage"]].cards.append(Card(
                enrollment_id=row["enrollment_id"], startup_id=row["startup_id"],
                startup_name=row["startup_name"], country=row["country"],
                owner_name=row["owner_name"], stage_entered_at=row["stage_entered_at"],
                due_at=row["due_at"],
            ))
    return list(columns.values())


# Programme administration ------------------------------------------------------------------


@dataclass
class VersionRow:
    version: ProgrammeVersion
    loaded_by: str | None  # the admin's name; None when loaded by `crm programmes load`
    open_enrollments: int


def all_programmes(db: Session) -> list[Programme]:
    return list(db.scalars(select(Programme).order_by(Programme.is_active.desc(),
                                                      Programme.id)))


def open_enrollments_per_version(db: Session) -> dict[int, dict[int, int]]:
    """Programme id -> {version number: open enrollments}, for every programme in one query."""
    rows = db.execute(
        select(ProgrammeVersion.programme_id, ProgrammeVersion.number, func.count())
        .join(Enrollment, Enrollment.programme_version_id == ProgrammeVersion.id)
        .where(Enrollment.status == EnrollmentStatus.OPEN)
        .group_by(ProgrammeVersion.programme_id, ProgrammeVersion.number)
    ).all()
    counts: dict[int, dict[int, int]] = {}
    for programme_id, number, count in rows:
        counts.setdefault(programme_id, {})[number] = count
    return {programme_id: dict(sorted(per_version.items()))
            for programme_id, per_version in counts.items()}


def programme_versions(db: Session, programme_id: int) -> list[VersionRow]:
    """The programme's versions, newest first, with who loaded them and their open enrollments."""
    open_counts = (
        select(Enrollment.programme_version_id, func.count().label("open_enrollments"))
        .where(Enrollment.programme_id == programme_id,
               Enrollment.status == EnrollmentStatus.OPEN)
        .group_by(Enrollment.programme_version_id)
        .subquery()
    )
    rows = db.execute(
        select(ProgrammeVersion, User.name,
               func.coalesce(open_counts.c.open_enrollments, 0))
        .outerjoin(User, User.id == ProgrammeVersion.created_by_id)
        .outerjoin(open_counts, open_counts.c.programme_version_id == ProgrammeVersion.id)
        .where(ProgrammeVersion.programme_id == programme_id)
        .order_by(ProgrammeVersion.number.desc())
    ).all()
    return [VersionRow(version, name, count) for version, name, count in rows]


def open_enrollments_per_stage(db: Session, version_id: int) -> dict[str, int]:
    """Stage key -> open enrollments on this version in that stage."""
    rows = db.execute(
        select(Enrollment.stage, func.count())
        .where(Enrollment.programme_version_id == version_id,
               Enrollment.status == EnrollmentStatus.OPEN)
        .group_by(Enrollment.stage)
    ).all()
    return dict(rows)

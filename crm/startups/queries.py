"""Reads for the startup pages: keyset-paginated lists and one startup with what hangs off it."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_, select
from sqlmodel import Session

from crm.core.enums import EnrollmentStatus, StartupStatus
from crm.programmes.models import Programme, ProgrammeVersion
from crm.startups.models import Activity, Contact, Startup, StartupSector, StartupTag, Task
from crm.users.models import User
from crm.workflow.definitions import ProgrammeDefinition
from crm.workflow.models import Enrollment

PAGE_SIZE = 50
COUNT_CAP = 10_000


@dataclass
class StartupRow:
    startup: Startup
    owner_name: str | None


@dataclass
class StartupPage:
    rows: list[StartupRow]
    next_after_id: int | None
    total: int
    total_capped: bool


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_startups(
    db: Session,
    *,
    search: str = "",
    status: StartupStatus | None = None,
    after_id: int | None = None,
    page_size: int = PAGE_SIZE,
) -> StartupPage:
    """One page ordered by (name, id), continuing after startup `after_id`; count capped."""
    conditions = []
    if search:
        pattern = f"%{_escape_like(search)}%"
        conditions.append(or_(Startup.name.ilike(pattern, escape="\\"),
                              Startup.domain.ilike(pattern, escape="\\")))
    if status is not None:
        conditions.append(Startup.status == status)
    query = (
        select(Startup, User.name)
        .outerjoin(User, User.id == Startup.owner_id)
        .where(*conditions)
        .order_by(Startup.name, Startup.id)
        .limit(page_size + 1)
    )
    after = db.get(Startup, after_id) if after_id else None
    if after is not None:
        query = query.where(
            or_(Startup.name > after.name, and_(Startup.name == after.name, Startup.id > after.id))
        )
    found = db.execute(query).all()
    rows = [StartupRow(startup, owner_name) for startup, owner_name in found[:page_size]]
    next_after_id = rows[-1].startup.id if len(found) > page_size else None
    capped = select(Startup.id).where(*conditions).limit(COUNT_CAP + 1).subquery()
    total = db.scalar(select(func.count()).select_from(capped)) or 0
    return StartupPage(rows, next_after_id, min(total, COUNT_CAP), total > COUNT_CAP)


@dataclass
class EnrollmentView:
    enrollment: Enrollment
    programme: Programme
    version: ProgrammeVersion

    @property
    def definition(self) -> ProgrammeDefinition:
        return self.version.parsed


@dataclass
class StartupDetail:
    startup: Startup
    owner: User | None
    sectors: list[str]
    tags: list[str]
    contacts: list[Contact]
    enrollments: list[EnrollmentView]
    activities: list[Activity]
    open_tasks: list[Task]
    authors: dict[int, str] = field(default_factory=dict)


def startup_detail(db: Session, startup_id: int) -> StartupDetail | None:
    startup = db.get(Startup, startup_id)
    if startup is None:
        return None
    owner = db.get(User, startup.owner_id) if startup.owner_id else None
    sectors = db.scalars(select(StartupSector.sector).where(StartupSector.startup_id == startup_id)
                         .order_by(StartupSector.sector)).all()
    tags = db.scalars(select(StartupTag.tag).where(StartupTag.startup_id == startup_id)
                      .order_by(StartupTag.tag)).all()
    contacts = db.scalars(select(Contact).where(Contact.startup_id == startup_id)
                          .order_by(Contact.name)).all()
    enrollments = [
        EnrollmentView(enrollment, programme, version)
        for enrollment, programme, version in db.execute(
            select(Enrollment, Programme, ProgrammeVersion)
            .join(Programme, Programme.id == Enrollment.programme_id)
            .join(ProgrammeVersion, ProgrammeVersion.id == Enrollment.programme_version_id)
            .where(Enrollment.startup_id == startup_id)
            .order_by(Enrollment.status != EnrollmentStatus.OPEN, Programme.name_en)
        ).all()
    ]
    activities = db.scalars(select(Activity).where(Activity.startup_id == startup_id)
                            .order_by(Activity.occurred_at.desc()).limit(20)).all()
    open_tasks = db.scalars(select(Task).where(Task.startup_id == startup_id,
                                               Task.done_at.is_(None))
                            .order_by(Task.due_at)).all()
    author_ids = {a.author_id for a in activities if a.author_id}
    authors = dict(db.execute(select(User.id, User.name).where(User.id.in_(author_ids))).all())
    return StartupDetail(startup, owner, list(sectors), list(tags), list(contacts), enrollments,
                         list(activities), list(open_tasks), authors)


@dataclass
class TaskRow:
    task: Task
    startup_name: str | None


def open_tasks_for(db: Session, assignee_id: int | None, limit: int = 200) -> list[TaskRow]:
    """Open tasks, earliest due first; everyone's when assignee_id is None."""
    query = (
        select(Task, Startup.name)
        .outerjoin(Startup, Startup.id == Task.startup_id)
        .where(Task.done_at.is_(None))
        .order_by(Task.due_at.is_(None), Task.due_at, Task.id)
        .limit(limit)
    )
    if assignee_id is not None:
        query = query.where(Task.assignee_id == assignee_id)
    return [TaskRow(task, name) for task, name in db.execute(query).all()]

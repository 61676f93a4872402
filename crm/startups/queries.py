"""Reads for the startup pages: keyset-paginated lists and one startup with what hangs off it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    cast,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import aliased, defer
from sqlmodel import Session

from crm.core.clock import utcnow
from crm.core.enums import EnrollmentStatus, Role
from crm.documents.models import Document
from crm.programmes.models import Programme, ProgrammeVersion
from crm.startups.access import can_edit_startup
from crm.startups.models import Contact, Startup, StartupSector, StartupTag, Task
from crm.users.models import User
from crm.workflow.definitions import (
    ChecklistItemDefinition,
    ProgrammeDefinition,
    StageDefinition,
)
from crm.workflow.models import ChecklistItem, ChecklistStatus, Enrollment, StageEvent


@dataclass
class ChecklistRow:
    item: ChecklistItem
    declared: ChecklistItemDefinition
    document: Document | None
    settled_by_name: str | None
    dependencies: list[ChecklistItemDefinition] = field(default_factory=list)

    def dependency_labels(self, locale: str) -> list[str]:
        return [dependency.label(locale) for dependency in self.dependencies]

    @property
    def document_kb(self) -> int:
        return -(-self.document.size_bytes // 1024) if self.document else 0


@dataclass
class EnrollmentView:
    enrollment: Enrollment
    programme: Programme
    version: ProgrammeVersion
    checklist: list[ChecklistRow] = field(default_factory=list)
    closed_from: str | None = None  # the stage a closed enrollment was closed from

    @property
    def definition(self) -> ProgrammeDefinition:
        return self.version.parsed

    @property
    def is_open(self) -> bool:
        return self.enrollment.status == EnrollmentStatus.OPEN

    @property
    def stage(self) -> StageDefinition | None:
        return next((s for s in self.definition.stages if s.key == self.enrollment.stage), None)

    @property
    def stage_path(self) -> list[tuple[StageDefinition, str]]:
        """The active stages as "done", "current" or "next"; a closing stage ends a closed path."""
        active = self.definition.active_stages()
        keys = [stage.key for stage in active]
        reached = self.enrollment.stage if self.is_open else self.closed_from
        position = keys.index(reached) if reached in keys else -1
        if self.is_open:
            return [(stage, "done" if i < position else "current" if i == position else "next")
                    for i, stage in enumerate(active)]
        path = [(stage, "done" if i <= position else "next") for i, stage in enumerate(active)]
        if self.stage is not None:
            path.append((self.stage, "current"))
        return path

    @property
    def move_targets(self) -> list[tuple[StageDefinition, str]]:
        """Where it may move ("forward" or "back"); ending goes through the close form."""
        if not self.is_open:
            return []
        definition = self.definition
        keys = definition.stage_keys()
        here = keys.index(self.enrollment.stage) if self.enrollment.stage in keys else 0
        return [(definition.stage(key), "forward" if keys.index(key) > here else "back")
                for key in definition.allowed_targets(self.enrollment.stage)
                if not definition.stage(key).closes_as]

    @property
    def closing_outcomes(self) -> list[str]:
        if not self.is_open:
            return []
        allowed = set(self.definition.allowed_targets(self.enrollment.stage))
        return [stage.closes_as for stage in self.definition.stages
                if stage.closes_as and stage.key in allowed]

    @property
    def settled_count(self) -> int:
        return sum(1 for row in self.checklist if row.item.status != ChecklistStatus.OPEN)


@dataclass
class StartupDetail:
    startup: Startup
    owner: User | None
    sectors: list[str]
    tags: list[str]
    contacts: list[Contact]
    enrollments: list[EnrollmentView]
    tasks: list[TaskLine]  # open ones, then the most recently done
    assignees: list[User]  # active staff who may work on it, by name


def startup_detail(db: Session, startup_id: int) -> StartupDetail | None:
    """The startup and all its page shows, in a fixed number of queries (none per enrollment)."""
    found = _startup_with_parts(db, startup_id)
    if found is None:
        return None
    startup, sectors, tags, contacts, staff = found
    owner = next((user for user in staff if user.id == startup.owner_id), None)
    assignees = [user for user in staff if user.is_active and can_edit_startup(user, startup)]
    # A closed enrollment's path ends at the stage it was closed from: its last entry's origin.
    closed_from = (select(StageEvent.from_stage)
                   .where(StageEvent.enrollment_id == Enrollment.id,
                          StageEvent.to_stage == Enrollment.stage)
                   .order_by(StageEvent.occurred_at.desc(), StageEvent.id.desc())
                   .limit(1).correlate(Enrollment).scalar_subquery())
    enrollments = [
        EnrollmentView(enrollment, programme, version, closed_from=from_stage)
        for enrollment, programme, version, from_stage in db.execute(
            select(Enrollment, Programme, ProgrammeVersion,
                   case((Enrollment.status != EnrollmentStatus.OPEN, closed_from)))
            .join(Programme, Programme.id == Enrollment.programme_id)
            .join(ProgrammeVersion, ProgrammeVersion.id == Enrollment.programme_version_id)
            .where(Enrollment.startup_id == startup_id)
            .options(defer(ProgrammeVersion.source_text))
            .order_by(Enrollment.status != EnrollmentStatus.OPEN, Programme.name_en,
                      Enrollment.id.desc())
        ).all()
    ]
    if enrollments:
        _attach_checklists(db, enrollments)
    return StartupDetail(startup, owner, sectors, tags, contacts, enrollments,
                         startup_tasks(db, startup_id), assignees)


def _label_arms(startup_id: int) -> tuple[Select, Select]:
    return (select(literal("sector").label("kind"), StartupSector.sector.label("value"))
            .where(StartupSector.startup_id == startup_id),
            select(literal("tag").label("kind"), StartupTag.tag.label("value"))
            .where(StartupTag.startup_id == startup_id))


def _sorted_labels(rows) -> tuple[list[str], list[str]]:
    return (sorted((value for kind, value in rows if kind == "sector"), key=str.casefold),
            sorted((value for kind, value in rows if kind == "tag"), key=str.casefold))


def sectors_and_tags(db: Session, startup_id: int) -> tuple[list[str], list[str]]:
    """The startup's sectors and tags in one query, each sorted regardless of case."""
    return _sorted_labels(db.execute(union_all(*_label_arms(startup_id))).all())


def _startup_with_parts(db: Session, startup_id: int) -> tuple[
        Startup, list[str], list[str], list[Contact], list[User]] | None:
    """The startup with its sectors, tags, contacts (by name) and the staff who may work on it
    or own it (by name): one query, a row per part."""
    nothing = cast(null(), Integer)
    parts = union_all(
        *(arm.add_columns(nothing.label("contact_id"), nothing.label("user_id"))
          for arm in _label_arms(startup_id)),
        select(literal("contact").label("kind"), Contact.name.label("value"),
               Contact.id.label("contact_id"), nothing.label("user_id"))
        .where(Contact.startup_id == startup_id),
        select(literal("staff").label("kind"), User.name.label("value"),
               nothing.label("contact_id"), User.id.label("user_id"))
        .where(Startup.id == startup_id, _staff(Startup.owner_id, including_owner=True)),
    ).subquery()
    rows = db.execute(
        select(Startup, parts.c.kind, parts.c.value, Contact, User)
        .select_from(Startup)
        .outerjoin(parts, true())
        .outerjoin(Contact, Contact.id == parts.c.contact_id)
        .outerjoin(User, User.id == parts.c.user_id)
        .where(Startup.id == startup_id)
        .order_by(parts.c.kind, parts.c.value, parts.c.contact_id, parts.c.user_id)
    ).all()
    if not rows:
        return None
    sectors, tags = _sorted_labels([(kind, value) for _s, kind, value, _c, _u in rows])
    return (rows[0][0], sectors, tags, [contact for *_, contact, _u in rows if contact],
            [user for *_, user in rows if user])


@dataclass
class TaskLine:
    task: Task
    assignee_name: str | None


def startup_tasks(db: Session, startup_id: int, limit: int = 100,
                  done_within: timedelta = timedelta(days=30)) -> list[TaskLine]:
    """The startup's open tasks (earliest due first), then those done lately: one query."""
    rows = db.execute(
        select(Task, User.name).outerjoin(User, User.id == Task.assignee_id)
        .where(Task.startup_id == startup_id,
               or_(Task.done_at.is_(None), Task.done_at > utcnow() - done_within))
        .order_by(Task.done_at.is_not(None), Task.done_at.desc(), Task.due_at.is_(None),
                  Task.due_at, Task.id)
        .limit(limit)).all()
    return [TaskLine(task, name) for task, name in rows]


def possible_assignees(db: Session, startup: Startup) -> list[User]:
    """Active staff who may work on the startup, by name: one query."""
    return list(db.scalars(select(User).where(_staff(cast(literal(startup.owner_id), Integer)))
                           .order_by(User.name)))


def _staff(owner_id: ColumnElement[int | None], *,
           including_owner: bool = False) -> ColumnElement[bool]:
    """Active managers and admins, and the startup's BD manager (any, if it has no owner);
    with `including_owner`, its owner whatever they are."""
    condition = and_(User.is_active, or_(
        User.role.in_([Role.ADMIN, Role.MANAGER]),
        and_(User.role == Role.BD_MANAGER, or_(owner_id.is_(None), User.id == owner_id))))
    return or_(condition, User.id == owner_id) if including_owner else condition


def _attach_checklists(db: Session, enrollments: list[EnrollmentView]) -> None:
    """Every enrollment's checklist with its evidence documents and who settled: one query."""
    by_id = {view.enrollment.id: view for view in enrollments}
    settled_by = aliased(User)
    rows = db.execute(
        select(ChecklistItem, Document, settled_by.name)
        .outerjoin(Document, Document.id == ChecklistItem.evidence_document_id)
        .outerjoin(settled_by, settled_by.id == ChecklistItem.settled_by_id)
        .where(ChecklistItem.enrollment_id.in_(by_id))
    ).all()
    items: dict[int, dict[str, tuple]] = {}
    for item, document, settled_by_name in rows:
        items.setdefault(item.enrollment_id, {})[item.key] = (item, document, settled_by_name)
    for enrollment_id, view in by_id.items():
        found = items.get(enrollment_id, {})
        definition = view.definition
        view.checklist = []
        # In the order the programme declares; items a newer version dropped are not shown.
        for declared in definition.checklist:
            if declared.key in found:
                item, document, settled_by_name = found[declared.key]
                dependencies = [definition.checklist_item(key) for key in declared.depends_on]
                view.checklist.append(
                    ChecklistRow(item, declared, document, settled_by_name, dependencies))

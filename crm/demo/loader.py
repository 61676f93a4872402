"""Load the demo data: idempotent by natural keys; it flushes, the caller commits.

Every enrollment's history is made by the workflow engine with back-dated `now` values: its
gates are met the real way (startup fields, a contact with an email address, enrollment fields,
settled checklist items) and its on-enter actions create their tasks and queue their emails
(to .example addresses: they stay in the outbox). Runs inside an app context, because the
engine renders those emails with Flask's templates.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlmodel import Session

from crm.core.clock import utcnow
from crm.core.enums import EnrollmentStatus, Language, StartupStatus
from crm.demo.applications import load_demo_applications
from crm.demo.data import (
    CHECKLIST_NOTES,
    CLOSE_REASONS,
    CONSENT_TEXT_VERSION,
    CONTACT_NAMES,
    CONTACT_ROLES,
    DEMO_PASSWORD,
    DEMO_STARTUPS,
    DEMO_USERS,
    DONE_TASKS,
    FOLLOW_UP_ACTIVITIES,
    FOUNDER_ROLE,
    FUNDING_PROFILES,
    KNOWN_FIRM_CONTACT,
    OPEN_TASK_FALLBACK,
    OPEN_TASKS,
    ORIGIN_ACTIVITY,
    OWNER_BY_COUNTRY,
    PHONE_FORMATS,
    REFERRED_BY,
    REFERRED_BY_DEFAULT,
    SOURCES,
    WAIVED_NOTES,
    DemoStartup,
)
from crm.programmes.models import Programme
from crm.programmes.services import load_directory
from crm.reports.periods import week_of
from crm.reports.sending import queue_weekly_reports
from crm.startups.models import Activity, Contact, Startup, StartupSector, StartupTag, Task
from crm.startups.search import refresh_search_fields
from crm.users.models import User
from crm.users.services import create_user, find_by_email
from crm.workflow import engine
from crm.workflow.calendar import BERLIN, add_working_days
from crm.workflow.definitions import ProgrammeDefinition
from crm.workflow.engine import Actor
from crm.workflow.models import ChecklistItem, ChecklistStatus, Enrollment

# Each startup draws from its own Random(SEED:domain): the same data whatever exists already.
SEED = 2026
DORMANT_AFTER = timedelta(days=45)
# The stage in which the landing checklist is worked through (in every demo programme).
LANDING_STAGE = "landing_support"
OVERDUE_SHARE = 0.25  # of the open enrollments, past their stage's SLA
WAIVED_SHARE = 0.12  # of the settled items that the desk may waive
STALE_TASK_AFTER = timedelta(days=14)  # overdue this long: most owners have done it
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass
class Settlement:
    """A checklist item settled at a moment, with its evidence."""

    key: str
    at: datetime
    status: ChecklistStatus
    note: str | None
    expires_at: datetime | None


@dataclass
class EnrollmentPlan:
    """The stages an enrollment enters and when (the last one is where it is now), and the
    checklist items settled on the way."""

    programme: Programme
    definition: ProgrammeDefinition
    path: list[str]
    times: list[datetime]
    settlements: list[Settlement]
    close_reason: str | None

    @property
    def status(self) -> EnrollmentStatus:
        closes_as = self.definition.stage(self.path[-1]).closes_as
        return EnrollmentStatus(closes_as) if closes_as else EnrollmentStatus.OPEN


def load_demo_data(session: Session) -> str:
    """Add whatever part of the demo data is missing and say what there is."""
    now = utcnow().replace(second=0, microsecond=0)
    loaded = load_directory(session)
    programmes = {result.programme.key: result.programme for result in loaded}
    definitions = {result.programme.key: result.version.parsed for result in loaded}
    users = _ensure_users(session)
    domains = [spec.domain for spec in DEMO_STARTUPS]
    existing = set(session.scalars(select(Startup.domain).where(Startup.domain.in_(domains))))
    missing = [spec for spec in DEMO_STARTUPS if spec.domain not in existing]
    for spec in missing:
        _create_startup(session, spec, programmes, definitions, users, now)
    session.flush()
    applications = load_demo_applications(session, programmes, now)
    # Last week's report in the outbox, so the demo shows what Monday's email looks like.
    settings = current_app.config["SETTINGS"]
    reports = queue_weekly_reports(session, settings, week_of(now, settings.timezone).previous(),
                                   now)
    created, kept = len(missing), len(DEMO_STARTUPS) - len(missing)
    return (f"demo data: {len(programmes)} programmes, {len(users)} users, "
            f"{len(DEMO_STARTUPS)} startups (created {created}, kept {kept}), "
            f"{applications} applications, weekly reports {reports}")


def _ensure_users(session: Session) -> dict[str, User]:
    """The demo users by email, created through the account service when missing, with their
    reminder and weekly-report preferences."""
    users = {}
    for spec in DEMO_USERS:
        user = find_by_email(session, spec.email)
        if user is None:
            user = create_user(session, email=spec.email, name=spec.name, role=spec.role,
                               password=DEMO_PASSWORD, locale=spec.locale)
            user.reminder_delivery = spec.reminder_delivery
            user.weekly_report = spec.weekly_report
        users[spec.email] = user
    return users


def _create_startup(
    session: Session, spec: DemoStartup, programmes: dict[str, Programme],
    definitions: dict[str, ProgrammeDefinition], users: dict[str, User], now: datetime,
) -> None:
    rng = random.Random(f"{SEED}:{spec.domain}")  # noqa: S311 (demo data, not secrets)
    owner = users[OWNER_BY_COUNTRY[spec.country]] if spec.assigned else None
    plans = [_plan_enrollment(rng, spec, programmes[key], definitions[key], now)
             for key in spec.programmes]
    if plans:  # known for a while before the first enrollment
        first_seen = min(plan.times[0] for plan in plans) - _days(rng.uniform(0, 30))
    else:  # most fresh leads came in recently
        first_seen = now - _days(1 + 74 * rng.random() ** 2)
    source, source_detail = SOURCES[spec.source]
    startup = Startup(
        name=spec.name, website=f"https://{spec.domain}", domain=spec.domain,
        country=spec.country, city=spec.city, description=spec.description, source=source,
        source_detail=source_detail, owner_id=owner.id if owner else None,
        status=_startup_status(plans, first_seen, now),
        owner_assigned_at=first_seen if owner else None,
        created_at=first_seen, updated_at=first_seen, **_profile(rng, spec, now),
    )
    session.add(startup)
    session.flush()
    stamps = {"created_at": first_seen, "updated_at": first_seen}
    session.add_all(StartupSector(startup_id=startup.id, sector=sector, **stamps)
                    for sector in spec.sectors)
    session.add_all(StartupTag(startup_id=startup.id, tag=tag, **stamps) for tag in spec.tags)
    session.add_all(_contacts(rng, spec, startup.id, first_seen, now))
    session.flush()  # the gates look for a contact with an email address
    refresh_search_fields(session, startup)
    for plan in plans:
        _run_enrollment(session, rng, spec, plan, startup, owner, now)
    session.add_all(_activities(rng, spec, startup, now))
    if owner:
        session.add_all(_done_tasks(rng, startup.id, owner.id, first_seen, now))


# Planning: which stages, when, and which checklist items -----------------------------------


def _plan_enrollment(rng: random.Random, spec: DemoStartup, programme: Programme,
                     definition: ProgrammeDefinition, now: datetime) -> EnrollmentPlan:
    path = _plan_path(rng, spec, definition)
    times = _plan_times(rng, definition, path, now)
    settlements = _plan_checklist(rng, definition, path, times, now)
    plan = EnrollmentPlan(programme, definition, path, times, settlements, None)
    if plan.status != EnrollmentStatus.OPEN:
        plan.close_reason = rng.choice(CLOSE_REASONS[plan.status])
    return plan


def _plan_path(rng: random.Random, spec: DemoStartup,
               definition: ProgrammeDefinition) -> list[str]:
    """Through the active stages in order: open at one of them, landed, or lost on the way."""
    flow = [stage.key for stage in definition.active_stages()]
    won = [stage.key for stage in definition.stages if stage.closes_as == "landed"]
    lost = [stage.key for stage in definition.stages
            if stage.closes_as in ("withdrawn", "rejected")]
    roll = rng.random()
    if spec.stage:
        path = flow[: flow.index(spec.stage) + 1]
    elif roll < 0.18 and won:
        path = [*flow, won[0]]
    elif roll < 0.33 and lost:
        path = [*flow[: rng.randint(1, len(flow) - 1)], rng.choice(lost)]
    else:
        path = flow[: rng.randint(1, len(flow))]
    if spec.source == "web":  # a web enquiry takes the declared shortcuts (straight to intake)
        for transition in definition.transitions:
            start, end = transition.from_stage, transition.to_stage
            if start in path and end in path and path.index(end) > path.index(start) + 1:
                path = path[: path.index(start) + 1] + path[path.index(end):]
    return path


def _plan_times(rng: random.Random, definition: ProgrammeDefinition, path: list[str],
                now: datetime) -> list[datetime]:
    """When each stage was entered, backwards from the last: stays scatter around the SLA."""
    current = definition.stage(path[-1])
    if current.closes_as:
        entered = now - _days(rng.uniform(2, 150))
    else:
        sla = current.sla_working_days or 10
        if rng.random() < OVERDUE_SHARE:
            entered = now - _days(sla * 1.5 + rng.uniform(1, 10))
            while add_working_days(entered, sla) > now:
                entered -= timedelta(days=1)
        else:  # fewer calendar days than the SLA's working days: still within it
            entered = now - _days(sla * rng.uniform(0.05, 0.9))
    times = [entered]
    for key in reversed(path[:-1]):
        typical = definition.stage(key).sla_working_days or 10
        times.insert(0, times[0] - _days(typical * rng.uniform(0.2, 1.3)))
    return times


def _plan_checklist(rng: random.Random, definition: ProgrammeDefinition, path: list[str],
                    times: list[datetime], now: datetime) -> list[Settlement]:
    """During landing support some items get done; a landed enrollment has them all.

    What the landing stage's gate demands is settled while the startup is still qualifying."""
    if LANDING_STAGE not in path or not definition.checklist:
        return []
    position = path.index(LANDING_STAGE)
    landed = definition.stage(path[-1]).closes_as == EnrollmentStatus.LANDED
    start = times[position]
    end = times[position + 1] if position + 1 < len(times) else now
    gate = definition.with_dependencies(definition.stage(LANDING_STAGE).gate.checklist)
    order = _shuffled_in_dependency_order(rng, definition)
    order = [key for key in order if key in gate] + [key for key in order if key not in gate]
    count = len(order) if landed else max(len(gate), rng.randint(2, len(order) - 2))
    before = sorted(_between(rng, times[position - 1], start - timedelta(minutes=1))
                    for _ in gate)
    during = sorted(_between(rng, start, end - timedelta(minutes=1))
                    for _ in range(count - len(gate)))
    return [_settlement(rng, definition, key, at)
            for key, at in zip(order[:count], before + during, strict=True)]


def _shuffled_in_dependency_order(rng: random.Random,
                                  definition: ProgrammeDefinition) -> list[str]:
    """The checklist in a random order in which every item follows what it depends on."""
    remaining = [item.key for item in definition.checklist]
    order: list[str] = []
    while remaining:
        ready = [key for key in remaining
                 if set(definition.checklist_item(key).depends_on) <= set(order)]
        order.append(rng.choice(ready))
        remaining.remove(order[-1])
    return order


def _settlement(rng: random.Random, definition: ProgrammeDefinition, key: str,
                at: datetime) -> Settlement:
    if key in WAIVED_NOTES and rng.random() < WAIVED_SHARE:
        return Settlement(key, at, ChecklistStatus.WAIVED, WAIVED_NOTES[key], None)
    note = None
    if key in CHECKLIST_NOTES and rng.random() < 0.6:
        local = at.astimezone(BERLIN)
        note = rng.choice(CHECKLIST_NOTES[key]).format(
            date=f"{local.day} {MONTHS[local.month - 1]}")
    expires_at = (at + timedelta(days=365 * rng.choice((1, 2)))
                  if definition.checklist_item(key).expires else None)
    return Settlement(key, at, ChecklistStatus.DONE, note, expires_at)


def _days(days: float) -> timedelta:
    """Whole minutes, at least one (stage stays and ages are never empty)."""
    return timedelta(minutes=max(1, int(days * 24 * 60)))


def _startup_status(plans: list[EnrollmentPlan], first_seen: datetime,
                    now: datetime) -> StartupStatus:
    statuses = {plan.status for plan in plans}
    if EnrollmentStatus.LANDED in statuses:
        return StartupStatus.LANDED
    if EnrollmentStatus.OPEN in statuses:
        return StartupStatus.ACTIVE
    if statuses:
        return StartupStatus.LOST
    return StartupStatus.DORMANT if now - first_seen > DORMANT_AFTER else StartupStatus.LEAD


# Playing the plan through the engine ------------------------------------------------------


def _run_enrollment(session: Session, rng: random.Random, spec: DemoStartup,
                    plan: EnrollmentPlan, startup: Startup, owner: User | None,
                    now: datetime) -> None:
    """Enroll, then settle items and move stages in time order, all through the engine."""
    actor = Actor.user(owner) if owner else Actor.system()
    enrollment = engine.enroll(session, startup=startup, programme=plan.programme, actor=actor,
                               stage=plan.path[0], now=plan.times[0])
    for declared in plan.definition.fields:
        if declared.key == "referred_by":
            engine.set_field(session, enrollment, declared.key,
                             REFERRED_BY.get(spec.source, REFERRED_BY_DEFAULT), actor)
    items = {item.key: item for item in session.scalars(
        select(ChecklistItem).where(ChecklistItem.enrollment_id == enrollment.id))}
    # At the same minute an item is settled before a move, whose gate may need it.
    steps = sorted(
        [(settlement.at, 0, settlement) for settlement in plan.settlements]
        + [(at, 1, stage) for stage, at in zip(plan.path[1:], plan.times[1:], strict=True)],
        key=lambda step: step[:2],
    )
    for at, _kind, step in steps:
        if isinstance(step, Settlement):
            engine.settle_checklist_item(session, items[step.key], step.status, actor,
                                         note=step.note, expires_at=step.expires_at, now=at)
        elif closes_as := plan.definition.stage(step).closes_as:
            engine.close(session, enrollment, EnrollmentStatus(closes_as), actor,
                         reason=plan.close_reason, now=at)
        else:
            engine.move(session, enrollment, step, actor, now=at)
    _date_back(session, rng, plan, enrollment, items, startup, owner, now)


def _date_back(session: Session, rng: random.Random, plan: EnrollmentPlan,
               enrollment: Enrollment, items: dict[str, ChecklistItem], startup: Startup,
               owner: User | None, now: datetime) -> None:
    """Give the rows the engine wrote their historical times; finish the tasks of past stages.

    Stage events, due dates and settlements already carry the back-dated `now`; what is left
    are the created/updated stamps, which the database sets to the real time."""
    last_change = max([plan.times[-1], *(settlement.at for settlement in plan.settlements)])
    enrollment.created_at, enrollment.updated_at = plan.times[0], last_change
    for item in items.values():
        item.created_at, item.updated_at = plan.times[0], item.settled_at or plan.times[0]
    # The on-enter tasks, in the order of the stages that created them.
    entered = [(at, plan.times[index + 1] if index + 1 < len(plan.times) else None)
               for index, (key, at) in enumerate(zip(plan.path, plan.times, strict=True))
               if plan.definition.stage(key).on_enter.task]
    tasks = session.scalars(select(Task).where(Task.enrollment_id == enrollment.id)
                            .order_by(Task.id)).all()
    for task, (created_at, left_at) in zip(tasks, entered, strict=True):
        if left_at is not None:  # the stage is behind it: its task was done on the way
            task.done_at = _between(rng, created_at, left_at)
        elif rng.random() < (0.85 if task.due_at < now - STALE_TASK_AFTER else 0.35):
            task.done_at = _between(rng, created_at, now)
        task.created_at, task.updated_at = created_at, task.done_at or created_at
    current = plan.definition.stage(plan.path[-1])
    if plan.status == EnrollmentStatus.OPEN and owner and not current.on_enter.task:
        # The owner's own next step where the stage brings none.
        session.add(Task(
            title=rng.choice(OPEN_TASKS.get(current.key, OPEN_TASK_FALLBACK)),
            startup_id=startup.id, enrollment_id=enrollment.id,
            assignee_id=owner.id, created_by_id=owner.id,
            due_at=max(enrollment.due_at - timedelta(days=rng.randint(0, 3)),
                       plan.times[-1] + timedelta(days=1)),
            created_at=plan.times[-1], updated_at=plan.times[-1],
        ))


# Startups, contacts, activities ------------------------------------------------------------


def _profile(rng: random.Random, spec: DemoStartup, now: datetime) -> dict:
    """Founding year, team size and funding stage; left empty for real firms."""
    if spec.known:
        return {}
    funding_stage = rng.choice(list(FUNDING_PROFILES))
    (smallest, largest), (youngest, oldest) = FUNDING_PROFILES[funding_stage]
    return {
        "founded_year": now.year - rng.randint(youngest, oldest),
        "team_size": rng.randint(smallest, largest),
        "funding_stage": funding_stage,
    }


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A whole minute between start and end (start when end is not later)."""
    minutes = int((end - start).total_seconds() // 60)
    return start + timedelta(minutes=rng.randint(0, max(minutes, 0)))


def _contacts(rng: random.Random, spec: DemoStartup, startup_id: int, first_seen: datetime,
              now: datetime) -> list[Contact]:
    """The founders and a colleague or two; for a real firm only its team address."""
    stamps = {"startup_id": startup_id, "created_at": first_seen, "updated_at": first_seen}
    if spec.known:
        name, local_part = KNOWN_FIRM_CONTACT
        return [Contact(name=name, email=f"{local_part}@{spec.domain}", **stamps)]
    people = rng.sample(CONTACT_NAMES[spec.country], rng.randint(1, 3))
    roles = [FOUNDER_ROLE, *rng.sample(CONTACT_ROLES, len(people) - 1)]
    prefix, digits = PHONE_FORMATS[spec.country]
    contacts = []
    for (name, local_part), role in zip(people, roles, strict=True):
        consented = rng.random() < 0.6
        contacts.append(Contact(
            name=name, email=f"{local_part}@{spec.domain}", role=role,
            phone=prefix + "".join(rng.choices("0123456789", k=digits)),
            language=Language.DE if rng.random() < 0.2 else Language.EN,
            consent_given_at=_between(rng, first_seen, now) if consented else None,
            consent_text_version=CONSENT_TEXT_VERSION if consented else None,
            **stamps,
        ))
    return contacts


def _activities(rng: random.Random, spec: DemoStartup, startup: Startup,
                now: datetime) -> list[Activity]:
    """Where the lead came from, then a few calls, meetings, visits and notes."""
    origin_kind, origin_subject = ORIGIN_ACTIVITY[startup.source]
    entries = [(origin_kind, origin_subject.format(detail=startup.source_detail),
                startup.created_at)]
    follow_ups = rng.sample(FOLLOW_UP_ACTIVITIES, rng.randint(1, 4) if spec.programmes else 0)
    entries += [(kind, subject, _between(rng, startup.created_at, now))
                for kind, subject in follow_ups]
    return [
        Activity(startup_id=startup.id, kind=kind, subject=subject, occurred_at=occurred_at,
                 author_id=startup.owner_id, created_at=occurred_at, updated_at=occurred_at)
        for kind, subject, occurred_at in entries
    ]


def _done_tasks(rng: random.Random, startup_id: int, owner_id: int, first_seen: datetime,
                now: datetime) -> list[Task]:
    tasks = []
    for title in rng.sample(DONE_TASKS, rng.randint(0, 2)):
        created_at = _between(rng, first_seen, now)
        done_at = _between(rng, created_at, now)
        tasks.append(Task(
            title=title, startup_id=startup_id, assignee_id=owner_id, created_by_id=owner_id,
            due_at=created_at + timedelta(days=7), done_at=done_at,
            created_at=created_at, updated_at=done_at,
        ))
    return tasks

"""Load the demo data: idempotent by natural keys; it flushes, the caller commits."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from crm.core.clock import utcnow
from crm.core.enums import ActorKind, EnrollmentStatus, Language, StartupStatus
from crm.demo.data import (
    CLOSE_REASONS,
    CONSENT_TEXT_VERSION,
    CONTACT_NAMES,
    CONTACT_ROLES,
    DEMO_PASSWORD,
    DEMO_PROGRAMMES,
    DEMO_STARTUPS,
    DEMO_USERS,
    DONE_TASKS,
    FOLLOW_UP_ACTIVITIES,
    FOUNDER_ROLE,
    FUNDING_PROFILES,
    KNOWN_FIRM_CONTACT,
    LOST_STATUS_BY_STAGE,
    OPEN_TASKS,
    ORIGIN_ACTIVITY,
    OWNER_BY_COUNTRY,
    PHONE_FORMATS,
    SOURCES,
    DemoStartup,
)
from crm.programmes.models import Programme
from crm.startups.models import Activity, Contact, Startup, StartupSector, StartupTag, Task
from crm.users.models import User
from crm.users.services import create_user, find_by_email
from crm.workflow.models import Enrollment, StageEvent

# Each startup draws from its own Random(SEED:domain): the same data whatever exists already.
SEED = 2026
DORMANT_AFTER = timedelta(days=45)


@dataclass
class EnrollmentPlan:
    """The stages an enrollment went through and when; the last one is its current stage."""

    programme: Programme
    path: list[str]
    times: list[datetime]
    status: EnrollmentStatus


def load_demo_data(session: Session) -> str:
    """Add whatever part of the demo data is missing and say what there is."""
    now = utcnow().replace(second=0, microsecond=0)
    programmes = _ensure_programmes(session)
    users = _ensure_users(session)
    domains = [spec.domain for spec in DEMO_STARTUPS]
    existing = set(session.scalars(select(Startup.domain).where(Startup.domain.in_(domains))))
    missing = [spec for spec in DEMO_STARTUPS if spec.domain not in existing]
    for spec in missing:
        _create_startup(session, spec, programmes, users, now)
    session.flush()
    created, kept = len(missing), len(DEMO_STARTUPS) - len(missing)
    return (f"demo data: {len(programmes)} programmes, {len(users)} users, "
            f"{len(DEMO_STARTUPS)} startups (created {created}, kept {kept})")


def _ensure_programmes(session: Session) -> dict[str, Programme]:
    programmes = {}
    for spec in DEMO_PROGRAMMES:
        programme = session.scalar(select(Programme).where(Programme.key == spec["key"]))
        if programme is None:
            programme = Programme(**{**spec, "stages": [dict(stage) for stage in spec["stages"]]})
            session.add(programme)
        programmes[programme.key] = programme
    session.flush()
    return programmes


def _ensure_users(session: Session) -> dict[str, User]:
    """The demo users by email, created through the account service when missing."""
    return {
        spec.email: find_by_email(session, spec.email) or create_user(
            session, email=spec.email, name=spec.name, role=spec.role,
            password=DEMO_PASSWORD, locale=spec.locale,
        )
        for spec in DEMO_USERS
    }


def _create_startup(
    session: Session, spec: DemoStartup, programmes: dict[str, Programme],
    users: dict[str, User], now: datetime,
) -> None:
    rng = random.Random(f"{SEED}:{spec.domain}")  # noqa: S311 (demo data, not secrets)
    owner = users[OWNER_BY_COUNTRY[spec.country]] if spec.assigned else None
    owner_id = owner.id if owner else None
    # Enrolled startups are known for weeks or months; most fresh leads came in recently.
    days_known = rng.uniform(14, 300) if spec.programmes else 1 + 74 * rng.random() ** 2
    first_seen = now - timedelta(minutes=int(days_known * 24 * 60))
    plans = [_plan_enrollment(rng, programmes[key], spec.stage, first_seen, now)
             for key in spec.programmes]
    source, source_detail = SOURCES[spec.source]
    startup = Startup(
        name=spec.name, website=f"https://{spec.domain}", domain=spec.domain,
        country=spec.country, city=spec.city, description=spec.description, source=source,
        source_detail=source_detail, owner_id=owner_id,
        status=_startup_status(plans, first_seen, now),
        created_at=first_seen, updated_at=first_seen, **_profile(rng, spec, now),
    )
    session.add(startup)
    session.flush()
    stamps = {"created_at": first_seen, "updated_at": first_seen}
    session.add_all(StartupSector(startup_id=startup.id, sector=sector, **stamps)
                    for sector in spec.sectors)
    session.add_all(StartupTag(startup_id=startup.id, tag=tag, **stamps) for tag in spec.tags)
    session.add_all(_contacts(rng, spec, startup.id, first_seen, now))
    for plan in plans:
        _add_enrollment(session, rng, plan, startup.id, owner_id, now)
    session.add_all(_activities(rng, spec, startup, now))
    if owner_id:
        session.add_all(_done_tasks(rng, startup.id, owner_id, first_seen, now))


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


def _plan_enrollment(
    rng: random.Random, programme: Programme, pinned: str | None, first_seen: datetime,
    now: datetime,
) -> EnrollmentPlan:
    path = _plan_path(rng, programme, pinned)
    start = _between(rng, first_seen, first_seen + (now - first_seen) / 3)
    minutes_since_start = int((now - start).total_seconds() // 60)
    end = now - timedelta(minutes=int(minutes_since_start * rng.uniform(0.02, 0.4)))
    middle = sorted(_between(rng, start, end) for _ in path[2:])
    times = [start, *middle, end][-len(path):]  # a one-stage path was entered at `end`
    return EnrollmentPlan(programme, path, times, _status_of(programme, path[-1]))


def _plan_path(rng: random.Random, programme: Programme, pinned: str | None) -> list[str]:
    """Through the open stages in order: open at one of them, landed, or lost on the way."""
    flow = [stage["key"] for stage in programme.stages if stage["terminal"] is None]
    if pinned:
        return flow[: flow.index(pinned) + 1]
    won = [stage["key"] for stage in programme.stages if stage["terminal"] == "won"]
    lost = [stage["key"] for stage in programme.stages if stage["terminal"] == "lost"]
    roll = rng.random()
    if roll < 0.15 and won:
        return [*flow, won[0]]
    if roll < 0.3 and lost:
        return [*flow[: rng.randint(1, len(flow) - 1)], rng.choice(lost)]
    return flow[: rng.randint(1, len(flow))]


def _status_of(programme: Programme, stage_key: str) -> EnrollmentStatus:
    terminal = next(stage["terminal"] for stage in programme.stages if stage["key"] == stage_key)
    if terminal == "won":
        return EnrollmentStatus.LANDED
    if terminal == "lost":
        return LOST_STATUS_BY_STAGE.get(stage_key, EnrollmentStatus.WITHDRAWN)
    return EnrollmentStatus.OPEN


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


def _add_enrollment(session: Session, rng: random.Random, plan: EnrollmentPlan,
                    startup_id: int, owner_id: int | None, now: datetime) -> None:
    """The enrollment, its stage history and, while it is open, the owner's next task."""
    entered = plan.times[-1]
    is_open = plan.status == EnrollmentStatus.OPEN
    due_at = max(_between(rng, now - timedelta(days=7), now + timedelta(days=21)),
                 entered + timedelta(days=1)) if is_open else None
    enrollment = Enrollment(
        startup_id=startup_id, programme_id=plan.programme.id, stage=plan.path[-1],
        stage_entered_at=entered, due_at=due_at, status=plan.status,
        closed_at=None if is_open else entered,
        close_reason=None if is_open else rng.choice(CLOSE_REASONS[plan.status]),
        created_at=plan.times[0], updated_at=entered,
    )
    session.add(enrollment)
    session.flush()
    session.add_all(_stage_events(plan, enrollment.id, owner_id))
    if is_open and owner_id:
        session.add(Task(
            title=rng.choice(OPEN_TASKS), startup_id=startup_id, enrollment_id=enrollment.id,
            assignee_id=owner_id, created_by_id=owner_id,
            due_at=max(due_at - timedelta(days=rng.randint(0, 3)), entered),
            created_at=entered, updated_at=entered,
        ))


def _stage_events(plan: EnrollmentPlan, enrollment_id: int,
                  owner_id: int | None) -> list[StageEvent]:
    events = []
    previous_stage, previous_time = None, None
    for stage, occurred_at in zip(plan.path, plan.times, strict=True):
        seconds = int((occurred_at - previous_time).total_seconds()) if previous_time else None
        events.append(StageEvent(
            enrollment_id=enrollment_id, from_stage=previous_stage, to_stage=stage,
            actor_kind=ActorKind.USER, actor_user_id=owner_id, occurred_at=occurred_at,
            seconds_in_previous_stage=seconds,
        ))
        previous_stage, previous_time = stage, occurred_at
    return events


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

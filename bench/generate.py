"""The deterministic data generator: an empty database filled at a benchmark scale.

    python -m bench.generate --scale small|agency --seed 42 --database-url URL

The same seed and scale give the same rows: every part draws from its own
`random.Random(f"{seed}:{part}")` and every moment is counted back from `BENCH_NOW`, never
from the clock. The programmes come from their YAML definitions through the app's loader, the
staff through the app's models; the bulk of the rows is planned in Python (histories the
workflow engine would have written, SLA due moments from the NRW working-day calendar, search
text and duplicate keys from `crm.startups.search`) and written in one bulk transaction.
"""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from random import Random

from sqlalchemy import Engine, func, inspect, select, table, text
from sqlmodel import Session

from bench import emails, fake, pipeline, work
from bench.clock import BENCH_NOW, DAY, MINUTE, NOW
from bench.histories import (
    EnrollmentPlan,
    ProgrammePlan,
    build_history,
    choose_outcome,
    pick_overdue,
    spread_detours,
)
from bench.loading import BulkLoad
from bench.scales import SCALES, Scale
from bench.sla import WorkingDays
from bench.staff import StaffMember, create_staff, load_programmes
from bench.startups import (
    CONTACT_COLUMNS,
    SECTOR_COLUMNS,
    STARTUP_COLUMNS,
    TAG_COLUMNS,
    Domains,
    StartupPlan,
    contact_rows,
    date_contacts,
    plan_startup,
    sector_rows,
    startup_rows,
    tag_rows,
)
from crm.config import PROJECT_ROOT
from crm.core.enums import EnrollmentStatus, Role
from crm.db import build_engine
from crm.migrate import upgrade
from crm.users.passwords import hash_password

__all__ = ["BENCH_NOW", "BENCH_PASSWORD", "SCALES", "DatabaseNotEmpty", "GenerationSummary",
           "Scale", "generate"]

#: Every staff user logs in with this password.
BENCH_PASSWORD = "bench-landing-desk-2026"  # noqa: S105 (benchmark data, not a secret)
DATA_DIR = PROJECT_ROOT / "bench" / "data"
LOADED_TABLES = ("startups", "contacts", "startup_sectors", "startup_tags", "enrollments",
                 "stage_events", "checklist_items", "activities", "tasks", "applications",
                 "outbox_messages")
ENROLLMENTS_PER_ENROLLED_STARTUP = 2  # on average: 3 in 4 startups are in a programme
OWNED_ENROLLED, OWNED_LEADS = 0.97, 0.8  # shares of startups that have an owner
LOADED_AT = BENCH_NOW.replace(year=BENCH_NOW.year - 3)  # programmes and staff: before any data
# The startup whose page shows exactly 200 timeline entries: open in the first three programmes
# by key, each (at this active stage, with this many detours) making 20 stage events; 100
# activities; 30 tasks of which 10 are done (a done task is two entries, created and done);
# no emails, no applications.
TIMELINE_ENROLLMENTS = ((3, 8), (1, 9), (3, 8))
TIMELINE_ACTIVITIES = 100
TIMELINE_TASKS = (20, 10)  # open, done


@dataclass
class GenerationSummary:
    scale: str
    seed: int
    seconds: float
    rows: dict[str, int]  # per table
    timeline_startup_id: int  # its page shows exactly 200 timeline entries
    largest_programme: str  # the key of the programme with the most open enrollments
    logins: dict[str, str]  # a staff member's e-mail per role; password BENCH_PASSWORD
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step


class DatabaseNotEmpty(RuntimeError):
    """The generator only fills a database that has no rows yet."""


def generate(database_url: str, scale: Scale, seed: int = 42) -> GenerationSummary:
    """Migrate the empty database at `database_url` to head and fill it at `scale`."""
    started = time.perf_counter()
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = round(time.perf_counter() - started - sum(phases.values()), 2)

    engine = build_engine(database_url)
    try:
        _refuse_non_empty(engine)
        upgrade("head", database_url)
        with Session(engine) as db:
            programmes = load_programmes(db, LOADED_AT)
            staff = create_staff(db, _stream(seed, "staff"), scale.staff,
                                 hash_password(BENCH_PASSWORD), LOADED_AT)
            db.commit()
        phase("migrate")
        world = World.plan(scale, seed, programmes, staff)
        phase("plan")
        with BulkLoad(engine, LOADED_TABLES) as load:
            world.write(load, seed)
            phase("write")
        phase("index_and_analyze")
        rows = _row_counts(engine)
    finally:
        engine.dispose()
    by_role = {member.role: member.email for member in reversed(staff)}
    return GenerationSummary(
        scale=scale.name, seed=seed, seconds=round(time.perf_counter() - started, 2), rows=rows,
        timeline_startup_id=world.timeline.id, largest_programme=world.largest_programme(),
        logins={Role.ADMIN.value: by_role[Role.ADMIN],
                Role.MANAGER.value: by_role[Role.MANAGER],
                Role.BD_MANAGER.value: _email_of(staff, world.timeline.owner_id),
                Role.VIEWER.value: by_role[Role.VIEWER]},
        phases=phases,
    )


def _stream(seed: int, part: str) -> Random:
    """The random numbers of one part of the data: the same for the same seed, whatever the
    other parts draw."""
    return Random(f"{seed}:{part}")  # noqa: S311 (reproducible data, not secrets)


def _refuse_non_empty(engine: Engine) -> None:
    with engine.connect() as connection:
        for name in inspect(connection).get_table_names():
            if name != "alembic_version" and connection.execute(
                    select(text("1")).select_from(table(name)).limit(1)).first():
                raise DatabaseNotEmpty(f"the database has rows (in {name}): give an empty one")


def _row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        names = sorted(set(inspect(connection).get_table_names()) - {"alembic_version"})
        return {name: connection.scalar(select(func.count()).select_from(table(name)))
                for name in names}


def _email_of(staff: list[StaffMember], user_id: int | None) -> str:
    return next(member.email for member in staff if member.id == user_id)


@dataclass
class World:
    """Everything planned, in memory, with its ids; `write` turns it into rows."""

    scale: Scale
    programmes: list[ProgrammePlan]
    staff: list[StaffMember]
    startups: list[StartupPlan]  # the timeline startup first; ids follow creation time
    enrollments: list[EnrollmentPlan]  # in id order
    days: WorkingDays

    @property
    def timeline(self) -> StartupPlan:
        return self.startups[0]

    @classmethod
    def plan(cls, scale: Scale, seed: int, programmes: list[ProgrammePlan],
             staff: list[StaffMember]) -> World:
        rng = _stream(seed, "startups")
        desks = _desks([member.id for member in staff if member.role == Role.BD_MANAGER])
        domains = Domains()
        counts = _enrollment_counts(rng, scale.startups - 1,
                                    scale.enrollments - len(TIMELINE_ENROLLMENTS),
                                    len(programmes))
        startups = [plan_startup(rng, domains, "IN", desks["IN"][0], complete=True)]
        for count in counts:
            country = rng.choices(list(fake.COUNTRY_WEIGHTS),
                                  list(fake.COUNTRY_WEIGHTS.values()))[0]
            owned = rng.random() < (OWNED_ENROLLED if count else OWNED_LEADS)
            startups.append(plan_startup(rng, domains, country,
                                         rng.choice(desks[country]) if owned else None,
                                         complete=count > 0))
        history_rng = _stream(seed, "enrollments")
        for index, (startup, count) in enumerate(zip(startups[1:], counts, strict=True), 1):
            for programme in _programmes_for(rng, programmes, startup.country, count):
                outcome, reached = choose_outcome(history_rng, programme)
                startup.enrollments.append(EnrollmentPlan(
                    programme, index, outcome, reached,
                    by_applicant=_takes_applications(programme) and history_rng.random() < 0.4))
        timeline_programmes = sorted(programmes, key=lambda programme: programme.key)
        timeline_events = 0
        for programme, (reached, detours) in zip(
                timeline_programmes[: len(TIMELINE_ENROLLMENTS)], TIMELINE_ENROLLMENTS,
                strict=True):
            plan = EnrollmentPlan(programme, 0, EnrollmentStatus.OPEN, reached, detours)
            startups[0].enrollments.append(plan)
            timeline_events += plan.minimum_events + 2 * detours
        others = [plan for startup in startups[1:] for plan in startup.enrollments]
        spread_detours(history_rng, others, scale.stage_events, fixed=timeline_events)
        plans = [plan for startup in startups for plan in startup.enrollments]
        pick_overdue(history_rng, plans)
        days = WorkingDays(BENCH_NOW.date().replace(year=BENCH_NOW.year - 6),
                           BENCH_NOW.date().replace(year=BENCH_NOW.year + 3))
        for plan in plans:
            build_history(history_rng, plan, NOW, days)
        for startup in startups:
            if startup.enrollments:
                first = min(plan.times[0] for plan in startup.enrollments)
                startup.created = first - rng.randint(0, 30 * 24 * 60) * MINUTE
            else:
                startup.created = NOW - int(730 * DAY * rng.random() ** 1.6) // MINUTE * MINUTE
            date_contacts(rng, startup)
        _number(startups, plans)
        return cls(scale, programmes, staff, startups, sorted(plans, key=lambda p: p.id), days)

    def largest_programme(self) -> str:
        open_counts = Counter(plan.programme.key for plan in self.enrollments
                              if plan.outcome == EnrollmentStatus.OPEN)
        return open_counts.most_common(1)[0][0]

    def write(self, load: BulkLoad, seed: int) -> None:
        startups, plans, scale = self.startups, self.enrollments, self.scale
        in_order = sorted(startups, key=lambda startup: startup.id)
        load.write("startups", STARTUP_COLUMNS, startup_rows(in_order))
        load.write("contacts", CONTACT_COLUMNS, contact_rows(in_order))
        load.write("startup_sectors", SECTOR_COLUMNS, sector_rows(in_order))
        load.write("startup_tags", TAG_COLUMNS, tag_rows(in_order))
        load.write("enrollments", pipeline.ENROLLMENT_COLUMNS,
                   pipeline.enrollment_rows(plans, startups))
        events = pipeline.stage_events(plans, startups)
        load.write("stage_events", pipeline.STAGE_EVENT_COLUMNS, pipeline.stage_event_rows(events))
        load.write("checklist_items", pipeline.CHECKLIST_COLUMNS,
                   pipeline.checklist_rows(plans, startups, self.days))
        colleagues = [member.id for member in self.staff
                      if member.role in (Role.BD_MANAGER, Role.MANAGER)]
        activities = work.activities(_stream(seed, "activities"), startups, scale.activities,
                                     colleagues, self.timeline, TIMELINE_ACTIVITIES)
        load.write("activities", work.ACTIVITY_COLUMNS, work.activity_rows(activities))
        locales = {member.id: member.locale.value for member in self.staff}
        tasks = work.tasks(_stream(seed, "tasks"), startups, plans, scale.tasks, locales,
                           colleagues, self.days, self.timeline, TIMELINE_TASKS)
        load.write("tasks", work.TASK_COLUMNS, work.task_rows(tasks))
        rng = _stream(seed, "emails")
        drafts = emails.drafts(rng, self.programmes, scale.application_drafts, seed, Domains())
        load.write("applications", emails.APPLICATION_COLUMNS, emails.application_rows(drafts))
        outbox = emails.outbox(rng, scale.outbox_messages, events, startups, self.staff, drafts,
                               self.timeline)
        load.write("outbox_messages", emails.OUTBOX_COLUMNS, emails.outbox_rows(rng, outbox))


def _desks(bd_managers: list[int]) -> dict[str, list[int]]:
    """The BD managers covering each country, more of them for the bigger countries."""
    total = sum(fake.COUNTRY_WEIGHTS.values())
    desks, low = {}, 0.0
    for country, weight in fake.COUNTRY_WEIGHTS.items():
        high = low + weight / total
        covering = [manager for index, manager in enumerate(bd_managers)
                    if low <= (index + 0.5) / len(bd_managers) < high]
        desks[country] = covering or [bd_managers[min(int(low * len(bd_managers)),
                                                      len(bd_managers) - 1)]]
        low = high
    return desks


def _enrollment_counts(rng: Random, startups: int, enrollments: int,
                       programmes: int) -> list[int]:
    """How many programmes each startup is in (0 to all), adding up to `enrollments`."""
    enrolled = min(startups, math.ceil(enrollments / ENROLLMENTS_PER_ENROLLED_STARTUP))
    if enrollments > enrolled * programmes:
        raise ValueError(f"{enrollments} enrollments do not fit {startups} startups")
    counts = [1] * enrolled + [0] * (startups - enrolled)
    extra = enrollments - enrolled
    while extra:
        index = rng.randrange(enrolled)
        if counts[index] < programmes:
            counts[index] += 1
            extra -= 1
    rng.shuffle(counts)
    return counts


def _programmes_for(rng: Random, programmes: list[ProgrammePlan], country: str,
                    count: int) -> list[ProgrammePlan]:
    """`count` different programmes, those focused on the startup's country most likely."""
    def weight(programme: ProgrammePlan) -> int:
        focus = programme.definition.focus_countries
        return 25 if not focus else (45 if country in focus else 5)

    remaining, chosen = list(programmes), []
    for _ in range(count):
        pick = rng.choices(remaining, [weight(programme) for programme in remaining])[0]
        remaining.remove(pick)
        chosen.append(pick)
    return chosen


def _takes_applications(programme: ProgrammePlan) -> bool:
    """Applicants enroll themselves where the public form enrolls at the first stage."""
    definition = programme.definition
    return definition.intake is not None and definition.intake_stage == programme.active[0]


def _number(startups: list[StartupPlan], plans: list[EnrollmentPlan]) -> None:
    """Ids in the order the rows were created, as the app would have given them."""
    for number, startup in enumerate(sorted(startups, key=lambda s: s.created), start=1):
        startup.id = number
    contact_id = 0
    for startup in sorted(startups, key=lambda s: s.id):
        for contact in startup.contacts:
            contact_id += 1
            contact.id = contact_id
    for number, plan in enumerate(sorted(plans, key=lambda p: (p.times[0], p.startup)), start=1):
        plan.id = number


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__
                                     .splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="agency")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database-url", help="an empty database (default: a SQLite file "
                                               "bench/data/<scale>.db)")
    args = parser.parse_args(argv)
    url = args.database_url or f"sqlite:///{DATA_DIR / f'{args.scale}.db'}"
    summary = generate(url, SCALES[args.scale], args.seed)
    print(f"{summary.scale} scale, seed {summary.seed}: {summary.seconds} s "
          f"({', '.join(f'{name} {seconds} s' for name, seconds in summary.phases.items())})")
    for name, count in summary.rows.items():
        if count:
            print(f"  {name:<24} {count:>10,}")
    print(f"  timeline startup id      {summary.timeline_startup_id}")
    print(f"  largest programme        {summary.largest_programme}")
    for role, email in summary.logins.items():
        print(f"  login {role:<18} {email}  (password {BENCH_PASSWORD})")


if __name__ == "__main__":
    main()

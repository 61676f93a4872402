"""Enrollment histories as the workflow engine would have written them.

An enrollment walks its programme's active stages forward one at a time, with detours (one
stage forward and back, or back and forward again: a card dragged the wrong way, a missing
document) that bring the stage events to the scale's count, and ends open in its current
stage, landed after the last active stage, or withdrawn or rejected on the way. The times go
backwards from where it is now: the current stage was entered within its SLA (or, for the
overdue share, so long ago that `due_at <= now`), earlier stays scatter around their stages'
SLAs, detours last hours to days. Gates are met the way the engine demands: a detour never
enters a stage whose gate needs checklist items, and the items the landing stage needs are
settled before it is entered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from random import Random

from bench.clock import DAY, MINUTE
from bench.sla import WorkingDays
from crm.core.enums import EnrollmentStatus
from crm.demo.data import CHECKLIST_NOTES, CLOSE_REASONS, WAIVED_NOTES
from crm.workflow.calendar import BERLIN
from crm.workflow.definitions import ProgrammeDefinition, StageDefinition
from crm.workflow.models import ChecklistStatus

LANDING_STAGE = "landing_support"  # where the landing checklist is worked through
OVERDUE_SHARE = 0.05  # of the open enrollments, exactly (rounded)
# How the enrollments stand: open, or closed one of three ways. A desk's enrollments arrive at
# a steady rate over the years and each is open for a few months, so most are closed; the open
# ones (about 37,500 at agency scale) are this season's pipeline.
OUTCOME_WEIGHTS = {EnrollmentStatus.OPEN: 25, EnrollmentStatus.LANDED: 15,
                   EnrollmentStatus.WITHDRAWN: 35, EnrollmentStatus.REJECTED: 25}
# The active stage an open enrollment is in (or a lost one got to): early ones are crowded.
STAGE_WEIGHTS = (40, 24, 16, 12, 8, 5, 3)
CLOSED_WITHIN_DAYS = 600  # closed enrollments closed evenly over this many days before now
WAIVED_SHARE = 0.12
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass
class ProgrammePlan:
    """A loaded programme, with what the generator asks of its definition again and again."""

    key: str
    id: int
    version_id: int
    definition: ProgrammeDefinition
    stages: dict[str, StageDefinition] = field(init=False)
    active: list[str] = field(init=False)
    closing: dict[str, str] = field(init=False)  # enrollment status -> stage key
    sla_days: dict[str, int] = field(init=False)
    checklist_stage: str | None = field(init=False)  # the stage whose entry starts the checklist
    checklist_order: list[str] = field(init=False)  # every item after those it depends on
    landing_gate: set[str] = field(init=False)  # settled before the landing stage is entered

    def __post_init__(self):
        definition = self.definition
        self.stages = {stage.key: stage for stage in definition.stages}
        self.active = [stage.key for stage in definition.active_stages()]
        self.closing = {stage.closes_as: stage.key for stage in definition.stages
                        if stage.closes_as}
        self.sla_days = {stage.key: stage.sla_working_days or 10 for stage in definition.stages}
        self.checklist_stage = next((stage.key for stage in definition.stages
                                     if stage.on_enter.start_checklist), None)
        self.checklist_order = _dependency_order(definition)
        gate = (definition.stage(LANDING_STAGE).gate.checklist
                if LANDING_STAGE in self.active else [])
        self.landing_gate = definition.with_dependencies(gate)

    def may_detour_into(self, stage: str) -> bool:
        return not self.stages[stage].gate.checklist


@dataclass(slots=True)
class Settlement:
    key: str
    status: ChecklistStatus
    at: int
    note: str | None
    expires_at: int | None


@dataclass(slots=True)
class EnrollmentPlan:
    programme: ProgrammePlan
    startup: int  # index of the startup in the generator's list
    outcome: EnrollmentStatus
    reached: int  # index of the active stage it is in, or got to before closing
    detours: int = 0
    overdue: bool = False
    by_applicant: bool = False  # enrolled through the public form (its first event)
    visits: list[str] = field(default_factory=list)  # stages entered, in order
    times: list[int] = field(default_factory=list)  # when each was entered (epoch seconds)
    close_reason: str | None = None
    due_at: int | None = None
    settlements: list[Settlement] = field(default_factory=list)
    checklist_started_at: int | None = None
    id: int = 0

    @property
    def minimum_events(self) -> int:
        """Stage events without detours: enroll, the moves forward, the closing move."""
        if self.outcome == EnrollmentStatus.LANDED:
            return len(self.programme.active) + 1
        return self.reached + 1 + (self.outcome != EnrollmentStatus.OPEN)

    @property
    def stage(self) -> str:
        return self.visits[-1]

    @property
    def entered_at(self) -> int:
        return self.times[-1]


def choose_outcome(rng: Random, programme: ProgrammePlan) -> tuple[EnrollmentStatus, int]:
    """How an enrollment stands and the active stage it is in or got to."""
    outcome = rng.choices(list(OUTCOME_WEIGHTS), list(OUTCOME_WEIGHTS.values()))[0]
    if outcome != EnrollmentStatus.OPEN and outcome not in programme.closing:
        # e.g. a programme without a "rejected" stage
        outcome = EnrollmentStatus.WITHDRAWN
    last = len(programme.active) - 1
    if outcome == EnrollmentStatus.LANDED:
        return outcome, last
    reached = rng.choices(range(last + 1), STAGE_WEIGHTS[: last + 1])[0]
    return outcome, reached


def spread_detours(rng: Random, plans: list[EnrollmentPlan], stage_events: int,
                   fixed: int = 0) -> None:
    """Give the plans detours so that they make exactly `stage_events` events with the
    `fixed` ones written elsewhere; one open plan steps back a stage if the parity is off."""
    remainder = stage_events - fixed - sum(plan.minimum_events for plan in plans)
    if remainder % 2:
        stepped_back = [plan for plan in plans
                        if plan.outcome == EnrollmentStatus.OPEN and plan.reached > 0]
        rng.choice(stepped_back).reached -= 1
        remainder += 1
    if remainder < 0:
        raise ValueError(f"{stage_events} stage events are too few for {len(plans)} enrollments")
    for index, count in Counter(rng.choices(range(len(plans)), k=remainder // 2)).items():
        plans[index].detours += count


def pick_overdue(rng: Random, plans: list[EnrollmentPlan]) -> None:
    """Exactly OVERDUE_SHARE of the open plans (rounded) will be past their SLA."""
    open_plans = [plan for plan in plans if plan.outcome == EnrollmentStatus.OPEN]
    for plan in rng.sample(open_plans, round(len(open_plans) * OVERDUE_SHARE)):
        plan.overdue = True


def _minutes(rng: Random, low_days: float, high_days: float) -> int:
    """A stay in whole minutes, at least one."""
    return max(MINUTE, int(rng.uniform(low_days, high_days) * DAY) // MINUTE * MINUTE)


def build_history(rng: Random, plan: EnrollmentPlan, now: int, days: WorkingDays) -> None:
    """The stages the enrollment entered and when, its SLA due moment, its checklist."""
    programme = plan.programme
    active = programme.active
    detours_at = Counter(rng.randrange(plan.reached + 1) for _ in range(plan.detours))
    visits: list[str] = []
    main: list[bool] = []  # the last stay at a position, before it moves on, is the long one
    for position in range(plan.reached + 1):
        visits.append(active[position])
        main.append(True)
        for _ in range(detours_at[position]):
            ahead = position + 1 < len(active) and programme.may_detour_into(active[position + 1])
            back = position > 0
            step = 1 if ahead and (not back or rng.random() < 0.5) else -1
            main[-1] = False
            visits += [active[position + step], active[position]]
            main += [False, True]
    if plan.outcome == EnrollmentStatus.LANDED:
        visits.append(programme.closing[EnrollmentStatus.LANDED])
        main.append(True)
    elif plan.outcome != EnrollmentStatus.OPEN:
        visits.append(programme.closing[plan.outcome])
        main.append(True)

    last_stage = visits[-1]
    if plan.outcome != EnrollmentStatus.OPEN:
        anchor = now - _minutes(rng, 1, CLOSED_WITHIN_DAYS)
        plan.close_reason = rng.choice(CLOSE_REASONS[plan.outcome])
    else:
        sla = programme.sla_days[last_stage]
        if plan.overdue:
            anchor = now - _minutes(rng, sla * 1.4 + 1, sla * 1.4 + 25)
            while days.due(anchor, sla) > now:
                anchor -= DAY
        else:  # fewer calendar days than the SLA's working days: still within it
            anchor = now - _minutes(rng, sla * 0.02, sla * 0.9)
        plan.due_at = days.due(anchor, sla)
    times = [anchor]
    for index in range(len(visits) - 2, -1, -1):
        sla = programme.sla_days[visits[index]]
        stay = _minutes(rng, sla * 0.2, sla * 1.3) if main[index] else _minutes(rng, 0.05, 2)
        times.append(times[-1] - stay)
    times.reverse()
    plan.visits, plan.times = visits, times
    if programme.checklist_stage in visits:
        plan.checklist_started_at = times[visits.index(programme.checklist_stage)]
    plan.settlements = _settlements(rng, plan, now)


def _settlements(rng: Random, plan: EnrollmentPlan, now: int) -> list[Settlement]:
    """Items settled around the landing stage: what its gate needs just before it is entered,
    some more while in it, all of them before landing."""
    programme = plan.programme
    if LANDING_STAGE not in plan.visits or not programme.checklist_order:
        return []
    entry = plan.visits.index(LANDING_STAGE)
    entered = plan.times[entry]
    left = plan.times[-1] if plan.outcome != EnrollmentStatus.OPEN else now
    order = ([key for key in programme.checklist_order if key in programme.landing_gate]
             + [key for key in programme.checklist_order if key not in programme.landing_gate])
    gate = len(programme.landing_gate)
    if plan.outcome == EnrollmentStatus.LANDED:
        count = len(order)
    else:
        count = max(gate, rng.randint(1, len(order) - 2))
    before = sorted(rng.randint(plan.times[entry - 1], entered - MINUTE) for _ in range(gate))
    during = sorted(rng.randint(entered, max(entered, left - MINUTE))
                    for _ in range(count - gate))
    moments = [moment // MINUTE * MINUTE for moment in before + during]
    return [_settlement(rng, programme.definition, key, at)
            for key, at in zip(order[:count], moments, strict=True)]


def _settlement(rng: Random, definition: ProgrammeDefinition, key: str, at: int) -> Settlement:
    if key in WAIVED_NOTES and rng.random() < WAIVED_SHARE:
        return Settlement(key, ChecklistStatus.WAIVED, at, WAIVED_NOTES[key], None)
    note = None
    if key in CHECKLIST_NOTES and rng.random() < 0.6:
        day_of_month, month = _day_and_month(at)
        note = rng.choice(CHECKLIST_NOTES[key]).format(date=f"{day_of_month} {MONTHS[month]}")
    expires_at = (at + 365 * DAY * rng.choice((1, 2))
                  if definition.checklist_item(key).expires else None)
    return Settlement(key, ChecklistStatus.DONE, at, note, expires_at)


def _day_and_month(moment: int) -> tuple[int, int]:
    day = datetime.fromtimestamp(moment, BERLIN)
    return day.day, day.month - 1


def _dependency_order(definition: ProgrammeDefinition) -> list[str]:
    """The checklist in declaration order, each item moved after what it depends on."""
    order: list[str] = []
    remaining = [item.key for item in definition.checklist]
    while remaining:
        ready = next(key for key in remaining
                     if set(definition.checklist_item(key).depends_on) <= set(order))
        order.append(ready)
        remaining.remove(ready)
    return order

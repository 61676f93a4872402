"""Random sequences of workflow actions against a model of SIMPLE_DEFINITION's rules.

A hypothesis state machine enrolls, moves (allowed or not), closes, settles and reopens
checklist items, answers fields, edits startups and lets time pass, for 2–3 startups. It predicts
whether the engine must accept or refuse each action, rolls back after a refusal (as the views
do), and after every step checks the committed data through a second connection: one open
enrollment per startup, the stage history, the time spent in stages, the SLA, the checklist, and
that no gated stage was entered while its gate was unmet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from sqlmodel import Session

from crm.core.enums import EnrollmentStatus, Language, Role
from crm.startups.models import Contact, Startup
from crm.workflow import engine
from crm.workflow.calendar import add_working_days
from crm.workflow.engine import Actor, WorkflowError
from crm.workflow.models import ChecklistItem, ChecklistStatus, Enrollment, StageEvent
from tests.factories import SIMPLE_DEFINITION, make_programme

# SIMPLE_DEFINITION's rules, written out independently of the engine.
ACTIVE = ["lead", "intake", "qualified"]
CLOSING = {"landed": EnrollmentStatus.LANDED, "withdrawn": EnrollmentStatus.WITHDRAWN,
           "rejected": EnrollmentStatus.REJECTED}
STAGE_FOR = {status: key for key, status in CLOSING.items()}
SLA = {"lead": 5, "intake": 3, "qualified": 10}
ALLOWED = {
    "lead": {"intake", *CLOSING},
    "intake": {"lead", "qualified", *CLOSING},
    "qualified": {"intake", *CLOSING},
}
ITEMS = ["address", "permit", "bank"]
DEPENDS_ON = {"address": [], "permit": ["address"], "bank": []}
CHOICES = {"karnataka", "duesseldorf"}
assert [stage["key"] for stage in SIMPLE_DEFINITION["stages"]] == [*ACTIVE, *CLOSING]

startup_index = st.integers(0, 2)
actors = st.sampled_from(["owner", "colleague", "applicant", "system"])
stage_keys = st.sampled_from([*ACTIVE, *CLOSING, "nowhere"])
revisions = st.sampled_from(["none", "current", "none", "current", "stale"])
mostly = st.sampled_from([True, True, False])
# Time passing before an action: none (same-moment actions), under two seconds (fractions of a
# second must not add up to an error), or up to a few days.
waits = st.one_of(st.just(timedelta(0)),
                  st.timedeltas(min_value=timedelta(0), max_value=timedelta(seconds=2)),
                  st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)))


@dataclass
class Tracked:
    """The model's view of one enrollment."""

    id: int
    startup: int
    stage: str
    fields: dict[str, str]
    items: dict[str, ChecklistStatus] = field(
        default_factory=lambda: dict.fromkeys(ITEMS, ChecklistStatus.OPEN))
    history: list[tuple[str, datetime]] = field(default_factory=list)
    status: EnrollmentStatus = EnrollmentStatus.OPEN

    @property
    def is_open(self) -> bool:
        return self.status == EnrollmentStatus.OPEN


def test_random_workflows_keep_the_engine_invariants(app, db, make_user):
    programme = make_programme(db)
    owner = make_user(locale=Language.DE)
    colleague = make_user(Role.MANAGER)  # may change any startup (a BD manager only their own)
    engine_of_db = app.extensions["db_engine"]
    actor_for = {"owner": Actor.user(owner), "colleague": Actor.user(colleague),
                 "applicant": Actor.applicant(), "system": Actor.system()}

    class Workflow(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.context = app.app_context()
            self.context.push()
            self.startups: list[int] = []
            self.website: list[bool] = []
            self.has_email: list[bool] = []
            self.tracked: list[Tracked] = []
            self.now = datetime(2026, 1, 1, tzinfo=UTC)

        def teardown(self):
            db.rollback()
            self.context.pop()

        # Set-up ---------------------------------------------------------------------------

        @initialize(
            count=st.integers(2, 3),
            websites=st.lists(mostly, min_size=3, max_size=3),
            emails=st.lists(mostly, min_size=3, max_size=3),
            owned=st.lists(mostly, min_size=3, max_size=3),
            enrolled=st.lists(mostly, min_size=3, max_size=3),
            answered=st.lists(mostly, min_size=3, max_size=3),
            start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 6, 1),
                               timezones=st.just(UTC)),
        )
        def create_startups(self, count, websites, emails, owned, enrolled, answered, start):
            """Fresh startups for every example: earlier examples cannot interfere."""
            self.now = start
            for number in range(count):
                startup = Startup(name=f"Random {number}", country="IN",
                                  website="https://random.example" if websites[number] else None,
                                  owner_id=owner.id if owned[number] else None)
                db.add(startup)
                db.flush()
                if emails[number]:
                    db.add(Contact(startup_id=startup.id, name="Founder",
                                   email=f"founder{startup.id}@random.example"))
                self.startups.append(startup.id)
                self.website.append(websites[number])
                self.has_email.append(emails[number])
            db.commit()
            for number in range(count):  # most start enrolled, so moves get going at once
                if enrolled[number]:
                    self.enroll(number, None, None, "system", timedelta(0))
                    if answered[number]:
                        self.answer(number, "karnataka", timedelta(0))

        # Helpers ---------------------------------------------------------------------------

        def pick(self, index: int) -> int:
            return index % len(self.startups)

        def enrolled(self, index: int) -> Tracked:
            """The latest enrollment of one of the startups that have one."""
            startups = sorted({tracked.startup for tracked in self.tracked})
            return self.latest(startups[index % len(startups)])

        def latest(self, startup: int) -> Tracked | None:
            return next((t for t in reversed(self.tracked) if t.startup == startup), None)

        def gate_met(self, startup: int, stage: str, fields: dict,
                     items: dict[str, ChecklistStatus]) -> bool:
            if stage == "qualified":
                return (self.website[startup] and bool(fields.get("referred_by"))
                        and self.has_email[startup])
            if stage == "landed":
                return all(items[key].is_settled for key in ITEMS)
            return True

        def attempt(self, expected: bool, action, *args, **kwargs):
            """Run an engine call; commit if accepted, roll back if refused; check the model."""
            try:
                result = action(db, *args, **kwargs)
            except WorkflowError as error:
                db.rollback()
                assert not expected, f"refused although allowed: {error!r}"
                return None
            assert expected, "accepted although the rules refuse it"
            db.commit()
            return result if result is not None else True

        def enter(self, tracked: Tracked, stage: str) -> None:
            assert self.gate_met(tracked.startup, stage, tracked.fields, tracked.items)
            tracked.stage = stage
            tracked.history.append((stage, self.now))
            if stage in CLOSING:
                tracked.status = CLOSING[stage]

        # Rules -----------------------------------------------------------------------------

        @rule(index=startup_index, stage=st.one_of(st.none(), stage_keys),
              answer=st.sampled_from([None, "karnataka", "mars"]), actor=actors, wait=waits)
        def enroll(self, index, stage, answer, actor, wait):
            self.now += wait
            startup = self.pick(index)
            target = stage or "lead"
            fields = {"referred_by": answer} if answer else {}
            latest = self.latest(startup)
            expected = (target in ACTIVE and not (latest and latest.is_open)
                        and answer != "mars"
                        and self.gate_met(startup, target, fields,
                                          dict.fromkeys(ITEMS, ChecklistStatus.OPEN)))
            enrollment = self.attempt(
                expected, engine.enroll, startup=db.get(Startup, self.startups[startup]),
                programme=programme, actor=actor_for[actor], stage=stage, fields=fields or None,
                now=self.now)
            if enrollment:
                tracked = Tracked(enrollment.id, startup, target, fields)
                self.tracked.append(tracked)
                self.enter(tracked, target)

        @precondition(lambda self: self.tracked)
        @rule(index=startup_index, stage=stage_keys, revision=revisions, actor=actors, wait=waits)
        def move_anywhere(self, index, stage, revision, actor, wait):
            self.now += wait
            self.move(self.enrolled(index), stage, revision, actor)

        @precondition(lambda self: self.tracked)
        @rule(index=startup_index, revision=revisions, actor=actors, wait=waits)
        def move_forward(self, index, revision, actor, wait):
            """One step on (landing after the last active stage): the moves that go far."""
            self.now += wait
            tracked = self.enrolled(index)
            position = ACTIVE.index(tracked.stage) if tracked.stage in ACTIVE else -1
            stage = ACTIVE[position + 1] if position + 1 < len(ACTIVE) else "landed"
            self.move(tracked, stage, revision, actor)

        @precondition(lambda self: self.tracked)
        @rule(index=startup_index, revision=revisions, actor=actors, wait=waits)
        def move_back(self, index, revision, actor, wait):
            self.now += wait
            tracked = self.enrolled(index)
            position = ACTIVE.index(tracked.stage) if tracked.stage in ACTIVE else 1
            self.move(tracked, ACTIVE[max(position - 1, 0)], revision, actor)

        def move(self, tracked: Tracked, stage: str, revision: str, actor: str) -> None:
            enrollment = db.get(Enrollment, tracked.id)
            expected_revision = {"none": None, "current": enrollment.revision,
                                 "stale": enrollment.revision - 1}[revision]
            expected = (revision != "stale" and tracked.is_open
                        and stage in ALLOWED.get(tracked.stage, ())
                        and stage not in ("withdrawn", "rejected")  # a move gives no reason
                        and self.gate_met(tracked.startup, stage, tracked.fields, tracked.items))
            if self.attempt(expected, engine.move, enrollment, stage, actor_for[actor],
                            expected_revision=expected_revision, now=self.now):
                self.enter(tracked, stage)

        @precondition(lambda self: self.tracked)
        @rule(index=startup_index, outcome=st.sampled_from(list(EnrollmentStatus)),
              reason=st.sampled_from([None, "", "  ", "Moved to Munich"]), actor=actors,
              wait=waits)
        def close(self, index, outcome, reason, actor, wait):
            self.now += wait
            tracked = self.enrolled(index)
            stage = STAGE_FOR.get(outcome)
            expected = (stage is not None and tracked.is_open
                        and (outcome == EnrollmentStatus.LANDED or bool((reason or "").strip()))
                        and self.gate_met(tracked.startup, stage, tracked.fields, tracked.items))
            if self.attempt(expected, engine.close, db.get(Enrollment, tracked.id), outcome,
                            actor_for[actor], reason=reason, now=self.now):
                self.enter(tracked, stage)

        @precondition(lambda self: self.tracked)
        @rule(index=startup_index, key=st.sampled_from(ITEMS),
              status=st.sampled_from(list(ChecklistStatus)), actor=actors, wait=waits)
        def settle_or_reopen(self, index, key, status, actor, wait):
            self.now += wait
            self.settle(self.enrolled(index), key, status, actor)

        @precondition(lambda self: self.tracked)
        @rule(index=startup_index, status=st.sampled_from(
            [s for s in ChecklistStatus if s.is_settled]), actor=actors, wait=waits)
        def settle_next_open_item(self, index, status, actor, wait):
            """Work down the checklist in its order (dependencies first), towards landing."""
            self.now += wait
            tracked = self.enrolled(index)
            key = next((key for key in ITEMS if not tracked.items[key].is_settled), "bank")
            self.settle(tracked, key, status, actor)

        def settle(self, tracked: Tracked, key: str, status: ChecklistStatus, actor: str) -> None:
            item = db.scalar(select(ChecklistItem).where(
                ChecklistItem.enrollment_id == tracked.id, ChecklistItem.key == key))
            expected = tracked.is_open and (
                not status.is_settled
                or all(tracked.items[dependency].is_settled for dependency in DEPENDS_ON[key]))
            if self.attempt(expected, engine.settle_checklist_item, item, status,
                            actor_for[actor], now=self.now):
                tracked.items[key] = status

        @precondition(lambda self: self.tracked)
        @rule(index=startup_index,
              answer=st.sampled_from(["karnataka", "karnataka", "duesseldorf", "mars"]),
              wait=waits)
        def answer(self, index, answer, wait):
            self.now += wait
            tracked = self.enrolled(index)
            if self.attempt(answer in CHOICES and tracked.is_open, engine.set_field,
                            db.get(Enrollment, tracked.id), "referred_by", answer,
                            Actor.system()):
                tracked.fields = {"referred_by": answer}

        @rule(index=startup_index, website=st.sampled_from([None, "", "https://x.example"]),
              email=st.sampled_from([None, "", "cto@x.example"]),
              language=st.sampled_from(list(Language)))
        def edit_startup(self, index, website, email, language):
            """A change to the startup outside the engine: its website, another contact."""
            startup = self.pick(index)
            db.get(Startup, self.startups[startup]).website = website
            db.add(Contact(startup_id=self.startups[startup], name="Someone", email=email,
                           language=language))
            db.commit()
            self.website[startup] = bool(website)
            self.has_email[startup] = self.has_email[startup] or bool(email)

        @rule(step=st.one_of(
            st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=12)),
            st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
        ))
        def advance_clock(self, step):
            self.now += step

        # Invariants ------------------------------------------------------------------------

        @invariant()
        def committed_data_matches_the_rules(self):
            if not self.startups:
                return
            with Session(engine_of_db) as fresh:
                open_per_startup = fresh.execute(
                    select(Enrollment.startup_id, func.count())
                    .where(Enrollment.startup_id.in_(self.startups),
                           Enrollment.programme_id == programme.id,
                           Enrollment.status == EnrollmentStatus.OPEN)
                    .group_by(Enrollment.startup_id)).all()
                assert all(count == 1 for _startup, count in open_per_startup)
                assert fresh.scalar(select(func.count()).select_from(Enrollment).where(
                    Enrollment.startup_id.in_(self.startups))) == len(self.tracked)
                for tracked in self.tracked:
                    self.check_enrollment(fresh, tracked)

        def check_enrollment(self, fresh: Session, tracked: Tracked) -> None:
            row = fresh.get(Enrollment, tracked.id)
            events = list(fresh.scalars(
                select(StageEvent).where(StageEvent.enrollment_id == tracked.id)
                .order_by(StageEvent.occurred_at, StageEvent.id)))

            # The history is exactly the accepted moves, each from where the last one ended.
            assert [(e.to_stage, e.occurred_at) for e in events] == tracked.history
            assert row.stage == events[-1].to_stage == tracked.stage
            assert row.status == tracked.status
            assert row.stage_entered_at == events[-1].occurred_at
            assert events[0].from_stage is None
            assert events[0].seconds_in_previous_stage is None
            for before, after in zip(events, events[1:], strict=False):
                assert after.from_stage == before.to_stage
                assert after.seconds_in_previous_stage >= 0

            # Time spent adds up: the stays recorded plus the current one make the whole span.
            recorded = sum(e.seconds_in_previous_stage for e in events[1:])
            if tracked.is_open:
                assert row.closed_at is None
                span = self.now - events[0].occurred_at
                current = (self.now - row.stage_entered_at).total_seconds()
                assert abs(recorded + current - span.total_seconds()) < 1
                assert row.due_at == add_working_days(row.stage_entered_at, SLA[row.stage])
            else:
                assert row.closed_at == events[-1].occurred_at
                span = row.closed_at - events[0].occurred_at
                assert abs(recorded - span.total_seconds()) < 1
                assert row.due_at is None
                assert row.stage == STAGE_FOR[row.status]

            # The checklist and the answers are what was accepted, nothing else.
            items = {item.key: item for item in fresh.scalars(
                select(ChecklistItem).where(ChecklistItem.enrollment_id == tracked.id))}
            assert {key: item.status for key, item in items.items()} == tracked.items
            for item in items.values():
                assert (item.settled_at is not None) == ChecklistStatus(item.status).is_settled
            assert row.fields == tracked.fields

            # A landed enrollment's gate held when it closed (settling stops at closing).
            if row.status == EnrollmentStatus.LANDED:
                assert all(ChecklistStatus(item.status).is_settled
                           and item.settled_at <= row.closed_at for item in items.values())

    run_state_machine_as_test(Workflow, settings=settings(
        max_examples=40, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))

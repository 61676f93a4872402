"""Report figures against numbers worked out by hand on one small pipeline, on SQLite and
PostgreSQL.

The pipeline (times UTC; Europe/Berlin is UTC+1 until 29 March 2026). ISO week 10 of 2026 runs
from Mon 2 March 00:00 to Mon 9 March 00:00 Berlin = [1 Mar 23:00Z, 8 Mar 23:00Z).

  startup  created       owner  country  source, event         sectors
  G        16 Feb 10:00  Ben    IN       other                 -
  A        24 Feb 10:00  Bea    IN       event "Tech Summit"   ai, mobility
  B        2 Mar 09:00   Bea    IN       event "Tech Summit"   ai
  C        4 Mar 12:00   Ben    KR       referral              fintech
  H        5 Mar 08:00   Bea    IN       event "Tech Summit"   ai, health
  D        8 Mar 22:30   -      US       web                   -
  E        8 Mar 23:30   Ben    IN       web                   -   (Monday 00:30 Berlin: week 11)

  enrollment  stage events
  G in P1     lead 16 Feb 10:00, review 18 Feb 10:00
  A in P1     lead 24 Feb 10:00, review 26 Feb 10:00, offer 3 Mar 10:00, landed 5 Mar 10:00
  B in P1     lead 2 Mar 09:00, review 6 Mar 09:00, offer 10 Mar 09:00
  C in P1     lead 4 Mar 12:00, withdrawn 7 Mar 12:00
  C in P2     lead 4 Mar 13:00
  D in P2     lead 8 Mar 22:30

  task  assignee  about          due            done
  T1    Bea       B              9 Mar 10:00    -
  T2    Ben       C              12 Mar 10:00   -
  T3    Bea       A              1 Mar 10:00    yes
  T4    Ben       B's P1 entry   10 Mar 08:00   -
  T5    Maria     -              2 Mar 10:00    -

Both programmes: lead → review → offer → landed | withdrawn; SLA lead 2 working days (P2) or 5
(P1), review 3, offer 10. Now: Wed 11 March 2026 12:00Z.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from crm.core.enums import EnrollmentStatus, LeadSource, Role
from crm.reports.figures import (
    FunnelStep,
    NewLeads,
    Scope,
    Share,
    StageChange,
    StageCount,
    StageDuration,
    funnel,
    landings,
    new_leads,
    pipeline,
    pipeline_change,
    programmes,
    scope_for,
    stage_moves,
    time_in_stage,
    trend,
)
from crm.reports.periods import Period, iso_week, last_weeks, week_of
from crm.reports.workload import (
    OverdueEnrollment,
    Workload,
    overdue_enrollments,
    overdue_tasks,
    workload,
)
from crm.startups.models import StartupSector
from crm.workflow import engine
from crm.workflow.engine import Actor
from tests.factories import add_task, definition, make_programme, make_startup, stage

BERLIN = "Europe/Berlin"
NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
DAY = 86_400
W10 = iso_week(2026, 10, BERLIN)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def _definition(key: str, lead_sla: int) -> dict:
    return definition(
        key=key, name={"en": key.title(), "de": key.title()}, intake_stage=None, fields=[],
        checklist=[], stages=[
            stage("lead", "Lead", "Interessent", sla_working_days=lead_sla),
            stage("review", "Review", "Prüfung", sla_working_days=3),
            stage("offer", "Offer", "Angebot", sla_working_days=10),
            stage("landed", "Landed", "Angesiedelt", closes_as="landed"),
            stage("withdrawn", "Withdrawn", "Zurückgezogen", closes_as="withdrawn"),
        ])


@pytest.fixture
def world(app, db, make_user, clock):
    return build_pipeline(app, db, make_user, clock)


def build_pipeline(app, db, make_user, clock) -> dict:
    """The pipeline of the module's docstring, through the real services; the clock at NOW."""
    # No passwords: hashing one takes a third of a second.
    bea = make_user(Role.BD_MANAGER, name="Bea Berger", password=None)
    ben = make_user(Role.BD_MANAGER, name="Ben Braun", password=None)
    maria = make_user(Role.MANAGER, name="Maria Manager", password=None)
    p1 = make_programme(db, _definition("corridor", 5))
    p2 = make_programme(db, _definition("soft", 2))
    system = Actor.system()

    def startup(name, created, owner, country, source, event=None, sectors=()):
        clock(created)
        made = make_startup(db, name, country=country, owner_id=owner.id if owner else None,
                            source=source, source_detail=event)
        db.add_all(StartupSector(startup_id=made.id, sector=sector) for sector in sectors)
        db.commit()
        return made

    def path(made, programme, *steps):
        (first, when), *moves = steps
        enrollment = engine.enroll(db, startup=made, programme=programme, actor=system,
                                   stage=first, now=when)
        for to_stage, when in moves:
            if to_stage == "withdrawn":
                engine.close(db, enrollment, EnrollmentStatus.WITHDRAWN, system,
                             reason="Chose Berlin", now=when)
            else:
                engine.move(db, enrollment, to_stage, system, now=when)
        db.commit()
        return enrollment

    g = startup("G", at(2, 16, 10), ben, "IN", LeadSource.OTHER)
    a = startup("A", at(2, 24, 10), bea, "IN", LeadSource.EVENT, "Tech Summit", ["ai", "mobility"])
    b = startup("B", at(3, 2, 9), bea, "IN", LeadSource.EVENT, "Tech Summit", ["ai"])
    c = startup("C", at(3, 4, 12), ben, "KR", LeadSource.REFERRAL, None, ["fintech"])
    startup("H", at(3, 5, 8), bea, "IN", LeadSource.EVENT, "Tech Summit", ["ai", "health"])
    d = startup("D", at(3, 8, 22, 30), None, "US", LeadSource.WEB)
    startup("E", at(3, 8, 23, 30), ben, "IN", LeadSource.WEB)

    with app.app_context():  # the engine records audit events and translates its refusals
        enrollments = {
            "G": path(g, p1, ("lead", at(2, 16, 10)), ("review", at(2, 18, 10))),
            "A": path(a, p1, ("lead", at(2, 24, 10)), ("review", at(2, 26, 10)),
                      ("offer", at(3, 3, 10)), ("landed", at(3, 5, 10))),
            "B": path(b, p1, ("lead", at(3, 2, 9)), ("review", at(3, 6, 9)),
                      ("offer", at(3, 10, 9))),
            "C1": path(c, p1, ("lead", at(3, 4, 12)), ("withdrawn", at(3, 7, 12))),
            "C2": path(c, p2, ("lead", at(3, 4, 13))),
            "D": path(d, p2, ("lead", at(3, 8, 22, 30))),
        }
    tasks = {
        "T1": add_task(db, "Call the founders", bea, at(3, 9, 10), startup=b),
        "T2": add_task(db, "Send the deck", ben, at(3, 12, 10), startup=c),
        "T3": add_task(db, "Old thing", bea, at(3, 1, 10), startup=a, done=True),
        "T4": add_task(db, "Visa check", ben, at(3, 10, 8), startup=b,
                       enrollment_id=enrollments["B"].id),
        "T5": add_task(db, "Admin chores", maria, at(3, 2, 10)),
    }
    clock(NOW)
    return {"bea": bea, "ben": ben, "maria": maria, "p1": p1.id, "p2": p2.id,
            "enrollments": enrollments, "tasks": tasks,
            "startups": {"A": a, "B": b, "C": c, "D": d, "G": g}}


# Periods ----------------------------------------------------------------------------------------


def test_iso_weeks_are_local_weeks_across_summer_time():
    assert (W10.start, W10.end, W10.tz_name) == (at(3, 1, 23), at(3, 8, 23), BERLIN)
    week_13 = iso_week(2026, 13, BERLIN)  # summer time starts on Sunday 29 March
    assert (week_13.start, week_13.end) == (at(3, 22, 23), at(3, 29, 22))
    assert iso_week(2026, 14, BERLIN).previous() == week_13
    assert W10.previous() == iso_week(2026, 9, BERLIN)
    assert week_of(at(3, 8, 23), BERLIN) == iso_week(2026, 11, BERLIN)  # Monday 00:00 Berlin
    assert week_of(at(3, 8, 22, 59), BERLIN) == W10
    assert iso_week(2020, 53, BERLIN).first_day == date(2020, 12, 28)
    with pytest.raises(ValueError):
        iso_week(2027, 53, BERLIN)  # 2027 has 52 ISO weeks (2026 has 53)


def test_last_weeks_and_the_weeks_of_a_date_range():
    twelve = last_weeks(W10, 12)
    assert (twelve.first_day, twelve.last_day, twelve.days) == (date(2025, 12, 15),
                                                                date(2026, 3, 8), 84)
    assert len(twelve.weeks()) == 12 and twelve.weeks()[-1] == W10
    # Wednesday 4 March to Tuesday 17 March: three ISO weeks, the first and last cut short.
    span = Period.of_days(date(2026, 3, 4), date(2026, 3, 17), BERLIN)
    assert [(w.first_day.day, w.last_day.day) for w in span.weeks()] == [(4, 8), (9, 15),
                                                                          (16, 17)]
    assert span.previous() == Period.of_days(date(2026, 2, 18), date(2026, 3, 3), BERLIN)


# Scope ------------------------------------------------------------------------------------------


def test_a_bd_manager_is_scoped_to_their_own_startups_everyone_else_sees_all(make_user):
    bd, manager, viewer, admin = (make_user(role, password=None) for role in
                                  (Role.BD_MANAGER, Role.MANAGER, Role.VIEWER, Role.ADMIN))
    assert scope_for(bd) == Scope(None, bd.id)
    assert scope_for(bd, 7) == Scope(7, bd.id)
    assert scope_for(manager, 7) == Scope(7, None)
    assert scope_for(viewer) == scope_for(admin) == Scope()


# Pipeline ---------------------------------------------------------------------------------------


def test_pipeline_as_of_a_moment_comes_from_the_stage_history(db, world):
    p1, p2 = world["p1"], world["p2"]
    # End of week 10: A landed and C withdrawn; B in review (it moved on only on 10 March),
    # G in review; C and D in P2's lead (D entered 30 minutes before the week ended).
    assert pipeline(db, Scope(), W10.end) == [StageCount(p1, "review", 2),
                                              StageCount(p2, "lead", 2)]
    # Start of week 10: A and G in review; B, C and D not enrolled yet.
    assert pipeline(db, Scope(), W10.start) == [StageCount(p1, "review", 2)]
    assert pipeline(db, Scope(), NOW) == [StageCount(p1, "offer", 1), StageCount(p1, "review", 1),
                                          StageCount(p2, "lead", 2)]
    assert pipeline_change(db, Scope(), W10) == [StageChange(p1, "review", 2, 2),
                                                 StageChange(p2, "lead", 2, 0)]
    bea = Scope(owner_id=world["bea"].id)  # A and B
    assert pipeline_change(db, bea, W10) == [StageChange(p1, "review", 1, 1)]
    assert pipeline(db, Scope(programme_id=p2), W10.end) == [StageCount(p2, "lead", 2)]


# New leads --------------------------------------------------------------------------------------


def test_new_leads_by_country_sector_source_and_event(db, world):
    # B, C, H and D were created in week 10 (E half an hour after it ended).
    assert new_leads(db, Scope(), W10) == NewLeads(
        total=4,
        by_country=(Share("IN", 2), Share("KR", 1), Share("US", 1)),
        by_sector=(Share("ai", 2), Share("fintech", 1), Share("health", 1)),
        by_source=(Share("event", 2), Share("referral", 1), Share("web", 1)),
        by_event=(Share("Tech Summit", 2),),
    )
    assert new_leads(db, Scope(owner_id=world["bea"].id), W10) == NewLeads(
        2, (Share("IN", 2),), (Share("ai", 2), Share("health", 1)), (Share("event", 2),),
        (Share("Tech Summit", 2),))
    in_p2 = new_leads(db, Scope(programme_id=world["p2"]), W10)
    assert (in_p2.total, in_p2.by_country) == (2, (Share("KR", 1), Share("US", 1)))
    assert new_leads(db, Scope(), iso_week(2026, 1, BERLIN)).is_empty


# Moves, landings, trend -------------------------------------------------------------------------


def test_stage_moves_and_landings_of_a_week(db, world):
    p1 = world["p1"]
    # A review→offer, A offer→landed, B lead→review, C lead→withdrawn; enrollments are no moves.
    assert stage_moves(db, Scope(), W10) == [
        StageCount(p1, "landed", 1), StageCount(p1, "offer", 1), StageCount(p1, "review", 1),
        StageCount(p1, "withdrawn", 1)]
    assert stage_moves(db, Scope(owner_id=world["ben"].id), W10) == [
        StageCount(p1, "withdrawn", 1)]
    assert stage_moves(db, Scope(programme_id=world["p2"]), W10) == []
    assert [(c.programme_id, c.count) for c in landings(db, Scope(), W10)] == [(p1, 1)]
    assert landings(db, Scope(), W10.previous()) == []
    assert landings(db, Scope(owner_id=world["ben"].id), W10) == []


def test_trend_counts_new_leads_and_landings_per_iso_week(db, world, count_queries):
    weeks = last_weeks(iso_week(2026, 11, BERLIN), 4)  # weeks 8 to 11
    with count_queries() as statements:
        found = trend(db, Scope(), weeks)
    assert len(statements) == 1
    assert [w.week.iso_week for w in found] == [(2026, 8), (2026, 9), (2026, 10), (2026, 11)]
    assert [w.new_leads for w in found] == [1, 1, 4, 1]  # G; A; B, C, H, D; E
    assert [w.landings for w in found] == [0, 0, 1, 0]  # A
    bea = trend(db, Scope(owner_id=world["bea"].id), weeks)
    assert [(w.new_leads, w.landings) for w in bea] == [(0, 0), (1, 0), (2, 1), (0, 0)]


# Funnel and time in stage -----------------------------------------------------------------------


def test_funnel_per_programme_with_conversion_to_the_next_stage(db, world):
    p1, p2 = world["p1"], world["p2"]
    assert funnel(db, Scope(), W10) == [
        # Entered lead in week 10: B and C; of them B entered review (6 March).
        FunnelStep(p1, "lead", 2, 1, 0.5),
        # B entered review; it entered offer only on 10 March, after the week.
        FunnelStep(p1, "review", 1, 0, 0.0),
        FunnelStep(p1, "offer", 1, 1, 1.0),  # A: offer 3 March, landed 5 March
        FunnelStep(p1, "landed", 1, None, None),
        FunnelStep(p2, "lead", 2, 0, 0.0),  # C and D
        FunnelStep(p2, "review", 0, 0, None),
        FunnelStep(p2, "offer", 0, 0, None),
        FunnelStep(p2, "landed", 0, None, None),
    ]
    bea_p1 = funnel(db, Scope(world["p1"], world["bea"].id), W10)
    assert [(s.stage, s.entered, s.converted) for s in bea_p1] == [
        ("lead", 1, 1), ("review", 1, 0), ("offer", 1, 1), ("landed", 1, None)]


def test_time_in_stage_median_and_p90_of_the_stays_that_ended_in_the_period(db, world):
    p1 = world["p1"]
    # Ended in week 10: lead B 4 days and C 3 days (median: the lower, 3; p90: 4), review A
    # 5 days, offer A 2 days. G's review and A's first lead stay did not end in the week.
    assert time_in_stage(db, Scope(), W10) == [
        StageDuration(p1, "lead", 2, 3 * DAY, 4 * DAY),
        StageDuration(p1, "review", 1, 5 * DAY, 5 * DAY),
        StageDuration(p1, "offer", 1, 2 * DAY, 2 * DAY),
    ]
    assert time_in_stage(db, Scope(owner_id=world["ben"].id), W10) == [
        StageDuration(p1, "lead", 1, 3 * DAY, 3 * DAY)]
    assert time_in_stage(db, Scope(programme_id=world["p2"]), W10) == []


# Overdue and workload ---------------------------------------------------------------------------


def test_overdue_enrollments_most_overdue_first_capped_with_the_total(db, world):
    enrollments, startups = world["enrollments"], world["startups"]
    ben = world["ben"]
    # SLA due (local midnight after the n-th working day): G review 3 days from Wed 18 Feb →
    # Tue 24 Feb 00:00 (23 Feb 23:00Z); C in P2 lead 2 days from Wed 4 March → Sat 7 March
    # 00:00 (6 Mar 23:00Z); D lead 2 days from Sunday 8 March → Wed 11 March 00:00.
    # B's offer is due on 24 March.
    found = overdue_enrollments(db, Scope(), NOW, limit=2)
    assert found.total == 3 and found.truncated
    assert found.items == (
        OverdueEnrollment(enrollments["G"].id, startups["G"].id, "G", world["p1"], "review",
                          ben.id, "Ben Braun", at(2, 23, 23)),
        OverdueEnrollment(enrollments["C2"].id, startups["C"].id, "C", world["p2"], "lead",
                          ben.id, "Ben Braun", at(3, 6, 23)),
    )
    last = overdue_enrollments(db, Scope(), NOW).items[-1]
    assert (last.startup_name, last.owner_id, last.due_at) == ("D", None, at(3, 10, 23))
    assert overdue_enrollments(db, Scope(owner_id=world["bea"].id), NOW).total == 0
    assert overdue_enrollments(db, Scope(programme_id=world["p1"]), NOW).total == 1


def test_overdue_tasks_with_what_a_link_needs(db, world):
    tasks = world["tasks"]
    found = overdue_tasks(db, Scope(), NOW)
    assert found.total == 3 and not found.truncated
    assert [t.task_id for t in found.items] == [tasks["T5"].id, tasks["T1"].id, tasks["T4"].id]
    visa = found.items[-1]
    assert (visa.title, visa.startup_name, visa.programme_id, visa.stage, visa.assignee_name,
            visa.due_at) == ("Visa check", "B", world["p1"], "offer", "Ben Braun", at(3, 10, 8))
    # Bea: assigned to her (T1) or about a startup she owns (T4, Ben's task about B).
    bea = overdue_tasks(db, Scope(owner_id=world["bea"].id), NOW)
    assert [t.task_id for t in bea.items] == [tasks["T1"].id, tasks["T4"].id]
    assert overdue_tasks(db, Scope(programme_id=world["p1"]), NOW).total == 1


def test_workload_per_person(db, world):
    bea, ben, maria = world["bea"], world["ben"], world["maria"]
    assert workload(db, Scope(), NOW) == [
        Workload(bea.id, "Bea Berger", 1, 0, 1, 1),  # B; T1
        Workload(ben.id, "Ben Braun", 2, 2, 2, 1),  # G, C in P2; T2, T4
        Workload(maria.id, "Maria Manager", 0, 0, 1, 1),  # T5
        Workload(None, None, 1, 1, 0, 0),  # D has no owner
    ]
    assert workload(db, Scope(owner_id=bea.id), NOW) == [
        Workload(bea.id, "Bea Berger", 1, 0, 1, 1), Workload(ben.id, "Ben Braun", 0, 0, 1, 1)]


def test_programmes_give_names_stage_order_and_labels(db, world):
    found = programmes(db, Scope())
    assert [p.key for p in found] == ["corridor", "soft"]
    assert found[0].funnel_stages == ["lead", "review", "offer", "landed"]
    assert (found[0].stage_label("review", "de"), found[0].stage_label("gone", "de")) == (
        "Prüfung", "gone")
    assert [p.key for p in programmes(db, Scope(programme_id=world["p2"]))] == ["soft"]

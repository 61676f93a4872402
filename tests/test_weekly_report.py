"""The weekly pipeline report: its figures on one small pipeline worked out by hand, the email
in English and German, once per recipient and week, through a real SMTP server and a real
Celery worker, the page and the command.

Week 47 of 2026 runs from Monday 16 November to Sunday 22 November, Berlin time (UTC+1), so
[15 Nov 23:00Z, 22 Nov 23:00Z). The report goes out from Monday 23 November 07:00 Berlin =
06:00Z. Times below are UTC.

  startup  created      owner  country  source, event        sectors
  A        2 Nov 10:00  Bea    IN       event "Tech Summit"  -
  B        16 Nov 9:00  Bea    IN       event "Tech Summit"  ai
  C        18 Nov 12:00 Ben    KR       referral             fintech
  D        1 Oct 10:00  Ben    US       web                  -

  enrollment (one programme)  stage events
  A   lead 2 Nov 10:00, review 10 Nov 10:00, offer 17 Nov 10:00, landed 19 Nov 10:00
  B   lead 16 Nov 9:00, review 18 Nov 9:00   (review SLA 3 working days: due 24 Nov)
  C   lead 18 Nov 12:00                      (lead SLA 5 working days: due 26 Nov)
  D   lead 1 Oct 10:00                       (due 8 Oct: overdue)

  task                assignee  about  due           done
  Call the founders   Bea       B      20 Nov 10:00  -
  Send the deck       Ben       C      30 Nov 10:00  -
  Old thing           Bea       A      10 Nov 10:00  yes

Subscribed: Maria (manager, English), Bea (BD manager, German), Nils (BD manager with no
startups: an empty report). Ben is not subscribed; Otto is subscribed but deactivated.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from flask import render_template
from flask_babel import force_locale
from openpyxl import load_workbook
from sqlalchemy import func, select, update
from sqlmodel import Session

from crm.core.clock import utcnow
from crm.core.enums import EnrollmentStatus, Language, LeadSource, Role
from crm.core.health import WORKER_HEARTBEAT
from crm.core.heartbeat import ServiceHeartbeat
from crm.db import get_session, unit_of_work
from crm.outbox.delivery import deliver_due
from crm.outbox.models import OutboxAttachment, OutboxMessage
from crm.reports import sending
from crm.reports.commands import report as report_command
from crm.reports.figures import Scope, scope_for
from crm.reports.periods import iso_week
from crm.reports.sending import SendResult, dedupe_key, send_weekly_reports, week_to_report
from crm.reports.spreadsheets import Section, csv_bytes, xlsx_bytes
from crm.reports.tables import Table
from crm.reports.weekly import StageRow, compile_weekly_report, parse_week
from crm.startups.models import StartupSector
from crm.users.models import User
from crm.users.passwords import hash_password
from crm.workflow import engine
from crm.workflow.engine import Actor
from tests.conftest import TEST_PASSWORD, login
from tests.factories import add_task, definition, make_programme, make_startup, stage
from tests.helpers import start_worker, text_of
from workers.celery_app import make_celery

BERLIN = "Europe/Berlin"
W47 = iso_week(2026, 47, BERLIN)
NOW = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)  # Monday 07:30 Berlin
DAY = 86_400
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
W47_DATES = "Nov 16 – 22, 2026"


def at(month: int, day: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def world(app, db, make_user, clock):
    # No passwords (hashing one takes a quarter of a second): the page test sets two.
    maria = make_user(Role.MANAGER, name="Maria Manager", email="maria@desk.example",
                      password=None)
    bea = make_user(Role.BD_MANAGER, name="Bea Berger", email="bea@desk.example", password=None)
    ben = make_user(Role.BD_MANAGER, name="Ben Braun", password=None)
    nils = make_user(Role.BD_MANAGER, name="Nils Neu", password=None)
    otto = make_user(Role.MANAGER, name="Otto Old", password=None)
    db.execute(update(User).where(User.id.in_([maria.id, bea.id, nils.id, otto.id]))
               .values(weekly_report=True))
    db.execute(update(User).where(User.id == bea.id).values(locale=Language.DE))
    db.execute(update(User).where(User.id == otto.id).values(is_active=False))
    db.commit()
    programme = make_programme(db, definition(
        key="corridor", name={"en": "Corridor", "de": "Korridor"}, intake_stage=None,
        fields=[], checklist=[], stages=[
            stage("lead", "Lead", "Interessent", sla_working_days=5),
            stage("review", "Review", "Prüfung", sla_working_days=3),
            stage("offer", "Offer", "Angebot", sla_working_days=10),
            stage("landed", "Landed", "Angesiedelt", closes_as="landed"),
            stage("withdrawn", "Withdrawn", "Zurückgezogen", closes_as="withdrawn"),
        ]))
    system = Actor.system()

    def startup(name, created, owner, country, source, event=None, sectors=()):
        clock(created)
        made = make_startup(db, name, country=country, owner_id=owner.id, source=source,
                            source_detail=event)
        db.add_all(StartupSector(startup_id=made.id, sector=sector) for sector in sectors)
        db.commit()
        return made

    def path(made, *steps):
        (first, when), *moves = steps
        enrollment = engine.enroll(db, startup=made, programme=programme, actor=system,
                                   stage=first, now=when)
        for to_stage, when in moves:
            if to_stage == "landed":
                engine.close(db, enrollment, EnrollmentStatus.LANDED, system, now=when)
            else:
                engine.move(db, enrollment, to_stage, system, now=when)
        db.commit()

    a = startup("Alpha Robotics", at(11, 2, 10), bea, "IN", LeadSource.EVENT, "Tech Summit")
    b = startup("Bravo Foods", at(11, 16, 9), bea, "IN", LeadSource.EVENT, "Tech Summit", ["ai"])
    c = startup("Charlie Pay", at(11, 18, 12), ben, "KR", LeadSource.REFERRAL, None, ["fintech"])
    d = startup("Delta Freight", at(10, 1, 10), ben, "US", LeadSource.WEB)
    with app.app_context():  # the engine records audit events
        path(a, ("lead", at(11, 2, 10)), ("review", at(11, 10, 10)), ("offer", at(11, 17, 10)),
             ("landed", at(11, 19, 10)))
        path(b, ("lead", at(11, 16, 9)), ("review", at(11, 18, 9)))
        path(c, ("lead", at(11, 18, 12)))
        path(d, ("lead", at(10, 1, 10)))
    tasks = {
        "call": add_task(db, "Call the founders", bea, at(11, 20, 10), startup=b),
        "deck": add_task(db, "Send the deck", ben, at(11, 30, 10), startup=c),
        "old": add_task(db, "Old thing", bea, at(11, 10, 10), startup=a, done=True),
    }
    clock(NOW)
    return {"maria": maria, "bea": bea, "ben": ben, "nils": nils, "otto": otto,
            "programme": programme, "startups": {"A": a, "B": b, "C": c, "D": d},
            "tasks": tasks}


@pytest.fixture
def postgresql_only(settings) -> None:
    if settings.is_sqlite:
        pytest.skip("SQLite runs one writer at a time")


@pytest.fixture
def sqlite_only(settings) -> None:
    """For slow tests whose path is the same on PostgreSQL (a worker's start takes seconds)."""
    if not settings.is_sqlite:
        pytest.skip("the same path as on SQLite")


def compiled(app, user: User | None, week=W47, now=NOW):
    with app.app_context():
        scope = scope_for(user) if user else Scope()
        return compile_weekly_report(get_session(), scope, week, now)


def outbox(db: Session) -> dict[str, OutboxMessage]:
    db.rollback()
    return {message.dedupe_key: message for message in db.scalars(select(OutboxMessage))}


# The figures ------------------------------------------------------------------------------------


def test_the_report_has_the_figures_worked_out_by_hand(app, world):
    report = compiled(app, world["maria"])
    d = world["startups"]["D"]

    [corridor] = report.programmes
    # Open at the end of week 47: B in review, C and D in lead; at its start A in review, D
    # in lead. Moves: A to offer and to landed, B to review. Stays ended in weeks 36-47:
    # lead A 8 days and B 2 days (median by nearest rank: the lower, 2; p90: 8), review A 7,
    # offer A 2.
    assert corridor.stages == (
        StageRow("lead", 2, 1, 0, 2 * DAY, 8 * DAY, 2),
        StageRow("review", 1, 0, 1, 7 * DAY, 7 * DAY, 1),
        StageRow("offer", 0, 0, 1, 2 * DAY, 2 * DAY, 1),
        StageRow("landed", None, 0, 1, None, None, 0),
        StageRow("withdrawn", None, 0, 0, None, None, 0),
    )
    assert (corridor.open_total, report.moves, report.landings) == (3, 3, 1)
    leads = report.new_leads
    assert leads.total == 2  # B and C; A and D came earlier
    assert [(s.key, s.count) for s in leads.by_country] == [("IN", 1), ("KR", 1)]
    assert [(s.key, s.count) for s in leads.by_sector] == [("ai", 1), ("fintech", 1)]
    assert [(s.key, s.count) for s in leads.by_source] == [("event", 1), ("referral", 1)]
    assert [(s.key, s.count) for s in leads.by_event] == [("Tech Summit", 1)]
    # Needs attention at 23 Nov 06:30: D's lead was due 8 October; the call on 20 November.
    assert [(i.startup_name, i.stage) for i in report.overdue_enrollments.items] == [
        ("Delta Freight", "lead")]
    with app.app_context():
        assert report.startup_path(d.id) == f"/startups/{d.id}"
    assert [t.title for t in report.overdue_tasks.items] == ["Call the founders"]
    assert [(w.name, w.open_enrollments, w.overdue_enrollments, w.open_tasks, w.overdue_tasks)
            for w in report.workload] == [("Bea Berger", 1, 0, 1, 1),
                                          ("Ben Braun", 2, 1, 1, 0)]
    # Twelve weeks, 36 to 47: D in week 40, A in week 45, B and C in week 47; A landed in 47.
    assert [(w.week.iso_week[1], w.new_leads, w.landings) for w in report.trend
            if w.new_leads or w.landings] == [(40, 1, 0), (45, 1, 0), (47, 2, 1)]
    assert len(report.trend) == 12 and report.trend[0].week.iso_week == (2026, 36)
    assert not report.is_empty


def test_a_bd_manager_gets_only_their_own_startups(app, world):
    report = compiled(app, world["bea"])  # A and B

    [corridor] = report.programmes
    assert [(row.key, row.open, row.change, row.moves_in) for row in corridor.stages[:3]] == [
        ("lead", 0, 0, 0), ("review", 1, 0, 1), ("offer", 0, 0, 1)]
    assert (report.new_leads.total, report.moves, report.landings) == (1, 3, 1)
    assert [s.key for s in report.new_leads.by_country] == ["IN"]
    assert report.overdue_enrollments.total == 0  # D is Ben's
    assert [t.title for t in report.overdue_tasks.items] == ["Call the founders"]
    assert [w.name for w in report.workload] == ["Bea Berger"]
    assert [(w.week.iso_week[1], w.new_leads) for w in report.trend if w.new_leads] == [
        (45, 1), (47, 1)]


def test_a_scope_with_nothing_in_it_is_an_empty_report(app, world):
    empty = compiled(app, world["nils"])
    assert empty.is_empty and empty.programmes == ()  # a programme with nothing is left out
    # A week in which nothing happened still shows what needs attention when it is compiled.
    assert not compiled(app, world["bea"], week=iso_week(2026, 30, BERLIN)).is_empty


def test_spreadsheet_cells_a_spreadsheet_would_run_are_kept_as_text(app):
    sections = [Section(Table("Tasks", ["Task", "Open"], [["=HYPERLINK(\"x\")", 1],
                                                          ["+1", 2]]), keys=1)]
    with app.app_context():
        workbook = load_workbook(io.BytesIO(xlsx_bytes(sections)))
        lines = csv_bytes(sections).decode("utf-8-sig").splitlines()

    cell = workbook["Tasks"]["A2"]
    assert (cell.value, cell.data_type) == ('=HYPERLINK("x")', "s")
    assert lines[1:] == ['Tasks,,"\'=HYPERLINK(""x"")",Open,1', "Tasks,,'+1,Open,2"]


# The email --------------------------------------------------------------------------------------


def rendered(app, report, user: User, locale: str) -> dict[str, str]:
    context = {"user": user, "report": report, "base_url": "https://desk.example",
               "page_path": "/reports/weekly/2026-W47", "chart_cid": "trend@landing-desk"}
    with app.app_context(), force_locale(locale):
        return {part: render_template(f"emails/reports/weekly.{part}", **context)
                for part in ("subject.txt", "txt", "html")}


def test_the_email_in_english_and_in_german(app, world):
    maria, bea = world["maria"], world["bea"]
    d = world["startups"]["D"]

    english = rendered(app, compiled(app, maria), maria, "en")
    assert english["subject.txt"].strip() == f"Pipeline report for week 47 ({W47_DATES})"
    html, text = english["html"], english["txt"]
    assert "<strong>2 new leads</strong>" in html
    assert '<img src="cid:trend@landing-desk"' in html
    # A deep link to the overdue enrollment: the base URL, the app's path, an id and no name.
    assert f'<a href="https://desk.example/startups/{d.id}">Delta Freight</a>' in html
    assert 'style="' in html and 'class="' not in html  # inline styles only: mail clients
    assert f"Week 47, {W47_DATES}: 2 new leads, 3 stage moves, 1 landing." in text
    assert "- Lead: 2 open (+1 on last week), 0 moved in, median 2 days in stage" in text
    assert "- Review: 1 open (0 on last week), 1 moved in, median 7 days in stage" in text
    assert "By country: India 1, South Korea 1" in text
    assert ("- Delta Freight (Corridor, Lead), Ben Braun, due Oct 9, 2026: "
            f"https://desk.example/startups/{d.id}") in text
    assert "- Ben Braun: enrollments 2 open, 1 overdue; tasks 1 open, 0 overdue" in text
    assert "https://desk.example/reports/weekly/2026-W47" in text

    german = rendered(app, compiled(app, bea), bea, "de")
    assert german["subject.txt"].strip() == "Pipeline-Bericht für KW 47 (16.–22. Nov. 2026)"
    assert "Überfällig" in german["html"] and "Phase" in german["html"]  # column labels
    assert "Prüfung" in german["html"] and "Korridor" in german["html"]  # the programme's
    assert "Indien" in german["txt"] and "Delta Freight" not in german["txt"]  # Bea's scope


# Sending ----------------------------------------------------------------------------------------


def test_the_week_to_report_begins_monday_at_7_in_berlin_summer_and_winter():
    assert week_to_report(at(11, 23, 5), BERLIN) is None  # 06:00 Berlin
    assert week_to_report(at(11, 23, 6), BERLIN) == W47  # 07:00
    assert week_to_report(at(11, 23, 22), BERLIN) == W47  # 23:00
    assert week_to_report(at(11, 23, 23), BERLIN) is None  # Tuesday 00:00
    assert week_to_report(at(11, 22, 22), BERLIN) is None  # Sunday 23:00
    assert week_to_report(datetime(2026, 7, 6, 4, 59, tzinfo=UTC), BERLIN) is None
    assert week_to_report(datetime(2026, 7, 6, 5, 0, tzinfo=UTC), BERLIN) == iso_week(
        2026, 27, BERLIN)  # summer time: 07:00 Berlin is 05:00Z


def test_week_names_in_urls_and_commands():
    assert parse_week("2026-W47", BERLIN) == W47
    assert parse_week("2020-W53", BERLIN) == iso_week(2020, 53, BERLIN)
    for bad in ("2026-W54", "2027-W53", "2026-W00", "2026-w47", "2026-47", "2026-W7", "", "x",
                "0001-W01", "9999-W52", "1999-W10"):  # far years would overflow midnights
        assert parse_week(bad, BERLIN) is None, bad


def run_sending(app, settings, now=None) -> SendResult:
    """One beat run: its own app context and transaction, as the task has."""
    with app.app_context(), unit_of_work() as session:
        return send_weekly_reports(session, settings, now or utcnow())


def parts(email) -> tuple[str, dict[str, object]]:
    """The HTML body and the files of a received email by name (inline ones too)."""
    html = email.get_body(("html",)).get_content()
    return html, {part.get_filename(): part for part in email.walk() if part.get_filename()}


def test_from_monday_7_in_berlin_each_subscriber_gets_one_report_by_smtp(
        app, db, settings, world, clock, smtp_server):
    maria, bea, nils = world["maria"], world["bea"], world["nils"]
    settings = settings.model_copy(update={"smtp_url": smtp_server.url})

    clock(at(11, 23, 5) .replace(minute=59))  # Monday 06:59 Berlin: not yet
    assert run_sending(app, settings) == SendResult()
    assert outbox(db) == {}

    clock(at(11, 23, 6))  # 07:00: the reports of week 47
    assert run_sending(app, settings) == SendResult(queued=3)
    clock(at(11, 23, 6).replace(minute=10))  # beat again ten minutes later
    assert run_sending(app, settings) == SendResult(already=3)
    queued = outbox(db)
    assert set(queued) == {dedupe_key(user.id, W47) for user in (maria, bea, nils)}

    deliver_due(db, settings, now=utcnow())
    received = {message["To"]: message for message in smtp_server.wait_for(3)}
    assert len(smtp_server.messages) == 3  # Ben is not subscribed, Otto is deactivated

    email = received[maria.email]
    assert email["Subject"] == f"Pipeline report for week 47 ({W47_DATES})"
    html, files = parts(email)
    assert set(files) == {"trend-2026-W47.png", "pipeline-2026-W47.xlsx",
                          "pipeline-2026-W47.csv"}
    # The chart: a PNG shown inline where the HTML names its content id.
    chart = files["trend-2026-W47.png"]
    assert chart["Content-ID"] == "<trend@landing-desk>"
    assert 'src="cid:trend@landing-desk"' in html
    assert chart.get_content_type() == "image/png"
    assert chart.get_content_disposition() == "inline"
    png = chart.get_content()
    assert png.startswith(PNG_SIGNATURE) and png[12:16] == b"IHDR"
    assert int.from_bytes(png[16:20], "big") == 960  # 6.4 inches at 150 dpi
    assert files["pipeline-2026-W47.xlsx"].get_content_disposition() == "attachment"
    # The workbook opens and has the figures.
    workbook = load_workbook(io.BytesIO(files["pipeline-2026-W47.xlsx"].get_content()))
    assert workbook.sheetnames == ["Pipeline", "New leads", "Landings", "Overdue enrollments",
                                   "Overdue tasks", "Workload", "Trend"]
    pipeline_rows = list(workbook["Pipeline"].iter_rows(values_only=True))
    assert pipeline_rows[1] == ("Corridor", "Lead", 2, 1, 0, 2, 8, 2)
    assert pipeline_rows[2] == ("Corridor", "Review", 1, 0, 1, 7, 7, 1)
    assert ("Country", "India", 1) in list(workbook["New leads"].iter_rows(values_only=True))
    overdue = list(workbook["Overdue tasks"].iter_rows(values_only=True))
    assert overdue[1][:3] == ("Call the founders", "Bravo Foods", "Bea Berger")
    csv_text = files["pipeline-2026-W47.csv"].get_content()
    csv_text = csv_text.decode("utf-8-sig") if isinstance(csv_text, bytes) else csv_text
    assert "Pipeline,Corridor,Lead,Open at the end of the week,2" in csv_text.splitlines()

    german = received[bea.email]
    assert german["Content-Language"] == "de"
    assert german["Subject"] == "Pipeline-Bericht für KW 47 (16.–22. Nov. 2026)"
    empty = received[nils.email]
    assert "Nothing to report for week 47" in empty.get_body(("plain",)).get_content()
    assert list(empty.iter_attachments()) == []


def test_a_report_that_fails_is_logged_without_personal_data_and_the_others_go_out(
        app, db, settings, world, monkeypatch, caplog):
    maria, nils = world["maria"], world["nils"]
    db.execute(update(User).where(User.id == world["bea"].id).values(weekly_report=False))
    db.commit()
    real = sending.compile_weekly_report

    def failing_for_maria(session, scope, week, now):
        if scope == Scope():  # Maria's, the only manager subscribed
            raise KeyError(maria.email)
        return real(session, scope, week, now)

    monkeypatch.setattr(sending, "compile_weekly_report", failing_for_maria)

    assert run_sending(app, settings) == SendResult(queued=1, failed=1)

    assert set(outbox(db)) == {dedupe_key(nils.id, W47)}
    [record] = [r for r in caplog.records if r.name == "crm.reports.sending" and r.levelname ==
                "ERROR"]
    assert f"user {maria.id} not queued: KeyError" in record.getMessage()
    assert maria.email not in caplog.text and maria.name not in caplog.text


def test_two_runs_at_once_on_postgresql_queue_one_report_each(app, settings, postgresql_only,
                                                             world):
    db = Session(app.extensions["db_engine"])
    db.execute(update(User).where(User.id == world["bea"].id).values(weekly_report=False))
    db.commit()
    outcome: dict[str, SendResult] = {}

    def second_run() -> None:
        with app.app_context():
            session = get_session()
            outcome["second"] = send_weekly_reports(session, settings, NOW)
            session.commit()

    with app.app_context():
        session = get_session()
        outcome["first"] = send_weekly_reports(session, settings, NOW)  # queued, not committed
        racer = threading.Thread(target=second_run)
        racer.start()
        racer.join(timeout=1)  # its insert of Maria's key waits for ours
        assert racer.is_alive()
        session.commit()
    racer.join(timeout=30)

    assert outcome == {"first": SendResult(queued=2), "second": SendResult(already=2)}
    keys = [key for key in db.scalars(select(OutboxMessage.dedupe_key))]
    assert sorted(keys) == sorted(dedupe_key(user.id, W47) for user in (world["maria"],
                                                                        world["nils"]))
    db.close()


# The page ---------------------------------------------------------------------------------------


def test_the_page_shows_the_report_in_the_users_scope(app, db, world):
    db.execute(update(User).where(User.id.in_([world["maria"].id, world["bea"].id]))
               .values(password_hash=hash_password(TEST_PASSWORD)))
    db.commit()
    manager, bd = app.test_client(), app.test_client()
    login(manager, world["maria"].email)
    login(bd, world["bea"].email)
    d = world["startups"]["D"]

    page = manager.get("/reports/weekly/2026-W47")
    assert page.status_code == 200
    text = text_of(page)
    assert f"Pipeline report for week 47 ({W47_DATES})" in text
    assert f'<a href="/startups/{d.id}">Delta Freight</a>' in text  # a link in the app
    assert '<img src="/reports/weekly/2026-W47/trend.png"' in text
    assert 'href="/reports/weekly/2026-W46" rel="prev"' in text
    assert 'href="/reports/weekly/2026-W48" rel="next"' in text  # week 48 has begun
    assert "style=" not in text.split("<main", 1)[1]  # the page's CSP allows no inline styles

    own = text_of(bd.get("/reports/weekly/2026-W47"))
    assert "Startups, für die Sie zuständig sind." in own and "Bravo Foods" in own  # German
    assert "Delta Freight" not in own and "Charlie Pay" not in own

    assert manager.get("/reports/weekly/").headers["Location"] == "/reports/weekly/2026-W47"
    assert 'rel="next"' not in text_of(manager.get("/reports/weekly/2026-W48"))
    for bad in ("2026-W54", "2026-47", "2026-W7", "nonsense", "2026-W49"):  # 49: not begun
        assert manager.get(f"/reports/weekly/{bad}").status_code == 404, bad
        assert manager.get(f"/reports/weekly/{bad}/trend.png").status_code == 404, bad


def test_the_page_runs_the_same_queries_with_more_programmes_and_rows(app, db, world,
                                                                     count_queries):
    db.execute(update(User).where(User.id == world["maria"].id)
               .values(password_hash=hash_password(TEST_PASSWORD)))
    db.commit()
    client = app.test_client()
    login(client, world["maria"].email)
    client.get("/reports/weekly/2026-W47")  # warm up
    with count_queries() as before:
        client.get("/reports/weekly/2026-W47")

    second = make_programme(db, definition(key="second", name={"en": "Second", "de": "Zweit"}))
    with app.app_context():
        for number in range(3):
            made = make_startup(db, f"Echo {number}", owner_id=world["ben"].id,
                                created_at=at(11, 17, 9))
            enrollment = engine.enroll(db, startup=made, programme=second,
                                       actor=Actor.system(), now=at(11, 17, 9))
            engine.move(db, enrollment, "intake", Actor.system(), now=at(11, 18, 9))
            add_task(db, f"Overdue {number}", world["ben"], at(11, 19, 9), startup=made)
    db.commit()
    with count_queries() as after:
        text = text_of(client.get("/reports/weekly/2026-W47"))
    assert "Second" in text and "Overdue 2" in text
    # The user, the programmes, the pipeline at both ends of the week, moves, landings, time
    # in stage, new leads, overdue enrollments and tasks (their totals from the workload),
    # the workload and the trend.
    assert len(after) == len(before) <= 11, "\n".join(after)


# The command ------------------------------------------------------------------------------------


def test_the_command_prints_the_report_or_queues_it(app, db, world):
    runner = app.test_cli_runner()

    printed = runner.invoke(report_command, ["weekly", "--week", "2026-W47"])
    assert printed.exit_code == 0, printed.output
    assert printed.output.startswith(f"Pipeline report for week 47 ({W47_DATES})\n")
    assert "- Lead: 2 open (+1 on last week), 0 moved in, median 2 days in stage" in printed.output
    assert "Delta Freight" in printed.output

    as_bea = runner.invoke(report_command, ["weekly", "--week", "2026-W47", "--user",
                                            "BEA@desk.example"])
    assert "16.–22. Nov. 2026" in as_bea.output and "Delta Freight" not in as_bea.output

    sent = runner.invoke(report_command, ["weekly", "--week", "2026-W47", "--send", "--user",
                                          "bea@desk.example"])
    again = runner.invoke(report_command, ["weekly", "--week", "2026-W47", "--send", "--user",
                                           "bea@desk.example"])
    assert (sent.output, again.output) == ("queued 1, already queued 0, failed 0\n",
                                           "queued 0, already queued 1, failed 0\n")
    assert set(outbox(db)) == {dedupe_key(world["bea"].id, W47)}

    bad = runner.invoke(report_command, ["weekly", "--week", "47"])
    assert bad.exit_code == 2 and "write an ISO week such as 2026-W47" in bad.output
    unfinished = runner.invoke(report_command, ["weekly", "--week", "2026-W48", "--send"])
    assert unfinished.exit_code == 1 and "2026-W48 has not ended yet" in unfinished.output


# A real worker ----------------------------------------------------------------------------------


@pytest.mark.redis
def test_the_task_sent_twice_to_a_worker_queues_one_report_per_subscriber(
        app, db, settings, sqlite_only, redis_url, world):
    settings = settings.model_copy(update={"celery_broker_url": redis_url,
                                           "celery_queue": f"test-{uuid.uuid4().hex}"})
    producer = make_celery(settings)
    worker = start_worker(settings)
    try:
        for _ in range(2):  # as if beat's entry fired twice at 07:30 Berlin
            producer.send_task("workers.reports.send_weekly_reports", args=[NOW.isoformat()])
        producer.send_task("workers.health.heartbeat")  # the solo worker runs them in order
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _heartbeat_seen(db):
            time.sleep(0.2)
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert output.count("workers.reports.send_weekly_reports[") >= 4, output  # 2 received, 2 done
    assert "succeeded" in output and "raised" not in output, output
    messages = outbox(db)
    assert set(messages) == {dedupe_key(world[name].id, W47) for name in ("maria", "bea", "nils")}
    assert db.scalar(select(func.count()).select_from(OutboxAttachment)) == 6  # Maria's, Bea's


def _heartbeat_seen(db: Session) -> bool:
    db.rollback()
    return db.get(ServiceHeartbeat, WORKER_HEARTBEAT) is not None

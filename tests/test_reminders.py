"""The reminder sweep: each kind fires once at its moment and not before, again only for a new
occurrence; a second or concurrent sweep sends nothing twice; digest or one by one; applicants'
nudges stop on submit or withdrawal; a broken template fails only its message."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from jinja2 import ChoiceLoader, DictLoader
from sqlalchemy import event as sa_event
from sqlalchemy import func, select, text
from sqlmodel import Session

from crm.core.clock import utcnow
from crm.core.enums import (
    ApplicationStatus,
    Language,
    OutboxStatus,
    ReminderDelivery,
    ReminderKind,
    Role,
)
from crm.core.health import REMINDER_SWEEP_HEARTBEAT
from crm.core.heartbeat import last_seen
from crm.intake import drafts
from crm.intake.models import Application
from crm.outbox.delivery import deliver_due
from crm.outbox.models import OutboxMessage
from crm.programmes.models import Programme
from crm.programmes.queries import SlaState, sla_state
from crm.reminders import sending
from crm.reminders.commands import reminders as reminders_command
from crm.reminders.due import due_soon_horizon, escalation_threshold
from crm.reminders.models import Reminder
from crm.reminders.sweep import SweepResult, sweep
from crm.startups.models import Startup
from crm.users import services as user_services
from crm.users.models import User
from crm.workflow import engine
from crm.workflow.calendar import BERLIN, working_days_between
from crm.workflow.engine import Actor
from crm.workflow.models import ChecklistItem, ChecklistStatus, Enrollment
from tests.conftest import fresh
from tests.factories import add_task, definition, make_programme, make_startup
from tests.helpers import audit_events, count, post, reloaded, text_of

# Monday 9 March 2026, 10:00 in Berlin (CET): the lead stage's SLA of 5 working days ends with
# Monday 16 March, so the enrollment is due at 00:00 on Tuesday 17 March in Berlin.
MONDAY = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
DUE = datetime(2026, 3, 16, 23, 0, tzinfo=UTC)
DUE_SOON = datetime(2026, 3, 11, 23, 0, tzinfo=UTC)  # Thursday 00:00: 2 working days left
ESCALATE = datetime(2026, 3, 18, 23, 0, tzinfo=UTC)  # Thursday 19th: 3rd working day overdue
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
APPLICANT = "ananya@bengaluru-robotics.example"


@pytest.fixture
def programme(db) -> Programme:
    return make_programme(db, definition(intake={}))


@pytest.fixture
def owner(make_user) -> User:
    return make_user(Role.BD_MANAGER, name="Katrin Vogel", locale=Language.DE)


def sweep_at(app, db, clock, moment: datetime) -> SweepResult:
    """Run the sweep at `moment` in the test's session and commit, as the task does."""
    clock(moment)
    with app.app_context():
        result = sweep(fresh(db), app.config["SETTINGS"], utcnow())
        db.commit()
    return result


def enroll(app, db, programme, startup, moment: datetime = MONDAY) -> Enrollment:
    with app.app_context():
        enrollment = engine.enroll(db, startup=startup, programme=programme,
                                   actor=Actor.system(), now=moment)
        db.commit()
    return enrollment


def queued(db, prefix: str = "reminder:") -> list[tuple[str, str]]:
    """(to, kind) of each email queued under keys with this prefix, in order."""
    rows = fresh(db).scalars(select(OutboxMessage).where(
        OutboxMessage.dedupe_key.startswith(prefix)).order_by(OutboxMessage.id))
    return [(row.to_address, row.dedupe_key.split(":")[1]) for row in rows]


def prefer(db, user: User, delivery: ReminderDelivery) -> None:
    user = fresh(db).get(User, user.id)
    user_services.save_preferences(db, user, locale=Language(user.locale),
                                   reminder_delivery=delivery, weekly_report=False)
    db.commit()


# --- moments -----------------------------------------------------------------------------


@pytest.mark.parametrize("days", [0, 1, 2, 3])
def test_the_due_soon_horizon_agrees_with_the_boards_sla_state(days):
    """`due_at <= horizon` exactly when the board shows due soon or overdue, at any hour."""
    due_moments = [datetime(2026, 3, 30, 22, 0, tzinfo=UTC) + k * DAY for k in range(-6, 20)]
    for hours in range(0, 24 * 14, 5):
        now = datetime(2026, 3, 28, 0, 30, tzinfo=UTC) + timedelta(hours=hours)
        horizon = due_soon_horizon(now, days, BERLIN)
        for due in due_moments:
            soon = sla_state(due, now, days) in (SlaState.DUE_SOON, SlaState.OVERDUE)
            assert (due <= horizon) == soon, (now, due)


@pytest.mark.parametrize("days", [0, 1, 3])
def test_the_escalation_threshold_counts_working_days_overdue(days):
    """Easter 2026 (Good Friday 3 April, Easter Monday 6 April) and the change to summer time."""
    due_moments = [datetime(2026, 3, 25, 23, 0, tzinfo=UTC) + k * DAY for k in range(12)]
    for hours in range(0, 24 * 16, 5):
        now = datetime(2026, 3, 27, 0, 30, tzinfo=UTC) + timedelta(hours=hours)
        threshold = escalation_threshold(now, days, BERLIN)
        for due in due_moments:
            overdue_days = working_days_between(due - timedelta(microseconds=1), now)
            escalates = due <= now and overdue_days >= days
            assert (due <= threshold) == escalates, (now, due)


# --- SLA reminders -----------------------------------------------------------------------


def test_sla_reminders_fire_once_each_at_their_moment_and_not_before(app, db, clock,
                                                                     make_user, programme,
                                                                     owner):
    managers = [make_user(Role.MANAGER), make_user(Role.MANAGER)]
    retired = make_user(Role.MANAGER)
    with app.app_context():
        user_services.set_active(db, fresh(db).get(User, retired.id), False, managers[0])
        db.commit()
    enroll(app, db, programme, make_startup(db, owner_id=owner.id))
    enroll(app, db, programme, make_startup(db, "Nobody's Robotics", contact_email=None))
    manager_addresses = sorted(manager.email for manager in managers)

    assert sweep_at(app, db, clock, DUE_SOON - SECOND).created == {}
    assert sweep_at(app, db, clock, DUE_SOON).created == {ReminderKind.SLA_DUE_SOON: 1}
    assert queued(db) == [(owner.email, "sla_due_soon")]

    assert sweep_at(app, db, clock, DUE - SECOND).created == {}
    assert sweep_at(app, db, clock, DUE).created == {ReminderKind.SLA_OVERDUE: 1}
    assert queued(db)[1:] == [(owner.email, "sla_overdue")]

    assert sweep_at(app, db, clock, ESCALATE - SECOND).created == {}
    # To every active manager, also about the startup nobody owns.
    result = sweep_at(app, db, clock, ESCALATE)
    assert result.created == {ReminderKind.SLA_ESCALATION: 4}
    escalations = queued(db)[2:]
    assert sorted(to for to, _kind in escalations) == sorted(manager_addresses * 2)
    assert {kind for _to, kind in escalations} == {"sla_escalation"}

    again = sweep_at(app, db, clock, ESCALATE + 3 * DAY)
    assert (again.created, again.emails) == ({}, 0)
    assert count(db, OutboxMessage) == 6
    assert last_seen(fresh(db), REMINDER_SWEEP_HEARTBEAT) == ESCALATE + 3 * DAY


def test_many_reminders_due_at_once_come_in_one_email_to_whoever_takes_them_one_by_one(
        app, db, clock, programme, owner, make_user):
    """Switching reminders on over a full pipeline: the owner of 12 startups due soon at once
    gets one email listing all 12; a colleague with 3 gets 3 emails."""
    colleague = make_user(Role.BD_MANAGER, name="Jonas Weber")
    for number in range(12):
        enroll(app, db, programme, make_startup(db, f"Burst Robotics {number:02d}",
                                                owner_id=owner.id, contact_email=None))
    for number in range(3):
        enroll(app, db, programme, make_startup(db, f"Single Robotics {number}",
                                                owner_id=colleague.id, contact_email=None))

    result = sweep_at(app, db, clock, DUE_SOON)
    assert result.created == {ReminderKind.SLA_DUE_SOON: 15}
    assert queued(db) == [(colleague.email, "sla_due_soon")] * 3
    (burst,) = fresh(db).scalars(select(OutboxMessage).where(
        OutboxMessage.dedupe_key.startswith("reminders:"))).all()
    assert burst.to_address == owner.email
    assert burst.subject == "12 Erinnerungen auf einmal"  # the owner reads German
    assert all(f"Burst Robotics {number:02d}" in burst.body_text for number in range(12))
    assert "Single Robotics" not in burst.body_text
    assert result.emails == 4
    owners_reminders = fresh(db).scalars(select(Reminder).where(Reminder.user_id == owner.id))
    assert {reminder.outbox_message_id for reminder in owners_reminders} == {burst.id}

    again = sweep_at(app, db, clock, DUE_SOON + SECOND)
    assert (again.created, again.emails) == ({}, 0)


def test_a_burst_larger_than_a_sweep_goes_out_over_the_next_sweeps(app, db, clock, programme,
                                                                   owner, monkeypatch):
    monkeypatch.setattr(sending, "IMMEDIATE_PER_SWEEP", 8)
    for number in range(12):
        enroll(app, db, programme, make_startup(db, f"Burst Robotics {number:02d}",
                                                owner_id=owner.id, contact_email=None))
    first = sweep_at(app, db, clock, DUE_SOON)
    assert (first.emails, queued(db, "reminders:")) == (1, [(owner.email, str(owner.id))])
    second = sweep_at(app, db, clock, DUE_SOON + SECOND)  # 4 left: one by one
    assert (second.emails, queued(db)) == (4, [(owner.email, "sla_due_soon")] * 4)
    assert fresh(db).scalar(select(func.count()).select_from(Reminder).where(
        Reminder.outbox_message_id.is_(None))) == 0


def test_a_new_stage_entry_and_a_new_owner_are_reminded_again(app, db, clock, make_user,
                                                              programme, owner):
    startup = make_startup(db, owner_id=owner.id)
    enrollment = enroll(app, db, programme, startup)
    sweep_at(app, db, clock, DUE)
    successor = make_user(Role.BD_MANAGER)
    fresh(db).get(Startup, startup.id).owner_id = successor.id
    db.commit()
    sweep_at(app, db, clock, DUE + DAY)
    with app.app_context():  # intake: 3 working days from Wednesday 18th, due Monday 23rd
        engine.move(db, fresh(db).get(Enrollment, enrollment.id), "intake", Actor.system(),
                    now=DUE + DAY)
        db.commit()
    assert sweep_at(app, db, clock, DUE + 2 * DAY).created == {ReminderKind.SLA_DUE_SOON: 1}
    sweep_at(app, db, clock, datetime(2026, 3, 23, 23, 0, tzinfo=UTC))

    assert queued(db) == [(owner.email, "sla_overdue"), (successor.email, "sla_overdue"),
                          (successor.email, "sla_due_soon"), (successor.email, "sla_overdue")]


def test_a_reminder_email_arrives_in_the_owners_language_with_a_deep_link(
        app, db, clock, settings, smtp_server, programme, owner):
    startup = make_startup(db, owner_id=owner.id)
    enrollment = enroll(app, db, programme, startup)
    sweep_at(app, db, clock, DUE)
    with app.app_context():
        deliver_due(fresh(db), settings.model_copy(update={"smtp_url": smtp_server.url}),
                    now=DUE)

    [message] = smtp_server.wait_for(1)
    assert message["To"] == owner.email
    body = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Katrin Vogel" in body and "Bengaluru Robotics" in body
    assert "16.03.2026" in body  # the SLA's last working day, written the German way
    assert "Interessent" in body and "Korridor" in body  # the stage and programme in German
    link = f"http://localhost/startups/{startup.id}#enrollment-{enrollment.id}"
    assert link in body and f'href="{link}"' in html
    assert "http://localhost/account/preferences" in body
    assert "@" not in "".join(re.findall(r"http://localhost\S*", body))  # no address in URLs


# --- checklist items ---------------------------------------------------------------------


def settle(app, db, enrollment: Enrollment, key: str, expires_at: datetime | None, now):
    with app.app_context():
        item = fresh(db).scalars(select(ChecklistItem).where(
            ChecklistItem.enrollment_id == enrollment.id, ChecklistItem.key == key)).one()
        engine.settle_checklist_item(db, item, ChecklistStatus.DONE, Actor.system(),
                                     expires_at=expires_at, now=now)
        db.commit()


def test_an_expiring_permit_is_reminded_60_days_before_and_again_after_renewal(
        app, db, clock, programme, owner):
    enrollment = enroll(app, db, programme, make_startup(db, owner_id=owner.id))
    expiry = datetime(2026, 9, 30, 22, 0, tzinfo=UTC)
    settle(app, db, enrollment, "address", None, MONDAY)
    settle(app, db, enrollment, "permit", expiry, MONDAY)

    assert sweep_at(app, db, clock, expiry - 60 * DAY - SECOND).created.get(
        ReminderKind.CHECKLIST_EXPIRING) is None
    assert sweep_at(app, db, clock, expiry - 60 * DAY).created.get(
        ReminderKind.CHECKLIST_EXPIRING) == 1
    assert sweep_at(app, db, clock, expiry - 30 * DAY).created.get(
        ReminderKind.CHECKLIST_EXPIRING) is None

    renewed = expiry + 365 * DAY
    settle(app, db, enrollment, "permit", renewed, expiry - 20 * DAY)
    assert sweep_at(app, db, clock, renewed - 61 * DAY).created.get(
        ReminderKind.CHECKLIST_EXPIRING) is None
    assert sweep_at(app, db, clock, renewed - 59 * DAY).created.get(
        ReminderKind.CHECKLIST_EXPIRING) == 1
    assert [kind for _to, kind in queued(db)].count("checklist_expiring") == 2
    body = fresh(db).scalars(select(OutboxMessage.body_text).where(
        OutboxMessage.dedupe_key.startswith("reminder:checklist_expiring"))).first()
    assert "Aufenthaltstitel" in body or "Residence permit" in body


# --- applicants --------------------------------------------------------------------------


def start_draft(app, db, programme, email: str = APPLICANT,
                locale: Language = Language.DE) -> Application:
    with app.app_context():
        application = drafts.start_application(db, programme, email=email, locale=locale,
                                               now=MONDAY)
        db.commit()
    return application


def test_unfinished_applications_are_nudged_after_3_and_7_days_with_a_working_link(
        app, db, clock, client, programme):
    application = start_draft(app, db, programme)

    assert sweep_at(app, db, clock, MONDAY + 3 * DAY - SECOND).created == {}
    assert sweep_at(app, db, clock, MONDAY + 3 * DAY).created == {
        ReminderKind.APPLICATION_NUDGE_3: 1}
    assert sweep_at(app, db, clock, MONDAY + 7 * DAY - SECOND).created == {}
    assert sweep_at(app, db, clock, MONDAY + 7 * DAY).created == {
        ReminderKind.APPLICATION_NUDGE_7: 1}
    assert sweep_at(app, db, clock, MONDAY + 30 * DAY).created == {}

    nudges = fresh(db).scalars(select(OutboxMessage).where(
        OutboxMessage.dedupe_key.startswith("reminder:application_nudge")).order_by(
        OutboxMessage.id)).all()
    assert [(n.to_address, n.locale) for n in nudges] == [(APPLICANT, Language.DE)] * 2
    first_link, last_link = (re.search(r"http://localhost(/apply/resume/\S+)", n.body_text)
                             .group(1) for n in nudges)
    clock(MONDAY + 7 * DAY + SECOND)
    assert client.get(first_link).status_code == 410  # the newer link replaced it
    assert client.get(last_link).status_code == 200
    assert reloaded(db, Application, application.id).status == ApplicationStatus.DRAFT


def test_no_nudge_to_continue_a_form_that_has_closed(app, db, clock):
    closed = make_programme(db, definition(key="closed", intake={"open": False}))
    start_draft(app, db, closed)

    assert sweep_at(app, db, clock, MONDAY + 3 * DAY).created == {}


def test_nudges_stop_when_the_draft_is_submitted_or_withdrawn(app, db, clock, make_user):
    from tests.test_intake import INTAKE, fill_in, submit

    make_user(Role.BD_MANAGER, email="desk.india@desk.example")
    programme = make_programme(db, definition(intake=INTAKE))
    submitted, withdrawn = app.test_client(), app.test_client()
    clock(MONDAY)
    fill_in(submitted, programme)
    assert submit(submitted, programme).status_code == 302
    fill_in(withdrawn, programme, email="second@robotics.example")
    with app.app_context():
        draft = fresh(db).scalars(select(Application).where(
            Application.status == ApplicationStatus.DRAFT)).one()
        drafts.withdraw(db, draft, now=MONDAY + DAY)
        db.commit()

    nudges = {ReminderKind.APPLICATION_NUDGE_3, ReminderKind.APPLICATION_NUDGE_7}
    for moment in (MONDAY + 3 * DAY, MONDAY + 7 * DAY):
        assert not nudges & set(sweep_at(app, db, clock, moment).created)
    assert count(db, Reminder, Reminder.application_id.is_not(None)) == 0


# --- digest or one by one ----------------------------------------------------------------


def test_a_daily_digest_gathers_tasks_and_reminders_from_07_00_once_a_day(
        app, db, clock, make_user, programme, owner):
    prefer(db, owner, ReminderDelivery.DAILY_DIGEST)
    one_by_one = make_user(Role.BD_MANAGER, name="Ravi Menon")
    quiet = make_user(Role.BD_MANAGER)
    mine = make_startup(db, owner_id=owner.id)
    theirs = make_startup(db, "Seoul Sensors", country="KR", owner_id=one_by_one.id)
    enroll(app, db, programme, mine)
    enroll(app, db, programme, theirs)
    # Tuesday 17 March in Berlin; 06:59 there is 05:59 UTC.
    early, seven = datetime(2026, 3, 17, 5, 59, tzinfo=UTC), datetime(2026, 3, 17, 6, 0,
                                                                       tzinfo=UTC)
    add_task(db, "Call the founders", owner, datetime(2026, 3, 16, 12, 0, tzinfo=UTC),
             startup=mine)
    add_task(db, "Send the offer", owner, datetime(2026, 3, 17, 15, 0, tzinfo=UTC))
    add_task(db, "Book a room", one_by_one, datetime(2026, 3, 17, 16, 0, tzinfo=UTC))
    add_task(db, "Next week", quiet, datetime(2026, 3, 24, 16, 0, tzinfo=UTC))
    add_task(db, "Done already", quiet, datetime(2026, 3, 16, 16, 0, tzinfo=UTC), done=True)

    result = sweep_at(app, db, clock, early)
    assert (result.created, result.emails, result.digests) == (
        {ReminderKind.SLA_OVERDUE: 2}, 1, 0)
    assert queued(db) == [(one_by_one.email, "sla_overdue")]  # the digest taker's waits
    waiting = fresh(db).scalars(select(Reminder).where(Reminder.user_id == owner.id)).one()
    assert waiting.delivered_at is None

    assert sweep_at(app, db, clock, seven).digests == 2
    assert sweep_at(app, db, clock, seven + 5 * 60 * SECOND).digests == 0
    digests = {row.to_address: row for row in fresh(db).scalars(select(OutboxMessage).where(
        OutboxMessage.dedupe_key.startswith("digest:")))}
    assert set(digests) == {owner.email, one_by_one.email}  # nothing to say to `quiet`
    mine_digest = digests[owner.email]
    assert mine_digest.dedupe_key == f"digest:{owner.id}:2026-03-17"
    assert mine_digest.locale == Language.DE
    body = mine_digest.body_text
    assert "Call the founders" in body and "Send the offer" in body
    assert f"http://localhost/startups/{mine.id}#tasks" in body
    assert "Bengaluru Robotics" in body and "Seoul Sensors" not in body
    assert "Book a room" in digests[one_by_one.email].body_text
    assert "Seoul Sensors" not in digests[one_by_one.email].body_text  # it had its own email
    delivered = reloaded(db, Reminder, waiting.id)
    assert (delivered.delivered_at, delivered.outbox_message_id) == (seven, mine_digest.id)

    assert sweep_at(app, db, clock, seven + DAY).digests == 2  # the tasks are still overdue
    assert queued(db) == [(one_by_one.email, "sla_overdue")]


# --- faults and races --------------------------------------------------------------------


def test_a_broken_template_fails_only_its_message_and_is_sent_once_fixed(
        app, db, clock, programme, owner):
    application = start_draft(app, db, programme)
    link_before = reloaded(db, Application, application.id).link_token_hash
    enroll(app, db, programme, make_startup(db, owner_id=owner.id), MONDAY - 5 * DAY)
    original = app.jinja_env.loader
    app.jinja_env.loader = ChoiceLoader([DictLoader({
        "emails/reminders/application_nudge.html": "{% if %}broken{% endif %}"}), original])
    try:
        result = sweep_at(app, db, clock, MONDAY + 3 * DAY)
        assert result.created == {ReminderKind.SLA_OVERDUE: 1,
                                  ReminderKind.APPLICATION_NUDGE_3: 1}
        assert result.emails == 1 and len(result.failed) == 1
        sweep_at(app, db, clock, MONDAY + 3 * DAY + 5 * 60 * SECOND)  # fails again, quietly
    finally:
        app.jinja_env.loader = original
        app.jinja_env.cache.clear()

    [dead] = fresh(db).scalars(select(OutboxMessage).where(
        OutboxMessage.status == OutboxStatus.DEAD)).all()
    assert dead.to_address == APPLICANT
    assert dead.last_error.startswith("template: TemplateSyntaxError")
    assert queued(db) == [(owner.email, "sla_overdue")]
    assert reloaded(db, Application, application.id).link_token_hash == link_before

    fixed = sweep_at(app, db, clock, MONDAY + 3 * DAY + 10 * 60 * SECOND)
    assert (fixed.emails, fixed.failed) == (1, [])
    assert queued(db) == [(owner.email, "sla_overdue"), (APPLICANT, "application_nudge_3")]


def test_the_command_runs_a_sweep(app, db, clock, programme, owner):
    enroll(app, db, programme, make_startup(db, owner_id=owner.id))
    clock(DUE)

    result = app.test_cli_runner().invoke(reminders_command, ["sweep"])

    assert result.exit_code == 0, result.output
    assert "sla_overdue: 1" in result.output
    assert queued(db) == [(owner.email, "sla_overdue")]


def test_two_sweeps_at_once_send_each_email_once(app, db, settings, clock, make_user,
                                                 programme, owner):
    """The second sweep's inserts wait for the first's uncommitted rows, then do nothing."""
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    make_user(Role.MANAGER)
    for number in range(20):
        enroll(app, db, programme, make_startup(db, f"Startup {number}", owner_id=owner.id,
                                                contact_email=None), MONDAY - 10 * DAY)
    start_draft(app, db, programme)
    prefer(db, owner, ReminderDelivery.DAILY_DIGEST)
    add_task(db, "Call the founders", owner, ESCALATE)
    clock(ESCALATE + 8 * 3600 * SECOND)  # Thursday 19 March, 08:00 in Berlin
    engine_ = app.extensions["db_engine"]
    outcome: dict[str, object] = {}
    blocked = threading.Event()

    def second_sweep() -> None:
        def watch(_conn, _cursor, statement, *_args) -> None:
            if statement.lstrip().upper().startswith("INSERT"):
                blocked.set()

        with app.app_context(), Session(engine_) as other:
            sa_event.listen(other.get_bind(), "before_cursor_execute", watch)
            try:
                outcome["result"] = sweep(other, settings, utcnow())
                other.commit()
            except Exception as error:  # handed to the test's thread
                outcome["error"] = error
            finally:
                sa_event.remove(other.get_bind(), "before_cursor_execute", watch)

    with app.app_context():
        first = sweep(fresh(db), settings, utcnow())  # not committed yet
        racer = threading.Thread(target=second_sweep)
        racer.start()
        assert blocked.wait(10)
        with engine_.connect() as watcher:  # until the second waits for our rows' locks
            deadline = time.monotonic() + 10
            while not watcher.execute(
                    text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar():
                assert time.monotonic() < deadline, "the second sweep never waited"
                watcher.rollback()
                time.sleep(0.02)
        db.commit()
    racer.join(timeout=30)

    assert "error" not in outcome, outcome
    second = outcome["result"]
    assert sum(first.created.values()) == 20 + 20 + 1  # overdue, escalation, nudge
    assert (sum(second.created.values()), second.emails, second.digests) == (0, 0, 0)
    assert count(db, Reminder) == 41
    # the nudge alone; the manager's 20 escalations in one email
    assert count(db, OutboxMessage, OutboxMessage.dedupe_key.startswith("reminder:")) == 1
    assert count(db, OutboxMessage, OutboxMessage.dedupe_key.startswith("reminders:")) == 1
    assert count(db, OutboxMessage, OutboxMessage.dedupe_key.startswith("digest:")) == 1


# --- the preferences page ----------------------------------------------------------------


def preferences_form(client) -> str:
    response = client.get("/account/preferences")
    assert response.status_code == 200
    return text_of(response)


def test_each_user_chooses_language_reminders_and_weekly_report(client_as, db):
    client, viewer = client_as(Role.VIEWER)
    assert 'href="/account/preferences"' in text_of(client.get("/work/"))  # the user menu
    page = preferences_form(client)
    assert re.search(r'<input checked[^>]*value="immediate"', page)
    assert "Monday 07:00" in page

    response = post(client, "/account/preferences", {
        "locale": "de", "reminder_delivery": "daily_digest", "weekly_report": "y"},
        token_from="/account/preferences")

    assert response.status_code == 302
    user = reloaded(db, User, viewer.id)
    assert (user.locale, user.reminder_delivery, user.weekly_report) == (
        "de", ReminderDelivery.DAILY_DIGEST, True)
    [event] = audit_events(db, "user.preferences_changed")
    assert event.actor_user_id == viewer.id
    assert event.details["changes"] == {"locale": ["en", "de"],
                                        "reminder_delivery": ["immediate", "daily_digest"],
                                        "weekly_report": [False, True]}
    page = text_of(client.get(response.headers["Location"]))
    assert '<html lang="de">' in page
    assert re.search(r'<input checked[^>]*value="daily_digest"', page)


def test_a_bad_choice_is_explained_next_to_the_field_and_nothing_is_saved(client_as, db):
    client, user = client_as(Role.BD_MANAGER)

    response = post(client, "/account/preferences", {"locale": "de", "reminder_delivery": "x"},
                    token_from="/account/preferences")

    assert response.status_code == 422
    page = text_of(response)
    assert re.search(r'id="reminder_delivery-errors">\s*<li>Not a valid choice', page)
    assert re.search(r'<option selected value="de">|<option value="de" selected', page)
    assert reloaded(db, User, user.id).locale == "en"
    assert audit_events(db, "user.preferences_changed") == []

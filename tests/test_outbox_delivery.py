"""Outbox delivery: due emails leave over real SMTP (aiosmtpd) once, failures back off, then die."""

from __future__ import annotations

import hashlib
import io
import logging
import socket
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from openpyxl import Workbook, load_workbook
from sqlmodel import Session, select

from crm import create_app
from crm.cli import cli
from crm.config import ConfigurationError, load_settings
from crm.core.enums import Language, OutboxStatus
from crm.db import get_session
from crm.outbox.delivery import DeliveryResult, deliver_due, retry_delay
from crm.outbox.models import OutboxAttachment, OutboxMessage
from crm.outbox.services import Attachment, queue_email
from crm.outbox.smtp import Security, SmtpTarget, parse_smtp_url
from tests.helpers import reloaded
from workers.outbox import deliver_outbox
from workers.schedule import BEAT_SCHEDULE

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
FOUNDER = "founder@robotics.example"


@pytest.fixture
def smtp_settings(settings, smtp_server):
    return settings.model_copy(update={"smtp_url": smtp_server.url})


def queue_invitation(app, key: str = "invite-1", to: str = FOUNDER,
                     locale: Language = Language.EN, attachments: list[Attachment] = ()) -> int:
    """An email queued (and committed) the way the app queues them, due at once."""
    with app.app_context():
        session = get_session()
        message = queue_email(session, dedupe_key=key, to_address=to, locale=locale,
                              template="invitation",
                              context={"user": SimpleNamespace(name="Ada Founder"),
                                       "inviter": SimpleNamespace(name="Grace Desk"),
                                       "link": "http://localhost/invitation/abc",
                                       "expires_at": NOW + timedelta(days=3)},
                              attachments=attachments)
        session.commit()
        return message.id


def add_message(db: Session, **fields) -> int:
    values = {"dedupe_key": "raw-1", "to_address": FOUNDER, "subject": "Hello",
              "body_text": "Hello.", "next_attempt_at": NOW, **fields}
    message = OutboxMessage(**values)
    db.add(message)
    db.commit()
    return message.id


def expected_message_id(dedupe_key: str) -> str:
    return f"<{hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]}@localhost>"


# SMTP_URL ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "target"), [
    ("smtp://mail.example", SmtpTarget("mail.example", 25, Security.PLAIN)),
    ("smtp://mail.example:2525?starttls=1",
     SmtpTarget("mail.example", 2525, Security.STARTTLS_IF_OFFERED)),
    ("smtp://mail.example:2525?starttls=0", SmtpTarget("mail.example", 2525, Security.PLAIN)),
    ("smtp+starttls://desk%40city.example:p%3Ass%2Fw@mail.example",
     SmtpTarget("mail.example", 587, Security.STARTTLS, "desk@city.example", "p:ss/w")),
    ("smtps://desk:secret@mail.example:4650",
     SmtpTarget("mail.example", 4650, Security.TLS, "desk", "secret")),
])
def test_smtp_urls(url, target):
    assert parse_smtp_url(url) == target


@pytest.mark.parametrize("url", ["http://desk:secret@mail.example", "smtp://desk:secret@",
                                 "smtp://desk:secret@mail.example:99999",
                                 "smtps://desk:secret@mail.example?starttls=1",
                                 "smtp://desk:secret@mail.example?tls=yes"])
def test_unusable_smtp_url_stops_start_up_without_showing_the_password(url):
    with pytest.raises(ConfigurationError) as refused:
        load_settings(smtp_url=url)
    assert str(refused.value).startswith("SMTP_URL: ")
    assert "secret" not in str(refused.value)


def test_blank_smtp_url_means_none():
    assert load_settings(smtp_url="  ").smtp_url is None


# Delivery ---------------------------------------------------------------------------------------


def test_queued_email_is_delivered_once(app, db, clock, smtp_server, smtp_settings):
    clock(NOW)
    message_id = queue_invitation(app)

    assert deliver_due(db, smtp_settings, now=NOW) == DeliveryResult(sent=1)

    [email] = smtp_server.wait_for(1)
    assert email["Message-ID"] == expected_message_id("invite-1")
    assert email["From"] == smtp_settings.mail_from
    assert email["To"] == FOUNDER
    assert email["Subject"] == "Grace Desk invites you to Landing Desk"
    assert email["Auto-Submitted"] == "auto-generated"
    assert email.get_content_type() == "multipart/alternative"
    text, html = email.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert "http://localhost/invitation/abc" in text.get_content()
    assert html.get_content_type() == "text/html"
    assert '<a href="http://localhost/invitation/abc">' in html.get_content()
    assert smtp_server.envelopes[0].rcpt_tos == [FOUNDER]
    stored = reloaded(db, OutboxMessage, message_id)
    assert (stored.status, stored.sent_at, stored.attempts) == (OutboxStatus.SENT, NOW, 1)
    assert stored.last_error is None

    assert deliver_due(db, smtp_settings, now=NOW + timedelta(hours=1)) == DeliveryResult()
    assert len(smtp_server.messages) == 1


def test_german_email_keeps_its_umlauts(app, db, clock, smtp_server, smtp_settings):
    clock(NOW)
    queue_invitation(app, locale=Language.DE)
    add_message(db, dedupe_key="umlauts", subject="Grüße aus Köln", body_text="Schöne Grüße")

    assert deliver_due(db, smtp_settings, now=NOW).sent == 2

    emails = smtp_server.wait_for(2)
    assert emails[0]["Content-Language"] == "de"
    assert emails[1]["Subject"] == "Grüße aus Köln"
    assert emails[1].get_content() == "Schöne Grüße\n"


def test_only_due_emails_are_sent(db, smtp_server, smtp_settings):
    add_message(db, dedupe_key="later", next_attempt_at=NOW + timedelta(minutes=5))
    for status in (OutboxStatus.SENT, OutboxStatus.DEAD):
        add_message(db, dedupe_key=status, status=status)

    assert deliver_due(db, smtp_settings, now=NOW) == DeliveryResult()
    assert deliver_due(db, smtp_settings, now=NOW + timedelta(minutes=5)).sent == 1
    [email] = smtp_server.wait_for(1)
    assert email["Message-ID"] == expected_message_id("later")


def test_limit_caps_one_run(db, smtp_server, smtp_settings):
    for number in range(3):
        add_message(db, dedupe_key=f"m{number}")

    assert deliver_due(db, smtp_settings, now=NOW, limit=2).sent == 2
    assert deliver_due(db, smtp_settings, now=NOW, limit=2).sent == 1


def test_refused_email_backs_off_and_is_retried_when_due(db, smtp_server, smtp_settings):
    message_id = add_message(db)
    smtp_server.refuse("451 4.3.0 Try again later")

    assert deliver_due(db, smtp_settings, now=NOW) == DeliveryResult(failed=1)

    failed = reloaded(db, OutboxMessage, message_id)
    assert (failed.status, failed.attempts) == (OutboxStatus.FAILED, 1)
    assert failed.last_error == "SMTPDataError 451 4.3.0"
    retry_at = failed.next_attempt_at  # 1 minute × 2^1, ±20 %
    assert NOW + timedelta(seconds=96) <= retry_at <= NOW + timedelta(seconds=144)
    smtp_server.refuse(None)
    assert deliver_due(db, smtp_settings, now=NOW + timedelta(seconds=95)) == DeliveryResult()
    assert smtp_server.messages == []

    assert deliver_due(db, smtp_settings, now=retry_at) == DeliveryResult(sent=1)
    sent = reloaded(db, OutboxMessage, message_id)
    assert (sent.status, sent.attempts, sent.sent_at) == (OutboxStatus.SENT, 2, retry_at)
    assert len(smtp_server.wait_for(1)) == 1


def test_email_dies_after_the_last_attempt(db, smtp_server, settings):
    settings = settings.model_copy(update={"smtp_url": smtp_server.url,
                                           "outbox_max_attempts": 3})
    message_id = add_message(db)
    smtp_server.refuse("451 Try again later", at="rcpt")
    now, statuses = NOW, []
    for _ in range(3):
        deliver_due(db, settings, now=now)
        message = reloaded(db, OutboxMessage, message_id)
        statuses.append(message.status)
        now = message.next_attempt_at

    assert statuses == [OutboxStatus.FAILED, OutboxStatus.FAILED, OutboxStatus.DEAD]
    assert (message.attempts, message.last_error) == (3, "recipient refused 451")
    assert deliver_due(db, settings, now=NOW + timedelta(days=7)) == DeliveryResult()
    assert reloaded(db, OutboxMessage, message_id).attempts == 3


def test_permanent_refusal_is_dead_at_once_and_the_run_goes_on(db, smtp_server, smtp_settings):
    first = add_message(db, dedupe_key="first", to_address="nobody@robotics.example")
    add_message(db, dedupe_key="second", to_address="nobody@robotics.example")
    smtp_server.refuse("550 5.1.1 <nobody@robotics.example>: no such user", at="rcpt")

    assert deliver_due(db, smtp_settings, now=NOW) == DeliveryResult(dead=2)

    dead = reloaded(db, OutboxMessage, first)
    assert (dead.status, dead.attempts, dead.last_error) == (
        OutboxStatus.DEAD, 1, "recipient refused 550")


def test_unreachable_server_fails_one_email_and_leaves_the_rest(db, settings, caplog):
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"smtp://desk:secret@127.0.0.1:{closed.getsockname()[1]}"
        first = add_message(db, dedupe_key="first")
        second = add_message(db, dedupe_key="second", next_attempt_at=NOW + timedelta(seconds=1))
        with caplog.at_level(logging.INFO, logger="crm.outbox"):
            result = deliver_due(db, settings.model_copy(update={"smtp_url": url}),
                                 now=NOW + timedelta(seconds=1))

    assert result == DeliveryResult(failed=1)
    failed = reloaded(db, OutboxMessage, first)
    assert (failed.status, failed.attempts) == (OutboxStatus.FAILED, 1)
    assert failed.last_error == "ConnectionRefusedError"
    untouched = reloaded(db, OutboxMessage, second)
    assert (untouched.status, untouched.attempts) == (OutboxStatus.PENDING, 0)
    assert "secret" not in caplog.text and FOUNDER not in caplog.text


def test_without_smtp_url_emails_stay_in_the_outbox(app, db, clock, settings, caplog):
    clock(NOW)
    message_id = queue_invitation(app)
    assert settings.smtp_url is None

    with caplog.at_level(logging.INFO, logger="crm.outbox"):
        assert deliver_due(db, settings, now=NOW) == DeliveryResult()

    assert [record.getMessage() for record in caplog.records] == [
        "SMTP_URL is not set: due emails stay in the outbox"]
    message = reloaded(db, OutboxMessage, message_id)
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 0)


def test_line_breaks_in_a_subject_add_no_header(db, smtp_server, smtp_settings):
    add_message(db, subject="Hello\r\nBcc: x@evil.example\nX-Injected: yes")

    assert deliver_due(db, smtp_settings, now=NOW).sent == 1

    [email] = smtp_server.wait_for(1)
    assert email["Subject"] == "Hello Bcc: x@evil.example X-Injected: yes"
    assert email["Bcc"] is None and email["X-Injected"] is None
    assert smtp_server.envelopes[0].rcpt_tos == [FOUNDER]


# A 1×1 PNG, and an XLSX written by openpyxl: real files, checked again on arrival.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415478"
    "9c6390cfdf020001f30143018783600000000049454e44ae426082")
CSV = "Phase;Anzahl\nErstkontakt;12\nÜberprüfung;3\n".encode()
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_bytes() -> bytes:
    workbook = Workbook()
    workbook.active.append(["Stage", "Startups"])
    workbook.active.append(["Lead", 12])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_inline_image_and_attachments_arrive(app, db, clock, smtp_server, smtp_settings):
    clock(NOW)
    workbook = xlsx_bytes()
    message_id = queue_invitation(app, attachments=[
        Attachment("trend.png", "image/png", PNG, content_id="trend@landing-desk"),
        Attachment("../../Pipeline 2025-W10.xlsx", XLSX_TYPE, workbook),
        Attachment("Übersicht\r\n.csv", "text/csv; charset=utf-8", CSV),
    ])
    stored = db.scalars(select(OutboxAttachment).where(OutboxAttachment.message_id == message_id)
                        .order_by(OutboxAttachment.id)).all()
    assert [(file.filename, file.content_id) for file in stored] == [
        ("trend.png", "trend@landing-desk"), ("../../Pipeline 2025-W10.xlsx", None),
        ("Übersicht\r\n.csv", None)]

    assert deliver_due(db, smtp_settings, now=NOW) == DeliveryResult(sent=1)

    [email] = smtp_server.wait_for(1)
    assert email.get_content_type() == "multipart/mixed"
    body, spreadsheet, table = email.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    text, related = body.iter_parts()
    assert "http://localhost/invitation/abc" in text.get_content()
    assert related.get_content_type() == "multipart/related"
    html, image = related.iter_parts()
    assert html.get_content_type() == "text/html"
    assert "Grace Desk" in html.get_content()
    assert (image.get_content_type(), image["Content-ID"]) == ("image/png", "<trend@landing-desk>")
    assert image.get_content_disposition() == "inline"
    assert image.get_content() == PNG
    assert spreadsheet.get_content_disposition() == "attachment"
    assert (spreadsheet.get_content_type(), spreadsheet.get_filename()) == (
        XLSX_TYPE, "Pipeline 2025-W10.xlsx")
    rows = load_workbook(io.BytesIO(spreadsheet.get_content())).active.iter_rows(values_only=True)
    assert list(rows) == [("Stage", "Startups"), ("Lead", 12)]
    assert (table.get_content_type(), table.get_filename()) == ("text/csv", "Übersicht.csv")
    assert table.get_payload(decode=True) == CSV
    assert email["Message-ID"] == expected_message_id("invite-1")


def test_a_content_id_must_fit_in_a_header():
    with pytest.raises(ValueError, match="content id"):
        Attachment("trend.png", "image/png", PNG, content_id="trend>\r\nBcc: x@evil.example")


def test_failures_wait_the_configured_base_time(db, smtp_server, smtp_settings):
    settings = smtp_settings.model_copy(update={"outbox_retry_base_seconds": 0.5})
    message_id = add_message(db)
    smtp_server.refuse("451 4.3.0 Try again later")

    assert deliver_due(db, settings, now=NOW) == DeliveryResult(failed=1)

    retry_at = reloaded(db, OutboxMessage, message_id).next_attempt_at  # 0.5 s × 2^1, ±20 %
    assert NOW + timedelta(seconds=0.8) <= retry_at <= NOW + timedelta(seconds=1.2)


@pytest.mark.parametrize("address", ["not-an-address", "ada@robotics@example",
                                     "Ada <ada@robotics.example>", ""])
def test_an_invalid_address_is_dead_at_once(db, smtp_server, smtp_settings, address):
    message_id = add_message(db, to_address=address)
    add_message(db, dedupe_key="next", next_attempt_at=NOW + timedelta(seconds=1))

    assert deliver_due(db, smtp_settings, now=NOW + timedelta(seconds=1)) == DeliveryResult(
        sent=1, dead=1)

    message = reloaded(db, OutboxMessage, message_id)
    assert (message.status, message.attempts, message.last_error) == (
        OutboxStatus.DEAD, 1, "unusable address")
    assert smtp_server.envelopes[0].rcpt_tos == [FOUNDER]


def test_an_address_with_a_line_break_is_never_sent(db, smtp_server, smtp_settings):
    message_id = add_message(db, to_address=f"{FOUNDER}\r\nBcc: x@evil.example")
    add_message(db, dedupe_key="next", next_attempt_at=NOW + timedelta(seconds=1))

    assert deliver_due(db, smtp_settings, now=NOW + timedelta(seconds=1)) == DeliveryResult(
        sent=1, dead=1)

    message = reloaded(db, OutboxMessage, message_id)
    assert (message.status, message.last_error) == (OutboxStatus.DEAD, "unusable address")
    [email] = smtp_server.wait_for(1)
    assert email["Message-ID"] == expected_message_id("next")
    assert smtp_server.envelopes[0].rcpt_tos == [FOUNDER]


def test_a_lapsed_claim_is_sent_again_a_live_one_is_not(db, smtp_server, smtp_settings):
    """A worker died after claiming (or even after sending): the claim lapses, the email goes
    out again with the same Message-ID."""
    lapsed = add_message(db, dedupe_key="lapsed", status=OutboxStatus.SENDING, attempts=1)
    live = add_message(db, dedupe_key="live", status=OutboxStatus.SENDING, attempts=1,
                       next_attempt_at=NOW + timedelta(minutes=5))

    assert deliver_due(db, smtp_settings, now=NOW) == DeliveryResult(sent=1)

    [email] = smtp_server.wait_for(1)
    assert email["Message-ID"] == expected_message_id("lapsed")
    assert reloaded(db, OutboxMessage, lapsed).attempts == 2
    assert reloaded(db, OutboxMessage, live).status == OutboxStatus.SENDING


def test_a_lapsed_claim_on_the_last_attempt_is_dead(db, smtp_server, smtp_settings):
    message_id = add_message(db, status=OutboxStatus.SENDING,
                             attempts=smtp_settings.outbox_max_attempts)

    assert deliver_due(db, smtp_settings, now=NOW) == DeliveryResult(dead=1)

    message = reloaded(db, OutboxMessage, message_id)
    assert (message.status, message.last_error) == (OutboxStatus.DEAD, "delivery interrupted")
    assert smtp_server.messages == []


def test_concurrent_runs_send_each_email_once(app, db, smtp_server, smtp_settings):
    keys = [f"m{number}" for number in range(12)]
    for key in keys:
        add_message(db, dedupe_key=key)
    engine = app.extensions["db_engine"]
    results, errors = [], []

    def run() -> None:
        try:
            with Session(engine, expire_on_commit=False) as session:
                results.append(deliver_due(session, smtp_settings, now=NOW, limit=2))
                while results[-1].sent:
                    results.append(deliver_due(session, smtp_settings, now=NOW, limit=2))
        except Exception as error:  # the assertion below shows it
            errors.append(error)

    runners = [threading.Thread(target=run) for _ in range(3)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(timeout=60)

    assert errors == []
    assert sum(result.sent for result in results) == len(keys)
    received = sorted(email["Message-ID"] for email in smtp_server.wait_for(len(keys)))
    assert received == sorted(expected_message_id(key) for key in keys)


def test_retry_delay_doubles_up_to_six_hours():
    for attempts, minutes in ((1, 2), (2, 4), (5, 32), (9, 360), (40, 360)):
        delays = [retry_delay(attempts, timedelta(minutes=1)) for _ in range(50)]
        assert all(timedelta(minutes=minutes * 0.8) <= delay <= timedelta(minutes=minutes * 1.2)
                   for delay in delays)
    assert len({retry_delay(3, timedelta(minutes=1)) for _ in range(10)}) > 1  # jittered


# The worker task and the command ---------------------------------------------------------------


def test_task_delivers_due_emails_every_minute(db, smtp_server, smtp_settings):
    assert BEAT_SCHEDULE["deliver-outbox"]["task"] == deliver_outbox.name
    app = create_app(smtp_settings)
    message_id = add_message(db)

    with app.app_context():
        deliver_outbox.run()

    assert len(smtp_server.wait_for(1)) == 1
    assert reloaded(db, OutboxMessage, message_id).status == OutboxStatus.SENT
    app.extensions["db_engine"].dispose()


def test_deliver_command(db, smtp_server, smtp_settings):
    app = create_app(smtp_settings)
    add_message(db)
    smtp_server.refuse("451 Try again later")

    result = app.test_cli_runner().invoke(cli, ["outbox", "deliver"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "sent 0, failed 1, dead 0"
    app.extensions["db_engine"].dispose()


def test_deliver_command_without_smtp_url(app, db):
    add_message(db)

    result = app.test_cli_runner().invoke(cli, ["outbox", "deliver"])

    assert result.exit_code == 0
    assert "SMTP_URL is not set" in result.output
    assert result.output.strip().endswith("sent 0, failed 0, dead 0")

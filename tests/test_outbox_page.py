"""The admin's Outbox page: the list with counts, one email rendered, its attachments, retry;
and `crm outbox status`."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from crm import create_app
from crm.cli import cli
from crm.core.enums import OutboxStatus, Role
from crm.outbox import queries
from crm.outbox.models import OutboxAttachment, OutboxMessage
from tests.conftest import login
from tests.helpers import audit_events, post, reloaded, text_of
from tests.test_outbox_delivery import PNG, expected_message_id

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
CHART_PAGE = '<p style="color: #123456">Pipeline</p><img src="cid:trend@landing-desk" alt="Trend">'


def add_email(db: Session, key: str, **fields) -> OutboxMessage:
    values = {"dedupe_key": key, "to_address": f"{key}@robotics.example",
              "subject": f"Subject {key}", "body_text": "Hello.", "next_attempt_at": NOW,
              **fields}
    message = OutboxMessage(**values)
    db.add(message)
    db.commit()
    return message


def add_file(db: Session, message: OutboxMessage, filename: str, content_type: str,
             content: bytes, content_id: str | None = None) -> OutboxAttachment:
    attachment = OutboxAttachment(message_id=message.id, filename=filename,
                                  content_type=content_type, content=content,
                                  content_id=content_id)
    db.add(attachment)
    db.commit()
    return attachment


@pytest.fixture
def admin(client_as):
    return client_as(Role.ADMIN)[0]


def subjects(page: str) -> list[str]:
    return re.findall(r'<a href="/admin/outbox/\d+">([^<]+)</a>', page)


# The list ----------------------------------------------------------------------------------------


def test_list_shows_newest_first_with_counts_and_says_smtp_is_not_configured(admin, db, clock):
    clock(NOW)
    add_email(db, "welcome", status=OutboxStatus.SENT, attempts=1, sent_at=NOW)
    add_email(db, "nudge", status=OutboxStatus.FAILED, attempts=2,
              last_error="SMTPDataError 451 4.3.0", next_attempt_at=NOW + timedelta(minutes=4))
    add_email(db, "report", status=OutboxStatus.DEAD, attempts=1,
              last_error="recipient refused 550")
    add_email(db, "digest")

    response = admin.get("/admin/outbox/")

    page = text_of(response)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert ("No SMTP server is configured: messages stay here, rendered as they would be sent."
            in page)
    assert subjects(page) == ["Subject digest", "Subject report", "Subject nudge",
                              "Subject welcome"]
    counts = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", page))
    assert counts == {"Pending": "1", "Failed, will retry": "1", "Dead": "1"}
    assert "recipient refused 550" in page and "SMTPDataError 451 4.3.0" in page
    assert "nudge@robotics.example" in page


def test_list_filters_by_status_and_pages_by_id(admin, db, monkeypatch):
    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    for number in range(5):
        add_email(db, f"dead{number}", status=OutboxStatus.DEAD)
    add_email(db, "sent", status=OutboxStatus.SENT)

    first = text_of(admin.get("/admin/outbox/?status=dead"))
    assert subjects(first) == ["Subject dead4", "Subject dead3"]
    next_page = re.search(r'href="(/admin/outbox/\?[^"]+)">Next page', first).group(1)
    second = text_of(admin.get(next_page))
    assert subjects(second) == ["Subject dead2", "Subject dead1"]
    last = text_of(admin.get(re.search(r'href="(/admin/outbox/\?[^"]+)">Next page',
                                       second).group(1)))
    assert subjects(last) == ["Subject dead0"] and "Next page" not in last
    assert subjects(text_of(admin.get("/admin/outbox/?status=sent"))) == ["Subject sent"]
    assert subjects(text_of(admin.get("/admin/outbox/?status=failed"))) == []
    assert "No emails with this status." in text_of(admin.get("/admin/outbox/?status=failed"))
    # Anything unknown in the query string is the first page of every email, never an error.
    assert len(subjects(text_of(admin.get("/admin/outbox/?status=lost&before=x")))) == 2


def test_empty_outbox_says_so_and_smtp_notice_goes_with_a_server(app, settings, db, make_user):
    with_smtp = create_app(settings.model_copy(update={"smtp_url": "smtp://127.0.0.1:2525"}))
    client = with_smtp.test_client()
    assert login(client, make_user(Role.ADMIN).email).status_code == 302
    page = text_of(client.get("/admin/outbox/"))
    assert "No emails yet." in page
    assert "No SMTP server is configured" not in page
    with_smtp.extensions["db_engine"].dispose()


def test_list_costs_the_same_queries_for_few_and_many(admin, db, count_queries):
    for number in range(2):
        add_email(db, f"few{number}", status=OutboxStatus.FAILED)
    admin.get("/admin/outbox/")  # warm up
    with count_queries() as for_few:
        admin.get("/admin/outbox/")
    for number in range(40):
        add_email(db, f"many{number}", status=OutboxStatus.SENT, body_html="<p>x</p>" * 500)
    with count_queries() as for_many:
        page = text_of(admin.get("/admin/outbox/"))
    assert len(subjects(page)) == 42
    assert len(for_few) == len(for_many) == 3, "\n".join(for_many)  # user, counts, page


# One email ---------------------------------------------------------------------------------------


def test_an_email_shows_its_headers_text_frame_and_attachments(admin, db):
    message = add_email(db, "report", body_text="Pipeline: 12 leads.\n<b>not bold</b>",
                        body_html=CHART_PAGE, status=OutboxStatus.SENT, sent_at=NOW)
    add_file(db, message, "trend.png", "image/png", PNG, content_id="trend@landing-desk")
    workbook = add_file(db, message, "../Pipeline 2025-W10.xlsx",
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        b"PK\x03\x04 not really a workbook")

    response = admin.get(f"/admin/outbox/{message.id}")

    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert f"<dt>Message-ID</dt><dd>{expected_message_id('report')}</dd>" in text_of(response)
    assert "<dt>To</dt><dd>report@robotics.example</dd>" in page
    assert "<dt>Date</dt><dd>Mon, 03 Mar 2025 09:00:00 +0000</dd>" in page
    assert "<dt>Content-Type</dt><dd>multipart/mixed" in page
    assert (f'<iframe class="email-preview" sandbox src="/admin/outbox/{message.id}/html"'
            in page)
    assert "Pipeline: 12 leads.\n&lt;b&gt;not bold&lt;/b&gt;</pre>" in page
    assert (f'<a href="/admin/outbox/{message.id}/attachments/{workbook.id}">'
            "Pipeline 2025-W10.xlsx</a>") in page
    assert "Retry now" not in page


def test_the_html_body_is_served_sandboxed_with_inline_images_in_place(admin, db):
    message = add_email(db, "report", body_html=CHART_PAGE + '<img src="cid:missing">')
    add_file(db, message, "trend.png", "image/png", PNG, content_id="trend@landing-desk")

    response = admin.get(f"/admin/outbox/{message.id}/html")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox; default-src 'none'; img-src data:;")
    assert "script-src" not in policy and "frame-ancestors 'self'" in policy
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    body = response.get_data(as_text=True)
    data_url = f"data:image/png;base64,{base64.b64encode(PNG).decode()}"
    assert f'<img src="{data_url}" alt="Trend">' in body
    assert '<img src="cid:missing">' in body
    assert '<p style="color: #123456">Pipeline</p>' in body


def test_an_email_without_html_has_no_html_page(admin, db):
    message = add_email(db, "plain")
    assert admin.get(f"/admin/outbox/{message.id}/html").status_code == 404
    assert "email-preview" not in admin.get(f"/admin/outbox/{message.id}").get_data(as_text=True)


def test_an_attachment_downloads_under_a_safe_name_and_only_from_its_email(admin, db):
    message = add_email(db, "report")
    other = add_email(db, "other")
    attachment = add_file(db, message, '..\\Über "alles".html', "text/html",
                          b"<script>alert(1)</script>")

    response = admin.get(f"/admin/outbox/{message.id}/attachments/{attachment.id}")

    assert response.status_code == 200
    assert response.get_data() == b"<script>alert(1)</script>"
    assert response.mimetype == "application/octet-stream"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%C3%9Cber%20%22alles%22.html" in disposition
    assert "\\" not in disposition.partition("filename*")[2]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert admin.get(f"/admin/outbox/{other.id}/attachments/{attachment.id}").status_code == 404


def test_an_address_no_header_can_carry_is_shown_as_unusable(admin, db):
    message = add_email(db, "broken", to_address="a@robotics.example\r\nBcc: x@evil.example",
                        status=OutboxStatus.DEAD, last_error="unusable address")
    page = text_of(admin.get(f"/admin/outbox/{message.id}"))
    assert "This email cannot be sent: its recipient address is unusable." in page
    assert "Retry now" in page


# Retry -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [OutboxStatus.FAILED, OutboxStatus.DEAD])
def test_retry_makes_a_failed_or_dead_email_due_now_and_is_audited(admin, db, clock, status):
    clock(NOW)
    message = add_email(db, "nudge", status=status, attempts=8, last_error="recipient refused 451",
                        next_attempt_at=NOW - timedelta(hours=6))
    assert "Retry now" in text_of(admin.get(f"/admin/outbox/{message.id}"))

    response = post(admin, f"/admin/outbox/{message.id}/retry", token_from="/admin/outbox/")

    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/outbox/{message.id}"
    retried = reloaded(db, OutboxMessage, message.id)
    assert (retried.status, retried.attempts, retried.next_attempt_at, retried.last_error) == (
        OutboxStatus.PENDING, 0, NOW, None)
    [event] = audit_events(db, "outbox.retried")
    assert (event.object_type, event.object_id) == ("outbox_message", message.id)
    assert event.details == {"status": status.value, "attempts": 8,
                             "last_error": "recipient refused 451"}
    page = text_of(admin.get(response.headers["Location"]))
    assert "The email will be sent again with the next delivery run." in page
    assert "Retry now" not in page


def test_retrying_an_email_that_is_no_longer_failed_changes_nothing(admin, db, clock):
    clock(NOW)
    message = add_email(db, "sent", status=OutboxStatus.SENT, attempts=1, sent_at=NOW,
                        next_attempt_at=None)

    response = post(admin, f"/admin/outbox/{message.id}/retry", token_from="/admin/outbox/")

    assert response.status_code == 302
    stored = reloaded(db, OutboxMessage, message.id)
    assert (stored.status, stored.attempts, stored.sent_at) == (OutboxStatus.SENT, 1, NOW)
    assert audit_events(db, "outbox.retried") == []
    assert "no longer failed or dead" in text_of(admin.get(f"/admin/outbox/{message.id}"))


def test_a_row_reporting_a_template_error_is_never_retried(admin, db, clock):
    """Its body is the error: retrying would mail the diagnostic to the recipient."""
    clock(NOW)
    message = add_email(db, "template-error:reminder:sla_overdue:enrollment:1",
                        status=OutboxStatus.DEAD, last_error="template: UndefinedError: x")
    page = text_of(admin.get(f"/admin/outbox/{message.id}"))
    assert "This is not an email: its template failed" in page
    assert "Retry now" not in page

    post(admin, f"/admin/outbox/{message.id}/retry", token_from="/admin/outbox/")

    assert reloaded(db, OutboxMessage, message.id).status == OutboxStatus.DEAD
    assert audit_events(db, "outbox.retried") == []


def test_unknown_email_is_a_404(admin):
    assert admin.get("/admin/outbox/999999").status_code == 404
    assert post(admin, "/admin/outbox/999999/retry", token_from="/admin/outbox/"
                ).status_code == 404


# The command -------------------------------------------------------------------------------------


def test_status_command_counts_and_tells_the_oldest_due_wait(app, db, clock):
    clock(NOW)
    add_email(db, "old", next_attempt_at=NOW - timedelta(minutes=7))
    add_email(db, "due", status=OutboxStatus.FAILED, next_attempt_at=NOW - timedelta(minutes=2))
    add_email(db, "later", status=OutboxStatus.FAILED, next_attempt_at=NOW + timedelta(hours=1))
    add_email(db, "gone", status=OutboxStatus.DEAD, next_attempt_at=NOW - timedelta(days=2))
    for number in range(3):
        add_email(db, f"sent{number}", status=OutboxStatus.SENT, next_attempt_at=None)

    result = app.test_cli_runner().invoke(cli, ["outbox", "status"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["pending  1", "sending  0", "sent     3", "failed   2",
                                          "dead     1", "oldest due: waiting 420 s"]


def test_status_command_on_an_empty_outbox(app):
    result = app.test_cli_runner().invoke(cli, ["outbox", "status"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-2:] == ["dead     0", "oldest due: none"]

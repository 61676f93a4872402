"""SMTP header injection: line breaks and extra addresses in what users type (an applicant's
company name, a staff member's name, an address) never add a header or a recipient to what the
SMTP server receives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from crm.core.enums import Language, OutboxStatus, Role
from crm.db import get_session
from crm.outbox.delivery import deliver_due
from crm.outbox.models import OutboxMessage
from crm.outbox.services import queue_email
from tests import test_intake
from tests.conftest import fresh, login
from tests.helpers import post
from tests.test_intake import COMPANY, DESK_EMAIL, fill_in, submit

programme = test_intake.programme  # the fixture: a programme whose India desk gets applications

INJECTED = "Evil Robotics\r\nBcc: victim@evil.example\r\nX-Injected: yes\n\nbody"
#: The headers every email has; nothing else may appear.
HEADERS = {"From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "MIME-Version",
           "Content-Type", "Content-Language"}


@pytest.fixture
def smtp_settings(settings, smtp_server):
    return settings.model_copy(update={"smtp_url": smtp_server.url})


def deliver(app, smtp_settings) -> None:
    with app.app_context():
        deliver_due(get_session(), smtp_settings, datetime.now(UTC))


def assert_only_intended(smtp_server, expected_recipients: set[str]) -> None:
    """Each message went to the one address its To names, with the usual headers only."""
    assert smtp_server.messages, "nothing was delivered"
    assert {envelope.rcpt_tos[0] for envelope in smtp_server.envelopes} == expected_recipients
    for message, envelope in zip(smtp_server.messages, smtp_server.envelopes, strict=True):
        assert envelope.rcpt_tos == [str(message["To"])]
        assert set(message.keys()) <= HEADERS, set(message.keys()) - HEADERS
        assert len(message.get_all("To")) == 1 and "," not in str(message["To"])
        assert "\r" not in str(message["Subject"]) and "\n" not in str(message["Subject"])
        assert message["Bcc"] is None and message["X-Injected"] is None


def test_an_applicants_company_name_adds_no_header_or_recipient(
        app, client, db, programme, smtp_server, smtp_settings):
    fill_in(client, programme, company={**COMPANY, "name": INJECTED})
    assert submit(client, programme).status_code == 302

    deliver(app, smtp_settings)

    assert_only_intended(smtp_server, {test_intake.APPLICANT, DESK_EMAIL})
    [to_desk] = [message for message in smtp_server.messages
                 if message["To"] == DESK_EMAIL]
    assert "Evil Robotics Bcc: victim@evil.example X-Injected: yes body" in str(to_desk["Subject"])


def test_a_staff_name_in_an_invitation_adds_no_header_or_recipient(
        app, client, make_user, smtp_server, smtp_settings):
    inviter = make_user(Role.ADMIN, name="Grace\r\nBcc: victim@evil.example")
    assert login(client, inviter.email).status_code == 302

    response = post(client, "/admin/users/invite", {
        "email": "new.colleague@desk.example", "name": INJECTED, "role": "viewer",
        "locale": "en"}, token_from="/admin/users")

    assert response.status_code == 302
    deliver(app, smtp_settings)
    assert_only_intended(smtp_server, {"new.colleague@desk.example"})
    assert str(smtp_server.messages[0]["Subject"]) == (
        "Grace Bcc: victim@evil.example invites you to Landing Desk")


@pytest.mark.parametrize("address", [
    "founder@robotics.example\r\nBcc: victim@evil.example",
    "founder@robotics.example\nX-Injected: yes",
    "founder@robotics.example, victim@evil.example",
    "Founder <founder@robotics.example>, victim@evil.example",
    "founder@robotics.example>\r\nRCPT TO:<victim@evil.example",
])
def test_an_address_with_line_breaks_or_several_recipients_is_never_sent(
        app, db, address, smtp_server, smtp_settings):
    with app.app_context():
        session = get_session()
        for key, to in (("bad", address), ("good", "founder@robotics.example")):
            queue_email(session, dedupe_key=key, to_address=to, locale=Language.EN,
                        template="intake/resume_link",
                        context={"programme": _Programme(), "resume_url": "http://localhost/x",
                                 "expires_at": datetime(2026, 1, 1, tzinfo=UTC)})
        session.commit()

    deliver(app, smtp_settings)

    assert_only_intended(smtp_server, {"founder@robotics.example"})
    assert len(smtp_server.messages) == 1
    bad = fresh(db).scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == "bad"))
    assert bad.status == OutboxStatus.DEAD and bad.last_error == "unusable address"


class _Programme:
    def name(self, _locale: str) -> str:
        return "Corridor\r\nBcc: victim@evil.example"

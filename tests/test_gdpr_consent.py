"""Consent records: written at submission, withdrawn by the link in every email (no login) or by
staff in one click; a withdrawn consent stops the emails that relied on it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from crm.core.enums import ApplicationStatus, Role
from crm.gdpr.models import ConsentRecord, ConsentSource
from crm.intake.models import Application
from crm.intake.submission import CONSENT_VERSION
from crm.outbox.models import OutboxMessage
from crm.startups.models import Contact, Startup
from tests.conftest import csrf_token, fresh
from tests.factories import make_startup
from tests.gdpr_helpers import Applied, applied_startup, intake_programme, manager_client
from tests.helpers import audit_events, post, reloaded, text_of
from tests.test_gdpr_restriction import _emails_to, _enter_welcome
from tests.test_intake import APPLICANT, start

WITHDRAW_LINK = re.compile(r"http://localhost(/privacy/withdraw/\S+)")


@pytest.fixture
def applied(client, db, make_user) -> Applied:
    return applied_startup(client, db, intake_programme(db, make_user))


def _link_in(db, address: str, subject_contains: str = "") -> str:
    bodies = [message.body_text for message in fresh(db).scalars(
        select(OutboxMessage).where(OutboxMessage.to_address == address)
        .order_by(OutboxMessage.id.desc())) if subject_contains in message.subject]
    return WITHDRAW_LINK.search(bodies[0]).group(1)


def _withdraw(client, path: str):
    return client.post(path, data={"csrf_token": csrf_token(client, path)})


def test_submitting_records_the_consent_of_the_application_and_each_person(db, applied):
    records = fresh(db).scalars(select(ConsentRecord).order_by(ConsentRecord.id)).all()

    assert [(record.application_id, record.contact_id) for record in records] == [
        (applied.application.id, None), (applied.application.id, applied.contact.id)]
    assert {record.text_version for record in records} == {CONSENT_VERSION}
    assert {record.source for record in records} == {ConsentSource.INTAKE}
    assert all(record.given_at == applied.application.consent_given_at for record in records)


def test_the_confirmations_link_withdraws_consent_without_a_login(app, db, applied):
    applicant = app.test_client()
    path = _link_in(db, APPLICANT, "")
    assert "@" not in path and "ananya" not in path.lower()  # no address in the URL

    page = applicant.get(path)
    assert page.status_code == 200 and "Withdraw my consent" in text_of(page)
    response = _withdraw(applicant, path)

    assert response.status_code == 200 and "Your consent is withdrawn" in text_of(response)
    records = fresh(db).scalars(select(ConsentRecord)).all()
    assert all(record.withdrawn_at and record.withdrawn_via == ConsentSource.LINK
               for record in records)
    contact = reloaded(db, Contact, applied.contact.id)
    assert contact.consent_given_at is None and contact.consent_text_version is None
    assert reloaded(db, Application, applied.application.id).withdrawn_at is not None
    assert len(audit_events(db, "consent.withdrawn")) == 2
    # Withdrawing again changes nothing.
    assert _withdraw(applicant, path).status_code == 200
    assert len(audit_events(db, "consent.withdrawn")) == 2
    # The emails that relied on it stop: a stage email goes to nobody.
    _enter_welcome(app, db, reloaded(db, Startup, applied.startup.id))
    assert _emails_to(db, APPLICANT) == 2  # the resume link and the confirmation, as before


def test_a_forged_or_altered_link_names_nothing(app, db, applied):
    path = _link_in(db, APPLICANT)
    applicant = app.test_client()

    assert applicant.get(path[:-2] + "xx").status_code == 404
    assert applicant.get("/privacy/withdraw/eyJhcHBsaWNhdGlvbiI6MX0").status_code == 404
    assert all(record.withdrawn_at is None for record in fresh(db).scalars(select(ConsentRecord)))


def test_the_resume_emails_link_withdraws_an_unsubmitted_draft(app, client, db, make_user):
    programme = intake_programme(db, make_user)
    assert start(client, programme).status_code == 302
    path = _link_in(db, APPLICANT)

    assert "not submitted yet" in text_of(app.test_client().get(path))
    assert _withdraw(app.test_client(), path).status_code == 200

    draft = fresh(db).scalars(select(Application)).one()
    assert draft.status == ApplicationStatus.WITHDRAWN and draft.email is None


def test_staff_record_a_withdrawal_in_one_click_and_stage_emails_stop(app, db, make_user):
    startup = make_startup(db, "Seoul Sensors", contact_email="ceo@seoul.example")
    contact = db.scalars(select(Contact)).one()
    staff = manager_client(app, make_user, Role.BD_MANAGER)
    path = f"/startups/{startup.id}/contacts/{contact.id}/consent/withdraw"
    assert "Record withdrawal" in text_of(staff.get(path))

    response = post(staff, path, token_from=path)

    assert response.status_code == 302
    record = fresh(db).scalars(select(ConsentRecord)).one()  # no consent was on record before
    assert record.withdrawn_at and record.contact_id == contact.id
    _enter_welcome(app, db, reloaded(db, Startup, startup.id))
    assert _emails_to(db, "ceo@seoul.example") == 0


def test_the_privacy_page_sends_a_lost_link_and_tells_nobody_who_applied(app, db, applied):
    applicant = app.test_client()
    assert "/privacy/withdraw" in text_of(applicant.get("/privacy"))
    before = _emails_to(db, APPLICANT)

    for address in (APPLICANT.upper(), "nobody@else.example"):
        response = post(applicant, "/privacy/withdraw", {"link-email": address},
                        token_from="/privacy/withdraw")
        assert response.status_code == 200
        assert "we have sent it a link" in text_of(response)

    assert _emails_to(db, APPLICANT) == before + 1
    assert _emails_to(db, "nobody@else.example") == 0
    path = _link_in(db, APPLICANT, "Withdrawing")
    assert _withdraw(applicant, path).status_code == 200
    assert reloaded(db, Application, applied.application.id).withdrawn_at is not None


def test_a_bad_address_is_explained_and_kept(app):
    response = post(app.test_client(), "/privacy/withdraw", {"link-email": "not an address"},
                    token_from="/privacy/withdraw")

    assert response.status_code == 422
    assert 'value="not an address"' in text_of(response)

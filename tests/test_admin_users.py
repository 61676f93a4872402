"""The admin's user pages: invitations, role changes, deactivation, and who may use them."""

from __future__ import annotations

import html
import re
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import func, select
from sqlmodel import Session

from crm.core.audit import AuditEvent
from crm.core.clock import set_clock
from crm.core.enums import Language, Role
from crm.core.tokens import hash_token
from crm.outbox.models import OutboxMessage
from crm.users import services
from crm.users.forms import GUESSABLE_PASSWORD
from crm.users.models import Invitation, User
from tests.conftest import TEST_PASSWORD, csrf_token, fresh, login

NEW_PASSWORD = "a brand new password for me"  # noqa: S105
LAST_ADMIN = "The last active administrator cannot lose that role."
PLEASE_LOG_IN = "Please log in to continue."


@pytest.fixture
def travel():
    """Move the app's clock by a timedelta; the real clock comes back after the test."""

    def to(offset: timedelta) -> None:
        set_clock(lambda: datetime.now(UTC) + offset)

    yield to
    set_clock(None)


def flashes(page: str) -> list[str]:
    return [html.unescape(text) for text in re.findall(r'<p class="flash[^"]*">(.*?)</p>', page)]


def field_errors(page: str, field: str) -> list[str]:
    match = re.search(rf'<ul class="errors" id="{field}-errors">(.*?)</ul>', page, re.S)
    if not match:
        return []
    return [html.unescape(text) for text in re.findall(r"<li>(.*?)</li>", match.group(1))]


def audit_actions(db, object_id: int) -> list[str]:
    return list(fresh(db).scalars(select(AuditEvent.action).where(AuditEvent.object_id == object_id)
                                  .order_by(AuditEvent.id)))


def translated(app, locale: str, msgid: str, **variables) -> str:
    with app.test_request_context(), force_locale(locale):
        return gettext(msgid, **variables)


def assert_error_page(response, status: int, text: str) -> None:
    page = response.get_data(as_text=True)
    assert response.status_code == status, page
    assert '<section class="error-page">' in page  # our layout, not werkzeug's
    assert 'class="brand"' in page
    assert text in html.unescape(page)


def admin_post(client, path: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, "/admin/users"), **data})


def invite(client, email="Jun.Park@Partner.example", name="Jun Park", role="bd_manager",
           locale="en"):
    return admin_post(client, "/admin/users/invite", email=email, name=name, role=role,
                      locale=locale)


def invitation_path(db, email: str) -> str:
    message = fresh(db).scalar(select(OutboxMessage).where(OutboxMessage.to_address == email))
    link = re.search(r"\S+/invitation/\S+", message.body_text).group(0)
    return urlsplit(link).path


def session_alive(client) -> bool:
    response = client.get("/tasks/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


# --- the list -----------------------------------------------------------------------------------


def test_admin_sees_every_user_and_who_is_deactivated(client_as, make_user, db):
    client, admin = client_as(Role.ADMIN)
    other = make_user(Role.VIEWER, name="Vera Viewer")
    services.set_active(db, db.get(User, other.id), False, db.get(User, admin.id))
    db.commit()

    response = client.get("/admin/users")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert admin.email in page and other.email in page
    row = re.search(r"<tr class=\"muted\">.*?</tr>", page, re.S).group(0)
    assert "Vera Viewer" in row and "Deactivated" in row and "/activate" in row


# --- invitations --------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["en", "de"])
def test_invitation_email_is_queued_in_the_invitees_language(app, client_as, db, settings,
                                                             locale):
    client, admin = client_as(Role.ADMIN)

    response = invite(client, locale=locale)

    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/users"
    page = client.get("/admin/users").get_data(as_text=True)
    [flash] = flashes(page)
    assert flash.startswith("Jun Park is invited.")
    assert f"{settings.base_url}/invitation/" in flash

    user = services.find_by_email(fresh(db), "jun.park@partner.example")
    assert (user.name, user.role, user.locale) == ("Jun Park", Role.BD_MANAGER, Language(locale))
    assert user.password_hash is None and user.is_active

    [message] = db.scalars(select(OutboxMessage))
    assert (message.to_address, message.locale, message.user_id) == (user.email, locale, user.id)
    subject = translated(app, locale, "%(name)s invites you to Landing Desk", name=admin.name)
    greeting = translated(app, locale, "Hello %(name)s,", name="Jun Park")
    assert message.subject == subject
    assert greeting in message.body_text and greeting in html.unescape(message.body_html)
    if locale == "de":  # really German, not the English text under a German label
        assert subject != f"{admin.name} invites you to Landing Desk"
        assert 'lang="de"' in message.body_html

    token = re.search(r"/invitation/(\S+)", message.body_text).group(1)
    assert f"/invitation/{token}" in message.body_html
    invitation = db.scalar(select(Invitation).where(Invitation.user_id == user.id))
    assert invitation.token_hash == hash_token(token) != token  # only the hash is stored
    assert invitation.invited_by_id == admin.id
    assert timedelta(days=6, hours=23) < invitation.expires_at - datetime.now(UTC) \
        <= timedelta(days=7)
    assert audit_actions(db, user.id) == ["user.created", "user.invited"]


def test_invitation_link_sets_the_password_logs_in_and_works_once(app, client_as, db):
    admin_client, _ = client_as(Role.ADMIN)
    invite(admin_client, role="viewer")
    path = invitation_path(db, "jun.park@partner.example")
    user_id = services.find_by_email(db, "jun.park@partner.example").id

    invitee = app.test_client()
    form = invitee.get(path)
    assert form.status_code == 200
    assert "Set your password" in form.get_data(as_text=True)
    token = csrf_token(invitee, path)

    differ = invitee.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "!",
                                      "csrf_token": token})
    assert differ.status_code == 200
    assert field_errors(differ.get_data(as_text=True), "confirm") == ["The passwords differ."]
    short = invitee.post(path, data={"password": "too short", "confirm": "too short",
                                     "csrf_token": token})
    assert field_errors(short.get_data(as_text=True), "password") == [
        "Use at least 12 and at most 1024 characters."]
    for guessable in ("password1234", "qwertyuiop12", "Partner12345", "Jun Park Jun Park"):
        weak = invitee.post(path, data={"password": guessable, "confirm": guessable,
                                        "csrf_token": token})
        assert weak.status_code == 200
        page = weak.get_data(as_text=True)
        assert field_errors(page, "password") == [str(GUESSABLE_PASSWORD)], guessable
        assert guessable not in page  # a password is never shown back
    assert fresh(db).get(User, user_id).password_hash is None

    accepted = invitee.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                        "csrf_token": token})

    assert accepted.status_code == 302
    assert accepted.headers["Location"] == "/work/"
    tasks = invitee.get("/tasks/").get_data(as_text=True)
    assert "Welcome! Your password is set." in flashes(tasks)
    assert "Jun Park · Viewer" in tasks
    user = fresh(db).get(User, user_id)
    assert user.password_hash.startswith("$argon2id$")
    assert user.last_login_at is not None
    assert db.scalar(select(Invitation.accepted_at).where(Invitation.user_id == user_id))
    assert audit_actions(db, user_id)[-2:] == ["user.invitation_accepted", "auth.login"]

    again = app.test_client()
    assert_error_page_like_invitation(again.get(path))
    assert_error_page_like_invitation(again.post(path, data={
        "password": "another password 123", "confirm": "another password 123",
        "csrf_token": csrf_token(again, "/login")}))
    assert login(again, "jun.park@partner.example", NEW_PASSWORD).status_code == 302


def assert_error_page_like_invitation(response) -> None:
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "This invitation link is not valid" in page
    assert 'class="brand"' in page
    assert 'name="password"' not in page


def test_invitation_expires_after_seven_days(app, client_as, db, travel):
    admin_client, _ = client_as(Role.ADMIN)
    invite(admin_client)
    path = invitation_path(db, "jun.park@partner.example")

    travel(timedelta(days=6, hours=23))
    assert app.test_client().get(path).status_code == 200
    travel(timedelta(days=7, minutes=1))
    late = app.test_client()
    assert_error_page_like_invitation(late.get(path))
    assert_error_page_like_invitation(late.post(path, data={
        "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
        "csrf_token": csrf_token(late, "/login")}))
    assert fresh(db).scalar(select(User.password_hash)
                            .where(User.email == "jun.park@partner.example")) is None


def test_tampered_invitation_links_are_not_valid(app, client_as, db):
    admin_client, _ = client_as(Role.ADMIN)
    invite(admin_client)
    path = invitation_path(db, "jun.park@partner.example")
    token = path.rsplit("/", 1)[1]
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")

    for bad in (flipped, token[:-1], token + "x", "x" * 43, hash_token(token)):
        assert_error_page_like_invitation(app.test_client().get(f"/invitation/{bad}"))


def test_invitation_of_a_deactivated_user_does_not_log_in(app, client_as, db):
    admin_client, _ = client_as(Role.ADMIN)
    invite(admin_client)
    path = invitation_path(db, "jun.park@partner.example")
    user_id = services.find_by_email(db, "jun.park@partner.example").id
    admin_post(admin_client, f"/admin/users/{user_id}/deactivate")

    invitee = app.test_client()
    response = invitee.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                        "csrf_token": csrf_token(invitee, path)})

    assert "This account has been deactivated." in flashes(response.get_data(as_text=True))
    assert not session_alive(invitee)
    assert fresh(db).get(User, user_id).password_hash is None


def test_inviting_an_existing_email_shows_the_form_again(client_as, db, make_user):
    client, _ = client_as(Role.ADMIN)
    make_user(Role.VIEWER, email="taken@desk.example")

    response = invite(client, email="Taken@Desk.example", name="Second Taken")

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_errors(page, "email") == ["A user with this email address exists already."]
    assert 'value="Second Taken"' in page and 'value="Taken@Desk.example"' in page
    assert fresh(db).scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert db.scalar(select(func.count()).select_from(User)) == 2


@pytest.mark.parametrize(("field", "data", "message"), [
    ("email", {"email": "not-an-email"}, "Invalid email address."),
    ("name", {"name": ""}, "This field is required."),
    ("role", {"role": "owner"}, "Not a valid choice."),
    ("locale", {"locale": "fr"}, "Not a valid choice."),
])
def test_invalid_invitation_gets_a_message_next_to_the_field(client_as, db, field, data,
                                                             message):
    client, _ = client_as(Role.ADMIN)

    response = admin_post(client, "/admin/users/invite", **{
        "email": "new@desk.example", "name": "New Person", "role": "viewer", "locale": "en",
        **data})

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), field) == [message]
    assert fresh(db).scalar(select(func.count()).select_from(User)) == 1


def test_an_invitation_can_be_queued_outside_a_request(app, db, make_user):
    """Commands and tasks render emails without a request: the layout context must cope."""
    admin = make_user(Role.ADMIN)

    with app.app_context():
        user, link = services.invite_user(
            db, email="batch@desk.example", name="Batch Invite", role=Role.VIEWER,
            locale=Language.DE, actor=db.get(User, admin.id), base_url="https://desk.example")
        db.commit()

    message = db.scalar(select(OutboxMessage).where(OutboxMessage.user_id == user.id))
    assert message.subject == translated(app, "de", "%(name)s invites you to Landing Desk",
                                         name=admin.name)
    assert link in message.body_text and link.startswith("https://desk.example/invitation/")


# --- role changes -------------------------------------------------------------------------------


def test_role_change_ends_the_users_older_sessions(app, client_as, db):
    admin_client, admin = client_as(Role.ADMIN)
    user_client, user = client_as(Role.BD_MANAGER)
    assert session_alive(user_client)

    response = admin_post(admin_client, f"/admin/users/{user.id}/role", role="viewer")

    assert response.status_code == 302
    assert "Saved." in flashes(admin_client.get("/admin/users").get_data(as_text=True))
    changed = fresh(db).get(User, user.id)
    assert (changed.role, changed.session_version) == (Role.VIEWER, user.session_version + 1)
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "user.role_changed"))
    assert (event.actor_user_id, event.object_id) == (admin.id, user.id)
    assert event.details == {"before": "bd_manager", "after": "viewer"}

    expired = user_client.get("/tasks/")
    assert expired.status_code == 302
    assert urlsplit(expired.headers["Location"]).path == "/login"
    assert PLEASE_LOG_IN in flashes(user_client.get(expired.headers["Location"])
                                    .get_data(as_text=True))
    login(user_client, user.email)
    assert f"{user.name} · Viewer" in user_client.get("/tasks/").get_data(as_text=True)


def test_choosing_the_same_role_changes_nothing(client_as, db):
    admin_client, _ = client_as(Role.ADMIN)
    user_client, user = client_as(Role.MANAGER)

    admin_post(admin_client, f"/admin/users/{user.id}/role", role="manager")

    assert fresh(db).get(User, user.id).session_version == user.session_version
    assert session_alive(user_client)
    assert "user.role_changed" not in audit_actions(db, user.id)


def test_the_last_active_admin_cannot_be_demoted(client_as, db):
    client, admin = client_as(Role.ADMIN)

    response = admin_post(client, f"/admin/users/{admin.id}/role", role="manager")

    assert response.status_code == 302
    page = client.get("/admin/users")
    assert page.status_code == 200  # still an admin, still logged in
    assert LAST_ADMIN in flashes(page.get_data(as_text=True))
    unchanged = fresh(db).get(User, admin.id)
    assert (unchanged.role, unchanged.session_version) == (Role.ADMIN, admin.session_version)
    assert "user.role_changed" not in audit_actions(db, admin.id)


def test_an_admin_may_demote_another_admin_but_not_then_the_last(client_as, db):
    client, admin = client_as(Role.ADMIN)
    other_client, other = client_as(Role.ADMIN)

    admin_post(client, f"/admin/users/{other.id}/role", role="manager")
    assert fresh(db).get(User, other.id).role == Role.MANAGER
    assert other_client.get("/admin/users").status_code == 302  # its session ended

    admin_post(client, f"/admin/users/{admin.id}/role", role="viewer")
    assert LAST_ADMIN in flashes(client.get("/admin/users").get_data(as_text=True))
    assert fresh(db).get(User, admin.id).role == Role.ADMIN


def test_an_unknown_role_is_refused_with_a_message(client_as, db):
    client, _ = client_as(Role.ADMIN)
    _, user = client_as(Role.VIEWER)

    admin_post(client, f"/admin/users/{user.id}/role", role="owner")

    assert "Choose a valid role." in flashes(client.get("/admin/users").get_data(as_text=True))
    assert fresh(db).get(User, user.id).role == Role.VIEWER


@pytest.mark.parametrize("action", ["role", "deactivate", "activate"])
def test_changing_an_unknown_user_is_a_404_page(client_as, action):
    client, _ = client_as(Role.ADMIN)

    response = admin_post(client, f"/admin/users/999999/{action}", role="viewer")

    assert_error_page(response, 404, "There is nothing at this address.")


def test_two_admins_demoting_each_other_at_once_leave_one_admin(app, settings, make_user):
    """On PostgreSQL two requests can run the last-admin check at the same moment."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time")
    first, second = make_user(Role.ADMIN), make_user(Role.ADMIN)
    engine = app.extensions["db_engine"]
    outcome: dict[str, object] = {}

    def demote_first_by_second() -> None:
        with Session(engine) as db:
            try:
                services.change_role(db, db.get(User, first.id), Role.MANAGER,
                                     db.get(User, second.id))
                db.commit()
                outcome["result"] = "demoted"
            except services.AccountError as error:
                outcome["result"] = str(error.message)

    with Session(engine) as db:
        services.change_role(db, db.get(User, second.id), Role.MANAGER, db.get(User, first.id))
        db.flush()  # the first demotion is under way, not committed
        racer = threading.Thread(target=demote_first_by_second)
        racer.start()
        racer.join(timeout=0.5)  # with locking it waits for us; without, it is done by now
        db.commit()
    racer.join(timeout=10)

    assert outcome["result"] == LAST_ADMIN
    with Session(engine) as db:
        admins = db.scalar(select(func.count()).select_from(User)
                           .where(User.role == Role.ADMIN, User.is_active))
    assert admins == 1


# --- deactivation -------------------------------------------------------------------------------


def test_deactivation_ends_the_session_at_the_next_request(app, client_as, db):
    admin_client, admin = client_as(Role.ADMIN)
    user_client, user = client_as(Role.BD_MANAGER)
    assert session_alive(user_client)

    response = admin_post(admin_client, f"/admin/users/{user.id}/deactivate")

    assert response.status_code == 302
    assert "Saved." in flashes(admin_client.get("/admin/users").get_data(as_text=True))
    assert fresh(db).get(User, user.id).is_active is False
    assert audit_actions(db, user.id)[-1] == "user.deactivated"

    expired = user_client.get("/tasks/")
    assert expired.status_code == 302
    assert expired.headers["Location"] == "/login?next=/tasks/"
    assert PLEASE_LOG_IN in flashes(user_client.get(expired.headers["Location"])
                                    .get_data(as_text=True))
    assert login(user_client, user.email).status_code == 200  # the form again: refused

    admin_post(admin_client, f"/admin/users/{user.id}/activate")
    assert fresh(db).get(User, user.id).is_active is True
    assert audit_actions(db, user.id)[-1] == "user.activated"
    assert login(user_client, user.email).status_code == 302


def test_an_admin_cannot_deactivate_themselves(client_as, db):
    client, admin = client_as(Role.ADMIN)
    client_as(Role.ADMIN)  # not the last admin: the self-check alone refuses

    admin_post(client, f"/admin/users/{admin.id}/deactivate")

    page = client.get("/admin/users")
    assert page.status_code == 200
    assert "You cannot deactivate your own account." in flashes(page.get_data(as_text=True))
    assert fresh(db).get(User, admin.id).is_active is True
    assert "user.deactivated" not in audit_actions(db, admin.id)


def test_the_last_active_admin_cannot_be_deactivated_by_anyone(db, make_user):
    admin = make_user(Role.ADMIN)
    manager = make_user(Role.MANAGER)

    with pytest.raises(services.AccountError) as refused:
        services.set_active(db, db.get(User, admin.id), False, db.get(User, manager.id))

    assert str(refused.value) == LAST_ADMIN
    assert fresh(db).get(User, admin.id).is_active is True


# --- who may use the admin pages ----------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.BD_MANAGER, Role.MANAGER])
def test_other_roles_get_403_on_every_admin_page_and_change_nothing(client_as, make_user, db,
                                                                    role):
    client, user = client_as(role)
    target = make_user(Role.VIEWER)
    token = csrf_token(client, "/tasks/")

    assert 'href="/admin/users"' not in client.get("/tasks/").get_data(as_text=True)
    assert_error_page(client.get("/admin/users"), 403,
                      "Your role does not allow this. Ask an administrator.")
    posts = {
        "/admin/users/invite": {"email": "intruder@desk.example", "name": "Intruder",
                                "role": "admin", "locale": "en"},
        f"/admin/users/{user.id}/role": {"role": "admin"},
        f"/admin/users/{target.id}/role": {"role": "admin"},
        f"/admin/users/{target.id}/deactivate": {},
        f"/admin/users/{target.id}/activate": {},
    }
    for path, data in posts.items():
        assert_error_page(client.post(path, data={"csrf_token": token, **data}), 403,
                          "Your role does not allow this.")

    assert services.find_by_email(fresh(db), "intruder@desk.example") is None
    assert db.get(User, user.id).role == role
    assert (db.get(User, target.id).role, db.get(User, target.id).is_active) == (Role.VIEWER,
                                                                                  True)
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_anonymous_visitors_are_sent_to_login_or_refused(client, make_user):
    target = make_user(Role.VIEWER)

    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/admin/users"

    token = csrf_token(client)
    assert_error_page(client.post(f"/admin/users/{target.id}/deactivate",
                                  data={"csrf_token": token}), 401, "You need to log in")
    assert_error_page(client.post("/admin/users/invite", data={
        "csrf_token": token, "email": "x@desk.example", "name": "X", "role": "admin",
        "locale": "en"}), 401, "You need to log in")


def test_admin_link_is_in_the_navigation_for_admins(client_as):
    client, _ = client_as(Role.ADMIN)

    page = client.get("/tasks/").get_data(as_text=True)

    assert '<a href="/admin/users"' in page
    assert TEST_PASSWORD not in page

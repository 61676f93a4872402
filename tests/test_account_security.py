"""One's own sign-in: sessions that end when idle or old, and changing the password or the
email address after typing the current password."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.core.enums import Role
from crm.outbox.models import OutboxMessage
from crm.users.models import User
from tests.conftest import TEST_PASSWORD, csrf_token, fresh, login
from tests.signin import MOMENT
from tests.test_auth import WRONG_CREDENTIALS, audit_events, field_errors, flashes, is_logged_in

NEW_PASSWORD = "lantern orbit thimble cascade"  # noqa: S105
SESSION_ENDED = "Your session has ended. Please log in again."


@pytest.fixture
def settings(settings):
    """The limits a deployment has by default (the other tests' sessions never time out)."""
    return settings.model_copy(update={"session_idle_minutes": 30, "session_max_hours": 12})


def notices(db, user: User) -> list[str]:
    return [message.body_text for message in fresh(db).scalars(select(OutboxMessage).where(
        OutboxMessage.dedupe_key.like(f"security-notice:{user.id}:%")))]


# --- session timeouts ---------------------------------------------------------------------------


def test_a_session_ends_after_thirty_idle_minutes_with_one_message(client_as, clock):
    clock(MOMENT)
    client, _user = client_as(Role.VIEWER)
    clock(MOMENT + timedelta(minutes=29))
    assert client.get("/tasks/").status_code == 200  # still alive, and the clock restarts
    clock(MOMENT + timedelta(minutes=58))
    assert client.get("/tasks/").status_code == 200
    clock(MOMENT + timedelta(minutes=88, seconds=30))
    response = client.get("/tasks/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert flashes(client.get(response.headers["Location"]).get_data(as_text=True)) == [
        SESSION_ENDED]


def test_a_session_ends_twelve_hours_after_login_however_busy(client_as, clock):
    clock(MOMENT)
    client, _user = client_as(Role.BD_MANAGER)
    for quarter in range(1, 48):
        clock(MOMENT + timedelta(minutes=15 * quarter))
        assert client.get("/tasks/").status_code == 200
    clock(MOMENT + timedelta(hours=12, minutes=1))
    assert client.get("/tasks/").status_code == 302


def test_an_ended_session_answers_a_post_with_401(client_as, clock):
    clock(MOMENT)
    client, _user = client_as(Role.BD_MANAGER)
    token = csrf_token(client, "/account/security")
    clock(MOMENT + timedelta(hours=1))
    response = client.post("/account/password", data={"csrf_token": token})
    assert response.status_code == 401


# --- the password -------------------------------------------------------------------------------


def change_password(client, current: str, new: str = NEW_PASSWORD):
    return client.post("/account/password", data={
        "csrf_token": csrf_token(client, "/account/security"), "current_password": current,
        "password": new, "confirm": new})


def test_changing_the_password_needs_the_current_one(client_as, db):
    client, user = client_as(Role.VIEWER)
    response = change_password(client, "not my password")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_errors(page, "current_password") == ["This is not your current password."]
    assert NEW_PASSWORD not in page and "not my password" not in page  # never shown back
    assert fresh(db).get(User, user.id).failed_logins == 1
    assert audit_events(db, "auth.reauth_failed")[-1].object_id == user.id
    assert is_logged_in(client)


def test_a_changed_password_ends_the_other_sessions_and_tells_the_user(app, client_as, db):
    client, user = client_as(Role.BD_MANAGER)
    elsewhere = app.test_client()
    login(elsewhere, user.email)
    assert change_password(client, TEST_PASSWORD).status_code == 302
    assert is_logged_in(client) and not is_logged_in(elsewhere)
    assert field_errors(login(app.test_client(), user.email).get_data(as_text=True),
                        "password") == [WRONG_CREDENTIALS]
    assert login(app.test_client(), user.email, NEW_PASSWORD).status_code == 302
    stored = fresh(db).get(User, user.id)
    assert stored.password_changed_at is not None
    assert [event.object_id for event in audit_events(db, "user.password_changed")] == [user.id]
    assert notices(db, user) and "password of your Landing Desk account was changed" \
        in notices(db, user)[0]


def test_a_guessable_or_mismatched_new_password_is_refused_next_to_the_field(client_as):
    client, _user = client_as(Role.VIEWER)
    weak = change_password(client, TEST_PASSWORD, "password1234")
    assert field_errors(weak.get_data(as_text=True), "password")[0].startswith(
        "This password is too easy to guess")
    mismatched = client.post("/account/password", data={
        "csrf_token": csrf_token(client, "/account/security"), "current_password": TEST_PASSWORD,
        "password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"})
    assert field_errors(mismatched.get_data(as_text=True), "confirm") == ["The passwords differ."]


def test_wrong_current_passwords_lock_the_account_and_end_the_session(client_as, db):
    client, user = client_as(Role.VIEWER)
    for _ in range(5):
        change_password(client, "a guess")
    assert fresh(db).get(User, user.id).locked_until is not None
    response = change_password(client, TEST_PASSWORD)  # locked: even the right one is refused
    assert response.status_code == 422


# --- the email address --------------------------------------------------------------------------


def change_email(client, email: str, current: str = TEST_PASSWORD):
    return client.post("/account/email", data={
        "csrf_token": csrf_token(client, "/account/security"), "current_password": current,
        "email": email})


def test_a_changed_email_address_is_told_to_the_old_one(app, client_as, db):
    client, user = client_as(Role.MANAGER)
    assert change_email(client, "  New.Address@Desk.example ").status_code == 302
    stored = fresh(db).get(User, user.id)
    assert stored.email == "new.address@desk.example"
    message = fresh(db).scalars(select(OutboxMessage).where(
        OutboxMessage.dedupe_key.like(f"security-notice:{user.id}:%"))).one()
    assert message.to_address == user.email  # the old address
    assert "logs in with another email address" in message.body_text
    assert is_logged_in(client)
    assert login(app.test_client(), "new.address@desk.example").status_code == 302
    assert [event.object_id for event in audit_events(db, "user.email_changed")] == [user.id]


def test_an_address_in_use_or_malformed_is_refused_with_the_input_kept(client_as, make_user,
                                                                       db):
    client, user = client_as(Role.VIEWER)
    other = make_user(Role.VIEWER)
    taken = change_email(client, other.email)
    assert taken.status_code == 422
    page = taken.get_data(as_text=True)
    assert field_errors(page, "email") == ["Another account has this email address."]
    assert f'value="{other.email}"' in page
    bad = change_email(client, "no address\r\nBcc: x@evil.example")
    assert bad.status_code == 422 and field_errors(bad.get_data(as_text=True), "email")
    assert fresh(db).get(User, user.id).email == user.email


def test_the_security_page_shows_ones_own_settings(client_as):
    client, user = client_as(Role.VIEWER)
    page = client.get("/account/security").get_data(as_text=True)
    assert f"You log in with {user.email}." in page
    assert "Set up two-factor sign-in" in page
    assert 'autocomplete="current-password"' in page


# --- sessions kept on the server ----------------------------------------------------------------


def copy_of(app, client):
    """Another browser holding a copy of the client's session cookie."""
    thief = app.test_client()
    cookie = client.get_cookie("landing_desk_session")
    thief.set_cookie(cookie.key, cookie.value)
    return thief


def test_logging_out_makes_a_copied_cookie_worthless(app, client_as):
    client, _user = client_as(Role.BD_MANAGER)
    thief = copy_of(app, client)
    assert is_logged_in(thief)  # a copy works while the session lives ...
    client.post("/logout", data={"csrf_token": csrf_token(client, "/tasks/")})
    assert not is_logged_in(thief)  # ... and not after logging out


def test_the_security_page_lists_ones_sessions_and_ends_the_others(app, client_as, db):
    client, user = client_as(Role.VIEWER)
    elsewhere = app.test_client()
    elsewhere.environ_base["HTTP_USER_AGENT"] = "Firefox on the office PC"
    login(elsewhere, user.email)
    page = client.get("/account/security").get_data(as_text=True)
    assert "Firefox on the office PC" in page and "This one" in page

    refused = client.post("/account/sessions/end-others", data={
        "csrf_token": csrf_token(client, "/account/security"),
        "sessions-current_password": "wrong"})
    assert refused.status_code == 422 and is_logged_in(elsewhere)
    done = client.post("/account/sessions/end-others", data={
        "csrf_token": csrf_token(client, "/account/security"),
        "sessions-current_password": TEST_PASSWORD})
    assert done.status_code == 302
    assert is_logged_in(client) and not is_logged_in(elsewhere)
    assert "Firefox on the office PC" not in client.get("/account/security").get_data(
        as_text=True)
    assert audit_events(db, "user.sessions_ended")[-1].details == {"kept_current": True}


def test_an_admin_ends_every_session_of_an_account(app, client_as, db):
    client, user = client_as(Role.BD_MANAGER)
    admin_client, admin = client_as(Role.ADMIN)
    admin_client.post(f"/admin/users/{user.id}/sessions/end",
                      data={"csrf_token": csrf_token(admin_client, "/admin/users")})
    assert not is_logged_in(client)
    assert audit_events(db, "user.sessions_ended")[-1].actor_user_id == admin.id
    assert is_logged_in(admin_client)


def test_a_very_long_new_password_is_estimated_without_a_500(client_as):
    client, _user = client_as(Role.VIEWER)
    long_passphrase = "orbit lantern thimble cascade " * 20  # 600 characters
    response = change_password(client, TEST_PASSWORD, long_passphrase)
    assert response.status_code == 302


def test_two_factor_forms_posted_without_two_factor_say_why(client_as):
    client, _user = client_as(Role.VIEWER)
    token = csrf_token(client, "/account/security")
    for path in ("/account/two-factor/disable", "/account/two-factor/recovery-codes"):
        response = client.post(path, data={"csrf_token": token,
                                           "current_password": TEST_PASSWORD})
        assert response.headers["Location"] == "/account/security", path
        assert flashes(client.get("/account/security").get_data(as_text=True)) == [
            "Two-factor sign-in is not on for your account."]
    not_begun = client.post("/account/two-factor", data={
        "csrf_token": token, "current_password": TEST_PASSWORD, "code": "123456"})
    assert not_begun.headers["Location"] == "/account/two-factor"


def test_ending_other_sessions_with_a_wrong_password_shows_the_message(client_as):
    client, _user = client_as(Role.VIEWER)  # one session only: the form is not offered
    assert "End all other sessions" not in client.get("/account/security").get_data(
        as_text=True)
    response = client.post("/account/sessions/end-others", data={
        "csrf_token": csrf_token(client, "/account/security"),
        "sessions-current_password": "wrong"})
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "sessions-current_password") == [
        "This is not your current password."]


def test_a_new_password_built_on_the_desks_own_words_is_refused(client_as):
    """zxcvbn alone scores it 4 ("very unguessable"); the desk's words make it guessable."""
    client, _user = client_as(Role.VIEWER)
    response = change_password(client, TEST_PASSWORD, "Düsseldorf2026!")
    assert field_errors(response.get_data(as_text=True), "password")[0].startswith(
        "This password is too easy to guess")

"""Failed sign-ins lock an account, progressively; the emailed reset link sets a new password
once, ends all sessions and lifts the lock; an admin can unlock too."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.cli import cli
from crm.core.enums import Role
from crm.outbox.models import OutboxMessage
from crm.users.models import PasswordReset, User
from tests.conftest import TEST_PASSWORD, csrf_token, fresh, login
from tests.signin import MOMENT
from tests.test_auth import WRONG_CREDENTIALS, audit_events, field_errors, flashes, is_logged_in

NEW_PASSWORD = "lantern orbit thimble cascade"  # noqa: S105


@pytest.fixture
def settings(settings):
    """The per-address rate limit out of the way: these tests count the account's failures."""
    return settings.model_copy(update={"login_rate_limit": "1000 per minute"})


def fail(client, email: str, times: int) -> None:
    for _ in range(times):
        assert login(client, email, "not the password").status_code == 200


def password_errors(response) -> list[str]:
    return field_errors(response.get_data(as_text=True), "password")


# --- the lock ----------------------------------------------------------------------------------


def test_four_failures_do_not_lock_the_fifth_locks_for_a_minute(client, db, make_user, clock):
    clock(MOMENT)
    user = make_user(Role.BD_MANAGER)
    fail(client, user.email, 4)
    assert login(client, user.email).status_code == 302  # the right password still works
    assert fresh(db).get(User, user.id).failed_logins == 0  # and the count starts again
    client.post("/logout", data={"csrf_token": csrf_token(client, "/tasks/")})

    fail(client, user.email, 5)
    refused = login(client, user.email)  # right password, but locked
    assert refused.status_code == 200
    assert password_errors(refused) == [
        "After too many failed attempts this account is locked until 10:01\u202fAM. Or reset your "
        "password to unlock it now."]  # the desk's time, Europe/Berlin
    assert not is_logged_in(client)
    assert [event.object_id for event in audit_events(db, "auth.login_locked")] == [user.id]

    clock(MOMENT + timedelta(seconds=61))
    assert login(client, user.email).status_code == 302


def test_each_further_failure_doubles_the_lock(client, db, make_user, clock):
    clock(MOMENT)
    user = make_user(Role.VIEWER)
    fail(client, user.email, 5)
    clock(MOMENT + timedelta(minutes=1, seconds=1))
    fail(client, user.email, 1)
    stored = fresh(db).get(User, user.id)
    assert stored.failed_logins == 6
    assert stored.locked_until == MOMENT + timedelta(minutes=3, seconds=1)


def test_ten_failures_lock_until_an_admin_unlocks(app, client, client_as, db, make_user, clock):
    clock(MOMENT)
    user = make_user(Role.BD_MANAGER)
    for attempt in range(10):
        clock(MOMENT + timedelta(hours=attempt))  # each after the last lock ran out
        fail(client, user.email, 1)
    clock(MOMENT + timedelta(days=30))
    refused = login(client, user.email)
    assert password_errors(refused) == [
        "After too many failed attempts this account is locked. Reset your password to unlock "
        "it, or ask an administrator."]

    admin_client, admin = client_as(Role.ADMIN)
    page = admin_client.get("/admin/users").get_data(as_text=True)
    assert "Locked" in page and f"/admin/users/{user.id}/unlock" in page
    admin_client.post(f"/admin/users/{user.id}/unlock",
                      data={"csrf_token": csrf_token(admin_client, "/admin/users")})
    assert audit_events(db, "user.unlocked")[-1].actor_user_id == admin.id
    assert login(client, user.email).status_code == 302


def test_an_unknown_address_gets_the_same_answer_as_a_wrong_password(client, db, make_user):
    for _ in range(6):
        response = login(client, "nobody@desk.example", "whatever it is")
    assert password_errors(response) == [WRONG_CREDENTIALS]


# --- the reset link ----------------------------------------------------------------------------


def ask_for_reset(client, email: str):
    return client.post("/password/forgot", data={
        "csrf_token": csrf_token(client, "/password/forgot"), "email": email})


def reset_link(db, user: User) -> str:
    message = fresh(db).scalars(select(OutboxMessage).where(
        OutboxMessage.user_id == user.id, OutboxMessage.dedupe_key.like("password-reset:%"))
        .order_by(OutboxMessage.id.desc())).first()
    return re.search(r"http://localhost(/password/reset/\S+)", message.body_text).group(1)


def test_the_answer_is_the_same_whether_or_not_an_account_exists(client, db, make_user):
    user = make_user(Role.MANAGER)
    known = ask_for_reset(client, user.email.upper()).get_data(as_text=True)
    unknown = ask_for_reset(client, "nobody@desk.example").get_data(as_text=True)
    strip = re.compile(r'name="csrf_token"[^>]*>')
    assert strip.sub("", known) == strip.sub("", unknown)
    assert "If an active account has this address" in known
    messages = fresh(db).scalars(select(OutboxMessage)).all()
    assert [message.to_address for message in messages] == [user.email]


def test_the_link_sets_a_new_password_once_ends_sessions_and_lifts_the_lock(
        app, client, db, make_user, clock):
    clock(MOMENT)
    user = make_user(Role.BD_MANAGER)
    elsewhere = app.test_client()
    login(elsewhere, user.email)
    fail(client, user.email, 5)
    ask_for_reset(client, user.email)
    link = reset_link(db, user)
    assert fresh(db).scalar(select(PasswordReset.token_hash)) not in link  # only a hash kept

    assert client.get(link).status_code == 200
    response = client.post(link, data={"csrf_token": csrf_token(client, link),
                                       "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.headers["Location"].endswith("/login")
    assert "Your new password is set. Log in with it." in flashes(
        client.get("/login").get_data(as_text=True))
    assert not is_logged_in(elsewhere)
    assert client.get(link).status_code == 404  # used up
    assert password_errors(login(client, user.email, TEST_PASSWORD)) == [WRONG_CREDENTIALS]
    assert login(client, user.email, NEW_PASSWORD).status_code == 302
    assert [event.object_id for event in audit_events(db, "user.password_reset")] == [user.id]
    notice = fresh(db).scalars(select(OutboxMessage).where(
        OutboxMessage.dedupe_key.like("security-notice:%"))).one()
    assert "with a reset link" in notice.body_text


def test_the_link_expires_after_thirty_minutes(client, db, make_user, clock):
    clock(MOMENT)
    user = make_user(Role.VIEWER)
    ask_for_reset(client, user.email)
    link = reset_link(db, user)
    clock(MOMENT + timedelta(minutes=30, seconds=1))
    page = client.get(link)
    assert page.status_code == 404
    assert "This link does not work" in page.get_data(as_text=True)


def test_a_new_password_ends_every_open_link(client, db, make_user):
    user = make_user(Role.VIEWER)
    ask_for_reset(client, user.email)
    first = reset_link(db, user)
    ask_for_reset(client, user.email)
    second = reset_link(db, user)
    client.post(second, data={"csrf_token": csrf_token(client, second),
                              "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert client.get(first).status_code == 404


def test_a_guessable_password_is_refused_and_the_link_still_works(client, db, make_user):
    user = make_user(Role.VIEWER, name="Jun Park")
    ask_for_reset(client, user.email)
    link = reset_link(db, user)
    weak = "Jun Park Jun Park"
    response = client.post(link, data={"csrf_token": csrf_token(client, link),
                                       "password": weak, "confirm": weak})
    assert response.status_code == 422
    assert password_errors(response)[0].startswith("This password is too easy to guess")
    assert client.get(link).status_code == 200


@pytest.mark.parametrize("email", ["", "not an address", "a@b.example\r\nBcc: x@evil.example"])
def test_a_bad_address_on_the_forgot_page_gets_a_message_and_sends_nothing(client, db, email):
    response = ask_for_reset(client, email)
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "email")
    assert fresh(db).scalars(select(OutboxMessage)).all() == []


def test_a_deactivated_account_gets_no_working_link(client, client_as, db, make_user):
    user = make_user(Role.VIEWER)
    ask_for_reset(client, user.email)
    link = reset_link(db, user)
    admin_client, _admin = client_as(Role.ADMIN)
    admin_client.post(f"/admin/users/{user.id}/deactivate",
                      data={"csrf_token": csrf_token(admin_client, "/admin/users")})
    assert client.get(link).status_code == 404


def test_the_command_line_unlocks_when_no_admin_can_log_in(app, client, db, make_user, clock):
    clock(MOMENT)
    admin = make_user(Role.ADMIN)
    fail(client, admin.email, 10)
    runner = app.test_cli_runner()
    unknown = runner.invoke(cli, ["users", "unlock", "--email", "nobody@desk.example"])
    done = runner.invoke(cli, ["users", "unlock", "--email", admin.email.upper()])
    assert unknown.exit_code == 1 and "no account has this email address" in unknown.output
    assert done.exit_code == 0, done.output
    assert login(client, admin.email).status_code == 302
    assert audit_events(db, "user.unlocked")[-1].details == {"via": "command line"}

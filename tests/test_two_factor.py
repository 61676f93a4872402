"""Two-factor sign-in: setting it up, signing in with a code or a recovery code, each code
once, turning it off, and the admins' policy requiring it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm.core.enums import Role
from crm.outbox.models import OutboxMessage
from crm.users import two_factor
from crm.users.models import RecoveryCode, User
from tests.conftest import TEST_PASSWORD, csrf_token, fresh, login
from tests.signin import MOMENT, code_at, log_in_with_code, set_up_two_factor
from tests.test_auth import audit_events, field_errors, flashes, is_logged_in

WRONG_CODE = ("This code is not right. Type the 6 digits your app shows now, or one of your "
              "recovery codes.")


@pytest.fixture
def user_with_two_factor(app, client_as, clock):
    """A BD manager who set up two-factor at MOMENT; their secret and recovery codes."""
    clock(MOMENT)
    client, user = client_as(Role.BD_MANAGER)
    secret, codes = set_up_two_factor(client)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/security")})
    return user, secret, codes


def test_setting_up_shows_a_qr_code_and_turns_on_with_a_code_and_the_password(
        app, client_as, db, clock):
    clock(MOMENT)
    client, user = client_as(Role.BD_MANAGER)
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "Begin" in page and "data:image/svg+xml" not in page
    token = csrf_token(client, "/account/two-factor")
    client.post("/account/two-factor/start", data={"csrf_token": token})
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert '<img src="data:image/svg+xml' in page

    secret, codes = set_up_two_factor(client)

    stored = fresh(db).get(User, user.id)
    assert stored.totp_enabled_at == MOMENT
    assert secret not in stored.totp_secret  # kept encrypted
    with app.app_context():
        assert two_factor.secret_of(stored) == secret
    assert len(codes) == 10 and len(set(codes)) == 10
    hashes = set(db.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)))
    assert len(hashes) == 10 and not hashes & {code.replace("-", "") for code in codes}
    assert [event.object_id for event in audit_events(db, "user.two_factor_enabled")] == [user.id]
    notice = db.scalar(select(OutboxMessage).where(OutboxMessage.user_id == user.id,
                                                   OutboxMessage.dedupe_key.like("security-notice:%")))
    assert "Two-factor sign-in was turned on" in notice.body_text
    assert is_logged_in(client)  # this session goes on


def test_a_wrong_code_or_password_at_set_up_leaves_it_off_with_a_message(client_as, db, clock):
    clock(MOMENT)
    client, user = client_as(Role.VIEWER)
    token = csrf_token(client, "/account/two-factor")
    client.post("/account/two-factor/start", data={"csrf_token": token})
    page = client.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r'<code class="secret-key">([A-Z2-7]+)</code>', page).group(1)

    wrong_code = client.post("/account/two-factor", data={
        "csrf_token": token, "code": "000000", "current_password": TEST_PASSWORD})
    assert wrong_code.status_code == 422
    assert field_errors(wrong_code.get_data(as_text=True), "code") == [
        "This code is not right. Type the 6 digits your app shows now."]
    wrong_password = client.post("/account/two-factor", data={
        "csrf_token": token, "code": code_at(secret, MOMENT), "current_password": "guess"})
    assert wrong_password.status_code == 422
    assert field_errors(wrong_password.get_data(as_text=True), "current_password") == [
        "This is not your current password."]
    stored = fresh(db).get(User, user.id)
    assert stored.totp_enabled_at is None
    assert stored.failed_logins == 1  # the wrong password counts, committed despite the 422


def test_signing_in_asks_for_the_code_after_the_password(client, db, user_with_two_factor):
    user, secret, _codes = user_with_two_factor
    first = login(client, user.email)
    assert first.headers["Location"].endswith("/login/code")
    assert not is_logged_in(client)  # the password alone does not open the account
    wrong = client.post("/login/code", data={"csrf_token": csrf_token(client, "/login/code"),
                                             "code": "123456"})
    assert field_errors(wrong.get_data(as_text=True), "code") == [WRONG_CODE]
    assert not is_logged_in(client)

    next_step = code_at(secret, MOMENT + timedelta(seconds=30))  # a phone's clock a little ahead
    right = client.post("/login/code", data={"csrf_token": csrf_token(client, "/login/code"),
                                             "code": next_step})
    assert right.status_code == 302
    assert is_logged_in(client)
    assert audit_events(db, "auth.login")[-1].details["second_factor"] is True
    assert audit_events(db, "auth.login_failed")[-1].details["reason"] == "bad_second_factor"


def test_a_code_works_once(app, client, user_with_two_factor, clock):
    user, secret, _codes = user_with_two_factor
    later = MOMENT + timedelta(minutes=2)
    clock(later)
    assert log_in_with_code(client, user.email, code_at(secret, later)).status_code == 302
    replay = log_in_with_code(app.test_client(), user.email, code_at(secret, later))
    assert field_errors(replay.get_data(as_text=True), "code") == [WRONG_CODE]


def test_a_recovery_code_works_once_and_is_audited(app, client, db, user_with_two_factor):
    user, _secret, codes = user_with_two_factor
    typed = codes[3].upper().replace("-", " ")  # as someone might type it
    assert log_in_with_code(client, user.email, typed).status_code == 302
    assert audit_events(db, "auth.recovery_code_used")[-1].details == {"left": 9}
    again = log_in_with_code(app.test_client(), user.email, codes[3])
    assert field_errors(again.get_data(as_text=True), "code") == [WRONG_CODE]


def test_the_code_page_without_a_password_just_typed_sends_to_login(client, clock,
                                                                     user_with_two_factor):
    user, secret, _codes = user_with_two_factor
    assert client.get("/login/code").headers["Location"].endswith("/login")
    login(client, user.email)
    clock(MOMENT + timedelta(minutes=6))  # five minutes to type the code
    late = client.post("/login/code", data={"csrf_token": csrf_token(client, "/login"),
                                            "code": code_at(secret, MOMENT + timedelta(minutes=6))})
    assert late.headers["Location"].endswith("/login")
    assert not is_logged_in(client)


def test_wrong_codes_lock_the_account_like_wrong_passwords(client, db, user_with_two_factor):
    user, secret, _codes = user_with_two_factor
    login(client, user.email)
    token = csrf_token(client, "/login/code")
    for _ in range(5):
        client.post("/login/code", data={"csrf_token": token, "code": "999999"})
    locked = client.post("/login/code", data={"csrf_token": token,
                                              "code": code_at(secret, MOMENT)})
    assert "this account is locked until" in field_errors(locked.get_data(as_text=True),
                                                          "code")[0]
    assert not is_logged_in(client)
    assert fresh(db).get(User, user.id).failed_logins == 5


def test_turning_off_asks_for_the_password_and_forgets_the_codes(client_as, db, clock):
    clock(MOMENT)
    client, user = client_as(Role.MANAGER)
    set_up_two_factor(client)
    token = csrf_token(client, "/account/security")
    refused = client.post("/account/two-factor/disable",
                          data={"csrf_token": token, "current_password": "not it"})
    assert refused.status_code == 422
    assert fresh(db).get(User, user.id).has_two_factor
    done = client.post("/account/two-factor/disable",
                       data={"csrf_token": token, "current_password": TEST_PASSWORD})
    assert done.status_code == 302
    stored = fresh(db).get(User, user.id)
    assert not stored.has_two_factor and stored.totp_secret is None
    assert db.scalar(select(func.count()).select_from(RecoveryCode)) == 0
    assert is_logged_in(client)


def test_new_recovery_codes_replace_the_old_ones(app, client_as, db, clock):
    clock(MOMENT)
    client, user = client_as(Role.VIEWER)
    _secret, old_codes = set_up_two_factor(client)
    page = client.post("/account/two-factor/recovery-codes", data={
        "csrf_token": csrf_token(client, "/account/security"),
        "current_password": TEST_PASSWORD}).get_data(as_text=True)
    assert "this page is the only time they are shown" in page
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/security")})
    old = log_in_with_code(app.test_client(), user.email, old_codes[0])
    assert field_errors(old.get_data(as_text=True), "code") == [WRONG_CODE]


def test_enabling_ends_the_users_other_sessions(app, client_as, make_user, clock):
    clock(MOMENT)
    client, user = client_as(Role.BD_MANAGER)
    other = app.test_client()
    login(other, user.email)
    set_up_two_factor(client)
    assert is_logged_in(client) and not is_logged_in(other)


def test_when_the_desk_requires_it_staff_set_it_up_before_anything_else(
        app, client_as, db, clock):
    clock(MOMENT)
    admin_client, admin = client_as(Role.ADMIN)
    response = admin_client.post("/admin/security", data={
        "csrf_token": csrf_token(admin_client, "/admin/security"), "require_two_factor": "y"})
    assert response.status_code == 302
    assert [event.actor_user_id for event in audit_events(db, "policy.two_factor_required")] \
        == [admin.id]

    client, user = client_as(Role.BD_MANAGER)
    for path in ("/startups", "/tasks/", "/admin/users", "/account/security"):
        assert client.get(path).headers["Location"].endswith("/account/two-factor"), path
    set_up_two_factor(client)
    assert client.get("/tasks/").status_code == 200
    page = client.get("/account/security").get_data(as_text=True)
    assert "Turn off" not in page
    refused = client.post("/account/two-factor/disable", data={
        "csrf_token": csrf_token(client, "/account/security"), "current_password": TEST_PASSWORD})
    assert "cannot be turned off" in " ".join(flashes(client.get(
        refused.headers["Location"]).get_data(as_text=True)))
    assert fresh(db).get(User, user.id).has_two_factor


def test_an_admin_resets_a_lost_second_factor(app, client_as, db, user_with_two_factor):
    user, _secret, _codes = user_with_two_factor
    admin_client, admin = client_as(Role.ADMIN)
    page = admin_client.get("/admin/users").get_data(as_text=True)
    assert f"/admin/users/{user.id}/two-factor/reset" in page
    admin_client.post(f"/admin/users/{user.id}/two-factor/reset",
                      data={"csrf_token": csrf_token(admin_client, "/admin/users")})
    assert not fresh(db).get(User, user.id).has_two_factor
    assert audit_events(db, "user.two_factor_disabled")[-1].actor_user_id == admin.id
    client = app.test_client()
    assert login(client, user.email).headers["Location"].endswith("/")
    assert is_logged_in(client)


def test_the_admin_security_page_counts_accounts_with_two_factor(client_as, clock,
                                                                  user_with_two_factor):
    admin_client, _admin = client_as(Role.ADMIN)
    page = admin_client.get("/admin/security").get_data(as_text=True)
    assert "1 of 2 active accounts use two-factor sign-in." in page

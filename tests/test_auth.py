"""Login, logout, password hashing, audit of every attempt, and `crm users create`."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlalchemy import select

from crm.cli import cli
from crm.core.audit import AuditEvent
from crm.core.enums import Role
from crm.users import services
from crm.users.models import User
from crm.users.passwords import needs_rehash
from tests.conftest import TEST_PASSWORD, csrf_token, fresh, login

WRONG_CREDENTIALS = "Wrong email address or password."
PLEASE_LOG_IN = "Please log in to continue."


def audit_events(db, action: str) -> list[AuditEvent]:
    return list(fresh(db).scalars(select(AuditEvent).where(AuditEvent.action == action)
                           .order_by(AuditEvent.id)))


def field_errors(page: str, field: str) -> list[str]:
    """The error messages listed next to a form field (see _macros.html)."""
    match = re.search(rf'<ul class="errors" id="{field}-errors">(.*?)</ul>', page, re.S)
    if not match:
        return []
    return [html.unescape(text) for text in re.findall(r"<li>(.*?)</li>", match.group(1))]


def input_value(page: str, name: str) -> str | None:
    """The value of an input of the login form (the language form has a `next` too)."""
    form = re.search(r'<form method="post" action="/login".*?</form>', page, re.S)
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', form.group(0) if form else "")
    if not match:
        return None
    value = re.search(r'value="([^"]*)"', match.group(0))
    return html.unescape(value.group(1)) if value else ""


def flashes(page: str) -> list[str]:
    return [html.unescape(text) for text in re.findall(r'<p class="flash[^"]*">(.*?)</p>', page)]


def is_logged_in(client) -> bool:
    response = client.get("/tasks/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


# --- the login page and a successful login ---------------------------------------------------


def test_login_page_has_the_form(client):
    response = client.get("/login")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Log in to Landing Desk" in page
    assert input_value(page, "email") == ""
    assert 'name="password"' in page
    assert 'name="csrf_token"' in page


def test_login_starts_a_session_and_writes_an_audit_event(app, client, db, make_user):
    user = make_user(Role.MANAGER, name="Mira Manager")

    response = login(client, user.email)

    assert response.status_code == 302
    assert response.headers["Location"] == "/work/"
    tasks = client.get("/tasks/")
    assert tasks.status_code == 200
    assert "Mira Manager · Manager" in tasks.get_data(as_text=True)
    [event] = audit_events(db, "auth.login")
    assert event.actor_user_id == user.id
    assert (event.object_type, event.object_id) == ("user", user.id)
    assert event.ip_address == "127.0.0.1"
    assert fresh(db).get(User, user.id).last_login_at is not None


def test_email_is_matched_without_regard_to_case_and_spaces(client, make_user):
    user = make_user(Role.VIEWER, email="case.test@desk.example")

    response = login(client, "  Case.Test@DESK.example ")

    assert response.status_code == 302
    assert is_logged_in(client)
    assert user.email == "case.test@desk.example"


@pytest.mark.real_password_hashing
def test_password_is_stored_as_an_argon2id_hash(db, make_user):
    user = make_user(Role.VIEWER)

    stored = db.get(User, user.id).password_hash

    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # RFC 9106's second choice
    assert TEST_PASSWORD not in stored
    assert not needs_rehash(stored)


@pytest.mark.real_password_hashing
def test_a_hash_with_outdated_parameters_is_upgraded_at_login(client, db, make_user):
    user = make_user(Role.VIEWER)
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(TEST_PASSWORD)
    db.get(User, user.id).password_hash = weak
    db.commit()

    assert login(client, user.email).status_code == 302

    upgraded = fresh(db).get(User, user.id).password_hash
    assert upgraded != weak
    assert upgraded.startswith("$argon2id$")
    assert not needs_rehash(upgraded)


@pytest.mark.parametrize("role", list(Role))
def test_every_role_can_log_in(client, make_user, role):
    user = make_user(role)

    assert login(client, user.email).status_code == 302
    assert is_logged_in(client)


# --- failed logins ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["wrong_password", "unknown_user"])
def test_failed_login_shows_the_form_again_with_the_email_kept(client, db, make_user, case):
    make_user(Role.BD_MANAGER, email="known@desk.example")
    email = "known@desk.example" if case == "wrong_password" else "nobody@desk.example"
    password = "not the right password at all"  # noqa: S105

    response = login(client, email, password)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert field_errors(page, "password") == [WRONG_CREDENTIALS]  # same text: no enumeration
    assert input_value(page, "email") == email
    assert input_value(page, "password") == ""  # a password is never sent back
    assert not is_logged_in(client)

    [event] = audit_events(db, "auth.login_failed")
    assert event.details == {"reason": "bad_credentials"}
    assert audit_events(db, "auth.login") == []
    stored = json.dumps([event.details, event.object_type, event.action])
    assert email not in stored and "known" not in stored and "nobody" not in stored
    assert password not in stored


def test_failed_login_puts_no_email_or_password_in_the_log(client, make_user, caplog):
    caplog.set_level("DEBUG")
    password = "guessing-a-password-here"  # noqa: S105

    login(client, "someone.secret@desk.example", password)

    assert "someone.secret" not in caplog.text
    assert password not in caplog.text


def test_a_nul_character_in_the_login_form_gets_a_clear_400(client, db):
    response = login(client, "a\x00b@desk.example", "secret\x00")

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert '<section class="error-page">' in page
    assert "The request could not be understood. Please try again." in page
    assert audit_events(db, "auth.login_failed") == []


def test_deactivated_user_cannot_log_in(app, client, db, make_user):
    admin = make_user(Role.ADMIN)
    user = make_user(Role.BD_MANAGER)
    services.set_active(db, db.get(User, user.id), False, db.get(User, admin.id))
    db.commit()

    response = login(client, user.email)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert field_errors(page, "password") == [WRONG_CREDENTIALS]
    assert not is_logged_in(client)
    [event] = audit_events(db, "auth.login_failed")
    assert event.actor_user_id == user.id
    assert event.details == {"reason": "inactive"}
    assert user.email not in json.dumps(event.details)


def test_invited_user_without_a_password_cannot_log_in(client, db):
    services.create_user(db, email="invited@desk.example", name="Invited", role=Role.VIEWER)
    db.commit()

    for password in ("", "no-such-user-password", TEST_PASSWORD):
        response = login(client, "invited@desk.example", password)
        assert response.status_code == 200
    assert not is_logged_in(client)


def test_empty_login_form_gets_messages_next_to_the_fields(client):
    response = login(client, "", "")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert field_errors(page, "email") == ["This field is required."]
    assert field_errors(page, "password") == ["This field is required."]


# --- logout and expired sessions ---------------------------------------------------------------


def test_logout_ends_the_session_and_is_audited(client, db, make_user):
    user = make_user(Role.VIEWER)
    login(client, user.email)

    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/tasks/")})

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert "You have logged out." in flashes(client.get("/login").get_data(as_text=True))
    assert not is_logged_in(client)
    [event] = audit_events(db, "auth.logout")
    assert event.actor_user_id == user.id


def test_logout_by_get_is_refused_with_our_page(client, make_user):
    user = make_user(Role.VIEWER)
    login(client, user.email)

    response = client.get("/logout")

    assert response.status_code == 405
    assert '<section class="error-page">' in response.get_data(as_text=True)
    assert is_logged_in(client)


def test_a_changed_session_version_sends_the_user_to_login_with_a_message(client, db,
                                                                          make_user):
    admin = make_user(Role.ADMIN)
    user = make_user(Role.BD_MANAGER)
    login(client, user.email)
    assert is_logged_in(client)

    services.change_role(db, db.get(User, user.id), Role.VIEWER, db.get(User, admin.id))
    db.commit()
    response = client.get("/tasks/")

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.path, location.query) == ("/login", "next=/tasks/")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert PLEASE_LOG_IN in flashes(page)
    assert input_value(page, "next") == "/tasks/"


def test_anonymous_visitor_is_sent_to_login_and_back_afterwards(client, make_user):
    user = make_user(Role.VIEWER)

    response = client.get("/reports/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/reports/"

    response = login(client, user.email, next="/reports/")
    assert response.headers["Location"] == "/reports/"


def test_logged_in_user_on_the_login_page_goes_to_the_start_page(client, make_user):
    user = make_user(Role.VIEWER)
    login(client, user.email)

    response = client.get("/login")

    assert response.status_code == 302
    assert response.headers["Location"] == "/work/"


@pytest.mark.parametrize("target", [
    "https://evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\nSet-Cookie: stolen=1",
    " //evil.example",
    "javascript:alert(1)",
    "evil.example",
])
def test_next_never_leads_off_site(client, make_user, target):
    user = make_user(Role.VIEWER)

    response = login(client, user.email, next=target)

    assert response.status_code == 302
    assert response.headers["Location"] == "/work/"
    assert "stolen" not in response.headers.get("Set-Cookie", "")


def test_next_from_the_query_string_is_carried_by_the_form_and_checked(client, make_user):
    user = make_user(Role.VIEWER)
    page = client.get("/login?next=https://evil.example/steal").get_data(as_text=True)
    assert input_value(page, "next") == "https://evil.example/steal"

    response = client.post("/login", data={
        "email": user.email, "password": TEST_PASSWORD, "next": "https://evil.example/steal",
        "csrf_token": csrf_token(client),
    })

    assert response.headers["Location"] == "/work/"


def test_login_page_with_control_characters_in_next_still_renders(client):
    response = client.get("/login?next=%0d%0aSet-Cookie:%20stolen=1")

    assert response.status_code == 200
    assert input_value(response.get_data(as_text=True), "next") == "\r\nSet-Cookie: stolen=1"
    assert "stolen" not in response.headers.get("Set-Cookie", "")


def test_next_keeps_a_local_path_with_its_query(client, make_user):
    user = make_user(Role.VIEWER)

    response = login(client, user.email, next="/?q=acme&status=lead")

    assert response.headers["Location"] == "/?q=acme&status=lead"


# --- `crm users create` ------------------------------------------------------------------------


def create_args(email: str, password: str, role: str = "admin") -> list[str]:
    return ["users", "create", "--email", email, "--name", "Ada Admin", "--role", role,
            "--password", password]


def test_cli_creates_a_user_who_can_log_in(app, client, db):
    result = app.test_cli_runner().invoke(cli, create_args("Ada@Desk.example", TEST_PASSWORD,
                                                           "manager"))

    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"created user #\d+ with role manager\n", result.output)
    user = services.find_by_email(fresh(db), "ada@desk.example")
    assert (user.name, user.role, user.is_active) == ("Ada Admin", Role.MANAGER, True)
    assert user.password_hash.startswith("$argon2id$")
    assert [e.object_id for e in audit_events(db, "user.created")] == [user.id]
    assert login(client, "ada@desk.example").status_code == 302


def test_cli_prompts_for_the_password_when_it_is_omitted(app, db):
    result = app.test_cli_runner().invoke(
        cli, ["users", "create", "--email", "prompt@desk.example", "--name", "Prompted"],
        input=f"{TEST_PASSWORD}\n{TEST_PASSWORD}\n",
    )

    assert result.exit_code == 0, result.output
    user = services.find_by_email(fresh(db), "prompt@desk.example")
    assert user.role == Role.ADMIN  # the default
    assert user.password_hash.startswith("$argon2id$")


def test_cli_refuses_a_guessable_password(app, db):
    result = app.test_cli_runner().invoke(cli, create_args("weak@desk.example", "password1234"))

    assert result.exit_code == 2
    assert "Invalid value for password: too easy to guess" in result.output
    assert services.find_by_email(fresh(db), "weak@desk.example") is None


def test_cli_refuses_a_short_password(app, db):
    result = app.test_cli_runner().invoke(cli, create_args("short@desk.example", "elevenchars"))

    assert result.exit_code == 2
    assert "Invalid value for password: at least 12 characters" in result.output
    assert services.find_by_email(fresh(db), "short@desk.example") is None


def test_cli_refuses_a_duplicate_email_with_a_clear_message(app, db, make_user):
    make_user(Role.VIEWER, email="taken@desk.example")

    result = app.test_cli_runner().invoke(cli, create_args("TAKEN@desk.example", TEST_PASSWORD))

    assert result.exit_code == 1
    assert result.output == "Error: A user with this email address exists already.\n"
    assert isinstance(result.exception, SystemExit)  # no traceback
    taken = fresh(db).scalar(select(User).where(User.email == "taken@desk.example"))
    assert taken.role == Role.VIEWER


def test_cli_refuses_an_unknown_role(app, db):
    result = app.test_cli_runner().invoke(cli, create_args("role@desk.example", TEST_PASSWORD,
                                                           "owner"))

    assert result.exit_code == 2
    assert "Invalid value for '--role'" in result.output
    assert services.find_by_email(fresh(db), "role@desk.example") is None


def test_cli_builds_its_app_from_the_environment(app, db, settings, monkeypatch):
    """The real entry path: no test app handed in, settings read from the environment."""
    monkeypatch.setenv("ENV", "test")
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("RATELIMIT_STORAGE_URL", "memory://")
    monkeypatch.setenv("BROKER_FOLDER", str(settings.broker_folder))

    runner = CliRunner()
    created = runner.invoke(cli, create_args("env@desk.example", TEST_PASSWORD))
    duplicate = runner.invoke(cli, create_args("env@desk.example", TEST_PASSWORD))

    assert created.exit_code == 0, created.output
    assert services.find_by_email(fresh(db), "env@desk.example").role == Role.ADMIN
    assert duplicate.exit_code == 1
    assert "A user with this email address exists already." in duplicate.output

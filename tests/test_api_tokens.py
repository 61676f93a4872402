"""The API token pages: a token made on the account page (after the password) is shown once and
opens the API; the list never shows it again; revoking or expiry closes it; viewers read only;
admins see and revoke everyone's; every step is audited."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from sqlalchemy import select

from crm.api.models import ApiToken
from crm.core.audit import AuditEvent
from crm.core.clock import utcnow
from crm.core.enums import Role
from crm.db import get_session
from crm.users import services
from crm.users.models import User
from tests.api import issue_token
from tests.conftest import TEST_PASSWORD, csrf_token, fresh
from tests.test_auth import field_errors

SECRET = re.compile(r'id="api-token-secret" value="(ldt_[^"]+)"')
PAGE = "/account/api-tokens"


def create(client, **fields):
    data = {"csrf_token": csrf_token(client, PAGE), "name": "Figures script", "access": "read",
            "days": "30", "current_password": TEST_PASSWORD, **fields}
    return client.post(PAGE, data=data)


def secret_of(response) -> str:
    match = SECRET.search(response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:2000]
    return html.unescape(match.group(1))


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def audit_events(db, action: str) -> list[AuditEvent]:
    return list(fresh(db).scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_new_token_is_shown_once_and_opens_the_api(client_as, db):
    client, user = client_as(Role.BD_MANAGER)
    response = create(client, access="write")
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "will not be shown again" in page
    secret = secret_of(response)
    assert secret not in response.headers.get("Location", "")
    assert secret not in response.headers.get("Set-Cookie", "")
    api = client.application.test_client()  # no cookie: the token alone
    assert api.get("/api/v1/startups", headers=bearer(secret)).status_code == 200
    created = api.post("/api/v1/startups", headers=bearer(secret),
                       json={"name": "Token Robotics", "country": "IN"})
    assert created.status_code == 201, created.get_data(as_text=True)
    listing = client.get(PAGE).get_data(as_text=True)
    assert "Figures script" in listing and secret not in listing
    token = fresh(db).scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert token.prefix in listing and token.scopes == "read write"
    assert token.last_used_at is not None
    [event] = audit_events(db, "api_token.created")
    assert event.actor_user_id == user.id and event.object_id == token.id
    assert secret not in str(event.details)


def test_a_read_token_cannot_write(client_as):
    client, _ = client_as(Role.MANAGER)
    secret = secret_of(create(client, access="read"))
    api = client.application.test_client()
    assert api.get("/api/v1/startups", headers=bearer(secret)).status_code == 200
    refused = api.post("/api/v1/startups", headers=bearer(secret),
                       json={"name": "Nope", "country": "IN"})
    assert refused.status_code == 403


def test_creating_a_token_asks_for_the_password(client_as, db):
    client, user = client_as(Role.MANAGER)
    response = create(client, current_password="not my password", name="Kept name")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_errors(page, "current_password") == ["This is not your current password."]
    assert 'value="Kept name"' in page and "ldt_" not in page.replace('ldt_…', "")
    assert fresh(db).scalar(select(ApiToken).where(ApiToken.user_id == user.id)) is None
    missing = create(client, name="")
    assert missing.status_code == 422
    assert field_errors(missing.get_data(as_text=True), "name")


def test_a_viewer_is_offered_read_only_and_cannot_send_write(client_as, db):
    client, user = client_as(Role.VIEWER)
    page = client.get(PAGE).get_data(as_text=True)
    assert 'value="read"' in page and 'value="write"' not in page
    refused = create(client, access="write")
    assert refused.status_code == 422
    assert field_errors(refused.get_data(as_text=True), "access")
    assert fresh(db).scalar(select(ApiToken).where(ApiToken.user_id == user.id)) is None
    assert create(client, access="read").status_code == 201


def test_revoking_asks_first_then_the_token_stops(client_as, db):
    client, user = client_as(Role.BD_MANAGER)
    secret = secret_of(create(client))
    token = fresh(db).scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    confirm = client.get(f"{PAGE}/{token.id}/revoke")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.get_data(as_text=True)
    assert fresh(db).get(ApiToken, token.id).revoked_at is None  # asking changes nothing
    done = client.post(f"{PAGE}/{token.id}/revoke", data={"csrf_token": csrf_token(client, PAGE)})
    assert done.status_code == 302
    assert "Revoked" in client.get(PAGE).get_data(as_text=True)
    answer = client.application.test_client().get("/api/v1/startups", headers=bearer(secret))
    assert answer.status_code == 401
    [event] = audit_events(db, "api_token.revoked")
    assert event.actor_user_id == user.id and event.details["owner_id"] == user.id


def test_one_cannot_revoke_anothers_token_on_the_account_page(app, client_as, make_user, db):
    client, _ = client_as(Role.MANAGER)
    other = make_user(Role.BD_MANAGER)
    secret = issue_token(app, other)
    token = fresh(db).scalar(select(ApiToken).where(ApiToken.user_id == other.id))
    assert client.get(f"{PAGE}/{token.id}/revoke").status_code == 404
    posted = client.post(f"{PAGE}/{token.id}/revoke",
                         data={"csrf_token": csrf_token(client, PAGE)})
    assert posted.status_code == 404
    assert app.test_client().get("/api/v1/startups", headers=bearer(secret)).status_code == 200


def test_an_expired_token_stops_and_is_listed_as_expired(client_as, clock):
    client, _ = client_as(Role.BD_MANAGER)
    secret = secret_of(create(client, days="7"))
    api = client.application.test_client()
    assert api.get("/api/v1/startups", headers=bearer(secret)).status_code == 200
    clock(utcnow() + timedelta(days=7, seconds=1))
    assert api.get("/api/v1/startups", headers=bearer(secret)).status_code == 401
    assert "Expired" in client.get(PAGE).get_data(as_text=True)


def test_a_deactivated_users_tokens_stop(app, make_user, db):
    user, admin = make_user(Role.BD_MANAGER), make_user(Role.ADMIN)
    secret = issue_token(app, user)
    api = app.test_client()
    assert api.get("/api/v1/startups", headers=bearer(secret)).status_code == 200
    with app.app_context():
        session = get_session()
        services.set_active(session, session.get(User, user.id), False,
                            session.get(User, admin.id))
        session.commit()
    assert api.get("/api/v1/startups", headers=bearer(secret)).status_code == 401


def test_admins_list_everyones_live_tokens_and_revoke_them(app, client_as, make_user, db):
    admin_client, admin = client_as(Role.ADMIN)
    owner = make_user(Role.BD_MANAGER, name="Token Owner")
    secret = issue_token(app, owner)
    token = fresh(db).scalar(select(ApiToken).where(ApiToken.user_id == owner.id))
    page = admin_client.get("/admin/api-tokens").get_data(as_text=True)
    assert "Token Owner" in page and token.prefix in page and secret not in page
    confirm = admin_client.get(f"/admin/api-tokens/{token.id}/revoke")
    assert confirm.status_code == 200 and "Token Owner" in confirm.get_data(as_text=True)
    done = admin_client.post(f"/admin/api-tokens/{token.id}/revoke",
                             data={"csrf_token": csrf_token(admin_client, "/admin/api-tokens")})
    assert done.status_code == 302
    assert app.test_client().get("/api/v1/startups", headers=bearer(secret)).status_code == 401
    [event] = audit_events(db, "api_token.revoked")
    assert event.actor_user_id == admin.id and event.details["owner_id"] == owner.id
    assert "Token Owner" not in admin_client.get("/admin/api-tokens").get_data(as_text=True)


def test_the_pages_are_linked_from_the_menu_and_the_security_page(client_as):
    client, _ = client_as(Role.VIEWER)
    page = client.get("/account/security").get_data(as_text=True)
    assert page.count('href="/account/api-tokens"') == 2  # the user menu and the page

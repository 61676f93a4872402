"""Every route × every role × own or another's record: who gets in, who is refused.

The table below must list every endpoint in Flask's URL map, so a new route cannot ship without
a decision about who may use it. Each role gets a world of its own (two BD managers' startups
with an enrollment, checklist item, task and document each) and calls every route on its own
record and on another's. A POST carries only a valid CSRF token: the answer tells whether the
caller got past the permission check (a form error is "in"), not whether the form was complete.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import url_for
from sqlmodel import Session, select
from werkzeug.datastructures import FileStorage

from crm.api import tokens
from crm.core.enums import ActivityKind, OutboxStatus, Role
from crm.db import get_session
from crm.documents.services import store_document
from crm.exports import services as export_services
from crm.imports import services as import_services
from crm.intake.models import Application
from crm.outbox.models import OutboxAttachment, OutboxMessage
from crm.startups.listing import ListView
from crm.startups.models import Activity, Contact, SavedView, Task
from crm.users.models import User
from crm.webhooks.models import WebhookDelivery, WebhookEndpoint
from crm.workflow import engine
from crm.workflow.engine import Actor
from crm.workflow.models import ChecklistItem
from tests.conftest import csrf_token, login
from tests.factories import definition, make_programme, make_startup

ANONYMOUS = "anonymous"
ROLES = (ANONYMOUS, Role.VIEWER, Role.BD_MANAGER, Role.MANAGER, Role.ADMIN)

IN = "in"  # past the permission check: 200 for a page, a redirect or form error for a POST
DENIED = "denied"  # 403
MISSING = "missing"  # 404
LOGIN = "login"  # a page sends to the login page; a POST gets 401

SMALL_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass(frozen=True)
class Access:
    """The expected answer per role; a BD manager's may differ between own and other's."""

    anonymous: str = LOGIN
    viewer: str = IN
    bd_own: str = IN
    bd_other: str = IN
    manager: str = IN
    admin: str = IN

    def expected(self, role: str, whose: str) -> str:
        if role == ANONYMOUS:
            return self.anonymous
        if role == Role.BD_MANAGER:
            return self.bd_own if whose == "own" else self.bd_other
        return getattr(self, str(role))


PUBLIC = Access(anonymous=IN)
STAFF = Access()
EDITORS = Access(viewer=DENIED)
EDITOR_OF_RECORD = Access(viewer=DENIED, bd_other=DENIED)
MANAGERS = Access(viewer=DENIED, bd_own=DENIED, bd_other=DENIED)
ADMINS = Access(viewer=DENIED, bd_own=DENIED, bd_other=DENIED, manager=DENIED)
#: Records only their creator may open (the world's belong to the two BD managers).
OWNER_ONLY = Access(viewer=DENIED, bd_other=DENIED, manager=DENIED, admin=DENIED)


@dataclass
class World:
    users: dict[str, User]
    ids: dict[str, dict[str, int]]  # "own"/"other" -> name -> id
    programme_key: str

    def of(self, whose: str) -> dict[str, int]:
        return self.ids[whose]


def _startup_args(world: World, whose: str) -> dict:
    return {"startup_id": world.of(whose)["startup"]}


def _enrollment_args(world: World, whose: str) -> dict:
    return {"enrollment_id": world.of(whose)["enrollment"]}


def _no_args(world: World, whose: str) -> dict:
    return {}


def _contact_args(world: World, whose: str) -> dict:
    return {"startup_id": world.of(whose)["startup"], "contact_id": world.of(whose)["contact"]}


def _programme_key(world: World, whose: str) -> dict:
    return {"key": world.programme_key}


def _record(name: str, argument: str) -> Callable[[World, str], dict]:
    return lambda world, whose: {argument: world.of(whose)[name]}


ArgsOf = Callable[[World, str], dict]
#: A BD manager's own API token: anyone else is told there is no such token.
TOKEN_OWNER = Access(viewer=MISSING, bd_own=IN, bd_other=MISSING, manager=MISSING,
                     admin=MISSING)


#: endpoint -> (who may use it, the URL arguments for own or another's record)
ROUTES: dict[str, tuple[Access, ArgsOf]] = {
    "static": (PUBLIC, lambda world, whose: {"filename": "app.css"}),
    "health.healthz": (PUBLIC, _no_args),
    "users.login": (PUBLIC, _no_args),
    "users.logout": (Access(), _no_args),  # only a logged-in session can end
    "users.change_locale": (PUBLIC, _no_args),
    "users.preferences": (STAFF, _no_args),  # one's own, whatever the role
    # Without a password typed a moment ago, the code page sends back to the login page.
    "users.second_factor": (Access(anonymous=LOGIN), _no_args),
    "users.forgot_password": (PUBLIC, _no_args),
    "users.reset_password": (Access(anonymous=MISSING),
                             lambda world, whose: {"token": "not-a-token"}),
    "account.security": (STAFF, _no_args),  # one's own sign-in, whatever the role
    "account.change_password": (STAFF, _no_args),
    "account.change_email": (STAFF, _no_args),
    "account.two_factor_page": (STAFF, _no_args),
    "account.start_two_factor": (STAFF, _no_args),
    "account.enable_two_factor": (STAFF, _no_args),
    "account.renew_recovery_codes": (STAFF, _no_args),
    "account.disable_two_factor": (STAFF, _no_args),
    "account.end_other_sessions": (STAFF, _no_args),
    # One's own API tokens, whatever the role (each BD manager of the world has one).
    "api_tokens.index": (STAFF, _no_args),
    "api_tokens.create": (STAFF, _no_args),
    "api_tokens.confirm_revoke": (TOKEN_OWNER, _record("api_token", "token_id")),
    "api_tokens.revoke": (TOKEN_OWNER, _record("api_token", "token_id")),
    "api_tokens.admin_index": (ADMINS, _no_args),
    "api_tokens.admin_confirm_revoke": (ADMINS, _record("api_token", "token_id")),
    "api_tokens.admin_revoke": (ADMINS, _record("api_token", "token_id")),
    # An unknown token gets the "invitation no longer valid" page.
    "users.accept_invitation": (Access(anonymous=MISSING),
                                lambda world, whose: {"token": "not-a-token"}),
    "startups.index": (STAFF, _no_args),
    "startups.show": (STAFF, _startup_args),
    "startups.log_activity": (EDITOR_OF_RECORD, _startup_args),
    "startups.create_task": (EDITOR_OF_RECORD, _startup_args),
    "tasks.index": (STAFF, _no_args),
    "tasks.done": (EDITOR_OF_RECORD, lambda world, whose: {"task_id": world.of(whose)["task"]}),
    "tasks.reopen": (EDITOR_OF_RECORD, lambda world, whose: {"task_id": world.of(whose)["task"]}),
    "tasks.snooze": (EDITOR_OF_RECORD, lambda world, whose: {"task_id": world.of(whose)["task"]}),
    "tasks.reassign": (EDITOR_OF_RECORD,
                       lambda world, whose: {"task_id": world.of(whose)["task"]}),
    "work.index": (STAFF, _no_args),
    "pipeline.board": (STAFF, _no_args),
    "reports.index": (STAFF, _no_args),
    "weekly_reports.latest": (STAFF, _no_args),  # redirects to last week's report
    "weekly_reports.show": (STAFF, lambda world, whose: {"week": "2026-W46"}),
    "weekly_reports.trend_chart": (STAFF, lambda world, whose: {"week": "2026-W46"}),
    "reports.download": (STAFF, lambda world, whose: {"section": "funnel",
                                                      "file_format": "xlsx"}),
    "documents.download": (STAFF, lambda world, whose: {"document_id":
                                                        world.of(whose)["document"]}),
    "workflow.enroll": (EDITOR_OF_RECORD, _startup_args),
    "workflow.move": (EDITOR_OF_RECORD, _enrollment_args),
    "workflow.close": (EDITOR_OF_RECORD, _enrollment_args),
    "workflow.set_field": (EDITOR_OF_RECORD, _enrollment_args),
    "workflow.settle_item": (EDITOR_OF_RECORD, lambda world, whose: {
        "enrollment_id": world.of(whose)["enrollment"], "item_id": world.of(whose)["item"]}),
    "admin.users": (ADMINS, _no_args),
    "admin.invite": (ADMINS, _no_args),
    "admin.change_role": (ADMINS, lambda world, whose: {"user_id": world.users["spare"].id}),
    "admin.deactivate": (ADMINS, lambda world, whose: {"user_id": world.users["spare"].id}),
    "admin.activate": (ADMINS, lambda world, whose: {"user_id": world.users["spare"].id}),
    "admin.unlock": (ADMINS, lambda world, whose: {"user_id": world.users["spare"].id}),
    "admin.end_sessions": (ADMINS, lambda world, whose: {"user_id": world.users["spare"].id}),
    "admin.reset_two_factor": (ADMINS, lambda world, whose: {"user_id": world.users["spare"].id}),
    "admin.security": (ADMINS, _no_args),
    "admin.webhook_policy": (ADMINS, _no_args),
    "webhooks.index": (ADMINS, _no_args),
    "webhooks.new": (ADMINS, _no_args),
    "webhooks.show": (ADMINS, _record("webhook", "endpoint_id")),
    "webhooks.edit": (ADMINS, _record("webhook", "endpoint_id")),
    "webhooks.rotate_secret": (ADMINS, _record("webhook", "endpoint_id")),
    "webhooks.delete": (ADMINS, _record("webhook", "endpoint_id")),
    "webhooks.send_test": (ADMINS, _record("webhook", "endpoint_id")),
    "webhooks.send_again": (ADMINS, lambda world, whose: {
        "endpoint_id": world.of(whose)["webhook"],
        "delivery_id": world.of(whose)["webhook_delivery"]}),
    "outbox.index": (ADMINS, _no_args),
    "outbox.show": (ADMINS, _record("outbox_message", "message_id")),
    "outbox.html": (ADMINS, _record("outbox_message", "message_id")),
    "outbox.attachment": (ADMINS, lambda world, whose: {
        "message_id": world.of(whose)["outbox_message"],
        "attachment_id": world.of(whose)["outbox_attachment"]}),
    "outbox.retry": (ADMINS, _record("outbox_message", "message_id")),
    "audit.index": (ADMINS, _no_args),
    "audit.download": (ADMINS, _no_args),
    "programme_admin.index": (ADMINS, _no_args),
    "programme_admin.create": (ADMINS, _no_args),
    "programme_admin.show": (ADMINS, _programme_key),
    "programme_admin.upload": (ADMINS, _programme_key),
    "programme_admin.diff": (ADMINS, _programme_key),
    "programme_admin.migrate": (ADMINS, _programme_key),
    "programme_admin.download": (ADMINS, lambda world, whose: {"key": world.programme_key,
                                                               "number": 1}),
    "pipeline.column": (STAFF, lambda world, whose: {"programme": world.programme_key,
                                                     "stage": "lead"}),
    "pipeline.move": (EDITOR_OF_RECORD, _enrollment_args),  # the form's enrollment_id
    "profile.new": (EDITORS, _no_args),
    "profile.edit": (EDITOR_OF_RECORD, _startup_args),
    "profile.add_contact": (EDITOR_OF_RECORD, _startup_args),
    "profile.edit_contact": (EDITOR_OF_RECORD, _contact_args),
    "profile.remove_contact": (EDITOR_OF_RECORD, _contact_args),
    "profile.history": (MANAGERS, _startup_args),
    "duplicates.index": (STAFF, _no_args),
    "duplicates.of_startup": (STAFF, _startup_args),
    "duplicates.dismiss": (EDITORS, _no_args),
    "duplicates.merge": (EDITORS, _no_args),
    "startup_list.save_view": (STAFF, _no_args),
    "startup_list.export_view": (STAFF, _no_args),
    "startup_list.bulk_assign": (EDITORS, _no_args),
    "startup_list.bulk_tag": (EDITORS, _no_args),
    "startup_list.bulk_export": (EDITORS, _no_args),
    # A saved view is its owner's alone: to anyone else it does not exist.
    "startup_list.delete_view": (Access(viewer=MISSING, bd_other=MISSING, manager=MISSING,
                                        admin=MISSING), _record("saved_view", "view_id")),
    "exports.show": (OWNER_ONLY, _record("export", "job_id")),
    "exports.download": (OWNER_ONLY, _record("export", "job_id")),
    "exports.send_again": (OWNER_ONLY, _record("export", "job_id")),
    "imports.index": (EDITORS, _no_args),
    "imports.upload": (EDITORS, _no_args),
    "imports.show": (EDITOR_OF_RECORD, _record("import", "job_id")),
    "imports.mapping": (EDITOR_OF_RECORD, _record("import", "job_id")),
    "imports.progress": (EDITOR_OF_RECORD, _record("import", "job_id")),
    "imports.run": (EDITOR_OF_RECORD, _record("import", "job_id")),
    "imports.resend": (EDITOR_OF_RECORD, _record("import", "job_id")),
    "imports.create_anyway": (EDITOR_OF_RECORD, lambda world, whose: {
        "job_id": world.of(whose)["import"], "row": 2}),
    # The public application form: the same for everyone; without a draft in the browser's
    # session a step sends back to the programme's page, whatever id a URL names.
    "applications.index": (STAFF, _no_args),
    "applications.show": (STAFF, _record("application", "application_id")),
    "applications.invite": (EDITOR_OF_RECORD, _startup_args),
    "intake.index": (PUBLIC, _no_args),
    "intake.privacy": (PUBLIC, _no_args),
    "intake.landing": (PUBLIC, _programme_key),
    "intake.start": (PUBLIC, _programme_key),
    "intake.step": (PUBLIC, lambda world, whose: {"key": world.programme_key,
                                                  "step": "company"}),
    "intake.documents": (PUBLIC, _programme_key),
    "intake.upload": (PUBLIC, _programme_key),
    "intake.remove_upload": (PUBLIC, lambda world, whose: {
        "key": world.programme_key, "document_id": world.of(whose)["document"]}),
    "intake.review": (PUBLIC, _programme_key),
    "intake.submit_application": (PUBLIC, _programme_key),
    "intake.done": (PUBLIC, _programme_key),
    "intake.email_link": (PUBLIC, _programme_key),
    "intake.request_link": (PUBLIC, _no_args),
    "intake.resume": (PUBLIC, lambda world, whose: {"token": "not-a-token"}),
    "intake.withdraw": (PUBLIC, _programme_key),
    # GDPR tools: managers and admins; consent withdrawal by whoever may edit the startup; a
    # withdrawal link that is not signed by the desk names nothing.
    "gdpr.startup_privacy": (MANAGERS, _startup_args),
    "gdpr.export_startup": (MANAGERS, _startup_args),
    "gdpr.export_contact": (MANAGERS, _contact_args),
    "gdpr.restrict": (MANAGERS, _startup_args),
    "gdpr.lift_restriction": (MANAGERS, _startup_args),
    "gdpr.erase": (MANAGERS, _startup_args),
    "gdpr.withdraw_consent": (EDITOR_OF_RECORD, _contact_args),
    "gdpr.withdraw_by_link": (Access(anonymous=MISSING, viewer=MISSING, bd_own=MISSING,
                                     bd_other=MISSING, manager=MISSING, admin=MISSING),
                              lambda world, whose: {"token": "not-a-token"}),
    "gdpr.retention_runs": (ADMINS, _no_args),
    "gdpr.request_withdrawal_link": (PUBLIC, _no_args),
}

#: The API takes tokens, never the session: with a session every role is a stranger there
#: (401); tests/test_api_access.py is the API's own matrix, by token.
TOKEN_ONLY = Access(viewer=LOGIN, bd_own=LOGIN, bd_other=LOGIN, manager=LOGIN, admin=LOGIN)


def all_routes() -> dict[str, tuple[Access, ArgsOf]]:
    """ROUTES and the API's endpoints (listed in tests/test_api_access.py)."""
    from tests.test_api_access import OPERATIONS

    return {**ROUTES, **{endpoint: (operation.access if operation.access is PUBLIC
                                    else TOKEN_ONLY, operation.args_of)
                         for endpoint, operation in OPERATIONS.items()}}

#: Routes that change the caller's own session are called anonymously only (test_auth has more).
SESSION_ROUTES = {"users.login", "users.logout", "users.change_locale",
                  "users.accept_invitation", "users.second_factor", "users.forgot_password",
                  "users.reset_password"}


def _records_of(db: Session, owner: User, programme, suffix: str) -> dict[str, int]:
    startup = make_startup(db, f"Startup {suffix}", owner_id=owner.id,
                           contact_email=f"founder@{suffix}.example", domain=f"{suffix}.example")
    enrollment = engine.enroll(db, startup=startup, programme=programme, actor=Actor.user(owner))
    task = Task(title="Call the founders", startup_id=startup.id, assignee_id=owner.id,
                created_by_id=owner.id)
    db.add_all([task, Activity(startup_id=startup.id, kind=ActivityKind.NOTE,
                               subject="Met at a fair", author_id=owner.id)])
    document = store_document(db, startup.id, FileStorage(
        io.BytesIO(SMALL_PDF), filename="deck.pdf", content_type="application/pdf"), owner.id)
    db.flush()
    item = db.scalar(select(ChecklistItem.id).where(ChecklistItem.enrollment_id == enrollment.id)
                     .limit(1))
    contact = db.scalar(select(Contact.id).where(Contact.startup_id == startup.id))
    saved_view = SavedView(user_id=owner.id, name="My overdue leads", query="owner=me&overdue=1")
    db.add(saved_view)
    leads = import_services.upload(db, FileStorage(
        io.BytesIO(b"Name,Country\nAcme Robotics,DE\n"), filename="leads.csv"), owner)
    export = export_services.request_export(db, owner, ListView(), "csv")
    application = Application(programme_id=programme.id, email=f"applicant@{suffix}.example",
                              startup_id=startup.id)
    db.add(application)
    email = OutboxMessage(dedupe_key=f"matrix-{suffix}", to_address=f"founder@{suffix}.example",
                          subject="Hello", body_text="Hello.", body_html="<p>Hello.</p>",
                          status=OutboxStatus.FAILED, attempts=1)
    db.add(email)
    db.flush()
    email_file = OutboxAttachment(message_id=email.id, filename="figures.csv",
                                  content_type="text/csv", content=b"stage,count\n")
    db.add(email_file)
    webhook = WebhookEndpoint(url=f"https://93.184.216.34/{suffix}", events=["startup.created"],
                              secret_encrypted="not read here")
    db.add(webhook)
    db.flush()
    webhook_delivery = WebhookDelivery(endpoint_id=webhook.id, event="webhook.test",
                                       event_id=f"matrix-{suffix}", payload="{}",
                                       dedupe_key=f"{webhook.id}:matrix-{suffix}",
                                       status=OutboxStatus.FAILED, attempts=1)
    db.add(webhook_delivery)
    api_token, _ = tokens.create_token(db, owner, name="Spreadsheet", scopes=["read"], days=30)
    db.commit()
    export_services.run_export_job(db, export.id)
    return {"startup": startup.id, "enrollment": enrollment.id, "task": task.id,
            "document": document.id, "item": item, "contact": contact,
            "saved_view": saved_view.id, "import": leads.id, "export": export.id,
            "application": application.id, "outbox_message": email.id,
            "outbox_attachment": email_file.id, "webhook": webhook.id,
            "webhook_delivery": webhook_delivery.id, "api_token": api_token.id}


@pytest.fixture
def world(app, make_user) -> World:
    return build_world(app, make_user)


def build_world(app, make_user) -> World:
    """Two BD managers' records, and a user of every role (tests/test_api_access.py too)."""
    users = {
        "viewer": make_user(Role.VIEWER), "bd": make_user(Role.BD_MANAGER),
        "other_bd": make_user(Role.BD_MANAGER), "manager": make_user(Role.MANAGER),
        "admin": make_user(Role.ADMIN), "spare": make_user(Role.VIEWER),
    }
    with app.app_context():  # the engine and the document store work in the app's session
        db = get_session()
        programme = make_programme(db, definition(intake={}))
        ids = {"own": _records_of(db, users["bd"], programme, "own"),
               "other": _records_of(db, users["other_bd"], programme, "other")}
        db.commit()
        return World(users=users, programme_key=programme.key, ids=ids)


CLIENT_USER = {Role.VIEWER: "viewer", Role.BD_MANAGER: "bd", Role.MANAGER: "manager",
               Role.ADMIN: "admin"}


def _answer(response) -> str:
    status = response.status_code
    if status == 401 or (status == 302 and "/login" in response.headers.get("Location", "")):
        return LOGIN
    if status == 403:
        return DENIED
    if status == 404:
        return MISSING
    if status >= 500 or status == 405:
        return f"unexpected {status}"
    return IN


def test_every_route_is_in_the_matrix(app):
    endpoints, routes = {rule.endpoint for rule in app.url_map.iter_rules()}, all_routes()
    assert endpoints - set(routes) == set(), "add these routes to ROUTES with who may use them"
    assert set(routes) - endpoints == set(), "these routes no longer exist"


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_each_role_gets_the_expected_answer_on_own_and_others_records(app, world, role):
    client = app.test_client()
    if role != ANONYMOUS:
        assert login(client, world.users[CLIENT_USER[role]].email).status_code == 302
    token = csrf_token(client, "/login" if role == ANONYMOUS else "/tasks/")
    wrong, routes = [], all_routes()
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.endpoint):
        if rule.endpoint in SESSION_ROUTES and role != ANONYMOUS:
            continue
        access, args_of = routes[rule.endpoint]
        for whose in ("own", "other"):
            with app.test_request_context():
                url = url_for(rule.endpoint, **args_of(world, whose))
            for method in sorted(rule.methods & {"GET", "POST"}):
                if method == "GET":
                    response = client.get(url)
                else:
                    response = client.post(url, data={"csrf_token": token})
                answer = _answer(response)
                expected = access.expected(role, whose)
                if answer != expected:
                    wrong.append(f"{method} {url} ({whose}): {answer}, expected {expected}")
                response.close()
    assert not wrong, "\n".join(wrong)

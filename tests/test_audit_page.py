"""The admin's audit page: filters, pages, details shown escaped, the CSV file; refusals are
events; audit events cannot be changed, by the page or by anyone with the database's session."""

from __future__ import annotations

import ast
import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from crm.audit.actions import ACTIONS, OBJECT_TYPES
from crm.audit.queries import PAGE_SIZE
from crm.config import PROJECT_ROOT
from crm.core.audit import AuditEvent
from crm.core.enums import Role
from crm.startups.models import Activity
from tests.conftest import fresh
from tests.factories import make_startup
from tests.helpers import post, text_of

EVENT_ID = re.compile(r'data-event="(\d+)"')
MOMENT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def admin(client_as):
    return client_as(Role.ADMIN)


def add_events(db, count: int, **fields) -> list[int]:
    """`count` events a second apart from MOMENT on (or at `occurred_at`), committed."""
    start = fields.pop("occurred_at", MOMENT)
    events = [AuditEvent(occurred_at=start + timedelta(seconds=number),
                         **{"action": "startup.updated", **fields}) for number in range(count)]
    db.add_all(events)
    db.commit()
    return [event.id for event in events]


def shown_ids(response) -> list[int]:
    return [int(found) for found in EVENT_ID.findall(response.get_data(as_text=True))]


def link(response, label: str) -> str | None:
    found = re.search(r'<a href="([^"]+)"[^>]*>' + label + "</a>", response.get_data(as_text=True))
    return found.group(1).replace("&amp;", "&") if found else None


def events_of(db, action: str) -> list[AuditEvent]:
    return list(fresh(db).scalars(select(AuditEvent).where(AuditEvent.action == action)
                                  .order_by(AuditEvent.id)))


# Filters ---------------------------------------------------------------------------------------


def test_each_filter_narrows_the_events(admin, db, make_user):
    client, me = admin
    bd = make_user(Role.BD_MANAGER)
    fresh(db)
    mine = add_events(db, 2, actor_user_id=me.id, object_type="startup", object_id=7,
                      ip_address="192.0.2.10")
    theirs = add_events(db, 1, actor_user_id=bd.id, action="task.created", object_type="task",
                        object_id=7, ip_address="2001:db8::1")
    login = add_events(db, 1, actor_user_id=bd.id, action="auth.login_failed")
    public = add_events(db, 1, action="application.submitted", object_type="application",
                        object_id=3)

    def ids(**args) -> set[int]:
        response = client.get("/admin/audit/", query_string=args)
        assert response.status_code == 200, text_of(response)
        return set(shown_ids(response))

    assert ids(action="task.created") == set(theirs)
    assert ids(action="auth.*") >= set(login) and not ids(action="auth.*") & set(mine)
    assert ids(actor=str(bd.id)) >= set(theirs + login)
    assert not ids(actor=str(bd.id)) & set(mine)
    nobody = ids(actor="none")  # the public form's, and the accounts made by `crm users create`
    assert nobody >= set(public) and not nobody & set(mine + theirs + login)
    assert ids(object_type="startup", object_id="7") == set(mine)
    assert ids(object_id="7") == set(mine + theirs)
    assert ids(ip_address="192.0.2.10") == set(mine)
    assert ids(ip_address=" 2001:DB8:0::1 ") == set(theirs)  # the address as it is stored


def test_days_are_the_desks_days(admin, db):
    client, _me = admin
    # 23:30 UTC on 9 March is 00:30 on 10 March in Berlin.
    late = add_events(db, 1, occurred_at=datetime(2026, 3, 9, 23, 30, tzinfo=UTC))
    early = add_events(db, 1, occurred_at=datetime(2026, 3, 9, 22, 30, tzinfo=UTC))
    day = client.get("/admin/audit/", query_string={"start": "2026-03-10", "end": "2026-03-10"})
    assert shown_ids(day) == late
    before = client.get("/admin/audit/", query_string={"end": "2026-03-09"})
    assert shown_ids(before) == early


def test_bad_filters_are_said_next_to_the_field_and_kept(admin, db):
    client, _me = admin
    add_events(db, 3)
    response = client.get("/admin/audit/", query_string={
        "start": "2026-13-45", "object_id": "abc", "ip_address": "10.0.0.300",
        "actor": "someone@desk.example", "action": "auth.nothing"})
    assert response.status_code == 422
    page = text_of(response)
    for name in ("start", "object_id", "ip_address", "actor", "action"):
        assert re.search(rf'id="{name}-errors"', page), name
    assert 'value="2026-13-45"' in page and 'value="abc"' in page and 'value="10.0.0.300"' in page
    assert "Enter an IP address" in page and "Not a valid" in page
    assert shown_ids(response) == []
    backwards = client.get("/admin/audit/", query_string={"start": "2026-03-10",
                                                         "end": "2026-03-01"})
    assert backwards.status_code == 422
    assert "The end comes before the start." in text_of(backwards)
    # The download says nothing about bad filters: it sends back to the page, which does.
    download = client.get("/admin/audit/events.csv", query_string={"object_id": "abc"})
    assert download.status_code == 302 and "/admin/audit/" in download.headers["Location"]


def test_the_filters_carry_ids_not_names_or_emails(admin, db, make_user):
    client, _me = admin
    bd = make_user(Role.BD_MANAGER, name="Jana Novak", email="jana@desk.example")
    add_events(db, PAGE_SIZE + 1, actor_user_id=bd.id)
    response = client.get("/admin/audit/", query_string={"actor": str(bd.id)})
    page = response.get_data(as_text=True)
    assert f'<option selected value="{bd.id}">Jana Novak</option>' in page
    older = link(response, "Older")
    assert older and f"actor={bd.id}" in older
    assert "jana" not in older.lower() and "Novak" not in older


def test_choices_offer_every_known_action_grouped(admin):
    client, _me = admin
    page = client.get("/admin/audit/").get_data(as_text=True)
    assert '<optgroup label="Sign-in (auth.*)">' in page
    assert '<option value="auth.*">All: auth.*</option>' in page
    for action in ACTIONS:
        assert f'<option value="{action}">{action}</option>' in page


def test_every_action_the_code_records_is_offered():
    """An action added anywhere in crm/ must be added to crm/audit/actions.py (the filter)."""
    recorded = set()
    for path in (PROJECT_ROOT / "crm").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call) or len(call.args) < 2:
                continue
            name = ast.unparse(call.func)
            if name in ("audit.record", "_audit", "_record_contact", "record"):
                recorded |= {node.value for node in ast.walk(call.args[1 if name != "_audit"
                                                                         else 2])
                             if isinstance(node, ast.Constant) and isinstance(node.value, str)
                             and re.fullmatch(r"[a-z_]+\.[a-z_]+", node.value)}
    assert recorded, "no audit.record calls found"
    assert recorded - set(ACTIONS) == set(), "add these actions to crm/audit/actions.py"


def test_every_record_type_the_code_names_is_offered():
    named = {node.value for path in (PROJECT_ROOT / "crm").rglob("*.py")
             for call in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(call, ast.Call)
             for keyword in call.keywords if keyword.arg == "object_type"
             for node in ast.walk(keyword.value)
             if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert "startup" in named
    assert named - set(OBJECT_TYPES) == set(), "add these to OBJECT_TYPES in crm/audit/actions.py"


# Pages -----------------------------------------------------------------------------------------


def test_older_and_newer_pages_keep_the_filters(admin, db):
    client, _me = admin
    ids = add_events(db, 2 * PAGE_SIZE + 20, action="task.created")
    add_events(db, 5, action="startup.updated")  # filtered out
    first = client.get("/admin/audit/", query_string={"action": "task.created"})
    assert shown_ids(first) == ids[::-1][:PAGE_SIZE]
    assert link(first, "Newer") is None
    second = client.get(link(first, "Older"))
    assert shown_ids(second) == ids[::-1][PAGE_SIZE:2 * PAGE_SIZE]
    third = client.get(link(second, "Older"))
    assert shown_ids(third) == ids[::-1][2 * PAGE_SIZE:]
    assert link(third, "Older") is None
    back = client.get(link(third, "Newer"))
    assert shown_ids(back) == shown_ids(second)
    assert shown_ids(client.get(link(back, "Newer"))) == shown_ids(first)
    assert "action=task.created" in link(third, "Newer")


def test_oldest_first(admin, db):
    client, _me = admin
    ids = add_events(db, PAGE_SIZE + 3, action="task.created")
    first = client.get("/admin/audit/", query_string={"sort": "oldest", "action": "task.*"})
    assert shown_ids(first) == ids[:PAGE_SIZE]
    assert link(first, "Older") is None
    later = client.get(link(first, "Newer"))
    assert shown_ids(later) == ids[PAGE_SIZE:]
    assert link(later, "Newer") is None
    assert shown_ids(client.get(link(later, "Older"))) == ids[:PAGE_SIZE]


def test_empty_states(admin, db):
    client, _me = admin
    fresh(db).execute(text("SELECT 1"))
    assert "No events match these filters." in text_of(
        client.get("/admin/audit/", query_string={"action": "outbox.retried"}))
    assert "No more events." in text_of(client.get("/admin/audit/", query_string={"before": 1}))
    # Cursors no column can hold are ignored, not a 500.
    assert client.get("/admin/audit/", query_string={"before": 10**30}).status_code == 200


def test_a_page_costs_the_same_queries_for_few_and_many(admin, db, make_user, count_queries):
    client, _me = admin
    add_events(db, 2)
    client.get("/admin/audit/")  # warm up
    with count_queries() as for_few:
        few = client.get("/admin/audit/")
    for number in range(10):
        user = make_user(Role.BD_MANAGER)
        add_events(db, 6, actor_user_id=user.id, object_type="startup", object_id=number + 1,
                   details={"n": number})
    with count_queries() as for_many:
        many = client.get("/admin/audit/")
    assert len(shown_ids(few)) < len(shown_ids(many)) == PAGE_SIZE
    assert len(for_few) == len(for_many) <= 4, "\n".join(for_many)


# Details ---------------------------------------------------------------------------------------


def test_details_are_shown_readably_and_escaped(admin, db):
    client, me = admin
    add_events(db, 1, actor_user_id=me.id, details={
        "changes": {"name": ["Old <b>name</b>", "New name"]},
        "note": "<script>alert(1)</script>", "rows": 3})
    page = client.get("/admin/audit/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "<b>name</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<strong>rows</strong>: <code>3</code>" in page
    assert "&#34;Old &lt;b&gt;name&lt;/b&gt;&#34;" in page  # JSON, escaped


# The file --------------------------------------------------------------------------------------


def test_the_csv_holds_the_filtered_events_and_is_audited(admin, db, make_user):
    client, me = admin
    bd = make_user(Role.BD_MANAGER)
    theirs = add_events(db, 3, actor_user_id=bd.id, action="task.created",
                        details={"title": "=HYPERLINK(\"http://evil.example\")"})
    add_events(db, 2, actor_user_id=me.id)
    response = client.get("/admin/audit/events.csv", query_string={"actor": str(bd.id),
                                                                   "sort": "oldest"})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=audit-events-")
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0][:5] == ["Event", "When (UTC)", "Who (id)", "Who", "Action"]
    assert [int(row[0]) for row in rows[1:]] == theirs
    assert {row[4] for row in rows[1:]} == {"task.created"}
    exported = events_of(db, "audit.exported")
    assert len(exported) == 1
    event = exported[0]
    assert (event.actor_user_id, event.ip_address) == (me.id, "127.0.0.1")
    assert event.details == {"filters": {"actor": str(bd.id), "sort": "oldest"}, "rows": 3}


# Refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.BD_MANAGER, Role.MANAGER])
def test_only_admins_open_the_page_and_each_refusal_is_an_event(client_as, db, role):
    client, user = client_as(role)
    assert client.get("/admin/audit/?q=jana%40desk.example").status_code == 403
    assert client.get("/admin/audit/events.csv").status_code == 403
    denied = events_of(db, "access.denied")
    assert [(event.actor_user_id, event.details["endpoint"], event.details["method"])
            for event in denied] == [(user.id, "audit.index", "GET"),
                                     (user.id, "audit.download", "GET")]
    assert all(event.ip_address == "127.0.0.1" for event in denied)
    assert "jana" not in str([event.details for event in denied])  # no query string
    # The same refusal again within the minute adds nothing: a crawler cannot fill the table.
    for _ in range(5):
        assert client.get("/admin/audit/").status_code == 403
    assert len(events_of(db, "access.denied")) == 2


def test_a_refusal_names_the_record_and_keeps_nothing_of_the_request(client_as, make_user, db):
    owner = make_user(Role.BD_MANAGER)
    startup = make_startup(fresh(db), "Other Robotics", owner_id=owner.id)
    db.commit()
    client, bd = client_as(Role.BD_MANAGER)
    response = post(client, f"/startups/{startup.id}/activities",
                    {"kind": "note", "subject": "Sneaky note"})
    assert response.status_code == 403
    [event] = events_of(db, "access.denied")
    assert (event.actor_user_id, event.object_type, event.object_id) == (bd.id, "startup",
                                                                       startup.id)
    assert event.details == {"endpoint": "startups.log_activity", "method": "POST"}
    assert fresh(db).scalar(select(func.count()).select_from(Activity)
                            .where(Activity.subject == "Sneaky note")) == 0


# Nobody changes an event -----------------------------------------------------------------------


def test_no_route_changes_audit_events(admin, db):
    """The page and its file only read: every request an admin can make leaves the events as
    they were, apart from the file's own event."""
    client, me = admin
    ids = add_events(db, 3, actor_user_id=me.id)
    before = [(event.id, event.action, event.details) for event in events_of(db,
                                                                             "startup.updated")]
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)(f"/admin/audit/?id={ids[0]}").status_code == 405
    client.get("/admin/audit/events.csv")
    assert [(event.id, event.action, event.details)
            for event in events_of(db, "startup.updated")] == before


def test_the_database_refuses_to_change_an_event(db):
    [event_id] = add_events(db, 1, details={"rows": 1})
    event = db.get(AuditEvent, event_id)
    event.action = "auth.login"
    with pytest.raises(DatabaseError, match="audit events cannot be changed"):
        db.flush()
    db.rollback()
    with pytest.raises(DatabaseError, match="audit events cannot be changed"):
        db.execute(text("UPDATE audit_events SET ip_address = '10.0.0.1'"))
    db.rollback()
    if db.get_bind().dialect.name == "postgresql":
        db.delete(db.get(AuditEvent, event_id))
        with pytest.raises(DatabaseError, match="audit events cannot be changed"):
            db.flush()
        db.rollback()
        # Only the maintenance setting (retention, the test suite's cleanup) deletes.
        db.execute(text("SET LOCAL crm.audit_maintenance = 'on'"))
        db.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": event_id})
        db.commit()
        assert fresh(db).get(AuditEvent, event_id) is None
    assert fresh(db).scalar(select(func.count()).select_from(AuditEvent)
                            .where(AuditEvent.action == "auth.login")) == 0

"""The admin's programme pages: versions, new definitions, differences, migration, and access."""

from __future__ import annotations

import html
import io
import re
from datetime import UTC, datetime

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from crm.core.audit import AuditEvent
from crm.core.clock import set_clock
from crm.core.enums import EnrollmentStatus, Role
from crm.programmes import services
from crm.programmes.models import Programme, ProgrammeVersion
from crm.startups.models import Startup
from crm.workflow import engine
from crm.workflow.models import Enrollment, StageEvent
from tests.conftest import csrf_token, fresh
from tests.factories import SIMPLE_DEFINITION, definition, make_programme, stage

LIST = "/admin/programmes/"
PAGE = "/admin/programmes/corridor"

# Version 2 renames "lead" to "prospect" and adds a "visit" stage after the intake.
V1_STAGES = SIMPLE_DEFINITION["stages"]
V2_STAGES = [stage("prospect", "Prospect", "Interessent"), V1_STAGES[1],
             stage("visit", "Visit to Düsseldorf", "Besuch in Düsseldorf", sla_working_days=20),
             *V1_STAGES[2:]]
SYNTAX_ERROR = "key: corridor\nname: en: Corridor\n"
SYNTAX_PROBLEM = "line 2, column 9: mapping values are not allowed here"


def dump(data: dict) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def v2_text() -> str:
    return dump(definition(stages=V2_STAGES))


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def flashes(response) -> list[str]:
    return [html.unescape(text) for text in
            re.findall(r'<p class="flash[^"]*">(.*?)</p>', response.get_data(as_text=True))]


def field_errors(response, field: str) -> list[str]:
    match = re.search(rf'<ul class="errors" id="{field}-errors">(.*?)</ul>',
                      response.get_data(as_text=True), re.S)
    if not match:
        return []
    return [html.unescape(text) for text in re.findall(r"<li>(.*?)</li>", match.group(1))]


def textarea(response) -> str:
    match = re.search(r'<textarea[^>]*name="text"[^>]*>\r?\n?(.*?)</textarea>',
                      response.get_data(as_text=True), re.S)
    return html.unescape(match.group(1))


def post(client, path: str, data: dict):
    return client.post(path, data={"csrf_token": csrf_token(client, "/tasks/"), **data},
                       content_type="multipart/form-data")


def version_numbers(db, key: str = "corridor") -> list[int]:
    return list(fresh(db).scalars(
        select(ProgrammeVersion.number).join(Programme).where(Programme.key == key)
        .order_by(ProgrammeVersion.number)))


def load_as_of(db, data: dict, moment: datetime) -> Programme:
    set_clock(lambda: moment)
    try:
        return make_programme(db, data)
    finally:
        set_clock(None)


def enroll(app, db, programme: Programme, names_and_stages: list[tuple[str, str]]) -> list[int]:
    ids = []
    with app.app_context():
        for name, stage_key in names_and_stages:
            startup = Startup(name=name, country="IN")
            db.add(startup)
            db.flush()
            enrollment = engine.enroll(db, startup=startup, programme=programme,
                                       actor=engine.Actor.system(), stage=stage_key)
            ids.append(enrollment.id)
        db.commit()
    return ids


@pytest.fixture
def admin(client_as):
    client, _user = client_as(Role.ADMIN)
    return client


@pytest.fixture
def corridor(db) -> Programme:
    return load_as_of(db, SIMPLE_DEFINITION, datetime(2026, 1, 15, 10, 0, tzinfo=UTC))


# --- the list ------------------------------------------------------------------------------------


def test_list_shows_each_programme_its_current_version_and_open_enrollments_per_version(
        app, db, admin, corridor):
    enroll(app, db, corridor, [("Alpha", "lead"), ("Beta", "lead")])
    load_as_of(db, definition(stages=V2_STAGES), datetime(2026, 2, 2, 9, 0, tzinfo=UTC))
    enroll(app, db, corridor, [("Gamma", "prospect")])
    closed = enroll(app, db, corridor, [("Delta", "intake")])
    with app.app_context():
        engine.close(db, db.get(Enrollment, closed[0]), EnrollmentStatus.WITHDRAWN,
                     engine.Actor.system(), reason="Went to Berlin")
        db.commit()
    korea = make_programme(db, definition(key="korea", name={"en": "Korea Desk",
                                                             "de": "Korea-Desk"}))
    korea.is_active = False
    db.commit()

    response = admin.get(LIST)

    assert response.status_code == 200
    text = page_text(response)
    row = re.search(r"<tr>.*?Corridor.*?</tr>", text, re.S).group(0)
    assert f'href="{PAGE}"' in row
    assert "Active" in row
    assert re.search(r'<td class="num">2</td>', row)  # the current version
    assert "v1: 2" in row and "v2: 1" in row  # the withdrawn one is not open
    korea_row = re.search(r'<tr class="muted">.*?Korea Desk.*?</tr>', text, re.S).group(0)
    assert "Inactive" in korea_row and "none" in korea_row


def test_list_page_queries_do_not_grow_with_programmes_and_enrollments(app, db, admin, corridor,
                                                                        count_queries):
    with count_queries() as few:
        assert admin.get(LIST).status_code == 200
    for key in ("korea", "nrw", "japan"):
        programme = make_programme(db, definition(key=key))
        enroll(app, db, programme, [(f"{key} one", "lead"), (f"{key} two", "intake")])
    with count_queries() as many:
        assert admin.get(LIST).status_code == 200
    assert len(many) == len(few), many


def test_both_admin_pages_link_to_each_other(admin, corridor):
    users = admin.get("/admin/users").get_data(as_text=True)
    programmes = admin.get(LIST).get_data(as_text=True)
    for page in (users, programmes):
        subnav = re.search(r'<nav class="subnav".*?</nav>', page, re.S).group(0)
        assert 'href="/admin/users"' in subnav and f'href="{LIST}"' in subnav
    assert re.search(r'<a href="/admin/users"\s+aria-current="page">Admin</a>', programmes)


# --- one programme -------------------------------------------------------------------------------


def test_programme_page_shows_versions_with_time_author_and_open_enrollments(
        app, db, client_as, corridor):
    client, admin_user = client_as(Role.ADMIN)
    enroll(app, db, corridor, [("Alpha", "lead"), ("Beta", "intake")])
    set_clock(lambda: datetime(2026, 7, 1, 10, 30, tzinfo=UTC))
    try:
        assert post(client, f"{PAGE}/definitions", {"text": v2_text()}).status_code == 302
    finally:
        set_clock(None)

    response = client.get(PAGE)

    assert response.status_code == 200
    text = page_text(response)
    rows = re.findall(r'<tr>\s*<td class="num">(\d+).*?</tr>', text, re.S)
    assert rows == ["2", "1"]
    versions = re.search(r"<h2>Versions</h2>.*?</table>", text, re.S).group(0)
    newest, oldest = re.findall(r"<tr>\s*<td class=\"num\">.*?</tr>", versions, re.S)
    assert "current" in newest and "current" not in oldest
    assert "7/1/26, 12:30\u202fPM" in newest and admin_user.name in newest  # CEST
    assert "1/15/26, 11:00\u202fAM" in oldest and "command line" in oldest  # CET
    assert re.findall(r'<td class="num">(\d+)</td>\s*<td><a', versions) == ["0", "2"]


def test_programme_page_summarises_the_current_versions_stages(admin, corridor):
    text = page_text(admin.get(PAGE))
    stages = re.search(r"<h2>Stages of version 1</h2>.*?</table>", text, re.S).group(0)
    rows = {re.search(r"<code>(\w+)</code>", row).group(1): row
            for row in re.findall(r"<tr>.*?</tr>", stages, re.S)[1:]}
    assert list(rows) == ["lead", "intake", "qualified", "landed", "withdrawn", "rejected"]
    assert '<td class="num">5</td>' in rows["lead"]
    assert "intake</span>" in rows["intake"]
    assert "Task “Review”, due in 2 working days" in rows["intake"]
    assert "Notify the owner" in rows["intake"]
    assert "Startup: Website" in rows["qualified"]
    assert "Answers: Referred by" in rows["qualified"]
    assert "A contact with an email address" in rows["qualified"]
    assert "Email to the startup: programme_accepted" in rows["qualified"]
    assert "Checklist: Address, Residence permit, Bank account" in rows["landed"]
    assert "closes as Landed" in rows["landed"]


def test_a_version_can_be_downloaded_as_it_was_loaded(admin, db, corridor):
    response = admin.get(f"{PAGE}/versions/1.yaml")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == dump(SIMPLE_DEFINITION)
    assert 'filename="corridor-v1.yaml"' in response.headers["Content-Disposition"]
    assert admin.get(f"{PAGE}/versions/9.yaml").status_code == 404
    assert admin.get("/admin/programmes/nothing").status_code == 404


# --- loading definitions -------------------------------------------------------------------------


def test_a_changed_definition_becomes_version_2_and_an_identical_one_changes_nothing(
        client_as, db, corridor):
    client, admin_user = client_as(Role.ADMIN)

    changed = post(client, f"{PAGE}/definitions", {"text": v2_text()})

    assert changed.status_code == 302
    assert changed.headers["Location"] == PAGE
    assert flashes(client.get(PAGE)) == ["Version 2 loaded."]
    assert version_numbers(db) == [1, 2]
    version = db.scalar(select(ProgrammeVersion).where(ProgrammeVersion.number == 2))
    assert version.created_by_id == admin_user.id
    assert version.source_text == v2_text()
    assert fresh(db).get(Programme, corridor.id).current_version == 2
    assert db.scalar(select(AuditEvent.actor_user_id).where(
        AuditEvent.action == "programme.version_loaded").order_by(AuditEvent.id.desc())
        .limit(1)) == admin_user.id

    same = post(client, f"{PAGE}/definitions",
                {"file": (io.BytesIO(v2_text().encode()), "corridor.yaml")})

    assert same.status_code == 302
    assert flashes(client.get(PAGE)) == ["Unchanged: the definition equals version 2."]
    assert version_numbers(db) == [1, 2]


def test_a_definition_can_be_uploaded_as_a_file(admin, db, corridor):
    response = post(admin, f"{PAGE}/definitions",
                    {"file": (io.BytesIO(v2_text().encode()), "corridor-v2.yml")})
    assert response.status_code == 302
    assert version_numbers(db) == [1, 2]


@pytest.mark.parametrize(("text", "problem"), [
    (SYNTAX_ERROR, SYNTAX_PROBLEM),
    (dump(definition(stages=[*V1_STAGES[:3], {**V1_STAGES[3], "gate": {
        "checklist": ["address", "visa"]}}, *V1_STAGES[4:]])),
     "top level: stage 'landed': gate names unknown checklist item 'visa'"),
    (dump(definition(stages=[{**V1_STAGES[0], "sla_working_days": 0}, *V1_STAGES[1:]])),
     "stages.0.sla_working_days: Input should be greater than or equal to 1"),
], ids=["yaml syntax", "unknown checklist item", "sla below one"])
def test_a_broken_definition_is_refused_next_to_the_text_which_is_kept(admin, db, corridor, text,
                                                                       problem):
    text = text.replace("en: Corridor\n", "en: Renamed\n", 1)

    response = post(admin, f"{PAGE}/definitions", {"text": text})

    assert response.status_code == 422
    assert problem in field_errors(response, "text")
    assert textarea(response) == text
    assert version_numbers(db) == [1]
    assert fresh(db).get(Programme, corridor.id).name_en == "Corridor"


def test_a_broken_uploaded_file_shows_its_text_for_correction(admin, db, corridor):
    response = post(admin, f"{PAGE}/definitions",
                    {"file": (io.BytesIO(SYNTAX_ERROR.encode()), "corridor.yaml")})
    assert response.status_code == 422
    assert field_errors(response, "text") == [SYNTAX_PROBLEM]
    assert textarea(response) == SYNTAX_ERROR
    assert version_numbers(db) == [1]


def test_a_definition_of_another_programme_is_refused_on_this_page(admin, db, corridor):
    text = dump(definition(key="korea"))

    response = post(admin, f"{PAGE}/definitions", {"text": text})

    assert response.status_code == 422
    assert field_errors(response, "text") == [
        "key: This definition is for the programme korea, not for corridor."]
    assert textarea(response) == text
    assert version_numbers(db) == [1]
    assert fresh(db).scalar(select(func.count()).select_from(Programme)) == 1


@pytest.mark.parametrize(("data", "field", "message"), [
    ({}, "text", "Upload a .yaml file or paste the definition."),
    ({"text": "   \n"}, "text", "Upload a .yaml file or paste the definition."),
    ({"text": v2_text(), "file": (b"key: corridor", "corridor.yaml")}, "file",
     "Upload a file or paste the text, not both."),
    ({"file": (b"key: corridor", "corridor.txt")}, "file", "Choose a .yaml file."),
    ({"file": ("key: Düsseldorf".encode("latin-1"), "corridor.yaml")}, "file",
     "The file is not a UTF-8 text file."),
    ({"file": (b"key: corridor\x00", "corridor.yaml")}, "file",
     "The file is not a UTF-8 text file."),
    ({"file": (b"#" * (256 * 1024 + 1), "corridor.yaml")}, "file",
     "The file is larger than 256 KB."),
], ids=["nothing", "blank", "both", "not yaml", "not utf-8", "nul", "too large"])
def test_what_is_not_a_definition_is_refused_with_a_clear_message(admin, db, corridor, data,
                                                                  field, message):
    if "file" in data:
        content, name = data["file"]
        data = {**data, "file": (io.BytesIO(content), name)}
    response = post(admin, f"{PAGE}/definitions", data)
    assert response.status_code == 422
    assert field_errors(response, field) == [message]
    assert version_numbers(db) == [1]


def test_a_new_programme_is_created_from_a_definition_with_a_new_key(admin, db, corridor):
    text = dump(definition(key="korea", name={"en": "Korea Desk", "de": "Korea-Desk"}))

    response = post(admin, LIST, {"text": text})

    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/programmes/korea"
    page = admin.get("/admin/programmes/korea")
    assert flashes(page) == ["Programme Korea Desk created with version 1."]
    assert version_numbers(db, "korea") == [1]


def test_creating_a_programme_refuses_a_known_key_and_broken_text(admin, db, corridor):
    known = post(admin, LIST, {"text": v2_text()})
    assert known.status_code == 422
    assert field_errors(known, "text") == [
        "key: A programme with the key corridor exists already: load new versions on its page."]
    assert textarea(known) == v2_text()
    assert version_numbers(db) == [1]

    broken = post(admin, LIST, {"text": SYNTAX_ERROR.replace("corridor", "korea")})
    assert broken.status_code == 422
    assert field_errors(broken, "text") == [SYNTAX_PROBLEM]
    assert fresh(db).scalar(select(func.count()).select_from(Programme)) == 1


# --- differences ---------------------------------------------------------------------------------


def test_the_diff_page_shows_added_and_removed_lines(admin, db, corridor):
    make_programme(db, definition(stages=V2_STAGES))

    response = admin.get(f"{PAGE}/diff?old=1&new=2")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<pre class="diff">' in page
    assert '<span class="diff-header">--- version 1</span>' in page
    assert '<span class="diff-added">+- key: visit</span>' in page
    assert '<span class="diff-added">+- key: prospect</span>' in page
    assert '<span class="diff-removed">-- key: lead</span>' in page
    assert page.count('class="diff-hunk"') >= 1
    # The programme page proposes the newest change; the reverse works too.
    assert re.search(r'<option selected value="1">1</option>',
                     admin.get(PAGE).get_data(as_text=True))
    reverse = admin.get(f"{PAGE}/diff?old=2&new=1").get_data(as_text=True)
    assert '<span class="diff-removed">-- key: visit</span>' in reverse
    same = admin.get(f"{PAGE}/diff?old=2&new=2")
    assert "Versions 2 and 2 are the same." in page_text(same)
    assert admin.get(f"{PAGE}/diff?old=1&new=7").status_code == 404
    assert admin.get(f"{PAGE}/diff?old=x&new=1").status_code == 404


def test_the_diff_page_of_a_single_version_says_so(admin, corridor):
    response = admin.get(f"{PAGE}/diff")
    assert response.status_code == 200
    assert "There is only one version so far." in page_text(response)


# --- migration -----------------------------------------------------------------------------------


@pytest.fixture
def on_version_1(app, db, corridor) -> list[int]:
    """Two open enrollments in "lead", one in "intake", one closed; then version 2 is loaded."""
    ids = enroll(app, db, corridor, [("Alpha", "lead"), ("Beta", "lead"), ("Gamma", "intake"),
                                     ("Delta", "lead")])
    with app.app_context():
        engine.close(db, db.get(Enrollment, ids[3]), EnrollmentStatus.WITHDRAWN,
                     engine.Actor.system(), reason="Went to Berlin")
        db.commit()
    make_programme(db, definition(stages=V2_STAGES))
    return ids


def enrollment_states(db, ids: list[int]) -> list[tuple[int, str, str]]:
    db = fresh(db)
    return [(number, enrollment.stage, enrollment.status) for enrollment, number in db.execute(
        select(Enrollment, ProgrammeVersion.number)
        .join(ProgrammeVersion, ProgrammeVersion.id == Enrollment.programme_version_id)
        .where(Enrollment.id.in_(ids)).order_by(Enrollment.id))]


def stage_events(db, ids: list[int]) -> list[tuple[int, str | None, str, str | None]]:
    return [(event.enrollment_id, event.from_stage, event.to_stage, event.note)
            for event in fresh(db).scalars(select(StageEvent).where(
                StageEvent.enrollment_id.in_(ids)).order_by(StageEvent.id))]


def test_the_migration_form_offers_the_new_versions_active_stages_for_each_stage_in_use(
        admin, on_version_1):
    page = admin.get(PAGE).get_data(as_text=True)
    section = re.search(r'<section class="card" id="migration">.*?</section>', page,
                        re.S).group(0)
    assert re.search(r'<select[^>]*id="from_version".*?<option selected value="1">',
                     section, re.S)
    assert 'data-confirm="Move 3 open enrollments from version 1 to version 2?"' in section
    lead = re.search(r'<select id="stage_lead" name="stage_lead">(.*?)</select>', section,
                     re.S).group(1)
    intake = re.search(r'<select id="stage_intake" name="stage_intake">(.*?)</select>', section,
                       re.S).group(1)
    assert re.findall(r'value="(\w*)"', lead) == ["", "prospect", "intake", "visit",
                                                  "qualified"]
    assert '<option selected value="">' in lead  # "lead" is gone: the admin must choose
    assert '<option selected value="intake">' in intake
    assert 'name="stage_qualified"' not in section  # nobody is there


def test_migration_moves_open_enrollments_with_their_mapping(admin, db, on_version_1):
    before_events = stage_events(db, on_version_1)

    response = post(admin, f"{PAGE}/migrate", {"from_version": "1", "to_version": "2",
                                               "stage_lead": "prospect",
                                               "stage_intake": "intake"})

    assert response.status_code == 302
    assert flashes(admin.get(PAGE)) == ["3 enrollments moved from version 1 to version 2."]
    assert enrollment_states(db, on_version_1) == [
        (2, "prospect", "open"), (2, "prospect", "open"), (2, "intake", "open"),
        (1, "withdrawn", "withdrawn")]
    new_events = stage_events(db, on_version_1)[len(before_events):]
    assert new_events == [(on_version_1[0], "lead", "prospect", "version 1 → 2"),
                          (on_version_1[1], "lead", "prospect", "version 1 → 2")]
    page = admin.get(PAGE).get_data(as_text=True)
    assert re.findall(r'<td class="num">(\d+)</td>\s*<td><a', page) == ["3", "0"]


@pytest.mark.parametrize("mapping", [
    {"stage_lead": "landed", "stage_intake": "intake"},  # a closing stage
    {"stage_intake": "intake"},  # "lead" not mapped
    {"stage_lead": "", "stage_intake": "intake"},
    {"stage_lead": "nowhere", "stage_intake": "intake"},
], ids=["closing stage", "missing", "empty", "unknown"])
def test_migration_refuses_an_incomplete_or_closing_mapping_and_changes_nothing(
        admin, db, on_version_1, mapping):
    before = (enrollment_states(db, on_version_1), stage_events(db, on_version_1))

    response = post(admin, f"{PAGE}/migrate", {"from_version": "1", "to_version": "2",
                                               **mapping})

    assert response.status_code == 302
    assert response.headers["Location"] == f"{PAGE}?from_version=1&to_version=2#migration"
    assert flashes(admin.get(PAGE)) == [
        "Map every stage in use to an active stage of the new version (missing: lead)."]
    assert (enrollment_states(db, on_version_1), stage_events(db, on_version_1)) == before


@pytest.mark.parametrize("versions", [("1", "1"), ("1", "5"), ("x", "2"), ("", "2")])
def test_migration_between_unknown_or_equal_versions_is_refused(admin, db, on_version_1,
                                                                versions):
    before = enrollment_states(db, on_version_1)
    response = post(admin, f"{PAGE}/migrate", {"from_version": versions[0],
                                               "to_version": versions[1],
                                               "stage_lead": "prospect",
                                               "stage_intake": "intake"})
    assert response.status_code == 302
    assert flashes(admin.get(PAGE))[0] in ("Choose two different versions of this programme.",
                                           "Choose the versions again.")
    assert enrollment_states(db, on_version_1) == before


def test_programme_page_queries_do_not_grow_with_enrollments(app, admin, db, on_version_1,
                                                             count_queries):
    with count_queries() as few:
        assert admin.get(PAGE).status_code == 200
    programme = fresh(db).scalar(select(Programme))
    enroll(app, db, programme, [(f"Startup {n}", "intake") for n in range(8)])
    with count_queries() as many:
        assert admin.get(PAGE).status_code == 200
    assert len(many) == len(few), many


# --- access and language -------------------------------------------------------------------------

ROUTES = [
    ("get", LIST),
    ("post", LIST),
    ("get", PAGE),
    ("post", f"{PAGE}/definitions"),
    ("get", f"{PAGE}/diff?old=1&new=1"),
    ("get", f"{PAGE}/versions/1.yaml"),
    ("post", f"{PAGE}/migrate"),
]


@pytest.mark.parametrize("role", [Role.MANAGER, Role.BD_MANAGER, Role.VIEWER])
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_only_admins_may_use_the_programme_pages(client_as, db, corridor, role, method, path):
    client, _user = client_as(role)
    if method == "get":
        response = client.get(path)
    else:
        response = post(client, path, {"text": v2_text(), "from_version": "1",
                                       "to_version": "1"})
    assert response.status_code == 403
    assert "Your role does not allow this." in page_text(response)
    assert version_numbers(db) == [1]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_anonymous_visitors_are_sent_to_log_in(client, corridor, method, path):
    response = getattr(client, method)(path)
    if method == "get":
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
    else:
        assert response.status_code in (400, 401)  # no CSRF token, or not logged in


def test_the_pages_follow_the_users_language(app, admin, db, on_version_1):
    assert admin.post("/locale", data={"locale": "de", "next": LIST,
                                       "csrf_token": csrf_token(admin, LIST)}).status_code == 302

    listing = page_text(admin.get(LIST))
    assert "Offene Teilnahmen je Version" in listing
    assert "Aktuelle Version" in listing
    assert "Neues Programm" in listing
    assert "Korridor" in listing
    detail = page_text(admin.get(PAGE))
    assert "<h2>Versionen</h2>" in detail
    assert "Offene Teilnahmen verschieben" in detail
    assert "Interessent" in detail  # the stage's German label
    assert "Checkliste: Adresse, Aufenthaltstitel, Geschäftskonto" in detail
    assert "15.01.26, 11:00" in detail
    refused = post(admin, f"{PAGE}/definitions", {"text": dump(definition(key="korea"))})
    assert field_errors(refused, "text") == [
        "key: Diese Definition gehört zum Programm korea, nicht zu corridor."]


def test_a_load_that_loses_a_race_is_refused_and_keeps_the_text(admin, db, corridor,
                                                                monkeypatch):
    def lose_the_race(*_args, **_kwargs):
        raise IntegrityError("INSERT INTO programme_versions", {}, Exception("duplicate key"))

    monkeypatch.setattr(services, "_store", lose_the_race)
    response = post(admin, f"{PAGE}/definitions", {"text": v2_text()})
    assert response.status_code == 422
    assert field_errors(response, "text") == [
        "Another definition of this programme was loaded at the same moment. "
        "Look at its versions and try again."]
    assert textarea(response) == v2_text()
    assert version_numbers(db) == [1]


def test_migration_holds_the_enrollments_it_moves_until_it_commits(app, db, on_version_1,
                                                                   monkeypatch):
    """A move committed between the migration's read and its write must not break it (500)."""
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    programme = fresh(db).scalar(select(Programme))
    create_checklist = engine._create_checklist
    concurrent: list[str] = []

    def move_meanwhile(session, enrollment, definition, now):
        if not concurrent:  # another desk member moves "Beta" while the migration runs
            with Session(app.extensions["db_engine"]) as other, app.app_context():
                other.execute(sql_text("SET lock_timeout = '500ms'"))
                try:
                    engine.move(other, other.get(Enrollment, on_version_1[1]), "intake",
                                engine.Actor.system())
                    other.commit()
                    concurrent.append("moved")
                except (OperationalError, engine.EnrollmentChanged):
                    other.rollback()
                    concurrent.append("waited")
        create_checklist(session, enrollment, definition, now)

    monkeypatch.setattr(engine, "_create_checklist", move_meanwhile)
    with app.app_context():
        moved = engine.migrate_enrollments(db, programme, from_number=1, to_number=2,
                                           stage_mapping={"lead": "prospect", "intake": "intake"},
                                           actor=engine.Actor.system())
        db.commit()
    assert (moved, concurrent) == (3, ["waited"])
    assert [stage for _n, stage, _s in enrollment_states(db, on_version_1)[:3]] == [
        "prospect", "prospect", "intake"]

"""Import of startups from real CSV and XLSX files through the pages: upload, mapping, dry run,
run, update-or-create, duplicates, bad input, permissions, a failure that changes nothing."""

from __future__ import annotations

import html
import io
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from crm.core.audit import AuditEvent
from crm.core.enums import ActivityKind, ImportStatus, LeadSource, Role
from crm.imports import services
from crm.imports.models import ImportJob, ImportMapping
from crm.startups.models import Activity, Contact, Startup, StartupSector, StartupTag
from tests.conftest import csrf_token, fresh
from tests.factories import make_startup

DATA = Path(__file__).parent / "data" / "imports"


# Helpers: what a user does in the browser ----------------------------------------------------


class _FormReader(HTMLParser):
    """The values a browser would send for the form whose action ends with `action`."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.values = action, False, {}
        self._select: str | None = None
        self._first_option: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = (attrs.get("action") or "").endswith(self.action)
        elif not self.inside:
            return
        elif tag == "input" and attrs.get("name") and attrs.get("type") not in ("submit", "file"):
            self.values[attrs["name"]] = attrs.get("value") or ""
        elif tag == "select":
            self._select, self._first_option = attrs.get("name"), None
        elif tag == "option" and self._select:
            value = attrs.get("value", "")
            if self._first_option is None:
                self._first_option = value
                self.values.setdefault(self._select, value)
            if "selected" in attrs:
                self.values[self._select] = value

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None


def form_values(page: str, action: str) -> dict[str, str]:
    reader = _FormReader(action)
    reader.feed(page)
    return reader.values


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def visible(page: str) -> str:
    """The page's text as a reader sees it: no tags, spaces collapsed."""
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    return text.replace(" )", ")").replace("( ", "(").replace(" :", ":").replace(" ,", ",")


def upload(client, path: Path | None = None, *, content: bytes | None = None,
           filename: str | None = None):
    data = content if content is not None else path.read_bytes()
    return client.post("/imports/", data={
        "csrf_token": csrf_token(client, "/imports/"),
        "file": (io.BytesIO(data), filename or path.name),
    }, content_type="multipart/form-data")


def job_id_of(response) -> int:
    assert response.status_code == 302, text_of(response)[-3000:]
    match = re.search(r"/imports/(\d+)/mapping", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def mapping_page(client, job_id: int) -> str:
    response = client.get(f"/imports/{job_id}/mapping")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def submit_mapping(client, job_id: int, **changes):
    """Post the mapping form as the page shows it, with some selects changed."""
    values = form_values(mapping_page(client, job_id), f"/imports/{job_id}/mapping")
    values.update(changes)
    return client.post(f"/imports/{job_id}/mapping", data=values)


def check_file(client, path: Path | None = None, *, content: bytes | None = None,
               filename: str | None = None, **changes) -> int:
    """Upload, keep the guessed mapping (plus changes), run the dry run; the job's id."""
    job_id = job_id_of(upload(client, path, content=content, filename=filename))
    response = submit_mapping(client, job_id, **changes)
    assert response.status_code == 302, text_of(response)[-3000:]
    assert response.headers["Location"].endswith(f"/imports/{job_id}")
    return job_id


def report(client, job_id: int, **params) -> str:
    response = client.get(f"/imports/{job_id}", query_string=params)
    assert response.status_code == 200, text_of(response)[-2000:]
    return text_of(response)


def run_now(app, client, job_id: int, monkeypatch):
    """Press "Import now", then let the task run here (as a worker would) and show the page."""
    import workers.celery_app
    from workers.imports import run_import

    response = client.post(f"/imports/{job_id}/run",
                           data={"csrf_token": csrf_token(client, f"/imports/{job_id}")})
    assert response.status_code == 302
    monkeypatch.setattr(workers.celery_app, "_flask_app", app)
    run_import(job_id)
    return report(client, job_id)


def job(db: Session, job_id: int) -> ImportJob:
    return fresh(db).get(ImportJob, job_id)


def count(db: Session, model, *conditions) -> int:
    return fresh(db).scalar(select(func.count()).select_from(model).where(*conditions))


def startup_named(db: Session, name: str) -> Startup:
    startup = fresh(db).scalar(select(Startup).where(Startup.name == name))
    assert startup is not None, f"no startup {name!r}"
    return startup


def broker_messages(settings) -> list[Path]:
    folder = settings.broker_folder / "queue"
    return sorted(folder.glob("*")) if folder.exists() else []


@pytest.fixture
def bd(client_as):
    return client_as(Role.BD_MANAGER)


# Permissions ----------------------------------------------------------------------------------


def test_viewers_get_403_on_every_import_page_and_anonymous_users_are_sent_to_log_in(
        app, db, client_as, bd, client):
    editor, _user = bd
    job_id = check_file(editor, DATA / "latin1_leads.csv")
    viewer, _viewer = client_as(Role.VIEWER)
    token = csrf_token(viewer, "/tasks/")
    for method, url in [("get", "/imports/"), ("post", "/imports/"),
                        ("get", f"/imports/{job_id}"), ("get", f"/imports/{job_id}/mapping"),
                        ("post", f"/imports/{job_id}/mapping"),
                        ("get", f"/imports/{job_id}/progress"),
                        ("post", f"/imports/{job_id}/run"), ("post", f"/imports/{job_id}/resend")]:
        data = {"csrf_token": token} if method == "post" else None
        assert getattr(viewer, method)(url, data=data).status_code == 403, url
        anonymous = getattr(client, method)(url, data={"csrf_token": csrf_token(client)}
                                            if method == "post" else None)
        assert anonymous.status_code == (401 if method == "post" else 302), url
    assert job(db, job_id).status == ImportStatus.CHECKED  # the viewer's run changed nothing
    assert count(db, Startup) == 0


def test_a_bd_manager_sees_only_own_imports_and_a_manager_sees_everyones(db, client_as, bd):
    first, first_user = bd
    second, _second_user = client_as(Role.BD_MANAGER)
    job_id = check_file(first, DATA / "latin1_leads.csv")
    assert "latin1_leads.csv" in text_of(first.get("/imports/"))
    assert "latin1_leads.csv" not in text_of(second.get("/imports/"))
    assert second.get(f"/imports/{job_id}").status_code == 403
    assert second.get(f"/imports/{job_id}/progress").status_code == 403
    manager, _manager = client_as(Role.MANAGER)
    page = text_of(manager.get("/imports/"))
    assert "latin1_leads.csv" in page and first_user.name in page
    assert manager.get(f"/imports/{job_id}").status_code == 200


def test_an_empty_list_says_how_to_start(bd):
    client, _user = bd
    page = text_of(client.get("/imports/"))
    assert "No imports yet" in page and 'type="file"' in page


# Files in real encodings ----------------------------------------------------------------------


def test_a_latin1_csv_keeps_its_accents_and_its_columns_are_guessed(app, db, bd, monkeypatch):
    client, user = bd
    job_id = job_id_of(upload(client, DATA / "latin1_leads.csv"))
    form = form_values(mapping_page(client, job_id), f"/imports/{job_id}/mapping")
    guessed = [form[f"column_{index}"] for index in range(10)]
    assert guessed == ["name", "country", "city", "website", "contact_name", "contact_email",
                       "founded_year", "team_size", "sectors", "tags"]
    assert "Müller Robotik GmbH" in text_of(client.get(f"/imports/{job_id}/mapping"))

    submit_mapping(client, job_id)
    page = report(client, job_id, show="all")
    assert "Müller Robotik GmbH" in page and "Société Générale Énergie" in page
    assert page.count("New</span>") == 3
    assert count(db, Startup) == 0  # a dry run writes nothing but its report

    page = run_now(app, client, job_id, monkeypatch)
    assert "What the import did" in page
    muller = startup_named(db, "Müller Robotik GmbH")
    assert (muller.country, muller.city, muller.domain) == ("DE", "Düsseldorf",
                                                            "mueller-robotik.de")
    assert muller.website == "https://www.mueller-robotik.de"
    assert (muller.founded_year, muller.team_size) == (2019, 12)
    assert muller.source == LeadSource.IMPORT and muller.owner_id is None
    assert "muller" in muller.search_text and "mueller" in muller.search_text
    contact = fresh(db).scalar(select(Contact).where(Contact.startup_id == muller.id))
    assert (contact.name, contact.email) == ("Jürgen Müller", "jm@mueller-robotik.de")
    assert sorted(fresh(db).scalars(select(StartupTag.tag).where(
        StartupTag.startup_id == muller.id))) == ["fair", "robotics"]
    assert list(fresh(db).scalars(select(StartupSector.sector).where(
        StartupSector.startup_id == muller.id))) == ["Industry 4.0"]
    activity = fresh(db).scalar(select(Activity).where(Activity.startup_id == muller.id))
    assert activity.kind == ActivityKind.IMPORT and activity.author_id == user.id
    assert activity.subject == "Imported from latin1_leads.csv"
    timeline = text_of(client.get(f"/startups/{muller.id}"))
    assert "Imported from latin1_leads.csv" in timeline
    assert count(db, Startup, Startup.name == "Café Señor Tech", Startup.country == "ES") == 1
    done = job(db, job_id)
    assert (done.status, done.created_count, done.error_count) == (ImportStatus.DONE, 3, 0)
    completed = fresh(db).scalar(select(AuditEvent).where(AuditEvent.action == "import.completed"))
    assert completed.object_id == job_id and completed.details["created"] == 3
    with app.app_context():  # the file is not kept once imported
        assert not services.import_path(done).exists()


def test_a_german_excel_csv_with_bom_and_semicolons(app, db, bd, monkeypatch):
    client, _user = bd
    job_id = job_id_of(upload(client, DATA / "german_excel_bom.csv"))
    form = form_values(mapping_page(client, job_id), f"/imports/{job_id}/mapping")
    assert [form[f"column_{index}"] for index in range(11)] == [
        "name", "country", "city", "website", "contact_name", "contact_email", "contact_phone",
        "founded_year", "team_size", "sectors", "source_detail"]
    submit_mapping(client, job_id)
    assert job(db, job_id).created_count == 3, job(db, job_id).report
    run_now(app, client, job_id, monkeypatch)
    doosan = startup_named(db, "Doosan Robotics Inc.")
    assert (doosan.country, doosan.founded_year, doosan.team_size) == ("KR", 2015, 1200)
    assert doosan.source_detail == "MEDICA 2026"
    contact = fresh(db).scalar(select(Contact).where(Contact.startup_id == doosan.id))
    assert contact.phone == "+82212345678" and contact.email == "minjun.kim@doosanrobotics.com"
    medtech = startup_named(db, "Bengaluru MedTech Pvt Ltd")
    assert (medtech.country, medtech.domain, medtech.founded_year) == ("IN", "blrmedtech.in", 2020)
    assert sorted(fresh(db).scalars(select(StartupSector.sector).where(
        StartupSector.startup_id == medtech.id))) == ["Digital Health", "MedTech"]
    austria = startup_named(db, "Grüne Energie UG")
    assert austria.country == "AT" and austria.source_detail is None


def test_an_xlsx_with_typed_cells_and_a_blank_row(app, db, bd, monkeypatch):
    client, _user = bd
    job_id = check_file(client, DATA / "desk_sheet.xlsx")
    rows = [entry["row"] for entry in job(db, job_id).report]
    assert rows == [2, 4, 5]  # row 3 is blank; numbers as the spreadsheet shows them
    run_now(app, client, job_id, monkeypatch)
    seoul = startup_named(db, "Seoul Mobility Co., Ltd.")
    assert (seoul.founded_year, seoul.team_size, seoul.funding_stage) == (2017, 30, "series_a")
    tokyo = startup_named(db, "Tokyo Health KK")
    assert (tokyo.country, tokyo.team_size, tokyo.funding_stage) == ("JP", 55, "series_b_plus")
    chennai = startup_named(db, "Chennai Agritech")
    assert chennai.funding_stage == "pre_seed"
    assert count(db, Contact, Contact.startup_id == chennai.id) == 0


# Bad files and bad rows -----------------------------------------------------------------------


@pytest.mark.parametrize(("content", "filename", "message"), [
    ((DATA / "renamed_program.csv").read_bytes(), "renamed_program.csv",
     "neither a CSV nor an XLSX file"),
    ((DATA / "renamed_program.csv").read_bytes(), "leads.xlsx", "neither a CSV nor an XLSX file"),
    (b"PK\x03\x04 not really a zip", "leads.xlsx", "neither a CSV nor an XLSX file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", "old Excel file"),
    (b"", "empty.csv", "The file is empty."),
    (b"Name,Country\n", "header-only.csv", "no data rows"),
    (b"x" * (10 * 1024 * 1024 + 1), "huge.csv", "larger than 10 MB"),
])
def test_a_file_that_cannot_be_imported_is_refused_with_a_message(db, settings, bd, content,
                                                                    filename, message):
    client, _user = bd
    response = upload(client, content=content, filename=filename)
    assert response.status_code == 422
    page = text_of(response)
    assert message in page and 'aria-invalid="true"' in page
    assert count(db, ImportJob) == 0
    folder = settings.upload_folder / "imports"
    assert not folder.exists() or not any(folder.iterdir())


def _with_an_entity(workbook: bytes) -> bytes:
    """The workbook with a DOCTYPE declaring an entity, used in the first sheet's first name."""
    source, out = zipfile.ZipFile(io.BytesIO(workbook)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = b'<!DOCTYPE worksheet [<!ENTITY injected "INJECTED">]>' + data.replace(
                    b"Seoul Mobility", b"&injected; Seoul Mobility", 1)
            target.writestr(info, data)
    return out.getvalue()


def test_a_workbook_declaring_xml_entities_is_refused_unread(db, bd):
    """openpyxl parses with defusedxml: no entity is expanded, so neither an external one
    (XXE) nor a "billion laughs" bomb gets anywhere (the standard parser would expand it)."""
    client, _user = bd
    hostile = _with_an_entity((DATA / "desk_sheet.xlsx").read_bytes())
    response = upload(client, content=hostile, filename="leads.xlsx")
    assert response.status_code == 422
    assert "The spreadsheet is damaged and cannot be read." in text_of(response)
    assert count(db, ImportJob) == 0


def test_more_than_50000_rows_are_refused_and_exactly_50000_are_taken(db, bd):
    client, _user = bd
    header = "Name,Country\n"
    rows = "".join(f"Startup {number},IN\n" for number in range(50_001))
    response = upload(client, content=(header + rows).encode(), filename="big.csv")
    assert response.status_code == 422
    assert "more than 50,000 rows" in text_of(response)
    rows = "".join(f"Startup {number},IN\n" for number in range(50_000))
    job_id = job_id_of(upload(client, content=(header + rows).encode(), filename="big.csv"))
    assert job(db, job_id).total_rows == 50_000


def test_without_a_name_column_the_mapping_says_so_and_keeps_the_choices(db, bd):
    client, _user = bd
    job_id = job_id_of(upload(client, DATA / "missing_name_column.csv"))
    response = submit_mapping(client, job_id, column_1="description")
    assert response.status_code == 422
    page = text_of(response)
    assert "Choose the column that holds the startup’s name." in page
    values = form_values(response.get_data(as_text=True), f"/imports/{job_id}/mapping")
    assert values["column_1"] == "description" and values["column_0"] == "country"
    assert job(db, job_id).status == ImportStatus.UPLOADED and not job(db, job_id).report
    # Naming a column "Startup name" makes it acceptable (every row is then named by its city).
    response = submit_mapping(client, job_id, column_1="name")
    assert response.status_code == 302 and job(db, job_id).created_count == 2


def test_without_a_country_column_a_country_for_every_row_is_needed(db, bd):
    client, _user = bd
    content = b"Name,Website\nAlpha Robotics,alpha-robotics.in\n"
    job_id = job_id_of(upload(client, content=content, filename="no-country.csv"))
    response = submit_mapping(client, job_id)
    assert response.status_code == 422
    assert "No column holds the country" in text_of(response)
    response = submit_mapping(client, job_id, default_country="IN")
    assert response.status_code == 302
    assert job(db, job_id).created_count == 1


def test_one_field_may_not_take_two_columns(db, bd):
    client, _user = bd
    job_id = job_id_of(upload(client, DATA / "latin1_leads.csv"))
    response = submit_mapping(client, job_id, column_2="country")
    assert response.status_code == 422
    assert "“Country” is already the column “Country”." in text_of(response)


def test_bad_values_and_a_repeated_row_are_reported_row_by_row_and_skipped(app, db, bd,
                                                                           monkeypatch):
    client, _user = bd
    job_id = check_file(client, DATA / "bad_values.csv")
    checked = job(db, job_id)
    assert (checked.created_count, checked.error_count) == (1, 10)
    page = report(client, job_id)  # problems first
    for reason in ["“not-an-address@” is not a valid e-mail address.",
                   "“32.13.2019” is neither a year nor a date.",
                   "2999 is not a possible founding year.",
                   "“Atlantis” is not a country we know.",
                   "The name is missing.",
                   "“a few” is not a number of people.",
                   "“Moonshot” is not a funding stage we know.",
                   "“12” is not a phone number.",
                   "“not a website” is not a web address.",
                   "Same startup as row 2."]:
        assert reason in page, reason
    assert "Good Startup</td>" not in page  # the good row is not a problem
    assert "Good Startup" in report(client, job_id, show="create")
    # Stored as codes with the value, so each reader sees the reasons in their own language.
    problems = {entry["row"]: entry.get("problems") for entry in job(db, job_id).report}
    assert problems[3] == [{"code": "email_invalid", "field": "contact_email",
                            "value": "not-an-address@"}]
    run_now(app, client, job_id, monkeypatch)
    assert list(fresh(db).scalars(select(Startup.name))) == ["Good Startup"]


# Update or create -----------------------------------------------------------------------------


def test_rows_matching_by_domain_or_email_update_and_a_second_import_doubles_nothing(
        app, db, bd, monkeypatch):
    client, user = bd
    by_domain = make_startup(db, "Acme Robotics", country="IN", domain="acme-robotics.in",
                             website="https://acme-robotics.in", city="Pune",
                             contact_email=None)
    by_email = make_startup(db, "Beta Labs", country="KR", contact_email="ceo@betalabs.kr")
    content = ("Name,Country,City,Website,Email,Founded,Tags\n"
               "ACME Robotics Pvt Ltd,IN,Mumbai,https://www.acme-robotics.in/en,,2015,fair\n"
               "Beta Laboratories,KR,Seoul,,ceo@betalabs.kr,2019,\n"
               "Gamma Health,DE,Köln,gamma-health.de,info@gamma-health.de,2020,\n").encode()
    job_id = check_file(client, content=content, filename="fair.csv")
    page = visible(report(client, job_id, show="update"))
    assert "Same as Acme Robotics (web address): fills in: Founded (year), Tags (comma-separated)" \
        in page  # its website and city are there already: kept
    assert "Same as Beta Labs (e-mail): fills in: City, Founded (year)" in page
    assert (job(db, job_id).created_count, job(db, job_id).updated_count) == (1, 2)

    run_now(app, client, job_id, monkeypatch)
    assert count(db, Startup) == 3
    acme = fresh(db).get(Startup, by_domain.id)
    assert acme.name == "Acme Robotics" and acme.city == "Pune"  # kept, not overwritten
    assert acme.founded_year == 2015 and acme.version == 2  # filled in
    assert list(fresh(db).scalars(select(StartupTag.tag).where(
        StartupTag.startup_id == acme.id))) == ["fair"]
    beta = fresh(db).get(Startup, by_email.id)
    assert (beta.city, beta.founded_year) == ("Seoul", 2019)
    assert count(db, Contact, Contact.startup_id == beta.id) == 1
    changes = fresh(db).scalar(select(AuditEvent).where(
        AuditEvent.action == "startup.updated", AuditEvent.object_id == acme.id)).details
    assert changes["changes"]["founded_year"] == [None, 2015]
    assert fresh(db).scalar(select(Activity.subject).where(
        Activity.startup_id == acme.id, Activity.kind == ActivityKind.IMPORT)) == \
        "Updated from fair.csv"

    again = check_file(client, content=content, filename="fair-again.csv")
    assert (job(db, again).created_count, job(db, again).updated_count) == (0, 3)
    assert visible(report(client, again, show="update")).count("nothing new") == 3
    run_now(app, client, again, monkeypatch)
    assert count(db, Startup) == 3 and count(db, Contact) == 2


def test_a_new_contact_is_added_to_a_startup_matched_by_its_domain(app, db, bd, monkeypatch):
    client, _user = bd
    startup = make_startup(db, "Acme Robotics", domain="acme-robotics.in",
                           contact_email="founder@acme-robotics.in")
    content = (b"Name,Country,Website,Contact,Email,Role\n"
               b"Acme Robotics,IN,acme-robotics.in,Ravi Kumar,ravi@acme-robotics.in,CTO\n"
               )
    job_id = check_file(client, content=content, filename="contacts.csv")
    page = visible(report(client, job_id, show="update"))
    assert "fills in: Website or domain, new contact" in page
    run_now(app, client, job_id, monkeypatch)
    emails = sorted(fresh(db).scalars(select(Contact.email).where(
        Contact.startup_id == startup.id)))
    assert emails == ["founder@acme-robotics.in", "ravi@acme-robotics.in"]
    assert "ravi" in fresh(db).get(Startup, startup.id).search_text


def test_a_similar_name_without_domain_or_email_match_is_a_probable_duplicate_not_created(
        app, db, bd, monkeypatch):
    client, _user = bd
    existing = make_startup(db, "Müller GmbH", country="DE", contact_email=None)
    content = b"Name,Country,Website\nMueller GmbH,DE,mueller-gmbh.de\n"
    job_id = check_file(client, content=content, filename="fuzzy.csv")
    page = report(client, job_id)
    assert "Probably the same as Müller GmbH" in visible(page)
    assert f'href="/startups/{existing.id}"' in page
    assert job(db, job_id).duplicate_count == 1
    assert "disabled>Import now" in page  # nothing to create or update
    run_now(app, client, job_id, monkeypatch)  # even when sent: nothing is created
    assert count(db, Startup) == 1


def test_a_probable_duplicate_can_be_created_anyway_and_that_choice_undone(app, db, bd,
                                                                           monkeypatch):
    client, _user = bd
    existing = make_startup(db, "Müller GmbH", country="DE", contact_email=None)
    content = b"Name,Country,Website\nMueller GmbH,DE,mueller-gmbh.de\nOther AG,DE,other.de\n"
    job_id = check_file(client, content=content, filename="fuzzy.csv")
    url = f"/imports/{job_id}/rows/2/create-anyway"
    values = form_values(report(client, job_id), url)
    assert values["create"] == "1" and values["show"] == "problems"
    response = client.post(url, data=values)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/imports/{job_id}?show=problems#row-2")
    page = visible(report(client, job_id, show="create"))
    assert "Similar to Müller GmbH: created anyway, as you chose" in page
    assert (job(db, job_id).created_count, job(db, job_id).duplicate_count) == (2, 0)

    client.post(url, data=form_values(report(client, job_id, show="create"), url))  # undo
    assert (job(db, job_id).created_count, job(db, job_id).duplicate_count) == (1, 1)
    assert "Probably the same as Müller GmbH" in visible(report(client, job_id))

    client.post(url, data=form_values(report(client, job_id), url))
    run_now(app, client, job_id, monkeypatch)
    assert sorted(fresh(db).scalars(select(Startup.name))) == ["Mueller GmbH", "Müller GmbH",
                                                              "Other AG"]
    assert fresh(db).get(Startup, existing.id).version == 1
    # Not on a row that is no probable duplicate, nor once imported:
    assert client.post(f"/imports/{job_id}/rows/3/create-anyway", data={
        "create": "1", "csrf_token": csrf_token(client, "/imports/")}).status_code == 302
    assert job(db, job_id).created_count == 2


def test_a_bd_manager_cannot_update_another_bd_managers_startup_through_an_import(
        db, client_as, bd, make_user):
    client, _user = bd
    other = make_user(Role.BD_MANAGER)
    make_startup(db, "Owned Elsewhere", domain="owned.example.in", owner_id=other.id,
                 contact_email=None)
    content = b"Name,Country,Website,City\nOwned Elsewhere,IN,owned.example.in,Pune\n"
    job_id = check_file(client, content=content, filename="theirs.csv")
    assert "Matches “Owned Elsewhere”, which you may not change." in report(client, job_id)
    assert job(db, job_id).error_count == 1
    manager, _manager = client_as(Role.MANAGER)
    job_id = check_file(manager, content=content, filename="theirs.csv")
    assert job(db, job_id).updated_count == 1


def test_owners_by_staff_email_a_bd_manager_may_only_name_themselves(db, bd, make_user):
    client, user = bd
    other = make_user(Role.BD_MANAGER)
    content = (f"Name,Country,Owner\nMine,IN,{user.email.upper()}\nTheirs,IN,{other.email}\n"
               f"Nobody,IN,nobody@desk.example\n").encode()
    job_id = check_file(client, content=content, filename="owners.csv")
    page = report(client, job_id)
    assert "You may only make yourself the owner." in page
    assert "“nobody@desk.example” is not an active staff member" in page
    assert job(db, job_id).created_count == 1


# Remembered mappings --------------------------------------------------------------------------


def test_the_mapping_is_remembered_for_files_with_the_same_headers(db, bd, client_as):
    client, _user = bd
    first = job_id_of(upload(client, content=b"Name,Country,Notes,Fair\nA,IN,x,y\n",
                             filename="one.csv"))
    values = form_values(mapping_page(client, first), f"/imports/{first}/mapping")
    assert (values["column_2"], values["column_3"]) == ("description", "source_detail")
    response = submit_mapping(client, first, column_2="", column_3="tags",
                              source_detail="Startup Week 2026")
    assert response.status_code == 302
    saved = fresh(db).scalar(select(ImportMapping))
    assert saved.header_signature == job(db, first).header_signature

    # Another user, the same headers in another order and case: the saved mapping comes back.
    other, _other = client_as(Role.MANAGER)
    response = upload(other, content=b"fair,NAME, country ,notes\ny,B,KR,z\n", filename="two.csv")
    second = job_id_of(response)
    page = mapping_page(other, second)
    assert "These columns were imported before" in html.unescape(page)
    values = form_values(page, f"/imports/{second}/mapping")
    assert [values[f"column_{index}"] for index in range(4)] == ["tags", "name", "country", ""]
    assert values["source_detail"] == "Startup Week 2026"

    # Different headers: guessed again.
    third = job_id_of(upload(other, content=b"Name,Country,Notes\nC,IN,x\n", filename="3.csv"))
    values = form_values(mapping_page(other, third), f"/imports/{third}/mapping")
    assert values["column_2"] == "description" and values["source_detail"] == ""


# A failed import changes nothing --------------------------------------------------------------


def test_a_failing_import_leaves_no_rows_and_can_run_again(app, db, bd, monkeypatch):
    client, _user = bd
    existing = make_startup(db, "Acme Robotics", domain="acme-robotics.in", contact_email=None)
    rows = "".join(f"Startup {number},IN,startup{number}.in,\n" for number in range(12))
    content = ("Name,Country,Website,City\nAcme Robotics,IN,acme-robotics.in,Pune\n"
               + rows).encode()
    job_id = check_file(client, content=content, filename="breaks.csv")
    before = {model: count(db, model) for model in (Startup, Contact, Activity, StartupTag,
                                                    AuditEvent)}

    from crm.imports import services as import_services

    real_update = import_services.update_profile
    calls = {"n": 0}

    def fails_after_everything_was_written(*args, **kwargs):
        calls["n"] += 1
        real_update(*args, **kwargs)  # updates come after every new startup was written
        raise RuntimeError("the database went away")

    monkeypatch.setattr(import_services, "WRITE_BATCH", 5)  # several batches of new startups
    monkeypatch.setattr(import_services, "update_profile", fails_after_everything_was_written)
    page = run_now(app, client, job_id, monkeypatch)
    assert calls["n"] == 1
    assert "Something went wrong while importing. Nothing was changed" in page
    failed = job(db, job_id)
    assert failed.status == ImportStatus.FAILED and failed.error == "unexpected"
    after = {model: count(db, model) for model in before}
    assert after == {**before, AuditEvent: before[AuditEvent] + 2}  # queued + failed
    unchanged = fresh(db).get(Startup, existing.id)
    assert (unchanged.version, unchanged.city) == (1, None)
    assert "Run the import again" in page

    monkeypatch.setattr(import_services, "update_profile", real_update)
    page = run_now(app, client, job_id, monkeypatch)
    assert job(db, job_id).status == ImportStatus.DONE
    assert count(db, Startup) == 13


# The report page ------------------------------------------------------------------------------


def test_the_report_is_paged_by_row_number(db, bd):
    client, _user = bd
    rows = "".join(f"Startup {number},Atlantis\n" for number in range(230))
    job_id = check_file(client, content=("Name,Country\n" + rows).encode(), filename="p.csv")
    first = report(client, job_id)
    assert first.count("is not a country we know") == 100
    match = re.search(r'href="(/imports/\d+\?show=problems&amp;after=(\d+))"',
                      client.get(f"/imports/{job_id}").get_data(as_text=True))
    assert match and match.group(2) == "101"
    second = report(client, job_id, show="problems", after=101)
    assert "Startup 100<" in second and "Startup 99<" not in second
    third = report(client, job_id, show="problems", after=201)
    assert third.count("is not a country we know") == 30 and "Next rows" not in third


def test_the_report_page_reads_the_same_queries_for_few_and_many_rows(db, bd, count_queries):
    client, _user = bd
    small = check_file(client, content=b"Name,Country\nA,IN\n", filename="s.csv")
    rows = "".join(f"Startup {number},IN\n" for number in range(400))
    large = check_file(client, content=("Name,Country\n" + rows).encode(), filename="l.csv")
    report(client, small)
    with count_queries() as for_small:
        report(client, small)
    with count_queries() as for_large:
        report(client, large)
    assert len(for_small) == len(for_large), "\n".join(for_large)
    with count_queries() as listing:
        client.get("/imports/")
    assert len(listing) <= 3, "\n".join(listing)


def test_progress_is_json_for_the_polling_script(db, bd):
    client, _user = bd
    job_id = check_file(client, DATA / "latin1_leads.csv")
    response = client.get(f"/imports/{job_id}/progress")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert response.json == {"status": "checked", "label": "Checked, ready to import",
                             "processed": 3, "total": 3, "percent": 100, "finished": True}

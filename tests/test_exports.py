"""Exports of a list view: CSV (UTF-8 with BOM) and XLSX read back, filters and order kept,
formulas defused, audited; large ones as an ExportJob written by a real Celery worker, shown and
downloadable to their owner only."""

from __future__ import annotations

import csv
import html
import io
import time
import uuid
from datetime import UTC, datetime

import openpyxl
import pytest
from sqlalchemy import insert, select
from sqlmodel import Session

from crm.core.audit import AuditEvent
from crm.core.clock import set_clock
from crm.core.enums import ExportStatus, Role
from crm.db import get_session
from crm.exports import services
from crm.exports.models import ExportJob
from crm.startups.models import Startup, StartupSector, StartupTag
from crm.workflow import engine
from crm.workflow.engine import Actor
from tests.conftest import csrf_token, fresh
from tests.factories import make_programme, make_startup
from tests.helpers import start_worker

HEADER = ["ID", "Name", "Website", "Domain", "Country", "Country code", "City", "Founded",
          "Team size", "Funding stage", "Sectors", "Tags", "Status", "Source", "Event", "Owner",
          "Programme stages", "Overdue", "Contact", "Contact email", "Description", "Created",
          "Updated"]


def export(client, view: str = "", file_format: str = "csv"):
    return client.post("/startups/export", data={"view": view, "format": file_format,
                                                 "csrf_token": csrf_token(client, "/")})


def csv_rows(response) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf"), "no BOM: German Excel would garble umlauts"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def xlsx_rows(content: bytes) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


@pytest.fixture
def bd(client_as):
    return client_as(Role.BD_MANAGER)


@pytest.fixture
def data(app, db, bd):
    """Two Indian startups (one enrolled, with sectors, tags and a contact) and a Korean one."""
    _client, user = bd
    with app.app_context():
        session = get_session()
        programme = make_programme(session)
        muller = make_startup(session, "Müller Ölmühle GmbH", country="IN", owner_id=user.id,
                              contact_email="anna@mueller.example", website="https://m.example",
                              domain="m.example", city="Bengaluru", team_size=12,
                              source_detail="MEDICA 2026", description="Öl, Mühlen & Co.")
        session.add_all([StartupSector(startup_id=muller.id, sector="Food"),
                         StartupSector(startup_id=muller.id, sector="Agritech"),
                         StartupTag(startup_id=muller.id, tag="hot")])
        engine.enroll(session, startup=muller, programme=programme, actor=Actor.user(user))
        make_startup(session, "=HYPERLINK(\"http://evil.example\")", country="IN",
                     contact_email=None)
        make_startup(session, "Seoul Sensors", country="KR", contact_email=None)
        session.commit()
        return {"muller": muller.id}


def test_csv_export_of_a_filtered_sorted_view(db, bd, data):
    client, user = bd

    response = export(client, "country=IN&sort=name&dir=desc&owner=")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=startups-") and ".csv" in disposition
    assert "IN" not in disposition.split("filename=")[1].replace("startups-", "").split(".")[0]
    assert response.headers["Cache-Control"] == "no-store"  # crm/core/security.py, as every page
    rows = csv_rows(response)
    assert rows[0] == HEADER
    assert [row[1] for row in rows[1:]] == ["Müller Ölmühle GmbH",  # z..a: "M" after "="
                                            "'=HYPERLINK(\"http://evil.example\")"]
    muller = dict(zip(HEADER, rows[1], strict=True))
    assert muller["ID"] == str(data["muller"]) and muller["Country"] == "India"
    assert muller["Country code"] == "IN" and muller["City"] == "Bengaluru"
    assert muller["Sectors"] == "Agritech, Food" and muller["Tags"] == "hot"
    assert muller["Owner"] == user.name and muller["Event"] == "MEDICA 2026"
    assert muller["Programme stages"] == "Corridor: Lead" and muller["Overdue"] == "no"
    assert muller["Contact"] == "Asha Rao" and muller["Contact email"] == "anna@mueller.example"
    assert muller["Description"] == "Öl, Mühlen & Co." and muller["Team size"] == "12"
    assert len(muller["Created"]) == len("2026-11-23 10:00")
    event = fresh(db).scalar(select(AuditEvent).where(AuditEvent.action == "startups.exported"))
    assert event.actor_user_id == user.id
    assert event.details == {"query": "country=IN&sort=name&dir=desc", "file_format": "csv",
                             "row_count": 2, "selected": None}


def test_xlsx_export_reads_back_with_openpyxl(bd, data):
    client, _ = bd

    response = export(client, "q=mueller", "xlsx")

    assert response.status_code == 200
    assert response.mimetype == services.FORMATS["xlsx"][0]
    assert ".xlsx" in response.headers["Content-Disposition"]
    rows = xlsx_rows(response.get_data())
    assert rows[0] == HEADER and len(rows) == 2
    muller = dict(zip(HEADER, rows[1], strict=True))
    assert muller["Name"] == "Müller Ölmühle GmbH" and muller["ID"] == data["muller"]
    assert muller["Team size"] == 12 and isinstance(muller["Created"], datetime)


def test_a_formula_stays_text_in_xlsx(bd, data):
    client, _ = bd
    rows = xlsx_rows(export(client, "q=hyperlink", "xlsx").get_data())
    assert rows[1][1] == "=HYPERLINK(\"http://evil.example\")"
    workbook = openpyxl.load_workbook(io.BytesIO(export(client, "q=hyperlink", "xlsx")
                                                 .get_data()))
    assert workbook.active.cell(row=2, column=2).data_type == "s"


def test_viewers_may_export_and_a_bad_format_is_refused(client_as, data):
    viewer, _ = client_as(Role.VIEWER)
    assert len(csv_rows(export(viewer))) == 4
    refused = export(viewer, "", "pdf")
    assert refused.status_code == 302 and refused.headers["Location"] == "/"


# --- large exports: a job, a worker, a page ------------------------------------------------------


def _wait_for(app, job_id: int, seconds: float = 60) -> ExportJob | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with Session(app.extensions["db_engine"]) as session:
            job = session.get(ExportJob, job_id)
            if job.status in (ExportStatus.DONE, ExportStatus.FAILED):
                return job
        time.sleep(0.2)
    return None


def _many_startups(db: Session, count: int) -> None:
    now = datetime.now(UTC)
    db.execute(insert(Startup), [{"name": f"Bulk {n:04d}", "country": "IN",
                                  "created_at": now, "updated_at": now} for n in range(count)])
    db.commit()


def _run_large_export_through_a_worker(app, db, client_as, settings):
    client, user = client_as(Role.MANAGER)
    stranger, _ = client_as(Role.ADMIN)
    app.config["EXPORT_INLINE_MAX"] = 25  # "large" for the test: the path is the same
    _many_startups(db, 2 * services.BATCH + 30)  # more than one batch

    response = export(client, "country=IN&sort=name&dir=desc", "xlsx")

    assert response.status_code == 302
    job = fresh(db).scalar(select(ExportJob))
    assert response.headers["Location"] == f"/exports/{job.id}"
    assert (job.user_id, job.status, job.file_format) == (user.id, ExportStatus.QUEUED, "xlsx")
    assert job.query == "country=IN&sort=name&dir=desc"
    waiting = html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Waiting for a worker" in waiting and "data-reload-after" in waiting
    assert "This export is large: it is being written in the background." in waiting
    assert stranger.get(f"/exports/{job.id}").status_code == 403

    worker = start_worker(settings)
    try:
        finished = _wait_for(app, job.id)
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert finished is not None, f"the worker did not finish the export; its log:\n{output}"
    assert "workers.exports.run_export" in output
    assert finished.status == ExportStatus.DONE, output
    assert finished.row_count == 2 * services.BATCH + 30 and finished.finished_at is not None

    page = html.unescape(client.get(f"/exports/{job.id}").get_data(as_text=True))
    assert "Ready" in page and "data-reload-after" not in page
    assert f'href="/exports/{job.id}/download"' in page
    assert stranger.get(f"/exports/{job.id}/download").status_code == 403
    download = client.get(f"/exports/{job.id}/download")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment; filename=startups-")
    rows = xlsx_rows(download.get_data())
    assert len(rows) == 1 + 2 * services.BATCH + 30
    assert rows[1][1] == f"Bulk {2 * services.BATCH + 29:04d}"  # name z..a, as the view asked
    assert len({row[0] for row in rows[1:]}) == len(rows) - 1  # no row twice across batches
    actions = [event.action for event in fresh(db).scalars(
        select(AuditEvent).where(AuditEvent.action.like("startups.export%"))
        .order_by(AuditEvent.id))]
    assert actions == ["startups.export_requested", "startups.exported",
                       "startups.export_downloaded"]
    assert list((settings.upload_folder / "exports").iterdir()) == [
        settings.upload_folder / "exports" / finished.storage_key]


def test_a_large_export_is_written_by_a_worker_on_the_filesystem_broker(app, db, client_as,
                                                                       settings):
    assert settings.uses_filesystem_broker
    _run_large_export_through_a_worker(app, db, client_as, settings)


@pytest.mark.redis
def test_a_large_export_is_written_by_a_worker_on_redis(app, db, client_as, settings,
                                                         redis_url):
    settings = settings.model_copy(update={"celery_broker_url": redis_url,
                                           "celery_queue": f"test-{uuid.uuid4().hex}"})
    app.config["SETTINGS"] = settings  # the web side sends to Redis too
    _run_large_export_through_a_worker(app, db, client_as, settings)


def test_the_task_claims_a_job_once_and_a_failure_leaves_no_file(app, db, client_as,
                                                                 monkeypatch, settings):
    client, user = client_as(Role.BD_MANAGER)
    make_startup(db, "Only One", country="DE", contact_email=None)
    with app.app_context():
        session = get_session()
        done = ExportJob(user_id=user.id, query="", file_format="csv")
        broken = ExportJob(user_id=user.id, query="", file_format="csv")
        session.add_all([done, broken])
        session.commit()
        done_id, broken_id = done.id, broken.id

        finished = services.run_export_job(session, done_id)
        session.commit()
        assert finished.status == ExportStatus.DONE and finished.row_count == 1
        assert services.run_export_job(session, done_id) is None  # delivered twice: once

        def explode(*_args, **_kwargs):
            raise OSError("disk full")

        monkeypatch.setattr(services, "write_csv", explode)
        failed = services.run_export_job(session, broken_id)
        session.commit()
        assert failed.status == ExportStatus.FAILED and failed.storage_key is None
    files = sorted(path.name for path in (settings.upload_folder / "exports").iterdir())
    assert files == [fresh(db).get(ExportJob, done_id).storage_key]  # no .part left over
    page = html.unescape(client.get(f"/exports/{broken_id}").get_data(as_text=True))
    assert "The export failed." in page and "Download" not in page and "Try again" in page
    assert client.get(f"/exports/{broken_id}/download").status_code == 404
    assert client.get("/exports/999999").status_code == 404


def test_a_job_is_sent_once_committed_and_can_be_sent_again_when_stuck(app, db, client_as,
                                                                       settings):
    client, user = client_as(Role.BD_MANAGER)
    stranger, _ = client_as(Role.BD_MANAGER)
    app.config["EXPORT_INLINE_MAX"] = 1
    _many_startups(db, 3)
    queue = settings.broker_folder / "queue"

    response = export(client, "", "csv")

    job_id = fresh(db).scalar(select(ExportJob.id))
    assert response.headers["Location"] == f"/exports/{job_id}"
    assert len(list(queue.iterdir())) == 1  # the task message, written after the commit
    assert "Try again" not in client.get(f"/exports/{job_id}").get_data(as_text=True)
    token = csrf_token(client, f"/exports/{job_id}")
    refused = client.post(f"/exports/{job_id}/send-again", data={"csrf_token": token})
    assert refused.status_code == 302 and len(list(queue.iterdir())) == 1  # too early

    set_clock(lambda: datetime.now(UTC) + services.STALE_QUEUED)
    try:
        page = html.unescape(client.get(f"/exports/{job_id}").get_data(as_text=True))
        assert "No worker has taken this export yet." in page and "Try again" in page
        assert stranger.post(f"/exports/{job_id}/send-again",
                             data={"csrf_token": csrf_token(stranger, "/")}).status_code == 403
        again = client.post(f"/exports/{job_id}/send-again", data={"csrf_token": token})
    finally:
        set_clock(None)

    assert again.status_code == 302
    assert len(list(queue.iterdir())) == 2
    assert "The export was sent to a worker again." in client.get(
        f"/exports/{job_id}").get_data(as_text=True)
    event = fresh(db).scalar(select(AuditEvent).where(
        AuditEvent.action == "startups.export_sent_again"))
    assert event.actor_user_id == user.id and event.object_id == job_id

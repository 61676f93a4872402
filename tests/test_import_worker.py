"""The import tasks: a 50,000-row dry run, progress seen while a task runs, redelivered and dead
tasks, a task resent after a broker outage, and a real Celery worker running an import."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlmodel import Session

import workers.celery_app
from crm.core.clock import utcnow
from crm.core.enums import ImportStatus, Role
from crm.imports import services
from crm.imports.models import ImportJob
from crm.startups.models import Startup
from tests.conftest import csrf_token, fresh
from tests.factories import make_startup
from tests.helpers import start_worker
from tests.test_imports import (
    broker_messages,
    check_file,
    count,
    job,
    job_id_of,
    report,
    submit_mapping,
    upload,
    visible,
)
from workers.imports import check_import, run_import


@pytest.fixture
def bd(client_as):
    return client_as(Role.BD_MANAGER)


@pytest.fixture
def eager(app, monkeypatch):
    """Tasks called here run as a worker would: in this app's context, with one commit."""
    monkeypatch.setattr(workers.celery_app, "_flask_app", app)


def _press_run(client, job_id: int):
    response = client.post(f"/imports/{job_id}/run",
                           data={"csrf_token": csrf_token(client, f"/imports/{job_id}")})
    assert response.status_code == 302
    return response


def _rows(count_: int, start: int = 0) -> str:
    return "".join(f"Startup {number},IN,startup{number}.example.in\n"
                   for number in range(start, start + count_))


def test_a_50000_row_file_is_checked_by_a_worker_and_gets_a_summary(db, settings, bd, eager):
    """Not timed as an assertion; the time is printed (`pytest -s`) to keep an eye on it."""
    client, _user = bd
    make_startup(db, "Acme Seven", domain="startup7.example.in", contact_email=None)
    make_startup(db, "Zephyr Quantum Robotics GmbH", contact_email=None)  # no domain
    lines = _rows(50_000).splitlines(keepends=True)
    lines[99] = "Broken Row,Atlantis,broken.example.in\n"  # row 101
    lines[500] = "Zephyr Quantum Robotics,IN,zephyr-q.example.in\n"  # only the name is alike
    lines[49_999] = "Last Row,IN,not a website\n"  # row 50,001
    content = ("Name,Country,Website\n" + "".join(lines)).encode()
    job_id = job_id_of(upload(client, content=content, filename="fair-leads.csv"))
    response = submit_mapping(client, job_id)
    assert response.status_code == 302
    queued = job(db, job_id)
    assert (queued.status, queued.dry_run, queued.total_rows) == (ImportStatus.QUEUED, True,
                                                                  50_000)
    assert len(broker_messages(settings)) == 1  # sent once the request committed
    assert "Checking the file" in report(client, job_id)

    started = time.monotonic()
    check_import(job_id)
    print(f"\n50,000-row dry run on {settings.database_url.split(':')[0]}: "
          f"{time.monotonic() - started:.1f} s")

    checked = job(db, job_id)
    assert checked.status == ImportStatus.CHECKED and checked.processed_rows == 50_000
    assert (checked.created_count, checked.updated_count, checked.duplicate_count,
            checked.error_count) == (49_996, 1, 1, 2)
    assert count(db, Startup) == 2  # a dry run writes nothing but its report
    page = visible(report(client, job_id))
    assert "Rows 50000" in page and "Import now" in page
    assert "“Atlantis” is not a country we know." in page
    assert "“not a website” is not a web address." in page


def test_progress_is_visible_to_others_while_the_task_still_runs(app, db, bd, eager,
                                                                 monkeypatch):
    client, _user = bd
    content = ("Name,Country,Website\n" + _rows(40)).encode()
    job_id = check_file(client, content=content, filename="progress.csv")
    _press_run(client, job_id)
    seen: list[tuple[str, int]] = []
    real_writer = services._progress_writer

    def watched_writer(job_id_, claimed_at):
        write = real_writer(job_id_, claimed_at)

        def watched(processed: int) -> None:
            write(processed)
            # What the progress page reads meanwhile, from a connection of its own:
            with Session(app.extensions["db_engine"]) as other:
                row = other.get(ImportJob, job_id_)
                seen.append((str(row.status), row.processed_rows))

        return watched

    monkeypatch.setattr(services, "PROGRESS_EVERY", 10)
    monkeypatch.setattr(services, "_progress_writer", watched_writer)
    run_import(job_id)
    assert seen == [("running", 10), ("running", 20), ("running", 30), ("running", 40),
                    ("running", 40)]
    assert job(db, job_id).status == ImportStatus.DONE and count(db, Startup) == 40


def test_a_task_delivered_twice_imports_once(db, bd, eager):
    client, _user = bd
    job_id = check_file(client, content=("Name,Country,Website\n" + _rows(5)).encode(),
                        filename="twice.csv")
    _press_run(client, job_id)
    run_import(job_id)
    finished_at = job(db, job_id).finished_at
    run_import(job_id)  # redelivered: the job is done, nothing happens
    check_import(job_id)  # a stray dry-run message for it: nothing either
    assert count(db, Startup) == 5
    done = job(db, job_id)
    assert done.status == ImportStatus.DONE and done.finished_at == finished_at


def test_a_job_another_worker_is_running_is_left_alone(db, bd, eager):
    client, _user = bd
    job_id = check_file(client, content=(b"Name,Country\nA,IN\n"), filename="a.csv")
    _press_run(client, job_id)
    fresh(db).execute(update(ImportJob).where(ImportJob.id == job_id)
                      .values(status=ImportStatus.RUNNING, started_at=utcnow(),
                              updated_at=utcnow()))
    db.commit()
    run_import(job_id)
    assert job(db, job_id).status == ImportStatus.RUNNING and count(db, Startup) == 0


def test_a_run_that_died_is_taken_over_and_imports_once(db, bd, eager):
    client, _user = bd
    job_id = check_file(client, content=("Name,Country,Website\n" + _rows(3)).encode(),
                        filename="died.csv")
    _press_run(client, job_id)
    long_ago = utcnow() - timedelta(hours=2)  # its worker died; its transaction never committed
    fresh(db).execute(update(ImportJob).where(ImportJob.id == job_id)
                      .values(status=ImportStatus.RUNNING, started_at=long_ago,
                              updated_at=long_ago, processed_rows=2))
    db.commit()
    run_import(job_id)
    assert job(db, job_id).status == ImportStatus.DONE and count(db, Startup) == 3


def test_a_run_whose_claim_was_taken_over_meanwhile_writes_nothing(db, bd, eager, monkeypatch):
    client, _user = bd
    job_id = check_file(client, content=("Name,Country,Website\n" + _rows(3)).encode(),
                        filename="taken.csv")
    _press_run(client, job_id)
    real_plan = services.plan_import

    def and_meanwhile_another_worker_claims_it(*args, **kwargs):
        plan = real_plan(*args, **kwargs)
        with services.database.engine().begin() as connection:  # a redelivery took it over
            connection.execute(update(ImportJob).where(ImportJob.id == job_id)
                               .values(started_at=utcnow() + timedelta(seconds=1)))
        return plan

    monkeypatch.setattr(services, "plan_import", and_meanwhile_another_worker_claims_it)
    run_import(job_id)
    assert count(db, Startup) == 0  # this run rolled back; the other one imports
    assert job(db, job_id).status == ImportStatus.RUNNING


def test_a_task_lost_on_the_way_can_be_sent_again(db, settings, bd, eager):
    client, _user = bd
    job_id = check_file(client, content=b"Name,Country\nA,IN\n", filename="lost.csv")
    _press_run(client, job_id)
    assert len(broker_messages(settings)) == 1
    page = report(client, job_id)
    assert "Send it again" not in page  # just queued: a worker will come
    assert client.post(f"/imports/{job_id}/resend", data={
        "csrf_token": csrf_token(client, f"/imports/{job_id}")}).status_code == 302
    assert len(broker_messages(settings)) == 1  # refused: not stale yet
    fresh(db).execute(update(ImportJob).where(ImportJob.id == job_id)
                      .values(updated_at=utcnow() - timedelta(minutes=5)))
    db.commit()
    assert "Send it again" in report(client, job_id)
    client.post(f"/imports/{job_id}/resend",
                data={"csrf_token": csrf_token(client, f"/imports/{job_id}")})
    assert len(broker_messages(settings)) == 2
    run_import(job_id)
    run_import(job_id)  # both messages arrive: one import
    assert count(db, Startup) == 1


def test_a_failed_dry_run_says_why(db, bd, eager, app):
    client, _user = bd
    content = ("Name,Country\n" + "".join(f"S{n},IN\n" for n in range(2_500))).encode()
    job_id = job_id_of(upload(client, content=content, filename="gone.csv"))
    submit_mapping(client, job_id)
    with app.app_context():
        services.import_path(job(db, job_id)).unlink()
    check_import(job_id)
    failed = job(db, job_id)
    assert failed.status == ImportStatus.FAILED and failed.error == "file_missing"
    assert "The uploaded file is no longer there. Upload it again." in report(client, job_id)


# A real worker --------------------------------------------------------------------------------



def _import_through_a_worker(app, db, client, settings):
    content = ("Name,Country,Website\n" + _rows(30)).encode()
    job_id = check_file(client, content=content, filename="worker.csv")
    _press_run(client, job_id)
    worker = start_worker(settings)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if job(db, job_id).status in (ImportStatus.DONE, ImportStatus.FAILED):
                break
            time.sleep(0.3)
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    finished = job(db, job_id)
    assert finished.status == ImportStatus.DONE, f"the worker's log:\n{output}"
    assert "workers.imports.run_import" in output
    assert fresh(db).scalar(select(func.count()).select_from(Startup)) == 30
    assert "What the import did" in report(client, job_id)


def test_a_real_worker_runs_the_import_from_the_filesystem_broker(app, db, settings, bd):
    client, _user = bd
    _import_through_a_worker(app, db, client, settings)


@pytest.mark.redis
def test_a_real_worker_runs_the_import_from_redis(app, db, settings, redis_url, client_as,
                                                  monkeypatch):
    settings = settings.model_copy(update={"celery_broker_url": redis_url,
                                           "celery_queue": f"test-{uuid.uuid4().hex}"})
    app.config["SETTINGS"] = settings  # the web app sends to Redis too
    client, _user = client_as(Role.BD_MANAGER)
    _import_through_a_worker(app, db, client, settings)

"""Imports of startups from CSV and XLSX: upload, column mapping, dry run and the run itself.

Every row is first *planned*: checked, matched against existing startups (same website domain
or contact e-mail: update it; only a similar name: a probable duplicate, not created) and against
earlier rows of the file; MATCH_BATCH rows are matched at once (`DuplicateFinder`). A dry
run stores that plan as the job's report and writes nothing else. A run plans afresh and then
writes, all in ONE transaction: a failure anywhere rolls everything back, so a failed import
changes nothing. Progress (rows planned so far) is written
meanwhile through separate short transactions, which is why the run's own transaction touches
its job row only at the very end. Existing startups keep their values: an import fills empty
fields, adds sectors, tags and new contacts. New startups and what hangs off them are written
WRITE_BATCH at a time, one multi-row INSERT per table.

Like every service here these change state, flush and record; they never commit (the request or
the task does).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic_core import PydanticUndefined
from sqlalchemy import and_, insert, or_, select, text, update
from sqlalchemy.orm import defer
from sqlmodel import Session, SQLModel
from werkzeug.datastructures import FileStorage

from crm import db as database
from crm.core import after_commit, audit
from crm.core.clock import utcnow
from crm.core.enums import ActivityKind, ImportStatus, LeadSource, Role
from crm.core.uploads import delete_when_committed, keep_if_committed, read_capped, sent_name
from crm.duplicates.matching import Candidate, DuplicateFinder, Wanted, normalise_email
from crm.imports.fields import FIELD_LABELS, FIELDS, IGNORE, guess_mapping, header_key
from crm.imports.fields import header_signature as signature_of
from crm.imports.models import ImportJob, ImportMapping
from crm.imports.reading import MAX_FILE_BYTES, ImportFileRejected, Table, read_table
from crm.imports.rows import ImportRow, RowContext, parse_row
from crm.startups.access import can_edit_startup
from crm.startups.models import Activity, Contact, Startup, StartupSector, StartupTag
from crm.startups.profile import (
    EDITOR_ROLES,
    NotAllowed,
    StaleRecord,
    add_contact,
    update_contact,
    update_profile,
)
from crm.startups.search import name_key, name_skeleton, search_text
from crm.users.models import User

logger = logging.getLogger(__name__)

IMPORT_FOLDER = "imports"
#: Files up to this many rows are checked within the request; larger ones by a worker.
CHECK_IN_REQUEST_ROWS = 500
PROGRESS_EVERY = 250
#: Rows matched against the existing startups at once.
MATCH_BATCH = 500
WRITE_BATCH = 500
#: A running job whose progress has not moved for this long is taken to have died.
STALE_RUNNING = timedelta(minutes=30)
#: A queued job no worker has picked up after this long may be sent again.
STALE_QUEUED = timedelta(minutes=2)
#: Serialises runs on PostgreSQL (pg_advisory_xact_lock): two files importing the same new
#: startup at once would otherwise both create it.
_RUN_LOCK_KEY = 4_700_101

CREATE, UPDATE, DUPLICATE, ERROR = "create", "update", "duplicate", "error"
OUTCOMES = (CREATE, UPDATE, DUPLICATE, ERROR)

IMPORT_STATUS_LABELS = {
    ImportStatus.UPLOADED: _l("Columns to map"),
    ImportStatus.CHECKED: _l("Checked, ready to import"),
    ImportStatus.QUEUED: _l("Waiting for a worker"),
    ImportStatus.RUNNING: _l("Running"),
    ImportStatus.DONE: _l("Imported"),
    ImportStatus.FAILED: _l("Failed, nothing changed"),
}
FAILURE_TEXTS = {
    "file_missing": _l("The uploaded file is no longer there. Upload it again."),
    "file_unreadable": _l("The uploaded file can no longer be read. Upload it again."),
    "actor_inactive": _l("Whoever started the import may no longer import."),
    "mapping_invalid": _l("The column mapping is incomplete. Map the columns again."),
    "unexpected": _l("Something went wrong while importing. Nothing was changed; "
                     "try again or ask an administrator."),
}
CHANGE_LABELS = {**FIELD_LABELS, "owner_id": _l("Owner"),
                 "contact_added": _l("new contact"), "contact_updated": _l("contact details")}


class ImportRefused(Exception):
    """The action is not possible now; `message` is translatable and safe to show."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


class _ClaimLost(Exception):
    """Another delivery of the task took the job over; this one must change nothing."""


# Who may do what ------------------------------------------------------------------------------


def can_import(user: User | None) -> bool:
    return bool(user and getattr(user, "is_authenticated", False) and user.has_role(*EDITOR_ROLES))


def can_see_job(user: User | None, job: ImportJob) -> bool:
    """Their own imports; managers and admins everyone's."""
    if not can_import(user):
        return False
    return job.created_by_id == user.id or user.has_role(Role.ADMIN, Role.MANAGER)


def _check(actor: User, job: ImportJob | None = None) -> None:
    if not can_import(actor) or (job is not None and not can_see_job(actor, job)):
        raise NotAllowed(job.id if job is not None else None)


# Reading the list -----------------------------------------------------------------------------


@dataclass
class JobRow:
    job: ImportJob
    created_by_name: str | None


def visible_jobs(db: Session, user: User, *, before_id: int | None = None,
                 limit: int = 30) -> tuple[list[JobRow], int | None]:
    """The user's imports (all, for managers), newest first, keyset-paged; reports not read."""
    query = (select(ImportJob, User.name).outerjoin(User, User.id == ImportJob.created_by_id)
             .options(defer(ImportJob.report, raiseload=True),
                      defer(ImportJob.headers, raiseload=True),
                      defer(ImportJob.mapping, raiseload=True)))
    if not user.has_role(Role.ADMIN, Role.MANAGER):
        query = query.where(ImportJob.created_by_id == user.id)
    if before_id is not None:
        query = query.where(ImportJob.id < before_id)
    rows = db.execute(query.order_by(ImportJob.id.desc()).limit(limit + 1)).all()
    page = [JobRow(job, name) for job, name in rows[:limit]]
    return page, (page[-1].job.id if len(rows) > limit else None)


def job_progress(job: ImportJob) -> dict[str, Any]:
    """What the progress bar shows (JSON-ready)."""
    total = max(job.total_rows, 1)
    writing = (job.status == ImportStatus.RUNNING and not job.dry_run
               and job.processed_rows >= job.total_rows)
    return {
        "status": str(job.status),
        "label": str(_("Writing the changes…") if writing
                     else IMPORT_STATUS_LABELS[job.status]),
        "processed": job.processed_rows,
        "total": job.total_rows,
        "percent": min(100, round(100 * job.processed_rows / total)),
        "finished": job.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING),
    }


def is_stale_queue(job: ImportJob, now: datetime | None = None) -> bool:
    return (job.status == ImportStatus.QUEUED
            and job.updated_at < (now or utcnow()) - STALE_QUEUED)


def failure_text(job: ImportJob) -> str:
    return str(FAILURE_TEXTS.get(job.error or "", FAILURE_TEXTS["unexpected"]))


def report_page(job: ImportJob, outcomes: tuple[str, ...], *, after_row: int | None = None,
                limit: int = 100) -> tuple[list[dict[str, Any]], int | None]:
    """Report rows with these outcomes, in file order, from after `after_row`: (page, next)."""
    page: list[dict[str, Any]] = []
    for entry in job.report:
        if entry.get("outcome") not in outcomes:
            continue
        if after_row is not None and entry.get("row", 0) <= after_row:
            continue
        if len(page) == limit:
            return page, page[-1]["row"]
        page.append(entry)
    return page, None


# Upload ---------------------------------------------------------------------------------------


def import_path(job: ImportJob) -> Path:
    """Where the uploaded file lies: under the upload folder (never static), by its random key."""
    folder = Path(current_app.config["SETTINGS"].upload_folder) / IMPORT_FOLDER
    return folder / job.storage_key


def upload(db: Session, file_storage: FileStorage | None, actor: User) -> ImportJob:
    """Check the file (kind by content, size, encoding, rows) and store it as a new import job.

    The mapping is prefilled from the one saved for the same set of headers, else guessed from
    the header names. Raises ImportFileRejected with a message for the user.
    """
    _check(actor)
    if file_storage is None or not file_storage.filename:
        raise ImportFileRejected(_l("Choose a file to upload."))
    content = read_capped(file_storage, MAX_FILE_BYTES)
    table = read_table(content)
    signature = signature_of(table.headers)
    remembered = db.get(ImportMapping, signature)
    job = ImportJob(
        created_by_id=actor.id,
        filename=_display_name(file_storage.filename),
        storage_key=secrets.token_hex(32),
        sha256=hashlib.sha256(content).hexdigest(),
        header_signature=signature,
        headers=table.headers,
        mapping=_initial_mapping(table.headers, remembered),
        total_rows=len(table.rows),
    )
    path = import_path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as stored:
        stored.write(content)
    keep_if_committed(db, path)
    db.add(job)
    db.flush()
    audit.record(db, "import.uploaded", actor_user_id=actor.id, object_type="import_job",
                 object_id=job.id, sha256=job.sha256, rows=job.total_rows, kind=table.kind,
                 encoding=table.encoding, delimiter=table.delimiter,
                 remembered_mapping=remembered is not None)
    return job


def _display_name(name: str) -> str:
    return (sent_name(name) or "import")[:255]


def _initial_mapping(headers: list[str], remembered: ImportMapping | None) -> dict[str, Any]:
    guessed = guess_mapping(headers)
    if remembered is None:
        return {"columns": guessed, "default_country": "", "source_detail": "",
                "remembered": False}
    saved = remembered.mapping or {}
    columns = saved.get("columns", {})
    return {"columns": {key: columns.get(key, IGNORE) for key in guessed},
            "default_country": saved.get("default_country", ""),
            "source_detail": saved.get("source_detail", ""), "remembered": True}


def column_samples(job: ImportJob, rows: int = 3) -> list[list[str]]:
    """Per column, its first non-empty values in the stored file, shown beside the mapping."""
    try:
        table = read_table(import_path(job).read_bytes(), preview=rows)
    except (OSError, ImportFileRejected):
        return [[] for _header in job.headers]
    return [[cells[index] for _number, cells in table.rows if cells[index]]
            for index in range(len(job.headers))]


# Mapping --------------------------------------------------------------------------------------


def column_fields(job: ImportJob) -> dict[int, str]:
    """Column index -> field, from the job's mapping."""
    columns = (job.mapping or {}).get("columns", {})
    return {index: columns[header_key(header)] for index, header in enumerate(job.headers)
            if columns.get(header_key(header)) in FIELDS}


def save_mapping(db: Session, job: ImportJob, columns: dict[str, str], default_country: str,
                 source_detail: str, actor: User) -> None:
    """Take the mapping for this job and remember it for files with the same headers.

    The caller has checked it (name mapped; country mapped or a default; no field twice).
    """
    _check(actor, job)
    if job.status not in (ImportStatus.UPLOADED, ImportStatus.CHECKED, ImportStatus.FAILED):
        raise ImportRefused(_l("This import is already under way or done."))
    keys = {header_key(header) for header in job.headers}
    clean = {key: (value if value in FIELDS else IGNORE) for key, value in columns.items()
             if key in keys}
    mapping = {"columns": clean, "default_country": default_country or "",
               "source_detail": (source_detail or "").strip()[:200]}
    job.mapping = {**mapping, "remembered": True}
    _reset(job, ImportStatus.UPLOADED)
    db.add(job)
    remembered = db.get(ImportMapping, job.header_signature)
    if remembered is None:
        db.add(ImportMapping(header_signature=job.header_signature, mapping=mapping,
                             updated_by_id=actor.id))
    else:
        remembered.mapping = mapping
        remembered.updated_by_id = actor.id
        db.add(remembered)
    db.flush()
    audit.record(db, "import.mapped", actor_user_id=actor.id, object_type="import_job",
                 object_id=job.id, fields=sorted(set(clean.values()) - {IGNORE}))


def _reset(job: ImportJob, status: ImportStatus) -> None:
    job.status = status
    job.report = []
    job.processed_rows = job.created_count = job.updated_count = 0
    job.duplicate_count = job.error_count = 0
    job.error = None
    job.started_at = job.finished_at = None


# Dry run and run: what the user asks for --------------------------------------------------


def check(db: Session, job: ImportJob, actor: User) -> bool:
    """The dry run: here for a small file (True), else queued for a worker (False)."""
    _check(actor, job)
    if job.status != ImportStatus.UPLOADED:
        raise ImportRefused(_l("Map the columns first."))
    if job.total_rows <= CHECK_IN_REQUEST_ROWS:
        table = _stored_table(job)
        try:
            plan = plan_import(db, job, table, actor)
        except _Failure as failure:
            raise ImportRefused(FAILURE_TEXTS[failure.reason]) from None
        _store_plan(job, plan, ImportStatus.CHECKED)
        db.add(job)
        db.flush()
        return True
    _queue(db, job, dry_run=True)
    return False


def request_run(db: Session, job: ImportJob, actor: User) -> None:
    """Queue the import of a checked file (or again after a failed run)."""
    _check(actor, job)
    if job.status not in (ImportStatus.CHECKED, ImportStatus.FAILED) or (
            job.status == ImportStatus.FAILED and (job.dry_run or not job.report)):
        raise ImportRefused(_l("Only a checked import can be run."))
    _queue(db, job, dry_run=False)
    audit.record(db, "import.queued", actor_user_id=actor.id, object_type="import_job",
                 object_id=job.id, rows=job.total_rows)


def resend(db: Session, job: ImportJob, actor: User) -> None:
    """Send a job's task again when no worker has picked it up for a while (the broker was down).

    A task delivered twice is harmless: only one delivery claims the job.
    """
    _check(actor, job)
    if not is_stale_queue(job):
        raise ImportRefused(_l("This import is not waiting for a worker."))
    _queue(db, job, dry_run=job.dry_run)


def create_anyway(db: Session, job: ImportJob, row_number: int, create: bool,
                  actor: User) -> None:
    """Mark a probable duplicate of a checked import to be created anyway (or not after all).

    The report and its counts change at once; the run plans afresh and honours the choice as
    long as the row still only resembles another startup by name.
    """
    _check(actor, job)
    if job.status != ImportStatus.CHECKED:
        raise ImportRefused(_l("Only a checked import can change."))
    report = list(job.report)
    position = next((index for index, entry in enumerate(report)
                     if entry.get("row") == row_number), None)
    entry = dict(report[position]) if position is not None else None
    if entry is None or not (entry["outcome"] == DUPLICATE
                             or (entry["outcome"] == CREATE and entry.get("anyway"))):
        raise ImportRefused(_l("This row is not a probable duplicate."))
    rows = {int(row) for row in (job.mapping or {}).get("create_anyway", [])}
    if create and entry["outcome"] == DUPLICATE:
        rows.add(row_number)
        entry.update(outcome=CREATE, anyway=True, similar_id=entry.pop("id", None),
                     similar=entry.pop("match", None))
        entry.pop("by", None)
        job.created_count += 1
        job.duplicate_count -= 1
    elif not create and entry["outcome"] == CREATE:
        rows.discard(row_number)
        entry.update(outcome=DUPLICATE, id=entry.pop("similar_id", None),
                     match=entry.pop("similar", None), by=["name"])
        entry.pop("anyway", None)
        job.created_count -= 1
        job.duplicate_count += 1
    else:
        return
    report[position] = entry
    job.report = report
    job.mapping = {**(job.mapping or {}), "create_anyway": sorted(rows)}
    db.add(job)
    db.flush()
    audit.record(db, "import.create_anyway" if create else "import.create_anyway_undone",
                 actor_user_id=actor.id, object_type="import_job", object_id=job.id,
                 row=row_number, similar_id=entry.get("similar_id") or entry.get("id"))


def _queue(db: Session, job: ImportJob, *, dry_run: bool) -> None:
    if job.status != ImportStatus.QUEUED:
        keep_report = job.report if not dry_run else []
        _reset(job, ImportStatus.QUEUED)
        job.report = keep_report
    job.dry_run = dry_run
    job.updated_at = utcnow()
    db.add(job)
    db.flush()
    task = "workers.imports.check_import" if dry_run else "workers.imports.run_import"
    after_commit.send_task(db, task, job.id)


# Dry run and run: what the worker does ------------------------------------------------------


def process(db: Session, job_id: int, *, dry_run: bool) -> None:
    """The task's body: claim the job, plan (and for a run, write), store the report.

    Idempotent: a second delivery finds the job claimed or finished and does nothing; a run
    that died (no progress for STALE_RUNNING) is claimed again and starts over, which is safe
    because the dead run's transaction never committed.
    """
    claimed_at = _claim(job_id, dry_run)
    if claimed_at is None:
        return
    try:
        job = db.get(ImportJob, job_id)
        actor = db.get(User, job.created_by_id) if job.created_by_id else None
        if actor is None or not actor.is_active or not can_import(actor):
            raise _Failure("actor_inactive")
        if not dry_run and db.get_bind().dialect.name == "postgresql":
            db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _RUN_LOCK_KEY})
        table = _stored_table(job, failure=True)
        plan = plan_import(db, job, table, actor, progress=_progress_writer(job_id, claimed_at))
        if not dry_run:
            apply_plan(db, job, plan, actor)
        _finish(db, job, plan, claimed_at, dry_run=dry_run, actor=actor)
    except _ClaimLost:
        db.rollback()
    except Exception as error:
        db.rollback()
        reason = error.reason if isinstance(error, _Failure) else "unexpected"
        # Only the kind of error: messages of database errors can quote names and addresses.
        logger.error("import %s failed (%s): %s", job_id, reason, type(error).__name__)
        _fail(db, job_id, claimed_at, reason)


class _Failure(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _claim(job_id: int, dry_run: bool) -> datetime | None:
    """Take the queued (or dead running) job in a transaction of its own; None if not ours."""
    now = utcnow()
    claimable = or_(ImportJob.status == ImportStatus.QUEUED,
                    and_(ImportJob.status == ImportStatus.RUNNING,
                         ImportJob.updated_at < now - STALE_RUNNING))
    with database.engine().begin() as connection:
        claimed = connection.execute(
            update(ImportJob).where(ImportJob.id == job_id, ImportJob.dry_run == dry_run,
                                    claimable)
            .values(status=ImportStatus.RUNNING, started_at=now, updated_at=now,
                    processed_rows=0))
    return now if claimed.rowcount == 1 else None


def _progress_writer(job_id: int, claimed_at: datetime) -> Callable[[int], None]:
    engine = database.engine()

    def write(processed: int) -> None:
        with engine.begin() as connection:
            connection.execute(
                update(ImportJob).where(ImportJob.id == job_id,
                                        ImportJob.started_at == claimed_at)
                .values(processed_rows=processed, updated_at=utcnow()))

    return write


def _finish(db: Session, job: ImportJob, plan: Plan, claimed_at: datetime, *, dry_run: bool,
            actor: User) -> None:
    """Store the outcome in the task's own transaction, if the job is still this run's."""
    values = _plan_values(plan, ImportStatus.CHECKED if dry_run else ImportStatus.DONE)
    finished = db.execute(
        update(ImportJob).where(ImportJob.id == job.id, ImportJob.status == ImportStatus.RUNNING,
                                ImportJob.started_at == claimed_at)
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    if finished.rowcount != 1:
        raise _ClaimLost(job.id)
    if not dry_run:
        audit.record(db, "import.completed", actor_user_id=actor.id, object_type="import_job",
                     object_id=job.id, rows=job.total_rows, created=values["created_count"],
                     updated=values["updated_count"], duplicates=values["duplicate_count"],
                     errors=values["error_count"])
        delete_when_committed(db, import_path(job))


def _fail(db: Session, job_id: int, claimed_at: datetime, reason: str) -> None:
    db.execute(
        update(ImportJob).where(ImportJob.id == job_id, ImportJob.started_at == claimed_at)
        .values(status=ImportStatus.FAILED, error=reason, finished_at=utcnow(),
                updated_at=utcnow())
        .execution_options(synchronize_session=False))
    job = db.get(ImportJob, job_id)
    audit.record(db, "import.failed", actor_user_id=job.created_by_id if job else None,
                 object_type="import_job", object_id=job_id, reason=reason,
                 dry_run=job.dry_run if job else None)


def _stored_table(job: ImportJob, *, failure: bool = False) -> Table:
    try:
        content = import_path(job).read_bytes()
    except OSError:
        if failure:
            raise _Failure("file_missing") from None
        raise ImportRefused(FAILURE_TEXTS["file_missing"]) from None
    try:
        return read_table(content)
    except ImportFileRejected:
        if failure:
            raise _Failure("file_unreadable") from None
        raise ImportRefused(FAILURE_TEXTS["file_unreadable"]) from None


# Planning -------------------------------------------------------------------------------------


@dataclass
class PlannedRow:
    values: ImportRow
    outcome: str = CREATE
    target: Startup | None = None  # the startup to update, or the one this probably doubles
    reasons: list[str] = field(default_factory=list)
    score: int | None = None
    changes: dict[str, Any] = field(default_factory=dict)  # profile fields to fill
    contact: Contact | None = None  # the matched startup's contact to complete
    contact_changes: dict[str, Any] = field(default_factory=dict)
    add_contact: bool = False
    same_as_row: int | None = None
    similar: Startup | None = None  # a probable duplicate the user chose to create anyway
    created_id: int | None = None  # the startup the run created for the row


@dataclass
class Plan:
    rows: list[PlannedRow]

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)


def plan_import(db: Session, job: ImportJob, table: Table, actor: User,
                progress: Callable[[int], None] | None = None) -> Plan:
    """What importing the table would do, row by row; reads only."""
    fields_by_column = column_fields(job)
    mapped = set(fields_by_column.values())
    default_country = (job.mapping or {}).get("default_country") or None
    if "name" not in mapped or ("country" not in mapped and not default_country):
        raise _Failure("mapping_invalid")
    context = RowContext(
        default_country=default_country,
        default_source_detail=((job.mapping or {}).get("source_detail") or None),
        owners=_owners(db),
        actor_id=actor.id,
        actor_may_assign_anyone=actor.has_role(Role.ADMIN, Role.MANAGER),
        this_year=utcnow().year,
    )
    create_anyway = {int(row) for row in (job.mapping or {}).get("create_anyway", [])}
    seen = _SeenInFile()
    finder = DuplicateFinder(db)
    planned: list[PlannedRow] = []
    for start in range(0, len(table.rows), MATCH_BATCH):
        batch = [PlannedRow(parse_row(number, {name: cells[index] for index, name
                                               in fields_by_column.items()}, context))
                 for number, cells in table.rows[start:start + MATCH_BATCH]]
        # The whole batch is matched at once (rows the file repeats too: reads only).
        valid = [row for row in batch if not row.values.problems]
        found = dict(zip((row.values.row for row in valid), finder.find(
            [_wanted(row.values) for row in valid], limit=10), strict=True))
        parts = _Parts(db, {c.startup.id for candidates in found.values() for c in candidates
                            if {"domain", "email"} & set(c.reasons)})
        for row in batch:
            if row.values.problems:
                row.outcome = ERROR
            else:
                row.same_as_row = seen.earlier_row(row.values)
                if row.same_as_row is not None:
                    row.values.problem("duplicate_row", value=row.same_as_row)
                    row.outcome = ERROR
                else:
                    _match(row, found[row.values.row], parts, actor, create_anyway)
                    if row.outcome != ERROR:
                        seen.add(row.values)
            planned.append(row)
            if progress is not None and len(planned) % PROGRESS_EVERY == 0:
                progress(len(planned))
    if progress is not None:
        progress(len(table.rows))
    return Plan(planned)


def _owners(db: Session) -> dict[str, int]:
    rows = db.execute(select(User.email, User.id).where(
        User.is_active, User.role.in_([role.value for role in EDITOR_ROLES]))).all()
    return {email.lower(): user_id for email, user_id in rows}


class _SeenInFile:
    """Keys of the rows planned so far: a later row with the same one is the same startup."""

    def __init__(self) -> None:
        self.domains: dict[str, int] = {}
        self.emails: dict[str, int] = {}
        self.names: dict[str, int] = {}  # only rows without a domain of their own

    def earlier_row(self, row: ImportRow) -> int | None:
        domain, email = row.matchable_domain, row.match_email
        if domain and domain in self.domains:
            return self.domains[domain]
        if email and email in self.emails:
            return self.emails[email]
        if not domain and row.name_key and row.name_key in self.names:
            return self.names[row.name_key]
        return None

    def add(self, row: ImportRow) -> None:
        domain, email = row.matchable_domain, row.match_email
        if domain:
            self.domains.setdefault(domain, row.row)
        if email:
            self.emails.setdefault(email, row.row)
        if not domain and row.name_key:
            self.names.setdefault(row.name_key, row.row)


def _wanted(values: ImportRow) -> Wanted:
    return Wanted(name=values.name, domain=values.domain,
                  emails=(values.contact_email,) if values.contact_email else ())


def _match(row: PlannedRow, candidates: list[Candidate], parts: _Parts, actor: User,
           create_anyway: set[int]) -> None:
    """Update (same domain or e-mail), probable duplicate (similar name only) or create.

    `candidates` are the row's probable duplicates (`probable_duplicates`, at most ten). A
    probable duplicate whose row the user marked "create anyway" is created.
    """
    values = row.values
    certain = [c for c in candidates if {"domain", "email"} & set(c.reasons)]
    if certain:
        startups = {c.startup.id: c.startup for c in certain}
        if len(startups) > 1:
            values.problem("ambiguous_match",
                           value=", ".join(s.name for s in list(startups.values())[:3]))
            row.outcome = ERROR
            return
        row.target, row.reasons, row.score = certain[0].startup, certain[0].reasons, 100
        if not can_edit_startup(actor, row.target):
            values.problem("not_allowed", value=row.target.name)
            row.outcome = ERROR
            return
        row.outcome = UPDATE
        _plan_update(row, parts)
    elif candidates and values.row in create_anyway:
        row.outcome, row.similar, row.score = CREATE, candidates[0].startup, candidates[0].score
    elif candidates:
        row.outcome = DUPLICATE
        row.target, row.reasons, row.score = (candidates[0].startup, candidates[0].reasons,
                                              candidates[0].score)
    else:
        row.outcome = CREATE


_FILLABLE = ("website", "city", "founded_year", "team_size", "funding_stage", "description",
             "source_detail")


class _Parts:
    """The sectors, tags (each sorted regardless of case, as `profile_values` gives them) and
    contacts (by id) of the startups a batch of rows may update: three queries a batch."""

    def __init__(self, db: Session, startup_ids: set[int]) -> None:
        self.labels: dict[tuple[str, int], list[str]] = {}
        self.contacts: dict[int, list[Contact]] = {}
        if not startup_ids:
            return
        for kind, model, column in (("sectors", StartupSector, StartupSector.sector),
                                    ("tags", StartupTag, StartupTag.tag)):
            for startup_id, label in db.execute(select(model.startup_id, column)
                                                .where(model.startup_id.in_(startup_ids))):
                self.labels.setdefault((kind, startup_id), []).append(label)
        for labels in self.labels.values():
            labels.sort(key=str.casefold)
        for contact in db.scalars(select(Contact).where(Contact.startup_id.in_(startup_ids))
                                  .order_by(Contact.id)):
            self.contacts.setdefault(contact.startup_id, []).append(contact)


def _plan_update(row: PlannedRow, parts: _Parts) -> None:
    """Empty fields filled, sectors and tags added, a new contact added or one completed."""
    values, startup = row.values, row.target
    for name in _FILLABLE:
        new = getattr(values, name)
        if new not in (None, "") and getattr(startup, name) in (None, ""):
            row.changes[name] = new
    if values.owner_id is not None and startup.owner_id is None:
        row.changes["owner_id"] = values.owner_id
    for name in ("sectors", "tags"):
        before = parts.labels.get((name, startup.id), [])
        known = {label.casefold() for label in before}
        new_labels = [label for label in getattr(values, name) if label.casefold() not in known]
        if new_labels:
            row.changes[name] = before + new_labels
    if values.has_contact:
        _plan_contact(row, parts.contacts.get(startup.id, []))


def _plan_contact(row: PlannedRow, contacts: list[Contact]) -> None:
    values = row.values
    email = normalise_email(values.contact_email)
    if email:
        same = next((c for c in contacts if normalise_email(c.email) == email), None)
    else:
        name = (values.contact_name or "").casefold()
        same = next((c for c in contacts if c.name.casefold() == name), None)
    if same is None:
        row.add_contact = True
        return
    for name, new in (("phone", values.contact_phone), ("role", values.contact_role)):
        if new and not getattr(same, name):
            row.contact_changes[name] = new
    if row.contact_changes:
        row.contact = same


# Writing --------------------------------------------------------------------------------------


def apply_plan(db: Session, job: ImportJob, plan: Plan, actor: User) -> None:
    """Create and update as planned, in the caller's transaction (never commits)."""
    now = utcnow()
    with force_locale(actor.locale):
        created_subject = _("Imported from %(filename)s", filename=job.filename)[:200]
        updated_subject = _("Updated from %(filename)s", filename=job.filename)[:200]
    creates = [row for row in plan.rows if row.outcome == CREATE]
    for start in range(0, len(creates), WRITE_BATCH):
        _create_batch(db, job, creates[start:start + WRITE_BATCH], actor, now, created_subject)
    for row in plan.rows:
        if row.outcome == UPDATE:
            _apply_update(db, job, row, actor, now, updated_subject)
    db.flush()


def _create_batch(db: Session, job: ImportJob, rows: list[PlannedRow], actor: User,
                  now: datetime, subject: str) -> None:
    """The batch's startups, sectors, tags, contacts, activities and audit events, one
    multi-row INSERT per table (no ORM objects: building them was most of a run's time).

    The startups are inserted with their search fields as `refresh_search_fields` computes
    them from the name, the domain and the one new contact.
    """
    startups = []
    for row in rows:
        values = row.values
        contacts = [(values.contact_name, values.contact_email)] if values.has_contact else []
        startups.append(_new_row(
            Startup, now, name=values.name, website=values.website, domain=values.domain,
            country=values.country, city=values.city, founded_year=values.founded_year,
            team_size=values.team_size, funding_stage=values.funding_stage,
            description=values.description, source=LeadSource.IMPORT,
            source_detail=values.source_detail, owner_id=values.owner_id,
            owner_assigned_at=now if values.owner_id is not None else None,
            search_text=search_text(values.name, values.domain, contacts),
            name_key=name_key(values.name), name_skeleton=name_skeleton(values.name)))
    table = Startup.__table__
    ids = db.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                     startups).scalars().all()
    sectors, tags, contacts, activities, events = [], [], [], [], []
    with force_locale(actor.locale):
        for row, startup_id in zip(rows, ids, strict=True):
            values = row.values
            row.created_id = startup_id
            sectors.extend(_new_row(StartupSector, now, startup_id=startup_id, sector=label)
                           for label in values.sectors)
            tags.extend(_new_row(StartupTag, now, startup_id=startup_id, tag=label)
                        for label in values.tags)
            if values.has_contact:
                contacts.append(_new_row(
                    Contact, now, startup_id=startup_id, name=values.contact_name,
                    email=values.contact_email, phone=values.contact_phone,
                    role=values.contact_role))
            activities.append(_new_row(
                Activity, now, startup_id=startup_id, kind=ActivityKind.IMPORT,
                subject=subject, body=_("Row %(row)d of import #%(job)d", row=values.row,
                                        job=job.id),
                occurred_at=now, author_id=actor.id))
            events.append(_new_row(
                audit.AuditEvent, now, action="startup.imported", actor_user_id=actor.id,
                object_type="startup", object_id=startup_id,
                details={"import_job_id": job.id, "row": values.row}))
    for model, new_rows in ((StartupSector, sectors), (StartupTag, tags), (Contact, contacts),
                            (Activity, activities), (audit.AuditEvent, events)):
        if new_rows:
            db.execute(insert(model.__table__), new_rows)


def _new_row(model: type[SQLModel], now: datetime, **values: Any) -> dict[str, Any]:
    """A row for a Core INSERT with the model's defaults, as building the object would give
    (timestamps `now`); no id: the database numbers it."""
    row: dict[str, Any] = {}
    for name, info in _defaults(model).items():
        row[name] = now if info is utcnow else info() if callable(info) else info
    row.update(values)
    return row


_DEFAULTS: dict[type, dict[str, Any]] = {}


def _defaults(model: type[SQLModel]) -> dict[str, Any]:
    """Column name -> default value or default factory, of the model's fields."""
    if model not in _DEFAULTS:
        columns = model.__table__.c
        defaults: dict[str, Any] = {}
        for name, info in model.model_fields.items():
            if name not in columns or (columns[name].primary_key
                                       and columns[name].autoincrement is not False
                                       and info.default is None):
                continue
            if info.default_factory is not None:
                defaults[name] = info.default_factory
            elif info.default is not PydanticUndefined:
                defaults[name] = info.default
        _DEFAULTS[model] = defaults
    return _DEFAULTS[model]


def _row_note(job: ImportJob, row: int, actor: User) -> str:
    with force_locale(actor.locale):
        return _("Row %(row)d of import #%(job)d", row=row, job=job.id)


def _apply_update(db: Session, job: ImportJob, row: PlannedRow, actor: User, now: datetime,
                  subject: str) -> None:
    startup, values = row.target, row.values
    try:
        if row.changes:
            update_profile(db, startup, row.changes, startup.version, actor)
        if row.add_contact:
            add_contact(db, startup, {"name": values.contact_name, "email": values.contact_email,
                                      "phone": values.contact_phone, "role": values.contact_role},
                        actor)
        if row.contact is not None and row.contact_changes:
            update_contact(db, startup, row.contact, row.contact_changes, row.contact.version,
                           actor)
    except StaleRecord:
        values.problem("changed_meanwhile", value=startup.name)
        row.outcome = ERROR
        return
    except NotAllowed:
        values.problem("not_allowed", value=startup.name)
        row.outcome = ERROR
        return
    if row.changes or row.add_contact or row.contact_changes:
        db.add(Activity(startup_id=startup.id, kind=ActivityKind.IMPORT, subject=subject,
                        body=_row_note(job, values.row, actor), occurred_at=now,
                        author_id=actor.id))


# The report -----------------------------------------------------------------------------------


def _store_plan(job: ImportJob, plan: Plan, status: ImportStatus) -> None:
    for name, value in _plan_values(plan, status).items():
        setattr(job, name, value)


def _plan_values(plan: Plan, status: ImportStatus) -> dict[str, Any]:
    """The job's columns that describe a finished plan: status, counts, report."""
    return {
        "status": status,
        "report": [_report_entry(row) for row in plan.rows],
        "processed_rows": len(plan.rows),
        "created_count": plan.count(CREATE),
        "updated_count": plan.count(UPDATE),
        "duplicate_count": plan.count(DUPLICATE),
        "error_count": plan.count(ERROR),
        "finished_at": utcnow(),
        "error": None,
    }


def _report_entry(row: PlannedRow) -> dict[str, Any]:
    entry: dict[str, Any] = {"row": row.values.row, "outcome": row.outcome,
                             "name": row.values.name}
    if row.created_id is not None:
        entry["id"] = row.created_id
    elif row.target is not None and row.target.id is not None:
        entry["id"] = row.target.id
        if row.outcome != CREATE:
            entry["match"] = row.target.name
    if row.reasons:
        entry["by"] = row.reasons
    if row.outcome == DUPLICATE and row.score is not None:
        entry["score"] = row.score
    if row.similar is not None:
        entry.update(anyway=True, similar_id=row.similar.id, similar=row.similar.name,
                     score=row.score)
    if row.outcome == UPDATE:
        changes = [name for name in row.changes]
        if row.add_contact:
            changes.append("contact_added")
        if row.contact_changes:
            changes.append("contact_updated")
        entry["changes"] = changes
    if row.values.problems:
        entry["problems"] = row.values.problems
    return entry


def change_labels(entry: dict[str, Any]) -> list[str]:
    return [str(CHANGE_LABELS.get(name, name)) for name in entry.get("changes", [])]

"""Exports of a startups-list view to CSV or XLSX: small ones in the request, large ones by a task.

The rows are read in keyset batches in the list's own order, so an export of 100,000 startups
holds one batch in memory at a time. CSV is UTF-8 with a byte-order mark (German Excel then
reads umlauts right) and comma-separated; cells that a spreadsheet would run as a formula are
defused. XLSX is written by openpyxl in write-only mode. Files of background exports lie under
UPLOAD_FOLDER/exports by a random key; only the job's owner may fetch them.
"""

from __future__ import annotations

import csv
import io
import logging
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, TextIO
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import literal, select, union_all, update
from sqlmodel import Session

from crm.core import after_commit, audit
from crm.core.clock import utcnow
from crm.core.enums import (
    FUNDING_STAGE_LABELS,
    LEAD_SOURCE_LABELS,
    STARTUP_STATUS_LABELS,
    ExportStatus,
)
from crm.core.i18n import country_name
from crm.exports.models import ExportJob
from crm.startups.listing import (
    ListView,
    StartupRow,
    after_cursor,
    attach_stages,
    capped_count,
    cursor_values,
    order_for,
)
from crm.startups.models import Contact, Startup, StartupSector, StartupTag
from crm.users.models import User

log = logging.getLogger(__name__)

INLINE_MAX = 5_000  # more rows than this are exported by a worker
BATCH = 1_000
FORMATS = {
    "csv": ("text/csv; charset=utf-8", ".csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ExportRefused(Exception):
    """Nothing to export, or an unknown format; `message` is safe to show."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


EXPORT_STATUS_LABELS = {
    ExportStatus.QUEUED: _l("Waiting for a worker"),
    ExportStatus.RUNNING: _l("Running"),
    ExportStatus.DONE: _l("Ready"),
    ExportStatus.FAILED: _l("Failed"),
}

HEADERS = (
    _l("ID"), _l("Name"), _l("Website"), _l("Domain"), _l("Country"), _l("Country code"),
    _l("City"), _l("Founded"), _l("Team size"), _l("Funding stage"), _l("Sectors"), _l("Tags"),
    _l("Status"), _l("Source"), _l("Event"), _l("Owner"), _l("Programme stages"), _l("Overdue"),
    _l("Contact"), _l("Contact email"), _l("Description"), _l("Created"), _l("Updated"),
)


def inline_max() -> int:
    return int(current_app.config.get("EXPORT_INLINE_MAX", INLINE_MAX))


def export_filename(file_format: str, now: datetime, zone: ZoneInfo) -> str:
    """A name with the date only: no filter values, so no personal data, in it."""
    return f"startups-{now.astimezone(zone):%Y-%m-%d-%H%M}{FORMATS[file_format][1]}"


# Reading the rows ------------------------------------------------------------------------------


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return moment.astimezone(zone).replace(tzinfo=None, microsecond=0) if moment else None


def export_rows(db: Session, view: ListView, user_id: int, zone: ZoneInfo, locale: str,
                ids: Sequence[int] | None = None, batch: int = BATCH) -> Iterator[list[Any]]:
    """The view's startups (or only `ids` among them) as export rows, in the list's order.

    Four queries per batch of `batch` startups: the rows, their open enrollments, their sectors
    and tags, their contacts."""
    # Restricted startups and contacts (GDPR Art. 18) are kept, not exported.
    conditions = [*view.filters.conditions(user_id), Startup.restricted_at.is_(None)]
    if ids is not None:
        conditions.append(Startup.id.in_(list(ids)))
    start: list[Any] | None = None
    yes, no = str(_l("yes")), str(_l("no"))
    definitions: dict = {}
    while True:
        query = (select(Startup, User.name).outerjoin(User, User.id == Startup.owner_id)
                 .where(*conditions).order_by(*order_for(view)).limit(batch))
        if start is not None:
            query = query.where(after_cursor(view, start))
        found = db.execute(query).all()
        if not found:
            return
        rows = [StartupRow(startup, owner_name) for startup, owner_name in found]
        attach_stages(db, rows, locale, definitions)
        startup_ids = [row.startup.id for row in rows]
        labels: dict[tuple[str, int], list[str]] = {}
        for kind, startup_id, value in db.execute(union_all(
                select(literal("sector").label("kind"), StartupSector.startup_id,
                       StartupSector.sector).where(StartupSector.startup_id.in_(startup_ids)),
                select(literal("tag").label("kind"), StartupTag.startup_id, StartupTag.tag)
                .where(StartupTag.startup_id.in_(startup_ids)))).all():
            labels.setdefault((kind, startup_id), []).append(value)
        first_contact: dict[int, tuple[str, str | None]] = {}
        for startup_id, name, email in db.execute(
                select(Contact.startup_id, Contact.name, Contact.email)
                .where(Contact.startup_id.in_(startup_ids), Contact.restricted_at.is_(None))
                .order_by(Contact.startup_id, Contact.id)).all():
            first_contact.setdefault(startup_id, (name, email))
        for row in rows:
            startup = row.startup
            contact_name, contact_email = first_contact.get(startup.id, (None, None))
            yield [
                startup.id, startup.name, startup.website, startup.domain,
                country_name(startup.country), startup.country, startup.city,
                startup.founded_year, startup.team_size,
                str(FUNDING_STAGE_LABELS[startup.funding_stage]) if startup.funding_stage
                else None,
                ", ".join(sorted(labels.get(("sector", startup.id), []), key=str.casefold)),
                ", ".join(sorted(labels.get(("tag", startup.id), []), key=str.casefold)),
                str(STARTUP_STATUS_LABELS.get(startup.status, startup.status)),
                str(LEAD_SOURCE_LABELS.get(startup.source, startup.source)),
                startup.source_detail, row.owner_name,
                "; ".join(f"{badge.programme_name}: {badge.stage_label}"
                          for badge in row.stages),
                yes if row.overdue else no, contact_name, contact_email, startup.description,
                _local(startup.created_at, zone), _local(startup.updated_at, zone),
            ]
        if len(found) < batch:
            return
        start = cursor_values(view, rows[-1].startup)
        for row in rows:  # one batch in memory at a time
            db.expunge(row.startup)


# Writing files ---------------------------------------------------------------------------------


def defused(value: Any) -> Any:
    """A text a spreadsheet would take for a formula, kept as text (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(target: TextIO, rows: Iterator[list[Any]]) -> int:
    """Header and rows as CSV into a text stream opened with encoding="utf-8-sig"."""
    writer = csv.writer(target)
    writer.writerow([str(header) for header in HEADERS])
    count = 0
    for row in rows:
        writer.writerow(["" if value is None else
                         value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime)
                         else defused(value) for value in row])
        count += 1
    return count


def write_xlsx(target: BinaryIO | Path, rows: Iterator[list[Any]]) -> int:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(str(_l("Startups")))
    sheet.append([str(header) for header in HEADERS])
    count = 0
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"  # text, never a formula
            elif isinstance(value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            cells.append(cell)
        sheet.append(cells)
        count += 1
    workbook.save(target)
    return count


def _check_format(file_format: str) -> None:
    if file_format not in FORMATS:
        raise ExportRefused(_l("Choose CSV or XLSX."))


@dataclass
class InlineExport:
    content: bytes
    filename: str
    mimetype: str
    row_count: int


def export_inline(db: Session, user: User, view: ListView, file_format: str, *,
                  ids: Sequence[int] | None = None) -> InlineExport:
    """The whole file, built in the request (up to `inline_max()` rows); audited."""
    _check_format(file_format)
    settings = current_app.config["SETTINGS"]
    rows = export_rows(db, view, user.id, settings.tz, user.locale, ids=ids)
    if file_format == "csv":
        text = io.StringIO()
        count = write_csv(text, rows)
        content = text.getvalue().encode("utf-8-sig")
    else:
        binary = io.BytesIO()
        count = write_xlsx(binary, rows)
        content = binary.getvalue()
    audit.record(db, "startups.exported", actor_user_id=user.id, object_type="startups",
                 query=view.query_string(), file_format=file_format, row_count=count,
                 selected=len(ids) if ids is not None else None)
    return InlineExport(content, export_filename(file_format, utcnow(), settings.tz),
                        FORMATS[file_format][0], count)


def too_large_for_request(db: Session, view: ListView, user_id: int) -> bool:
    """Whether the view has more rows than a request may export (a count capped just above)."""
    _count, capped = capped_count(db, view.filters.conditions(user_id), cap=inline_max())
    return capped


# Background exports ----------------------------------------------------------------------------


def request_export(db: Session, user: User, view: ListView, file_format: str) -> ExportJob:
    """A job for a worker, sent to the broker once this transaction commits; audited."""
    _check_format(file_format)
    job = ExportJob(user_id=user.id, query=view.query_string(), file_format=file_format)
    db.add(job)
    db.flush()
    audit.record(db, "startups.export_requested", actor_user_id=user.id,
                 object_type="export_job", object_id=job.id, query=job.query,
                 file_format=file_format)
    after_commit.send_task(db, "workers.exports.run_export", job.id)
    return job


STALE_QUEUED = timedelta(minutes=2)  # a queued job this old was probably never sent


def may_send_again(job: ExportJob, now: datetime) -> bool:
    """A failed job, or one still queued long after it was asked for (the broker was down)."""
    return job.status == ExportStatus.FAILED or (
        job.status == ExportStatus.QUEUED and now - job.created_at >= STALE_QUEUED)


def send_again(db: Session, job: ExportJob, user_id: int) -> None:
    """Queue the job once more; the task claims a queued job only once, so a duplicate of a
    message that was in fact delivered does nothing."""
    job.status, job.error, job.finished_at = ExportStatus.QUEUED, None, None
    db.add(job)
    db.flush()
    audit.record(db, "startups.export_sent_again", actor_user_id=user_id,
                 object_type="export_job", object_id=job.id)
    after_commit.send_task(db, "workers.exports.run_export", job.id)


def export_folder() -> Path:
    return Path(current_app.config["SETTINGS"].upload_folder) / "exports"


def path_of(job: ExportJob) -> Path | None:
    return export_folder() / job.storage_key if job.storage_key else None


def run_export_job(db: Session, job_id: int) -> ExportJob | None:
    """Write the job's file (the task's body). Idempotent: only a queued job is claimed, so a
    task delivered twice writes once. The claim and the progress are committed as they happen
    (the page shows them); the outcome commits with the caller's unit of work."""
    claimed = db.execute(update(ExportJob).where(ExportJob.id == job_id,
                                                 ExportJob.status == ExportStatus.QUEUED)
                         .values(status=ExportStatus.RUNNING, updated_at=utcnow()))
    db.commit()
    if claimed.rowcount != 1:
        return None
    job = db.get(ExportJob, job_id)
    user = db.get(User, job.user_id)
    if user is None:  # pragma: no cover - the job is deleted with its user
        return None
    settings = current_app.config["SETTINGS"]
    view = ListView.from_query(job.query)
    key = secrets.token_hex(32)
    folder = export_folder()
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"{key}.part"
    try:
        with force_locale(user.locale):
            rows = _counting(db, job_id, export_rows(db, view, user.id, settings.tz,
                                                     user.locale))
            if job.file_format == "csv":
                with open(part, "x", encoding="utf-8-sig", newline="") as target:
                    count = write_csv(target, rows)
            else:
                with open(part, "xb") as target:
                    count = write_xlsx(target, rows)
        part.rename(folder / key)
    except Exception:
        log.exception("export job %s failed", job_id)
        db.rollback()
        part.unlink(missing_ok=True)
        job = db.get(ExportJob, job_id)
        job.status, job.error, job.finished_at = ExportStatus.FAILED, "export failed", utcnow()
        db.add(job)
        db.flush()
        return job
    job = db.get(ExportJob, job_id)
    job.status, job.storage_key, job.row_count = ExportStatus.DONE, key, count
    job.finished_at = utcnow()
    db.add(job)
    audit.record(db, "startups.exported", actor_user_id=user.id, object_type="export_job",
                 object_id=job.id, query=job.query, file_format=job.file_format,
                 row_count=count)
    db.flush()
    return job


def _counting(db: Session, job_id: int, rows: Iterator[list[Any]]) -> Iterator[list[Any]]:
    """The rows, committing how many were written after every batch (the progress shown)."""
    for written, row in enumerate(rows, start=1):
        yield row
        if written % BATCH == 0:
            db.execute(update(ExportJob).where(ExportJob.id == job_id)
                       .values(row_count=written, updated_at=utcnow()))
            db.commit()


def record_download(db: Session, job: ExportJob, user_id: int) -> None:
    audit.record(db, "startups.export_downloaded", actor_user_id=user_id,
                 object_type="export_job", object_id=job.id, row_count=job.row_count)

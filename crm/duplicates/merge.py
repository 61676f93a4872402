"""Merging two records of one startup: the survivor takes the chosen values and everything else.

Contacts (one per e-mail address), sectors and tags (the union), enrollments (with their stage
events and checklists), activities, tasks, documents and emails move to the survivor; the
absorbed startup is deleted. Nothing else is lost: any other table that refers to startups is
moved too. Two open enrollments in the same programme are refused rather than resolved here:
closing one is a stage change, which only the workflow engine makes (and which needs a reason
a person gives), so the user closes one on its page and merges afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from flask import has_request_context
from flask_babel import get_locale, gettext, ngettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import Table, delete, func, insert, literal, select, union_all, update
from sqlmodel import Session

from crm.core import audit
from crm.core.clock import utcnow
from crm.core.enums import ActivityKind, EnrollmentStatus, StartupStatus
from crm.documents.models import Document
from crm.duplicates.matching import normalise_domain, normalise_email
from crm.duplicates.models import DuplicateDismissal
from crm.outbox.models import OutboxMessage
from crm.programmes.models import Programme
from crm.startups.access import can_edit_startup
from crm.startups.models import Activity, Contact, Startup, StartupSector, StartupTag, Task
from crm.startups.search import refresh_search_fields
from crm.startups.services import NotAllowed
from crm.users.models import User
from crm.workflow.models import Enrollment

#: The values a merge lets the user pick from either record (website brings its domain).
MERGE_FIELDS = ("name", "website", "country", "city", "founded_year", "team_size",
                "funding_stage", "description", "source", "source_detail", "owner_id")
#: The more advanced status wins: a startup landed through either record has landed.
STATUS_RANK = (StartupStatus.LANDED, StartupStatus.ACTIVE, StartupStatus.LEAD,
               StartupStatus.DORMANT, StartupStatus.LOST)
#: Contact fields a duplicate contact may fill in on the survivor's contact when it lacks them.
CONTACT_FILL = ("phone", "role")
#: Tables moved by name below; any other table referring to startups is moved generically.
_HANDLED_TABLES = frozenset(("contacts", "startup_sectors", "startup_tags", "enrollments",
                             "activities", "tasks", "documents", "outbox_messages",
                             "duplicate_dismissals"))


class MergeRefused(Exception):
    """The merge cannot be done as asked; `message` is translatable and safe to show."""

    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


class MergeStale(MergeRefused):
    """One of the startups was changed since the merge screen was shown."""


@dataclass
class MergeCounts:
    """What hangs off one startup and would move (or moved) in a merge."""

    contacts: int = 0
    enrollments: int = 0
    open_enrollments: int = 0
    activities: int = 0
    tasks: int = 0
    documents: int = 0
    emails: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class MergePreview:
    counts: dict[int, MergeCounts]  # startup id -> counts
    conflicts: list[str] = field(default_factory=list)  # programmes open in both


@dataclass
class MergeResult:
    survivor: Startup
    moved: dict[str, int]
    changes: dict[str, list[Any]]


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def startup_values(startup: Startup) -> dict[str, Any]:
    """The pickable fields of a startup, JSON-ready."""
    return {name: _plain(getattr(startup, name)) for name in MERGE_FIELDS}


def merge_preview(db: Session, first: Startup, second: Startup) -> MergePreview:
    """What each of the two startups has, and the programmes both are open in: two queries."""
    ids = (first.id, second.id)
    sources = (
        ("contacts", Contact.startup_id, None),
        ("enrollments", Enrollment.startup_id, None),
        ("open_enrollments", Enrollment.startup_id, Enrollment.status == EnrollmentStatus.OPEN),
        ("activities", Activity.startup_id, None),
        ("tasks", Task.startup_id, None),
        ("documents", Document.startup_id, None),
        ("emails", OutboxMessage.startup_id, None),
    )
    parts = []
    for name, column, condition in sources:
        conditions = [column.in_(ids)] + ([condition] if condition is not None else [])
        parts.append(select(literal(name).label("kind"), column.label("startup_id"),
                            func.count().label("n")).where(*conditions).group_by(column))
    counts = {startup_id: MergeCounts() for startup_id in ids}
    for kind, startup_id, number in db.execute(union_all(*parts)):
        setattr(counts[startup_id], kind, number)
    return MergePreview(counts=counts, conflicts=_open_in_both(db, first.id, second.id))


def _open_in_both(db: Session, first_id: int, second_id: int) -> list[str]:
    """Names of the programmes both startups have an open enrollment in."""
    both = (select(Enrollment.programme_id)
            .where(Enrollment.startup_id.in_((first_id, second_id)),
                   Enrollment.status == EnrollmentStatus.OPEN)
            .group_by(Enrollment.programme_id)
            .having(func.count(func.distinct(Enrollment.startup_id)) > 1))
    locale = str(get_locale() or "en") if has_request_context() else "en"
    return sorted(programme.name(locale) for programme in
                  db.scalars(select(Programme).where(Programme.id.in_(both))))


def _claim(db: Session, startup: Startup, expected_version: int) -> None:
    """Bump the version if it is still the expected one (locks the row until the commit)."""
    claimed = db.execute(
        update(Startup).where(Startup.id == startup.id, Startup.version == expected_version)
        .values(version=expected_version + 1).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise MergeStale(_l("%(name)s was changed by someone else meanwhile. Check the values "
                            "again and merge once more.", name=startup.name))
    startup.version = expected_version + 1


def _chosen_values(survivor: Startup, absorbed: Startup,
                   chosen_fields: Mapping[str, Any]) -> dict[str, Any]:
    """The survivor's new values: each chosen one must be one of the two records' values."""
    unknown = set(chosen_fields) - set(MERGE_FIELDS)
    if unknown:
        raise ValueError(f"not merge fields: {sorted(unknown)}")
    keep, other = startup_values(survivor), startup_values(absorbed)
    values = dict(keep)
    for name, value in chosen_fields.items():
        value = _plain(value)
        if value not in (keep[name], other[name]):
            raise MergeRefused(_l("Pick each value from one of the two startups."))
        values[name] = value
    return values


def merge_startups(db: Session, survivor: Startup, absorbed: Startup,
                   chosen_fields: Mapping[str, Any], actor: User, *,
                   survivor_version: int | None = None,
                   absorbed_version: int | None = None) -> MergeResult:
    """Merge `absorbed` into `survivor` and delete it; the survivor keeps its id and page.

    `chosen_fields` maps fields of MERGE_FIELDS to the value to keep (the survivor's or the
    absorbed's; fields left out keep the survivor's). The versions are those the merge screen
    showed (default: the loaded ones); a change meanwhile raises MergeStale. Raises NotAllowed
    unless the actor may edit both, MergeRefused for a startup merged with itself or two open
    enrollments in one programme. Writes a merge activity on the survivor's timeline and audit
    events on both; flushes, never commits (callers roll back on any exception).
    """
    if survivor.id == absorbed.id:
        raise MergeRefused(_l("A startup cannot be merged with itself."))
    for startup in (survivor, absorbed):
        if not can_edit_startup(actor, startup):
            raise NotAllowed(startup.id)
    expected = {survivor.id: survivor.version if survivor_version is None else survivor_version,
                absorbed.id: absorbed.version if absorbed_version is None else absorbed_version}
    for startup in sorted((survivor, absorbed), key=lambda s: s.id):  # one lock order for all
        _claim(db, startup, expected[startup.id])
    absorbed_id = absorbed.id
    conflicts = _open_in_both(db, survivor.id, absorbed_id)
    if conflicts:
        raise MergeRefused(_l(
            "Both startups have an open enrollment in %(programmes)s. Close one of them on its "
            "startup's page first, then merge.", programmes=", ".join(conflicts)))
    values = _chosen_values(survivor, absorbed, chosen_fields)
    # The owner comes from one of the two records; a BD manager may edit both, so it is
    # theirs or nobody's (can_edit_startup), never someone they could not assign.
    before = {**startup_values(survivor), "domain": survivor.domain,
              "status": _plain(survivor.status)}
    absorbed_before = {**startup_values(absorbed), "domain": absorbed.domain,
                       "status": _plain(absorbed.status)}
    _apply_values(survivor, absorbed, values)

    moved = {"contacts": _move_contacts(db, survivor, absorbed)}
    labels = _merge_labels(db, survivor.id, absorbed.id)
    moved["enrollments"] = db.execute(
        update(Enrollment.__table__).where(Enrollment.__table__.c.startup_id == absorbed.id)
        .values(startup_id=survivor.id, revision=Enrollment.__table__.c.revision + 1)
    ).rowcount  # forms showing the old revision are refused, not applied
    for name, model in (("activities", Activity), ("tasks", Task), ("documents", Document),
                        ("emails", OutboxMessage)):
        moved[name] = db.execute(
            update(model).where(model.startup_id == absorbed.id)
            .values(startup_id=survivor.id).execution_options(synchronize_session=False)
        ).rowcount
    for table, column in _other_references():
        db.execute(update(table).where(column == absorbed.id).values({column.name: survivor.id}))
    _carry_dismissals(db, survivor.id, absorbed.id, actor)

    db.flush()
    db.delete(absorbed)
    db.add(survivor)
    db.flush()
    refresh_search_fields(db, survivor)
    db.flush()

    after = {**startup_values(survivor), "domain": survivor.domain,
             "status": _plain(survivor.status)}
    changes = {name: [before[name], after[name]] for name in after if before[name] != after[name]}
    changes.update(labels)
    db.add(Activity(
        startup_id=survivor.id, kind=ActivityKind.MERGE, author_id=actor.id,
        subject=str(_l("Merged with %(name)s", name=absorbed_before["name"]))[:200],
        body=_moved_summary(moved)))
    owner_names = _owner_names(db, before["owner_id"], after["owner_id"])
    audit.record(db, "startup.merged", actor_user_id=actor.id, object_type="startup",
                 object_id=survivor.id, changes=changes, owner_names=owner_names,
                 absorbed_id=absorbed_id,
                 absorbed_name=absorbed_before["name"], absorbed_values=absorbed_before,
                 moved=moved)
    audit.record(db, "startup.merged_into", actor_user_id=actor.id, object_type="startup",
                 object_id=absorbed_id, survivor_id=survivor.id, values=absorbed_before)
    db.flush()
    return MergeResult(survivor=survivor, moved=moved, changes=changes)


def _moved_summary(moved: dict[str, int]) -> str:
    """"Moved here: 2 contacts, 1 enrollment." in the actor's language."""
    texts = {
        "contacts": lambda n: ngettext("%(num)d contact", "%(num)d contacts", n),
        "enrollments": lambda n: ngettext("%(num)d enrollment", "%(num)d enrollments", n),
        "activities": lambda n: ngettext("%(num)d activity", "%(num)d activities", n),
        "tasks": lambda n: ngettext("%(num)d task", "%(num)d tasks", n),
        "documents": lambda n: ngettext("%(num)d document", "%(num)d documents", n),
        "emails": lambda n: ngettext("%(num)d email", "%(num)d emails", n),
    }
    parts = [texts[kind](number) for kind, number in moved.items() if number and kind in texts]
    if not parts:
        return gettext("Nothing else moved over.")
    return gettext("Moved here: %(things)s.", things=", ".join(parts))


def _apply_values(survivor: Startup, absorbed: Startup, values: dict[str, Any]) -> None:
    if values["website"] != survivor.website:  # the website came from the absorbed record
        survivor.domain = absorbed.domain or normalise_domain(values["website"])
    elif not survivor.domain and not values["website"]:
        survivor.domain = absorbed.domain
    if values["owner_id"] != survivor.owner_id:
        survivor.owner_assigned_at = absorbed.owner_assigned_at
    for name, value in values.items():
        setattr(survivor, name, value)
    ranks = {status: rank for rank, status in enumerate(STATUS_RANK)}
    survivor.status = min((StartupStatus(survivor.status), StartupStatus(absorbed.status)),
                          key=lambda status: ranks.get(status, len(STATUS_RANK)))


def _move_contacts(db: Session, survivor: Startup, absorbed: Startup) -> int:
    """Move the absorbed startup's contacts; one with an e-mail the survivor already has is
    folded into that contact (filling what it lacks) instead of doubling it."""
    contacts = list(db.scalars(select(Contact).where(
        Contact.startup_id.in_((survivor.id, absorbed.id))).order_by(Contact.id)))
    kept = {normalise_email(c.email): c for c in contacts
            if c.startup_id == survivor.id and normalise_email(c.email)}
    moved = 0
    for contact in contacts:
        if contact.startup_id != absorbed.id:
            continue
        twin = kept.get(normalise_email(contact.email)) if normalise_email(contact.email) else None
        if twin is None:
            contact.startup_id = survivor.id
            contact.version += 1
            if normalise_email(contact.email):
                kept[normalise_email(contact.email)] = contact
            moved += 1
            continue
        for name in CONTACT_FILL:
            if not getattr(twin, name) and getattr(contact, name):
                setattr(twin, name, getattr(contact, name))
        if twin.consent_given_at is None and contact.consent_given_at is not None:
            twin.consent_given_at = contact.consent_given_at
            twin.consent_text_version = contact.consent_text_version
        twin.version += 1
        db.delete(contact)
    db.flush()
    return moved


def _merge_labels(db: Session, survivor_id: int, absorbed_id: int) -> dict[str, list]:
    """The union of both startups' sectors and tags on the survivor: {field: [before, after]}."""
    rows = db.execute(union_all(
        select(literal("sectors").label("kind"), StartupSector.startup_id, StartupSector.sector)
        .where(StartupSector.startup_id.in_((survivor_id, absorbed_id))),
        select(literal("tags").label("kind"), StartupTag.startup_id, StartupTag.tag)
        .where(StartupTag.startup_id.in_((survivor_id, absorbed_id))),
    )).all()
    changes: dict[str, list] = {}
    for kind, model, column in (("sectors", StartupSector, "sector"), ("tags", StartupTag, "tag")):
        have = sorted((v for k, s, v in rows if k == kind and s == survivor_id), key=str.casefold)
        known = {value.casefold() for value in have}
        added = []
        for value in sorted((v for k, s, v in rows if k == kind and s == absorbed_id),
                            key=str.casefold):
            if value.casefold() not in known:
                known.add(value.casefold())
                added.append(value)
        if added:
            db.execute(insert(model), [{"startup_id": survivor_id, column: value,
                                        **_stamps(model)} for value in added])
            changes[kind] = [have, sorted(have + added, key=str.casefold)]
        db.execute(delete(model).where(model.startup_id == absorbed_id))
    return changes


def _stamps(model) -> dict[str, Any]:
    now = utcnow()
    return {"created_at": now, "updated_at": now} if "created_at" in model.__table__.c else {}


def _other_references() -> list[tuple[Table, Any]]:
    """Columns of tables not handled above that refer to a startup (added by later features)."""
    found = []
    for table in Startup.metadata.sorted_tables:
        if table.name in _HANDLED_TABLES:
            continue
        for key in table.foreign_keys:
            if key.column.table.name == Startup.__tablename__:
                found.append((table, key.parent))
    return found


def _carry_dismissals(db: Session, survivor_id: int, absorbed_id: int, actor: User) -> None:
    """"Not a duplicate of X" said of the absorbed record holds for the survivor too."""
    pairs = db.execute(select(DuplicateDismissal.first_startup_id,
                              DuplicateDismissal.second_startup_id)
                       .where((DuplicateDismissal.first_startup_id.in_((survivor_id,
                                                                         absorbed_id)))
                              | (DuplicateDismissal.second_startup_id.in_((survivor_id,
                                                                            absorbed_id))))
                       ).all()
    existing = {frozenset(pair) for pair in pairs}
    others = {a if b == absorbed_id else b for a, b in pairs if absorbed_id in (a, b)}
    db.execute(delete(DuplicateDismissal).where(
        (DuplicateDismissal.first_startup_id == absorbed_id)
        | (DuplicateDismissal.second_startup_id == absorbed_id)))
    for other in sorted(others - {survivor_id}):
        if frozenset((survivor_id, other)) not in existing:
            db.add(DuplicateDismissal(first_startup_id=min(survivor_id, other),
                                      second_startup_id=max(survivor_id, other),
                                      dismissed_by_id=actor.id))


def _owner_names(db: Session, before: int | None, after: int | None) -> list[str | None]:
    ids = [i for i in {before, after} if i is not None]
    names = {row[0]: row[1] for row in db.execute(
        select(User.id, User.name).where(User.id.in_(ids)))} if ids else {}
    return [names.get(before), names.get(after)]

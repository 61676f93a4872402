"""A startup's profile and contacts: create, edit with a version check, and the audit trail.

Every change is one audit event on the startup (object_type "startup") whose `changes` map each
changed field to `[before, after]`, so the startup's page can show its change history. Like every
service here they change state, flush and record; they never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlmodel import Session

from crm.core import audit
from crm.core.audit import AuditEvent
from crm.core.clock import utcnow
from crm.core.enums import FundingStage, Language, LeadSource, Role
from crm.duplicates.matching import Candidate, normalise_domain, probable_duplicates
from crm.startups.access import can_edit_startup
from crm.startups.models import Contact, Startup, StartupSector, StartupTag
from crm.startups.queries import sectors_and_tags
from crm.startups.search import refresh_search_fields
from crm.startups.services import NotAllowed
from crm.users.access import EDITOR_ROLES
from crm.users.models import User
from crm.webhooks import events as webhooks

#: Who may create startups and own them.
#: Who sees a startup's change history.
HISTORY_ROLES = (Role.ADMIN, Role.MANAGER)

PROFILE_FIELDS = ("name", "website", "country", "city", "founded_year", "team_size",
                  "funding_stage", "description", "sectors", "tags", "source", "source_detail",
                  "owner_id")
CONTACT_FIELDS = ("name", "email", "phone", "role", "language")
LABEL_MAX = 64  # StartupSector.sector, StartupTag.tag
LABELS_PER_STARTUP = 30


class StaleRecord(Exception):
    """Someone else saved the record since the form was shown; `current` holds their values."""

    def __init__(self, current: dict[str, Any], version: int) -> None:
        super().__init__("stale")
        self.current = current
        self.version = version


class InvalidOwner(NotAllowed):
    """The owner chosen is not someone this actor may hand the startup to."""


@dataclass
class PossibleDuplicates(Exception):
    """Creating would probably double an existing startup; the caller may confirm and retry."""

    candidates: list[Candidate] = field(default_factory=list)


def can_create_startup(user: User | None) -> bool:
    return bool(user and getattr(user, "is_authenticated", False) and user.has_role(*EDITOR_ROLES))


def can_view_history(user: User | None) -> bool:
    return bool(user and getattr(user, "is_authenticated", False)
                and user.has_role(*HISTORY_ROLES))


# Values ---------------------------------------------------------------------------------------


def split_labels(value: str | Iterable[str] | None) -> list[str]:
    """Sectors or tags typed comma-separated (or given as a list): trimmed, no repeats."""
    if value is None:
        return []
    parts = value.replace("\n", ",").split(",") if isinstance(value, str) else list(value)
    labels: list[str] = []
    seen: set[str] = set()
    for part in parts:
        label = " ".join(str(part).split())
        if label and label.casefold() not in seen:
            seen.add(label.casefold())
            labels.append(label)
    return labels


def _plain(value: Any) -> Any:
    """A JSON-ready value for the audit trail (enums by their value)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _text(value: Any) -> str | None:
    text = " ".join(str(value).split()) if value is not None else ""
    return text or None


def _clean_profile(values: Mapping[str, Any]) -> dict[str, Any]:
    """The given profile fields in their stored form (None for empty)."""
    unknown = set(values) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if name in ("sectors", "tags"):
            labels = split_labels(value)
            clean[name] = sorted({label.lower() for label in labels} if name == "tags"
                                 else labels, key=str.casefold)
        elif name == "description":
            clean[name] = (value or "").strip()
        elif name == "country":
            clean[name] = (value or "").strip().upper()
        elif name in ("founded_year", "team_size", "owner_id"):
            clean[name] = int(value) if value not in (None, "") else None
        elif name == "funding_stage":
            clean[name] = FundingStage(value).value if value else None
        elif name == "source":
            clean[name] = LeadSource(value or LeadSource.OTHER).value
        elif name == "website":
            clean[name] = website_url(value)
        else:
            clean[name] = _text(value)
    return clean


def website_url(value: str | None) -> str | None:
    """The website as a link: a scheme-less address gets https:// (only http(s) are kept)."""
    text = (value or "").strip()
    if not text:
        return None
    if "://" not in text:
        text = "https://" + text
    if not text.lower().startswith(("http://", "https://")):
        raise ValueError("only http and https websites")
    return text


def normalised_profile_value(name: str, value: Any) -> Any:
    """One profile value as it would be stored (as typed if it could not be)."""
    try:
        return _clean_profile({name: value})[name]
    except ValueError:
        return value


def normalised_contact_value(name: str, value: Any) -> Any:
    try:
        return _clean_contact({name: value})[name]
    except ValueError:
        return value


def _clean_contact(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(CONTACT_FIELDS)
    if unknown:
        raise ValueError(f"not contact fields: {sorted(unknown)}")
    clean = {name: _text(value) for name, value in values.items()}
    if "language" in values:
        clean["language"] = Language(values["language"] or Language.EN).value
    if not clean.get("name", "x"):
        raise ValueError("a contact needs a name")
    return clean


def profile_values(db: Session, startup: Startup) -> dict[str, Any]:
    """The startup's editable fields as stored (JSON-ready), sectors and tags included."""
    sectors, tags = sectors_and_tags(db, startup.id) if startup.id else ([], [])
    values = {name: _plain(getattr(startup, name)) for name in PROFILE_FIELDS
              if name not in ("sectors", "tags")}
    values.update(sectors=sectors, tags=tags)
    return values


def contact_values(contact: Contact) -> dict[str, Any]:
    return {name: _plain(getattr(contact, name)) for name in CONTACT_FIELDS}


# Owners ---------------------------------------------------------------------------------------


def owner_choices(db: Session, actor: User, current_owner_id: int | None,
                  *, creating: bool = False) -> list[User | None]:
    """Whom the actor may make the owner (None: unassigned), the current owner kept first.

    Managers and admins: any active editor. A BD manager: themselves, or leave it as it is
    (a new startup may also stay unassigned)."""
    if actor.has_role(Role.ADMIN, Role.MANAGER):
        may_own = and_(User.is_active, User.role.in_(EDITOR_ROLES))
        if current_owner_id is not None:
            may_own = or_(may_own, User.id == current_owner_id)
        return [None, *db.scalars(select(User).where(may_own).order_by(User.name))]
    return [None, actor] if creating or current_owner_id is None else [actor]


def _check_owner(db: Session, actor: User, before: int | None, after: int | None,
                 *, creating: bool = False) -> User | None:
    """The new owner (None: unassigned) if the actor may choose them; else InvalidOwner."""
    if after == before and not creating:
        return db.get(User, after) if after is not None else None
    if not actor.has_role(Role.ADMIN, Role.MANAGER):
        if after is None and creating:
            return None
        if after != actor.id:
            raise InvalidOwner(after)
        return actor
    if after is None:
        return None
    owner = db.get(User, after)
    if owner is None or not owner.is_active or not owner.has_role(*EDITOR_ROLES):
        raise InvalidOwner(after)
    return owner


# Startups -------------------------------------------------------------------------------------


def find_duplicates(db: Session, name: str, website: str | None, emails: Iterable[str] = (),
                    exclude_ids: Iterable[int] = ()) -> list[Candidate]:
    """Existing startups this one probably doubles (best first)."""
    return probable_duplicates(db, name=name, domain=normalise_domain(website),
                               emails=[email for email in emails if email],
                               exclude_ids=exclude_ids)


def create_startup(db: Session, values: Mapping[str, Any], actor: User, *,
                   contact: Mapping[str, Any] | None = None,
                   allow_duplicates: bool = False) -> Startup:
    """A new startup (and its first contact); refuses probable duplicates unless allowed."""
    if not can_create_startup(actor):
        raise NotAllowed(None)
    clean = _clean_profile(values)
    contact_clean = _clean_contact(contact) if contact else None
    if not clean.get("name") or not clean.get("country"):
        raise ValueError("a startup needs a name and a country")
    owner = _check_owner(db, actor, None, clean.get("owner_id"), creating=True)
    if not allow_duplicates:
        candidates = find_duplicates(db, clean["name"], clean.get("website"),
                                     [contact_clean.get("email")] if contact_clean else [])
        if candidates:
            raise PossibleDuplicates(candidates)
    now = utcnow()
    sectors, tags = clean.pop("sectors", []), clean.pop("tags", [])
    startup = Startup(**clean, domain=normalise_domain(clean.get("website")),
                      owner_assigned_at=now if owner is not None else None)
    db.add(startup)
    db.flush()
    _replace_labels(db, startup.id, [], sectors, [], tags)
    new_contact = None
    if contact_clean:
        new_contact = Contact(startup_id=startup.id, **contact_clean)
        db.add(new_contact)
    db.flush()
    refresh_search_fields(db, startup)
    db.flush()
    details: dict[str, Any] = {"values": profile_values(db, startup)}
    if allow_duplicates:
        details["duplicates_confirmed"] = True
    if owner is not None:
        details["owner_names"] = [None, owner.name]
    audit.record(db, "startup.created", actor_user_id=actor.id, object_type="startup",
                 object_id=startup.id, **details)
    webhooks.emit(db, webhooks.STARTUP_CREATED, webhooks.startup(startup))
    if new_contact is not None:
        _record_contact(db, "contact.added", actor, startup, new_contact,
                        {name: [None, value] for name, value in contact_values(new_contact).items()
                         if value is not None})
    return startup


def update_profile(db: Session, startup: Startup, changes: Mapping[str, Any],
                   expected_version: int | None, actor: User) -> dict[str, list[Any]]:
    """Apply the changed fields if nobody saved meanwhile; returns {field: [before, after]}.

    Raises NotAllowed (not the actor's startup, or an owner they may not choose) and
    StaleRecord (the startup's version is no longer `expected_version`). Nothing changed:
    nothing written, no event."""
    if not can_edit_startup(actor, startup):
        raise NotAllowed(startup.id)
    clean = _clean_profile(changes)
    before = profile_values(db, startup)
    if expected_version is None or expected_version != startup.version:
        raise StaleRecord(before, startup.version)
    diff = {name: [before[name], value] for name, value in clean.items() if before[name] != value}
    if not diff:
        return {}
    details: dict[str, Any] = {}
    if "owner_id" in diff:
        old_owner_id, new_owner_id = diff["owner_id"]
        old_owner = db.get(User, old_owner_id) if old_owner_id is not None else None
        new_owner = _check_owner(db, actor, old_owner_id, new_owner_id)
        details["owner_names"] = [old_owner.name if old_owner else None,
                                  new_owner.name if new_owner else None]
    claimed = db.execute(
        update(Startup).where(Startup.id == startup.id, Startup.version == expected_version)
        .values(version=expected_version + 1).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:  # saved by someone else between our read and this write
        db.refresh(startup)
        raise StaleRecord(profile_values(db, startup), startup.version)
    startup.version = expected_version + 1
    for name in diff:
        if name not in ("sectors", "tags"):
            setattr(startup, name, clean[name])
    if "website" in diff:
        domain = normalise_domain(clean["website"])
        if domain != startup.domain:
            diff["domain"] = [startup.domain, domain]
            startup.domain = domain
    if "owner_id" in diff:
        startup.owner_assigned_at = utcnow() if clean["owner_id"] is not None else None
    if "sectors" in diff or "tags" in diff:
        _replace_labels(db, startup.id, before["sectors"], clean.get("sectors", before["sectors"]),
                        before["tags"], clean.get("tags", before["tags"]))
    db.add(startup)
    if {"name", "website"} & set(diff):
        refresh_search_fields(db, startup)
    db.flush()
    audit.record(db, "startup.updated", actor_user_id=actor.id, object_type="startup",
                 object_id=startup.id, changes=diff, **details)
    return diff


def _replace_labels(db: Session, startup_id: int, old_sectors: list[str], sectors: list[str],
                    old_tags: list[str], tags: list[str]) -> None:
    for model, column, old, new in ((StartupSector, StartupSector.sector, old_sectors, sectors),
                                    (StartupTag, StartupTag.tag, old_tags, tags)):
        gone = set(old) - set(new)
        if gone:
            db.execute(delete(model).where(model.startup_id == startup_id, column.in_(gone)))
        for label in sorted(set(new) - set(old)):
            db.add(model(startup_id=startup_id, **{column.key: label}))


# Contacts -------------------------------------------------------------------------------------


def _record_contact(db: Session, action: str, actor: User, startup: Startup, contact: Contact,
                    changes: dict[str, list[Any]]) -> None:
    audit.record(db, action, actor_user_id=actor.id, object_type="startup",
                 object_id=startup.id, contact_id=contact.id, contact=contact.name,
                 changes=changes)


def _check_contact(actor: User, startup: Startup, contact: Contact | None = None) -> None:
    if not can_edit_startup(actor, startup):
        raise NotAllowed(startup.id)
    if contact is not None and contact.startup_id != startup.id:
        raise NotAllowed(startup.id)


def add_contact(db: Session, startup: Startup, values: Mapping[str, Any],
                actor: User) -> Contact:
    """A new contact person of the startup."""
    _check_contact(actor, startup)
    clean = _clean_contact(values)
    contact = Contact(startup_id=startup.id, **clean)
    db.add(contact)
    db.flush()
    refresh_search_fields(db, startup)
    db.flush()
    _record_contact(db, "contact.added", actor, startup, contact,
                    {name: [None, value] for name, value in contact_values(contact).items()
                     if value is not None})
    return contact


def _claim_contact(db: Session, contact: Contact, expected_version: int | None) -> None:
    """Bump the contact's version if it is still `expected_version`; else StaleRecord."""
    if expected_version is None or expected_version != contact.version:
        raise StaleRecord(contact_values(contact), contact.version)
    claimed = db.execute(
        update(Contact).where(Contact.id == contact.id, Contact.version == expected_version)
        .values(version=expected_version + 1).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        db.refresh(contact)
        raise StaleRecord(contact_values(contact), contact.version)
    contact.version = expected_version + 1


def update_contact(db: Session, startup: Startup, contact: Contact, values: Mapping[str, Any],
                   expected_version: int | None, actor: User) -> dict[str, list[Any]]:
    """Change a contact if nobody saved it meanwhile; returns {field: [before, after]}."""
    _check_contact(actor, startup, contact)
    clean = _clean_contact(values)
    before = contact_values(contact)
    if expected_version is None or expected_version != contact.version:
        raise StaleRecord(before, contact.version)
    diff = {name: [before[name], value] for name, value in clean.items() if before[name] != value}
    if not diff:
        return {}
    _claim_contact(db, contact, expected_version)
    for name in diff:
        setattr(contact, name, clean[name])
    db.add(contact)
    db.flush()
    if {"name", "email"} & set(diff):
        refresh_search_fields(db, startup)
        db.flush()
    _record_contact(db, "contact.updated", actor, startup, contact, diff)
    return diff


def remove_contact(db: Session, startup: Startup, contact: Contact,
                   expected_version: int | None, actor: User) -> None:
    """Delete the contact (as last seen: a contact changed meanwhile is StaleRecord)."""
    _check_contact(actor, startup, contact)
    _claim_contact(db, contact, expected_version)
    removed = {name: [value, None] for name, value in contact_values(contact).items()
               if value is not None}
    contact_id, name = contact.id, contact.name
    db.delete(contact)
    db.flush()
    refresh_search_fields(db, startup)
    db.flush()
    audit.record(db, "contact.removed", actor_user_id=actor.id, object_type="startup",
                 object_id=startup.id, contact_id=contact_id, contact=name, changes=removed)


# The change history ---------------------------------------------------------------------------

HISTORY_PAGE = 20


@dataclass
class ChangeRecord:
    event: AuditEvent
    actor_name: str | None


@dataclass
class ChangeHistory:
    records: list[ChangeRecord]
    older_than: int | None  # pass as `before_id` for the next (older) page


def change_history(db: Session, startup_id: int, *, before_id: int | None = None,
                   limit: int = HISTORY_PAGE) -> ChangeHistory:
    """The startup's audit events with who did them, newest first, keyset-paged: one query."""
    query = (select(AuditEvent, User.name)
             .outerjoin(User, User.id == AuditEvent.actor_user_id)
             .where(AuditEvent.object_type == "startup", AuditEvent.object_id == startup_id))
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    rows = db.execute(query.order_by(AuditEvent.id.desc()).limit(limit + 1)).all()
    records = [ChangeRecord(event, name) for event, name in rows[:limit]]
    return ChangeHistory(records, records[-1].event.id if len(rows) > limit else None)

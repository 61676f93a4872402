"""The workflow engine: the only code that enrolls, moves and closes enrollments.

Every call either changes everything (enrollment, stage event, SLA due date, checklist, on-enter
actions, audit event) in the caller's transaction, or raises a WorkflowError. After a
WorkflowError the caller rolls the transaction back: a lost race (EnrollmentChanged,
AlreadyEnrolled) is detected by the database at flush time and leaves the session unusable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from crm.core import audit
from crm.core.clock import utcnow
from crm.core.enums import ActorKind, EnrollmentStatus, StartupStatus
from crm.programmes.models import Programme, ProgrammeVersion
from crm.startups.access import can_edit_startup
from crm.startups.models import Contact, Startup
from crm.startups.services import NotAllowed
from crm.users.models import User
from crm.webhooks import events as webhooks
from crm.workflow import actions
from crm.workflow.calendar import add_working_days
from crm.workflow.definitions import Bilingual, ProgrammeDefinition, StageDefinition
from crm.workflow.models import ChecklistItem, ChecklistStatus, Enrollment, StageEvent

STARTUP_FIELD_LABELS = {
    "website": Bilingual(en="Website", de="Website"),
    "city": Bilingual(en="City", de="Stadt"),
    "founded_year": Bilingual(en="Year founded", de="Gründungsjahr"),
    "team_size": Bilingual(en="Team size", de="Teamgröße"),
    "funding_stage": Bilingual(en="Funding stage", de="Finanzierungsphase"),
    "description": Bilingual(en="Description", de="Beschreibung"),
    "owner_id": Bilingual(en="Owner", de="Zuständige Person"),
}
CONTACT_EMAIL_LABEL = Bilingual(en="A contact with an email address",
                                de="Ein Kontakt mit E-Mail-Adresse")


@dataclass(frozen=True)
class Actor:
    """Who causes a change: a staff user, the applicant (through intake) or the system."""

    kind: ActorKind
    user_id: int | None = None

    @classmethod
    def user(cls, user: User) -> Actor:
        return cls(ActorKind.USER, user.id)

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM)

    @classmethod
    def applicant(cls) -> Actor:
        return cls(ActorKind.APPLICANT)


@dataclass(frozen=True)
class MissingItem:
    """Something a gate requires that is not there yet."""

    kind: str  # "checklist", "startup_field", "enrollment_field", "contact_email"
    key: str
    label: Bilingual


class WorkflowError(Exception):
    """A refused workflow action; `message` is translatable and safe to show."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


class TransitionNotAllowed(WorkflowError):
    pass


class EnrollmentClosed(WorkflowError):
    pass


class AlreadyEnrolled(WorkflowError):
    pass


class EnrollmentChanged(WorkflowError):
    """Somebody else changed the enrollment since the caller looked at it."""


@dataclass
class GateNotMet(WorkflowError):
    stage: StageDefinition
    missing: list[MissingItem] = field(default_factory=list)

    def __post_init__(self):
        WorkflowError.__init__(self, _l("This stage cannot be entered yet."))


@dataclass
class DependenciesOpen(WorkflowError):
    item_key: str
    open_dependencies: list[MissingItem] = field(default_factory=list)

    def __post_init__(self):
        WorkflowError.__init__(self, _l("Settle the items this one depends on first."))


def definition_of(db: Session, enrollment: Enrollment) -> ProgrammeDefinition:
    return db.get(ProgrammeVersion, enrollment.programme_version_id).parsed


def current_version(db: Session, programme: Programme) -> ProgrammeVersion:
    version = db.scalar(select(ProgrammeVersion).where(
        ProgrammeVersion.programme_id == programme.id,
        ProgrammeVersion.number == programme.current_version))
    if version is None:
        raise WorkflowError(_l("This programme has no definition loaded yet."))
    return version


# Enroll, move, close ----------------------------------------------------------------------


def enroll(
    db: Session,
    *,
    startup: Startup,
    programme: Programme,
    actor: Actor,
    stage: str | None = None,
    fields: dict[str, str] | None = None,
    now: datetime | None = None,
) -> Enrollment:
    """Enroll the startup at `stage` (default: the first stage) of the current version."""
    now = now or utcnow()
    _refuse_unless_allowed(db, actor, startup)
    version = current_version(db, programme)
    definition = version.parsed
    if not programme.is_active:
        raise WorkflowError(_l("This programme does not take new enrollments."))
    target = _stage_or_refuse(definition, stage or definition.first_stage().key)
    if target.closes_as:
        raise TransitionNotAllowed(_l("An enrollment cannot start in a closing stage."))
    if _has_open_enrollment(db, startup.id, programme.id):
        raise AlreadyEnrolled(_l("This startup is already enrolled in this programme."))
    enrollment = Enrollment(
        startup_id=startup.id, programme_id=programme.id, programme_version_id=version.id,
        stage=target.key, stage_entered_at=now,
        fields=_validated_fields(definition, fields or {}),
    )
    _refuse_unmet_gate(db, enrollment, startup, definition, target)
    db.add(enrollment)
    try:
        db.flush()
    except IntegrityError:  # another request enrolled it a moment ago (unique open index)
        raise AlreadyEnrolled(
            _l("This startup is already enrolled in this programme.")) from None
    _create_checklist(db, enrollment, definition, now)
    _enter_stage(db, enrollment, startup, definition, target, actor, now, from_stage=None)
    return enrollment


def move(
    db: Session,
    enrollment: Enrollment,
    to_stage: str,
    actor: Actor,
    *,
    expected_revision: int | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> StageEvent:
    """Move to an allowed stage whose gate is met; a closing stage also closes the enrollment."""
    now = now or utcnow()
    startup = db.get(Startup, enrollment.startup_id)
    _refuse_unless_allowed(db, actor, startup)
    _refuse_stale(enrollment, expected_revision)
    if enrollment.status != EnrollmentStatus.OPEN:
        raise EnrollmentClosed(_l("This enrollment is closed."))
    definition = definition_of(db, enrollment)
    target = _stage_or_refuse(definition, to_stage)
    if to_stage not in definition.allowed_targets(enrollment.stage):
        raise TransitionNotAllowed(_l("This move is not allowed from the current stage."))
    note = (note or "").strip() or None
    if target.closes_as and target.closes_as != EnrollmentStatus.LANDED and not note:
        raise WorkflowError(_l("Give a reason for closing."))
    _refuse_unmet_gate(db, enrollment, startup, definition, target)
    return _enter_stage(db, enrollment, startup, definition, target, actor, now,
                        from_stage=enrollment.stage, note=note)


def close(
    db: Session,
    enrollment: Enrollment,
    outcome: EnrollmentStatus,
    actor: Actor,
    *,
    reason: str | None = None,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> StageEvent:
    """Close as landed, withdrawn or rejected: a move to the stage that closes that way."""
    if outcome == EnrollmentStatus.OPEN:
        raise WorkflowError(_l("Choose how the enrollment ends."))
    stage = definition_of(db, enrollment).closing_stage(outcome)
    if stage is None:
        raise TransitionNotAllowed(_l("This programme has no stage for this outcome."))
    return move(db, enrollment, stage.key, actor, expected_revision=expected_revision,
                note=reason, now=now)


# Checklist and fields --------------------------------------------------------------------


def settle_checklist_item(
    db: Session,
    item: ChecklistItem,
    status: ChecklistStatus,
    actor: Actor,
    *,
    note: str | None = None,
    document_id: int | None = None,
    expires_at: datetime | None = None,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> None:
    """Set an item's status (done, waived, not applicable, or open again) with its evidence.

    The checklist is part of the enrollment: settling bumps the enrollment's revision, so a page
    showing the checklist as it was is refused (EnrollmentChanged) instead of overwriting.
    """
    now = now or utcnow()
    enrollment = db.get(Enrollment, item.enrollment_id)
    _refuse_unless_allowed(db, actor, db.get(Startup, enrollment.startup_id))
    _refuse_stale(enrollment, expected_revision)
    if enrollment.status != EnrollmentStatus.OPEN:
        raise EnrollmentClosed(_l("This enrollment is closed."))
    definition = definition_of(db, enrollment)
    if item.key not in {declared.key for declared in definition.checklist}:
        raise WorkflowError(_l("This item is not part of the enrollment's programme version."))
    declared = definition.checklist_item(item.key)
    if status.is_settled:
        settled = _checklist_statuses(db, enrollment.id)
        open_dependencies = [
            MissingItem("checklist", key, definition.checklist_item(key).label)
            for key in declared.depends_on if not settled.get(key, ChecklistStatus.OPEN).is_settled
        ]
        if open_dependencies:
            raise DependenciesOpen(item.key, open_dependencies)
    before = item.status
    item.status = status
    item.evidence_note = (note or "").strip() or item.evidence_note
    item.evidence_document_id = document_id or item.evidence_document_id
    if declared.expires:
        item.expires_at = expires_at or item.expires_at
    item.settled_by_id = actor.user_id if status.is_settled else None
    item.settled_at = now if status.is_settled else None
    # Always an UPDATE of the enrollment (even at an unchanged time), so its revision goes up.
    flag_modified(enrollment, "updated_at")
    enrollment.updated_at = now
    _flush_or_refuse_stale(db)
    audit.record(db, "checklist.settled", actor_user_id=actor.user_id,
                 object_type="enrollment", object_id=enrollment.id, item=item.key,
                 before=str(before), after=status.value)


def set_field(db: Session, enrollment: Enrollment, key: str, value: str, actor: Actor, *,
              expected_revision: int | None = None) -> None:
    """Record an answer to one of the programme's enrollment fields."""
    _refuse_unless_allowed(db, actor, db.get(Startup, enrollment.startup_id))
    _refuse_stale(enrollment, expected_revision)
    if enrollment.status != EnrollmentStatus.OPEN:
        raise EnrollmentClosed(_l("This enrollment is closed."))
    definition = definition_of(db, enrollment)
    answers = dict(enrollment.fields)
    answers.update(_validated_fields(definition, {key: value}))
    before = enrollment.fields.get(key)
    enrollment.fields = answers
    _flush_or_refuse_stale(db)
    audit.record(db, "enrollment.field_set", actor_user_id=actor.user_id,
                 object_type="enrollment", object_id=enrollment.id, field=key,
                 before=before, after=value)


def missing_for(db: Session, enrollment: Enrollment, stage_key: str) -> list[MissingItem]:
    """What the gate of `stage_key` still lacks for this enrollment (empty: it may be entered)."""
    definition = definition_of(db, enrollment)
    startup = db.get(Startup, enrollment.startup_id)
    return _gate_missing(db, enrollment, startup, definition, definition.stage(stage_key))


# Version migration -----------------------------------------------------------------------


def migrate_enrollments(
    db: Session,
    programme: Programme,
    *,
    from_number: int,
    to_number: int,
    stage_mapping: dict[str, str],
    actor: Actor,
    now: datetime | None = None,
) -> int:
    """Move the open enrollments of one version to another, mapping every stage they are in."""
    now = now or utcnow()
    versions = {
        version.number: version for version in db.scalars(select(ProgrammeVersion).where(
            ProgrammeVersion.programme_id == programme.id,
            ProgrammeVersion.number.in_([from_number, to_number])))
    }
    if from_number == to_number or len(versions) != 2:
        raise WorkflowError(_l("Choose two different versions of this programme."))
    source, target = versions[from_number], versions[to_number]
    definition = target.parsed
    # Locked until the caller commits: a move in between would make the UPDATEs below stale.
    enrollments = list(db.scalars(select(Enrollment).where(
        Enrollment.programme_version_id == source.id,
        Enrollment.status == EnrollmentStatus.OPEN).with_for_update()))
    for stage in {enrollment.stage for enrollment in enrollments}:
        mapped = stage_mapping.get(stage)
        if mapped not in definition.stage_keys() or definition.stage(mapped).closes_as:
            raise WorkflowError(_l("Map every stage in use to an active stage of the new "
                                   "version (missing: %(stage)s).", stage=stage))
    for enrollment in enrollments:
        enrollment.programme_version_id = target.id
        _create_checklist(db, enrollment, definition, now)
        new_stage = stage_mapping[enrollment.stage]
        if new_stage != enrollment.stage:
            _record_stage_change(db, enrollment, definition.stage(new_stage), actor, now,
                                 note=f"version {from_number} → {to_number}")
    db.flush()
    audit.record(db, "programme.enrollments_migrated", actor_user_id=actor.user_id,
                 object_type="programme", object_id=programme.id, count=len(enrollments),
                 from_version=from_number, to_version=to_number, mapping=stage_mapping)
    return len(enrollments)


# Internals ---------------------------------------------------------------------------------


def _refuse_unless_allowed(db: Session, actor: Actor, startup: Startup) -> None:
    """A staff user changes only what hangs off a startup they may edit (the views check
    first; this is the service's own check). Applicants and the system are checked where
    they act (intake, jobs)."""
    if actor.kind == ActorKind.USER and not can_edit_startup(db.get(User, actor.user_id),
                                                             startup):
        raise NotAllowed(startup.id)


def _refuse_stale(enrollment: Enrollment, expected_revision: int | None) -> None:
    if expected_revision is not None and enrollment.revision != expected_revision:
        raise EnrollmentChanged(_l("This enrollment changed meanwhile. Look at it again."))


def _flush_or_refuse_stale(db: Session) -> None:
    """Flush now, so a concurrent change is a WorkflowError here and not a failed commit."""
    try:
        db.flush()
    except StaleDataError:
        raise EnrollmentChanged(
            _l("This enrollment changed meanwhile. Look at it again.")) from None


def _stage_or_refuse(definition: ProgrammeDefinition, key: str) -> StageDefinition:
    try:
        return definition.stage(key)
    except KeyError:
        raise TransitionNotAllowed(_l("This programme has no such stage.")) from None


def _has_open_enrollment(db: Session, startup_id: int, programme_id: int) -> bool:
    return bool(db.scalar(select(exists().where(
        Enrollment.startup_id == startup_id, Enrollment.programme_id == programme_id,
        Enrollment.status == EnrollmentStatus.OPEN))))


def _validated_fields(definition: ProgrammeDefinition, answers: dict[str, str]) -> dict:
    known = {field.key: field for field in definition.fields}
    for key, value in answers.items():
        declared = known.get(key)
        if declared is None:
            raise WorkflowError(_l("This programme has no field %(key)s.", key=key))
        if declared.choices and value not in {choice.value for choice in declared.choices}:
            raise WorkflowError(_l("Choose one of the offered answers."))
    return dict(answers)


def _checklist_statuses(db: Session, enrollment_id: int) -> dict[str, ChecklistStatus]:
    rows = db.execute(select(ChecklistItem.key, ChecklistItem.status)
                      .where(ChecklistItem.enrollment_id == enrollment_id)).all()
    return {key: ChecklistStatus(status) for key, status in rows}


def _gate_missing(db: Session, enrollment: Enrollment, startup: Startup,
                  definition: ProgrammeDefinition, stage: StageDefinition) -> list[MissingItem]:
    gate = stage.gate
    missing: list[MissingItem] = []
    if gate.checklist:
        statuses = _checklist_statuses(db, enrollment.id) if enrollment.id else {}
        missing += [
            MissingItem("checklist", key, definition.checklist_item(key).label)
            for key in gate.checklist if not statuses.get(key, ChecklistStatus.OPEN).is_settled
        ]
    missing += [
        MissingItem("startup_field", name, STARTUP_FIELD_LABELS[name])
        for name in gate.startup_fields if getattr(startup, name) in (None, "")
    ]
    missing += [
        MissingItem("enrollment_field", key, definition.field(key).label)
        for key in gate.enrollment_fields if not enrollment.fields.get(key)
    ]
    if gate.contact_with_email and not db.scalar(select(exists().where(
            Contact.startup_id == startup.id, Contact.email.is_not(None), Contact.email != ""))):
        missing.append(MissingItem("contact_email", "contact_email", CONTACT_EMAIL_LABEL))
    return missing


def _refuse_unmet_gate(db, enrollment, startup, definition, stage) -> None:
    missing = _gate_missing(db, enrollment, startup, definition, stage)
    if missing:
        raise GateNotMet(stage, missing)


def _create_checklist(db: Session, enrollment: Enrollment, definition: ProgrammeDefinition,
                      now: datetime) -> None:
    """Add the items the version declares; their due dates count from now, unless a stage
    declares `start_checklist` (then they count from entering that stage)."""
    existing = set(_checklist_statuses(db, enrollment.id))
    due_from_now = not any(stage.on_enter.start_checklist for stage in definition.stages)
    for declared in definition.checklist:
        if declared.key in existing:
            continue
        due_at = (add_working_days(now, declared.due_in_working_days)
                  if due_from_now and declared.due_in_working_days is not None else None)
        db.add(ChecklistItem(enrollment_id=enrollment.id, key=declared.key, due_at=due_at))


def _start_checklist(db: Session, enrollment: Enrollment, definition: ProgrammeDefinition,
                     now: datetime) -> None:
    """Give the open items without a due date theirs, counted from now."""
    db.flush()
    for item in db.scalars(select(ChecklistItem).where(
            ChecklistItem.enrollment_id == enrollment.id,
            ChecklistItem.status == ChecklistStatus.OPEN, ChecklistItem.due_at.is_(None))):
        days = definition.checklist_item(item.key).due_in_working_days
        if days is not None:
            item.due_at = add_working_days(now, days)


def _record_stage_change(db: Session, enrollment: Enrollment, target: StageDefinition,
                         actor: Actor, now: datetime, *, note: str | None = None,
                         from_stage: str | None = "") -> StageEvent:
    """Write the stage event and move the enrollment; StaleDataError means someone else won."""
    previous = enrollment.stage if from_stage == "" else from_stage
    # Count from whole second to whole second (not a truncated difference), so the stays of an
    # enrollment add up to its whole time however many moves it makes.
    seconds = (max(0, int((now.replace(microsecond=0)
                           - enrollment.stage_entered_at.replace(microsecond=0)).total_seconds()))
               if previous is not None else None)
    event = StageEvent(
        enrollment_id=enrollment.id, from_stage=previous, to_stage=target.key,
        actor_kind=actor.kind, actor_user_id=actor.user_id, occurred_at=now,
        seconds_in_previous_stage=seconds, note=note,
    )
    enrollment.stage = target.key
    enrollment.stage_entered_at = now
    enrollment.due_at = (add_working_days(now, target.sla_working_days)
                         if target.sla_working_days and not target.closes_as else None)
    if target.closes_as:
        enrollment.status = EnrollmentStatus(target.closes_as)
        enrollment.closed_at = now
        enrollment.close_reason = note
    db.add(event)
    try:
        db.flush()
    except StaleDataError:
        raise EnrollmentChanged(
            _l("This enrollment changed meanwhile. Look at it again.")) from None
    return event


def _enter_stage(db: Session, enrollment: Enrollment, startup: Startup,
                 definition: ProgrammeDefinition, target: StageDefinition, actor: Actor,
                 now: datetime, *, from_stage: str | None, note: str | None = None
                 ) -> StageEvent:
    event = _record_stage_change(db, enrollment, target, actor, now, note=note,
                                 from_stage=from_stage)
    if target.on_enter.start_checklist:
        _start_checklist(db, enrollment, definition, now)
    actions.run_on_enter(db, enrollment=enrollment, startup=startup, definition=definition,
                         stage=target, event=event, actor_user_id=actor.user_id, now=now)
    audit.record(db, "enrollment.enrolled" if from_stage is None else "enrollment.moved",
                 actor_user_id=actor.user_id, object_type="enrollment", object_id=enrollment.id,
                 actor_kind=actor.kind.value, before=from_stage, after=target.key)
    webhooks.emit_stage_change(db, enrollment, definition.key, event)
    _follow_startup_status(db, startup, target, actor)
    return event


def _follow_startup_status(db: Session, startup: Startup, target: StageDefinition,
                           actor: Actor) -> None:
    """A lead or dormant startup becomes active in a programme; a landing makes it landed."""
    before = startup.status
    if target.closes_as == EnrollmentStatus.LANDED:
        startup.status = StartupStatus.LANDED
    elif target.closes_as is None and before in (StartupStatus.LEAD, StartupStatus.DORMANT):
        startup.status = StartupStatus.ACTIVE
    if startup.status != before:
        audit.record(db, "startup.status_changed", actor_user_id=actor.user_id,
                     object_type="startup", object_id=startup.id, before=str(before),
                     after=startup.status.value)

"""Closed vocabularies of the domain, stored as short strings (portable, easy to migrate)."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from flask_babel import lazy_gettext as _l

E = TypeVar("E", bound=StrEnum)


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    BD_MANAGER = "bd_manager"
    VIEWER = "viewer"

    @property
    def label(self):
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.MANAGER: _l("Manager"),
    Role.BD_MANAGER: _l("BD manager"),
    Role.VIEWER: _l("Viewer"),
}


class StartupStatus(StrEnum):
    LEAD = "lead"
    ACTIVE = "active"
    LANDED = "landed"
    LOST = "lost"
    DORMANT = "dormant"


STARTUP_STATUS_LABELS = {
    StartupStatus.LEAD: _l("Lead"),
    StartupStatus.ACTIVE: _l("Active"),
    StartupStatus.LANDED: _l("Landed"),
    StartupStatus.LOST: _l("Lost"),
    StartupStatus.DORMANT: _l("Dormant"),
}


class LeadSource(StrEnum):
    EVENT = "event"
    DELEGATION = "delegation"
    REFERRAL = "referral"
    WEB = "web"
    IMPORT = "import"
    OTHER = "other"


LEAD_SOURCE_LABELS = {
    LeadSource.EVENT: _l("Event"),
    LeadSource.DELEGATION: _l("Delegation"),
    LeadSource.REFERRAL: _l("Referral"),
    LeadSource.WEB: _l("Website"),
    LeadSource.IMPORT: _l("Import"),
    LeadSource.OTHER: _l("Other"),
}


class FundingStage(StrEnum):
    BOOTSTRAPPED = "bootstrapped"
    PRE_SEED = "pre_seed"
    SEED = "seed"
    SERIES_A = "series_a"
    SERIES_B_PLUS = "series_b_plus"
    PROFITABLE = "profitable"


FUNDING_STAGE_LABELS = {
    FundingStage.BOOTSTRAPPED: _l("Bootstrapped"),
    FundingStage.PRE_SEED: _l("Pre-seed"),
    FundingStage.SEED: _l("Seed"),
    FundingStage.SERIES_A: _l("Series A"),
    FundingStage.SERIES_B_PLUS: _l("Series B or later"),
    FundingStage.PROFITABLE: _l("Profitable"),
}


class EnrollmentStatus(StrEnum):
    OPEN = "open"
    LANDED = "landed"
    WITHDRAWN = "withdrawn"
    REJECTED = "rejected"


ENROLLMENT_STATUS_LABELS = {
    EnrollmentStatus.OPEN: _l("Open"),
    EnrollmentStatus.LANDED: _l("Landed"),
    EnrollmentStatus.WITHDRAWN: _l("Withdrawn"),
    EnrollmentStatus.REJECTED: _l("Rejected"),
}


class ActorKind(StrEnum):
    USER = "user"
    APPLICANT = "applicant"
    SYSTEM = "system"


class ActivityKind(StrEnum):
    NOTE = "note"
    CALL = "call"
    MEETING = "meeting"
    EMAIL = "email"
    VISIT = "visit"
    EVENT = "event"
    IMPORT = "import"  # written by an import, not logged by hand
    MERGE = "merge"  # written by a merge of two startups, not logged by hand


#: What a person may log by hand on the startup page.
LOGGABLE_ACTIVITY_KINDS = (ActivityKind.NOTE, ActivityKind.CALL, ActivityKind.MEETING,
                           ActivityKind.VISIT, ActivityKind.EMAIL, ActivityKind.EVENT)

ACTIVITY_KIND_LABELS = {
    ActivityKind.NOTE: _l("Note"),
    ActivityKind.CALL: _l("Call"),
    ActivityKind.MEETING: _l("Meeting"),
    ActivityKind.EMAIL: _l("Email"),
    ActivityKind.VISIT: _l("Visit"),
    ActivityKind.EVENT: _l("Event"),
    ActivityKind.IMPORT: _l("Import"),
    ActivityKind.MERGE: _l("Merge"),
}


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"


OUTBOX_STATUS_LABELS = {
    OutboxStatus.PENDING: _l("Pending"),
    OutboxStatus.SENDING: _l("Sending"),
    OutboxStatus.SENT: _l("Sent"),
    OutboxStatus.FAILED: _l("Failed, will retry"),
    OutboxStatus.DEAD: _l("Dead"),
}


class ReminderDelivery(StrEnum):
    """How a staff member gets reminders: one email each, or gathered into a daily digest."""

    IMMEDIATE = "immediate"
    DAILY_DIGEST = "daily_digest"


REMINDER_DELIVERY_LABELS = {
    ReminderDelivery.IMMEDIATE: _l("One email per reminder, at once"),
    ReminderDelivery.DAILY_DIGEST: _l("One daily digest in the morning"),
}


class ReminderKind(StrEnum):
    SLA_DUE_SOON = "sla_due_soon"  # to the owner
    SLA_OVERDUE = "sla_overdue"  # to the owner
    SLA_ESCALATION = "sla_escalation"  # to each manager, escalate_after working days past due
    APPLICATION_NUDGE_3 = "application_nudge_3"  # to the applicant, 3 days idle
    APPLICATION_NUDGE_7 = "application_nudge_7"  # to the applicant, 7 days idle
    CHECKLIST_EXPIRING = "checklist_expiring"  # to the owner, 60 days before expiry


class Language(StrEnum):
    EN = "en"
    DE = "de"


LANGUAGE_LABELS = {Language.EN: "English", Language.DE: "Deutsch"}


def parse_enum(enum: type[E], value: str | None) -> E | None:
    """The member with this value, or None for anything else (query strings, forms)."""
    try:
        return enum(value)
    except ValueError:
        return None


class ImportStatus(StrEnum):
    UPLOADED = "uploaded"  # read and mapped, not yet checked
    CHECKED = "checked"  # dry run done: the report shows what would happen
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # nothing was changed


class ExportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ApplicationStatus(StrEnum):
    DRAFT = "draft"  # being filled in by the applicant
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"  # by the applicant; answers and documents deleted


APPLICATION_STATUS_LABELS = {
    ApplicationStatus.DRAFT: _l("Unfinished"),
    ApplicationStatus.SUBMITTED: _l("Submitted"),
    ApplicationStatus.WITHDRAWN: _l("Withdrawn"),
}

"""The one registry of every table: Alembic and the tests import this module."""

from sqlmodel import SQLModel

from crm.api.models import ApiToken
from crm.core.audit import AuditEvent
from crm.core.heartbeat import ServiceHeartbeat
from crm.documents.models import Document
from crm.duplicates.models import DuplicateDismissal
from crm.exports.models import ExportJob
from crm.gdpr.models import ConsentRecord, RetentionRun
from crm.imports.models import ImportJob, ImportMapping
from crm.intake.models import Application
from crm.outbox.models import OutboxAttachment, OutboxMessage
from crm.programmes.models import Programme, ProgrammeVersion
from crm.reminders.models import Reminder
from crm.startups.models import (
    Activity,
    Contact,
    SavedView,
    Startup,
    StartupSector,
    StartupTag,
    Task,
)
from crm.users.models import (
    Invitation,
    PasswordReset,
    RecoveryCode,
    SecurityPolicy,
    StaffSession,
    User,
)
from crm.webhooks.models import WebhookDelivery, WebhookEndpoint
from crm.workflow.models import ChecklistItem, Enrollment, StageEvent

metadata = SQLModel.metadata

__all__ = [
    "Activity",
    "ApiToken",
    "Application",
    "AuditEvent",
    "ChecklistItem",
    "ConsentRecord",
    "Contact",
    "Document",
    "DuplicateDismissal",
    "ExportJob",
    "ImportJob",
    "ImportMapping",
    "Enrollment",
    "Invitation",
    "OutboxAttachment",
    "OutboxMessage",
    "PasswordReset",
    "Programme",
    "ProgrammeVersion",
    "RecoveryCode",
    "Reminder",
    "RetentionRun",
    "SavedView",
    "SecurityPolicy",
    "ServiceHeartbeat",
    "StaffSession",
    "StageEvent",
    "Startup",
    "StartupSector",
    "StartupTag",
    "Task",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "metadata",
]

"""The audit actions the desk records, grouped by what they are about (the filter's choices)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

#: Every action some code records; tests/test_audit_page.py checks the code against it.
ACTIONS = (
    "access.denied",
    "activity.logged",
    "api_token.created", "api_token.revoked",
    "application.invited", "application.received", "application.started",
    "application.submitted", "application.withdrawn",
    "audit.exported",
    "auth.login", "auth.login_failed", "auth.login_locked", "auth.logout", "auth.reauth_failed",
    "auth.recovery_code_used", "auth.reset_requested", "auth.reset_requested_unknown",
    "checklist.settled",
    "consent.recorded", "consent.withdrawn",
    "contact.added", "contact.removed", "contact.updated",
    "document.downloaded", "document.removed", "document.uploaded",
    "duplicates.dismissed",
    "enrollment.enrolled", "enrollment.field_set", "enrollment.moved",
    "gdpr.erased", "gdpr.exported", "gdpr.restricted", "gdpr.restriction_lifted",
    "import.completed", "import.create_anyway", "import.create_anyway_undone", "import.failed",
    "import.mapped", "import.queued", "import.uploaded",
    "outbox.retried",
    "policy.private_webhooks_allowed", "policy.private_webhooks_refused",
    "policy.two_factor_optional", "policy.two_factor_required",
    "programme.enrollments_migrated", "programme.version_loaded",
    "saved_view.created", "saved_view.deleted",
    "startup.created", "startup.merged", "startup.merged_into", "startup.status_changed",
    "startup.updated",
    "startups.export_downloaded", "startups.export_requested", "startups.export_sent_again",
    "startups.exported",
    "task.completed", "task.created", "task.reassigned", "task.reopened", "task.snoozed",
    "user.activated", "user.created", "user.deactivated", "user.email_changed",
    "user.invitation_accepted", "user.invited", "user.password_changed", "user.password_reset",
    "user.preferences_changed", "user.recovery_codes_renewed", "user.role_changed",
    "user.sessions_ended",
    "user.two_factor_disabled", "user.two_factor_enabled", "user.unlocked",
    "webhook.created", "webhook.deleted", "webhook.delivery_resent", "webhook.secret_rotated",
    "webhook.test_sent", "webhook.updated",
)

#: What each group of actions (the part before the dot) is about.
GROUP_LABELS = {
    "access": _l("Refused access"),
    "activity": _l("Activities"),
    "api_token": _l("API tokens"),
    "application": _l("Applications"),
    "audit": _l("Audit trail"),
    "auth": _l("Sign-in"),
    "checklist": _l("Checklists"),
    "consent": _l("Consent"),
    "contact": _l("Contacts"),
    "document": _l("Documents"),
    "duplicates": _l("Duplicates"),
    "enrollment": _l("Enrollments"),
    "gdpr": _l("Data protection"),
    "import": _l("Imports"),
    "outbox": _l("Outbox"),
    "policy": _l("Security policy"),
    "programme": _l("Programmes"),
    "saved_view": _l("Saved views"),
    "startup": _l("Startups"),
    "startups": _l("Exports"),
    "task": _l("Tasks"),
    "user": _l("Staff accounts"),
    "webhook": _l("Webhooks"),
}

#: Object types events name (the filter's choices).
OBJECT_TYPES = ("api_token", "application", "consent_record", "contact", "document",
                "enrollment", "export_job", "import_job", "outbox_message", "programme",
                "saved_view", "security_policy", "startup", "startups", "task", "user",
                "webhook_endpoint")

WILDCARD = ".*"


def group_of(action: str) -> str:
    return action.partition(".")[0]


def groups() -> dict[str, list[str]]:
    """Group -> its actions, both in alphabetical order."""
    grouped: dict[str, list[str]] = {}
    for action in sorted(ACTIONS):
        grouped.setdefault(group_of(action), []).append(action)
    return grouped

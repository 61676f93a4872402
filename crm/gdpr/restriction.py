"""Restriction of processing (GDPR Art. 18): a startup or contact is kept but not processed.

While restricted: nobody edits it (crm/startups/access.py), no emails go to its contacts
(crm/workflow/actions.py), no reminders are written about it (crm/reminders/due.py), list
exports leave it out (crm/exports/services.py), and the retention job keeps its documents. Its
data can still be exported to the person (Art. 15) and the restriction lifted.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from crm.core import audit
from crm.startups.models import Contact, Startup


def restrict(db: Session, record: Startup | Contact, reason: str, actor_user_id: int,
             now: datetime) -> None:
    """Restrict the record (again: the reason is replaced, the moment kept)."""
    record.restricted_at = record.restricted_at or now
    record.restricted_reason = reason
    db.flush()
    audit.record(db, "gdpr.restricted", actor_user_id=actor_user_id,
                 object_type=_object_type(record), object_id=record.id)


def lift(db: Session, record: Startup | Contact, actor_user_id: int) -> bool:
    """Lift the restriction; False if there was none."""
    if record.restricted_at is None:
        return False
    record.restricted_at = None
    record.restricted_reason = None
    db.flush()
    audit.record(db, "gdpr.restriction_lifted", actor_user_id=actor_user_id,
                 object_type=_object_type(record), object_id=record.id)
    return True


def _object_type(record: Startup | Contact) -> str:
    return "startup" if isinstance(record, Startup) else "contact"

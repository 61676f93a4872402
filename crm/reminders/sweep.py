"""The reminder sweep (beat, every 5 minutes): write the reminders now owed, send them, send
the morning digests, in the caller's one transaction; running it again sends nothing new."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from crm.config import Settings
from crm.core.enums import ReminderKind
from crm.core.health import REMINDER_SWEEP_HEARTBEAT
from crm.core.heartbeat import beat
from crm.reminders.due import insert_once, owed_reminders
from crm.reminders.sending import Delivery


@dataclass
class SweepResult:
    created: Counter[ReminderKind] = field(default_factory=Counter)  # new reminders by kind
    emails: int = 0  # reminders emailed one by one
    digests: int = 0
    failed: list[str] = field(default_factory=list)  # messages whose template failed

    def __str__(self) -> str:
        kinds = ", ".join(f"{kind}: {count}" for kind, count in sorted(self.created.items()))
        return (f"new reminders: {kinds or 'none'}; emails: {self.emails}; "
                f"digests: {self.digests}; failed: {len(self.failed)}")


def sweep(db: Session, settings: Settings, now: datetime) -> SweepResult:
    """One sweep at `now`; the caller commits. The heartbeat tells /healthz it ran."""
    created = insert_once(db, owed_reminders(db, now, settings.tz), now)
    delivery = Delivery(db, settings, now)
    delivery.send_immediate()
    delivery.send_digests()
    beat(db, REMINDER_SWEEP_HEARTBEAT)
    return SweepResult(created, delivery.emails, delivery.digests, delivery.failed)

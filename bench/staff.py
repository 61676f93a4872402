"""The desk's staff and its programmes, written through the app's models and loader."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from random import Random

from sqlalchemy import update
from sqlmodel import Session

from bench import fake
from bench.histories import ProgrammePlan
from crm.core.clock import set_clock
from crm.core.enums import Language, ReminderDelivery, Role
from crm.programmes.models import Programme, ProgrammeVersion
from crm.programmes.services import load_directory
from crm.users.models import User

STAFF_EMAIL_DOMAIN = "bench.landing-desk.test"


@dataclass(frozen=True)
class StaffMember:
    id: int
    email: str
    name: str
    role: Role
    locale: Language
    weekly_report: bool
    reminder_delivery: ReminderDelivery


def staff_roles(count: int) -> list[Role]:
    """One admin, a manager per 12 people, a viewer per 10, the rest BD managers."""
    managers, viewers = max(1, round(count * 0.08)), max(1, count // 10)
    bd_managers = count - 1 - managers - viewers
    if bd_managers < 1:
        raise ValueError(f"{count} staff are too few: at least 4 are needed")
    return ([Role.ADMIN] + [Role.MANAGER] * managers + [Role.BD_MANAGER] * bd_managers
            + [Role.VIEWER] * viewers)


def create_staff(db: Session, rng: Random, count: int, password_hash: str,
                 created_at: datetime) -> list[StaffMember]:
    """The staff users, all with the same password hash (hashing is slow on purpose)."""
    names: list[str] = []
    while len(names) < count:
        name = f"{rng.choice(fake.STAFF_GIVEN)} {rng.choice(fake.STAFF_FAMILY)}"
        if name not in names:
            names.append(name)
    users = []
    for name, role in zip(names, staff_roles(count), strict=True):
        local_part = ".".join(fake.slug(part).replace("-", "") for part in name.split())
        users.append(User(
            email=f"{local_part}@{STAFF_EMAIL_DOMAIN}", name=name, role=role,
            password_hash=password_hash, locale=Language.DE if rng.random() < 0.5 else Language.EN,
            reminder_delivery=ReminderDelivery.DAILY_DIGEST if rng.random() < 0.3
            else ReminderDelivery.IMMEDIATE,
            weekly_report=role in (Role.ADMIN, Role.MANAGER) or rng.random() < 0.1,
            created_at=created_at, updated_at=created_at,
        ))
    db.add_all(users)
    db.flush()
    return [StaffMember(user.id, user.email, user.name, user.role, user.locale,
                        user.weekly_report, user.reminder_delivery) for user in users]


def load_programmes(db: Session, loaded_at: datetime) -> list[ProgrammePlan]:
    """The four programme definitions, loaded as `crm programmes load` does, dated back."""
    set_clock(lambda: loaded_at)  # the audit events say so too (they cannot be changed later)
    try:
        results = load_directory(db)
        db.flush()
    finally:
        set_clock(None)
    for model in (Programme, ProgrammeVersion):
        db.execute(update(model).values(created_at=loaded_at))
    db.execute(update(Programme).values(updated_at=loaded_at))
    return [ProgrammePlan(result.programme.key, result.programme.id, result.version.id,
                          result.version.parsed) for result in results]

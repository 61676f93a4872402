"""Startups with their profile, owner, contacts, sectors and tags, and their rows.

What a startup's page and the list read is what the services would have written: the search
text and duplicate keys come from `crm.startups.search`, the status follows its enrollments
as the engine makes it follow, an enrolled startup has what its stages' gates demanded (a
website, a city, a team size, a founding year, a contact with an e-mail address).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from random import Random

from bench import fake
from bench.clock import DAY, MINUTE, NOW, stamp
from bench.histories import EnrollmentPlan
from crm.core.enums import EnrollmentStatus, Language, LeadSource, StartupStatus
from crm.demo.data import (
    CONSENT_TEXT_VERSION,
    CONTACT_ROLES,
    FOUNDER_ROLE,
    FUNDING_PROFILES,
    PHONE_FORMATS,
)
from crm.startups.search import name_key, name_skeleton, search_text

DORMANT_AFTER = 45 * DAY  # a lead nobody enrolled for this long is dormant (as the demo)
PRODUCTS = ("sensors", "software", "robots", "a platform", "diagnostics", "batteries",
            "an app", "analytics", "chips", "materials")
CUSTOMERS = ("factories", "hospitals", "farms", "city utilities", "logistics companies",
             "retailers", "banks", "schools", "carmakers", "ports")


@dataclass(slots=True)
class ContactPlan:
    name: str
    email: str | None
    role: str
    phone: str | None
    language: Language
    consented_at: int | None
    id: int = 0


@dataclass(slots=True)
class StartupPlan:
    country: str
    name: str
    domain: str | None
    city: str | None
    source: LeadSource
    source_detail: str | None
    owner_id: int | None
    profile: dict
    description: str
    sectors: list[str]
    tags: list[str]
    contacts: list[ContactPlan] = field(default_factory=list)
    enrollments: list[EnrollmentPlan] = field(default_factory=list)
    created: int = 0
    id: int = 0

    @property
    def status(self) -> StartupStatus:
        outcomes = {plan.outcome for plan in self.enrollments}
        if EnrollmentStatus.LANDED in outcomes:
            return StartupStatus.LANDED
        if EnrollmentStatus.OPEN in outcomes:
            return StartupStatus.ACTIVE
        if outcomes:
            return StartupStatus.LOST
        return StartupStatus.DORMANT if NOW - self.created > DORMANT_AFTER else StartupStatus.LEAD

    @property
    def updated(self) -> int:
        return max([self.created, *(plan.times[-1] for plan in self.enrollments)])


class Domains:
    """Unique domains under the reserved .example TLD (RFC 2606): no e-mail reaches anyone."""

    def __init__(self):
        self._used: Counter[str] = Counter()

    def for_name(self, name: str) -> str:
        base = name_key(name)[:40] or "startup"
        self._used[base] += 1
        count = self._used[base]
        return f"{base}.example" if count == 1 else f"{base}-{count}.example"


def plan_startup(rng: Random, domains: Domains, country: str, owner_id: int | None,
                 complete: bool) -> StartupPlan:
    """A startup; `complete` ones have everything the stages' gates ask for."""
    name = fake.startup_name(rng, country)
    has_site = complete or rng.random() < 0.8
    domain = domains.for_name(name) if has_site else None
    source = rng.choices(list(fake.SOURCE_WEIGHTS), list(fake.SOURCE_WEIGHTS.values()))[0]
    profile = {}
    if complete or rng.random() < 0.6:
        funding = rng.choice(list(FUNDING_PROFILES))
        (smallest, largest), (youngest, oldest) = FUNDING_PROFILES[funding]
        profile = {"founded_year": 2026 - rng.randint(youngest, oldest),
                   "team_size": rng.randint(smallest, largest), "funding_stage": funding.value}
    sectors = list(dict.fromkeys(rng.choices(list(fake.SECTOR_WEIGHTS),
                                             list(fake.SECTOR_WEIGHTS.values()),
                                             k=rng.choice((1, 1, 2, 2, 3)))))
    startup = StartupPlan(
        country=country, name=name, domain=domain,
        city=rng.choice(fake.CITIES.get(country, fake.DEFAULT_CITIES))
        if complete or rng.random() < 0.7 else None,
        source=source, source_detail=rng.choice(fake.SOURCE_DETAILS[source]),
        owner_id=owner_id, profile=profile,
        description=f"{rng.choice(PRODUCTS).capitalize()} for {rng.choice(CUSTOMERS)}."
        if complete or rng.random() < 0.5 else "",
        sectors=sectors, tags=rng.sample(fake.TAGS, rng.choice((0, 0, 1, 1, 2, 3))),
    )
    startup.contacts = _contacts(rng, startup, complete)
    return startup


def _contacts(rng: Random, startup: StartupPlan, complete: bool) -> list[ContactPlan]:
    count = rng.choices((0, 1, 2, 3), (0 if complete else 15, 40, 35, 20))[0]
    roles = [FOUNDER_ROLE, *rng.sample(CONTACT_ROLES, 3)]
    prefix, digits = PHONE_FORMATS.get(startup.country, (None, 0))
    contacts = []
    for index in range(count):
        name, local_part = fake.person_name(rng, startup.country)
        with_email = startup.domain and (index == 0 and complete or rng.random() < 0.85)
        contacts.append(ContactPlan(
            name=name, email=f"{local_part}@{startup.domain}" if with_email else None,
            role=roles[index],
            phone=prefix + "".join(rng.choices("0123456789", k=digits))
            if prefix and rng.random() < 0.6 else None,
            language=Language.DE if rng.random() < 0.15 else Language.EN,
            consented_at=0 if rng.random() < 0.5 else None,  # moment set once created is known
        ))
    return contacts


def date_contacts(rng: Random, startup: StartupPlan) -> None:
    """Consent moments fall between the startup's creation and now."""
    for contact in startup.contacts:
        if contact.consented_at is not None:
            contact.consented_at = rng.randint(startup.created, NOW) // MINUTE * MINUTE


# Rows ---------------------------------------------------------------------------------------

STARTUP_COLUMNS = ("id", "created_at", "updated_at", "name", "website", "domain", "country",
                   "city", "founded_year", "team_size", "funding_stage", "description", "source",
                   "source_detail", "owner_id", "status", "owner_assigned_at", "version",
                   "search_text", "name_key", "name_skeleton")
CONTACT_COLUMNS = ("id", "created_at", "updated_at", "startup_id", "name", "email", "phone",
                   "role", "language", "consent_given_at", "consent_text_version", "version")
SECTOR_COLUMNS = ("created_at", "updated_at", "startup_id", "sector")
TAG_COLUMNS = ("created_at", "updated_at", "startup_id", "tag")


def startup_rows(startups: list[StartupPlan]):
    keys: dict[str, tuple[str, str]] = {}  # names repeat: their keys are computed once
    for startup in startups:
        created = stamp(startup.created)
        if startup.name not in keys:
            keys[startup.name] = (name_key(startup.name), name_skeleton(startup.name))
        key, skeleton = keys[startup.name]
        text = search_text(startup.name, startup.domain,
                           [(contact.name, contact.email) for contact in startup.contacts])
        assigned = stamp(startup.created + 3 * MINUTE) if startup.owner_id else None
        yield (startup.id, created, stamp(startup.updated), startup.name,
               f"https://{startup.domain}" if startup.domain else None, startup.domain,
               startup.country, startup.city, startup.profile.get("founded_year"),
               startup.profile.get("team_size"), startup.profile.get("funding_stage"),
               startup.description, startup.source.value, startup.source_detail,
               startup.owner_id, startup.status.value, assigned, 1, text, key, skeleton)


def contact_rows(startups: list[StartupPlan]):
    for startup in startups:
        created = stamp(startup.created)
        for contact in startup.contacts:
            consented = contact.consented_at is not None
            yield (contact.id, created, created, startup.id, contact.name, contact.email,
                   contact.phone, contact.role, contact.language.value,
                   stamp(contact.consented_at), CONSENT_TEXT_VERSION if consented else None, 1)


def sector_rows(startups: list[StartupPlan]):
    for startup in startups:
        created = stamp(startup.created)
        for sector in startup.sectors:
            yield created, created, startup.id, sector


def tag_rows(startups: list[StartupPlan]):
    for startup in startups:
        created = stamp(startup.created)
        for tag in startup.tags:
            yield created, created, startup.id, tag

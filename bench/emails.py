"""Unfinished applications, and the outbox: what the desk sent over two years.

Outbox rows carry the dedupe keys the app writes (`stage-email:<event>:<contact>`,
`stage-owner:<event>`, `application-link:<hash>`, `digest:<user>:<date>`,
`weekly-report:<user>:<week>`), none of them for today's digests or the report of the week
that just ended, so the reminder sweep and the weekly report have their own work to do.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, time, timedelta
from html import escape
from random import Random
from typing import NamedTuple

from bench import fake
from bench.clock import BENCH_NOW, DAY, MINUTE, NOW, stamp
from bench.histories import ProgrammePlan
from bench.pipeline import Event
from bench.staff import StaffMember
from bench.startups import ContactPlan, Domains, StartupPlan
from crm.core.enums import Language, OutboxStatus, Role
from crm.intake.steps import HELP_CHOICES, HIRING_CHOICES, OFFICE_CHOICES, TIMELINE_CHOICES
from crm.workflow.calendar import BERLIN, is_working_day

APPLICATION_COLUMNS = ("id", "created_at", "updated_at", "programme_id", "status", "email",
                       "locale", "answers", "step", "last_activity_at", "link_token_hash",
                       "link_expires_at", "consent_version", "consent_given_at", "submitted_at",
                       "withdrawn_at", "startup_id", "enrollment_id", "invited_by_id",
                       "assigned_owner_id")
OUTBOX_COLUMNS = ("id", "created_at", "updated_at", "dedupe_key", "to_address", "locale",
                  "subject", "body_text", "body_html", "status", "attempts", "next_attempt_at",
                  "last_error", "sent_at", "startup_id", "user_id")
LINK_VALID_FOR = 7 * DAY
# Idle days of the drafts (low, high, weight): the sweep nudges after 3 and after 7 days.
DRAFT_IDLE = ((0.1, 2.9, 25), (3.1, 6.9, 30), (7.1, 13.9, 25), (14.5, 40, 20))
WEEKLY_SHARE, DIGEST_SHARE = 0.03, 0.10  # of the outbox at most; stage emails fill the rest
PENDING_SHARE, FAILED_SHARE, DEAD_SHARE = 0.004, 0.012, 0.006
RETRYABLE_ERRORS = ("SMTPServerDisconnected", "recipient refused 450", "SMTPDataError 451 4.3.0",
                    "ConnectionRefusedError")
PERMANENT_ERRORS = ("recipient refused 550", "SMTPDataError 554 5.7.1", "unusable address")
SIGNATURE = "International Business Service · Düsseldorf"


class Draft(NamedTuple):
    created_at: int
    programme: ProgrammePlan
    email: str
    locale: Language
    answers: dict
    last_activity_at: int
    token_hash: str


class Email(NamedTuple):
    created_at: int
    dedupe_key: str
    to_address: str
    locale: str
    subject: str
    greeting: str  # the body's first line
    text: str  # the body
    startup_id: int | None
    user_id: int | None


# Applications ------------------------------------------------------------------------------


def drafts(rng: Random, programmes: list[ProgrammePlan], count: int, seed: int,
           domains: Domains) -> list[Draft]:
    """Unfinished applications to the programmes with a public form, idle for a while."""
    with_form = [programme for programme in programmes if programme.definition.intake]
    rows = []
    for number in range(count):
        programme = rng.choice(with_form)
        country = rng.choices(list(fake.COUNTRY_WEIGHTS), list(fake.COUNTRY_WEIGHTS.values()))[0]
        low, high, _ = rng.choices(DRAFT_IDLE, [weight for *_, weight in DRAFT_IDLE])[0]
        last_activity = NOW - int(rng.uniform(low, high) * DAY) // MINUTE * MINUTE
        name = fake.startup_name(rng, country)
        domain = domains.for_name(name)
        person, local_part = fake.person_name(rng, country)
        locale = Language.DE if rng.random() < 0.2 else Language.EN
        answers = {"company": {
            "name": name, "website": f"https://{domain}", "country": country,
            "city": rng.choice(fake.CITIES.get(country, fake.DEFAULT_CITIES)),
            "founded_year": 2026 - rng.randint(1, 8), "team_size": rng.randint(2, 40),
            "sectors": rng.sample(list(fake.SECTOR_WEIGHTS), rng.randint(1, 2)),
            "funding_stage": "seed", "description": "Looking for a first office in Germany.",
        }}
        if rng.random() < 0.6:
            answers["people"] = {"people": [{"name": person, "role": "CEO",
                                             "email": f"{local_part}@{domain}", "phone": None,
                                             "language": locale.value}]}
            if rng.random() < 0.5:
                answers["plans"] = _plans(rng, programme)
        token_hash = hashlib.sha256(f"bench-draft:{seed}:{number}".encode()).hexdigest()
        created = last_activity - int(rng.uniform(0, 3) * DAY) // MINUTE * MINUTE
        rows.append(Draft(created, programme, f"{local_part}@{domain}", locale, answers,
                          last_activity, token_hash))
    rows.sort(key=lambda draft: (draft.created_at, draft.token_hash))
    return rows


def _plans(rng: Random, programme: ProgrammePlan) -> dict:
    answers = {"timeline": rng.choice(TIMELINE_CHOICES)[0],
               "office_need": rng.choice(OFFICE_CHOICES)[0],
               "hiring_plans": rng.choice(HIRING_CHOICES)[0],
               "help_needed": [key for key, _label in rng.sample(HELP_CHOICES, 2)], "notes": ""}
    return {key: value for key, value in answers.items()
            if programme.definition.intake.asks(key)}


def _next_step(answers: dict) -> str:
    return next((step for step in ("company", "people", "plans", "documents")
                 if step not in answers), "consent")


def application_rows(rows: list[Draft]):
    for number, draft in enumerate(rows, start=1):
        yield (number, stamp(draft.created_at), stamp(draft.last_activity_at), draft.programme.id,
               "draft", draft.email, draft.locale.value, json.dumps(draft.answers),
               _next_step(draft.answers), stamp(draft.last_activity_at), draft.token_hash,
               stamp(draft.created_at + LINK_VALID_FOR), None, None, None, None, None, None,
               None, None)


# Outbox -------------------------------------------------------------------------------------


def outbox(rng: Random, count: int, events: list[Event], startups: list[StartupPlan],
           staff: list[StaffMember], application_drafts: list[Draft],
           timeline: StartupPlan) -> list[Email]:
    """`count` emails in the order they were queued."""
    emails = [_resume_link(draft) for draft in application_drafts]
    emails += _weekly_reports(rng, staff, int(count * WEEKLY_SHARE))
    digests = _digests(staff)
    emails += digests[: int(count * DIGEST_SHARE)]
    candidates = _stage_email_candidates(events, startups, staff, timeline)
    wanted = min(len(candidates), count - len(emails))
    emails += [candidates[index]() for index in sorted(rng.sample(range(len(candidates)),
                                                                  wanted))]
    emails += digests[int(count * DIGEST_SHARE):][: count - len(emails)]
    if len(emails) != count:
        raise ValueError(f"cannot make {count} outbox messages from this data")
    emails.sort()
    return emails


def _resume_link(draft: Draft) -> Email:
    name = draft.programme.definition.name(draft.locale)
    subject = (f"Setzen Sie Ihre Bewerbung für {name} fort" if draft.locale == Language.DE
               else f"Continue your application to {name}")
    return Email(draft.created_at, f"application-link:{draft.token_hash}", draft.email,
                 draft.locale.value, subject, "Hello,",
                 "Use the link in this email to continue your application; it works for "
                 "7 days.", None, None)


def _weekly_reports(rng: Random, staff: list[StaffMember], count: int) -> list[Email]:
    """Past weeks' reports to their subscribers, newest first; not the week that just ended."""
    subscribers = [member for member in staff if member.weekly_report]
    today = BENCH_NOW.astimezone(BERLIN).date()
    monday = today - timedelta(days=today.weekday())
    emails: list[Email] = []
    if not subscribers:
        return emails
    week = monday - timedelta(weeks=1)  # the report on it is queued today, by the app
    while len(emails) < count:
        week -= timedelta(weeks=1)
        sent = _local_moment(week + timedelta(weeks=1), time(7, 0)) + rng.randint(0, 9) * MINUTE
        year, number, _ = week.isocalendar()
        for member in subscribers[: count - len(emails)]:
            subject = (f"Pipeline-Bericht für KW {number}" if member.locale == Language.DE
                       else f"Pipeline report for week {number}")
            emails.append(Email(sent, f"weekly-report:{member.id}:{year}-W{number:02d}",
                                member.email, member.locale.value, subject,
                                f"Hello {member.name},",
                                "The pipeline of last week, moves and landings, overdue "
                                "enrollments and tasks.", None, member.id))
    return emails


def _digests(staff: list[StaffMember]) -> list[Email]:
    """Morning digests of past working days, newest first (today's is the sweep's to send)."""
    people = [member for member in staff if member.role in (Role.MANAGER, Role.BD_MANAGER)]
    emails = []
    day = BENCH_NOW.astimezone(BERLIN).date()
    for _ in range(730):
        day -= timedelta(days=1)
        if not is_working_day(day):
            continue
        for offset, member in enumerate(people):
            subject = (f"Ihre Aufgaben und Erinnerungen für den {day:%d.%m.%Y}"
                       if member.locale == Language.DE
                       else f"Your tasks and reminders for {day:%d %b %Y}")
            emails.append(Email(_local_moment(day, time(7, 0)) + offset * 7,
                                f"digest:{member.id}:{day.isoformat()}", member.email,
                                member.locale.value, subject, f"Hello {member.name},",
                                "Your tasks due today and overdue, and your reminders.", None,
                                member.id))
    return emails


def _local_moment(day: date, at: time) -> int:
    return int(datetime.combine(day, at, tzinfo=BERLIN).astimezone(UTC).timestamp())


def _stage_email_candidates(events: list[Event], startups: list[StartupPlan],
                            staff: list[StaffMember], timeline: StartupPlan) -> list:
    """Every email a stage's on-enter actions queued, each as a function that writes it."""
    by_id = {member.id: member for member in staff}
    candidates = []
    for number, event in enumerate(events, start=1):
        plan = event.plan
        stage = plan.programme.stages[event.to_stage]
        startup = startups[plan.startup]
        if startup is timeline or not (stage.on_enter.email_startup or stage.on_enter.notify_owner):
            continue
        if stage.on_enter.email_startup:
            template = stage.on_enter.email_startup.template
            candidates += [_StageEmail(number, event, startup, template, contact)
                           for contact in startup.contacts if contact.email]
        owner = by_id.get(startup.owner_id)
        if stage.on_enter.notify_owner and owner and event.actor_user_id != owner.id:
            candidates.append(_OwnerEmail(number, event, startup, owner))
    return candidates


class _StageEmail(NamedTuple):
    number: int
    event: Event
    startup: StartupPlan
    template: str
    contact: ContactPlan

    def __call__(self) -> Email:
        contact, plan = self.contact, self.event.plan
        german = contact.language == Language.DE
        programme = plan.programme.definition.name(contact.language)
        subject = {
            "programme_accepted": (f"Willkommen im {programme}" if german
                                   else f"Welcome to the {programme}"),
            "landing_support_started": ("Ihre Ansiedlung in Düsseldorf: die nächsten Schritte"
                                        if german
                                        else "Your landing in Düsseldorf: the next steps"),
            "landed": (f"Willkommen in Düsseldorf, {self.startup.name}!" if german
                       else f"Welcome to Düsseldorf, {self.startup.name}!"),
        }.get(self.template, programme)
        return Email(self.event.at, f"stage-email:{self.number}:{contact.id}", contact.email,
                     contact.language.value, subject, f"Hello {contact.name},",
                     f"{self.startup.name} is now at the next step of the {programme}.",
                     self.startup.id, None)


class _OwnerEmail(NamedTuple):
    number: int
    event: Event
    startup: StartupPlan
    owner: StaffMember

    def __call__(self) -> Email:
        stage = self.event.plan.programme.stages[self.event.to_stage]
        return Email(self.event.at, f"stage-owner:{self.number}", self.owner.email,
                     self.owner.locale.value,
                     f"{self.startup.name}: {stage.label(self.owner.locale)}",
                     f"Hello {self.owner.name},",
                     f"{self.startup.name} has entered {stage.label(self.owner.locale)}.",
                     self.startup.id, self.owner.id)


def outbox_rows(rng: Random, emails: list[Email]):
    """Mostly sent; the newest few pending, some recent ones failed and retrying, a few dead."""
    total = len(emails)
    pending_from = total - max(1, round(total * PENDING_SHARE))
    recent = range(max(0, total - total // 10), pending_from)
    failed = set(rng.sample(recent, min(len(recent), round(total * FAILED_SHARE))))
    dead = set(rng.sample(range(pending_from), round(total * DEAD_SHARE))) - failed
    for index, email in enumerate(emails):
        created = stamp(email.created_at)
        text = f"{email.greeting}\n\n{email.text}\n\n{SIGNATURE}\n"
        html = (f'<!doctype html><html lang="{email.locale}"><body><p>{escape(email.greeting)}'
                f"</p><p>{escape(email.text)}</p><p>{escape(SIGNATURE)}</p></body></html>")
        if index >= pending_from:
            status, attempts, next_attempt, error, sent = (
                OutboxStatus.PENDING, 0, created, None, None)
        elif index in failed:
            status, attempts, error = (OutboxStatus.FAILED, rng.randint(1, 4),
                                       rng.choice(RETRYABLE_ERRORS))
            next_attempt, sent = stamp(NOW + rng.randint(1, 360) * MINUTE), None
        elif index in dead:
            status, next_attempt, sent = OutboxStatus.DEAD, None, None
            attempts, error = ((8, rng.choice(RETRYABLE_ERRORS)) if rng.random() < 0.5
                               else (1, rng.choice(PERMANENT_ERRORS)))
        else:
            attempts = rng.choices((1, 2, 3), (92, 6, 2))[0]
            status, next_attempt, error = OutboxStatus.SENT, None, None
            sent = stamp(email.created_at + rng.randint(5, 90) + (attempts - 1) * 2 * MINUTE)
        yield (index + 1, created, sent or created, email.dedupe_key, email.to_address,
               email.locale, email.subject, text, html, status.value, attempts, next_attempt,
               error, sent, email.startup_id, email.user_id)

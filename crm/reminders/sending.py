"""Reminders out as emails: each at once to applicants and to staff who take them one by one,
the rest in one morning digest per person together with their tasks due today and overdue.

A reminder is claimed by setting `delivered_at` with `UPDATE … WHERE delivered_at IS NULL`: of
two sweeps at the same time, the second waits for the first's row locks and then claims
nothing, so no reminder is emailed twice. Its email is queued in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time

from jinja2 import TemplateError
from sqlalchemy import Integer, String, bindparam, cast, exists, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from crm.config import Settings
from crm.core.enums import Language, OutboxStatus, ReminderDelivery, ReminderKind, parse_enum
from crm.db import insert_skipping_duplicates
from crm.intake.drafts import new_resume_link
from crm.outbox.models import OutboxMessage
from crm.outbox.services import (
    TEMPLATE_ERROR_PREFIX,
    RenderedEmail,
    queue_email,
    queue_rendered,
    queued_ids,
    render_email,
)
from crm.reminders.lines import ReminderLine, describe
from crm.reminders.models import Reminder
from crm.startups.models import Task
from crm.users.models import User
from crm.work.queries import DayBounds, grouped_tasks

# Emails written one by one per sweep (1 to 2 ms each): a burst (the first sweep over a large
# database, an import of overdue leads) drains over the next sweeps, 5 minutes apart, and no
# sweep holds its transaction for more than a second or so.
IMMEDIATE_PER_SWEEP = 500
# Someone who takes reminders one by one but has more than this many waiting at once (switching
# reminders on over a full pipeline, a bulk reassignment) gets them in one email instead.
BURST_FROM = 10
CLAIM_BATCH = 500  # a digest's reminders are claimed in batches of this many
DIGEST_FROM = time(7, 0)  # local time from which a sweep sends the day's digests
DIGEST_LIST = 50  # tasks listed per group (overdue, due today) and reminders; then "N more"


@dataclass
class Delivery:
    """One sweep's sending: its session, settings and moment, and what it queued."""

    db: Session
    settings: Settings
    now: datetime
    emails: int = 0
    digests: int = 0
    failed: list[str] = field(default_factory=list)  # keys of messages a template broke

    # One reminder, one email -------------------------------------------------------------

    def send_immediate(self) -> None:
        """Undelivered reminders to applicants and to staff who take them one by one, oldest
        first, up to IMMEDIATE_PER_SWEEP; a person with more than BURST_FROM waiting gets
        theirs in one email."""
        one_by_one = select(User.id).where(User.is_active,
                                           User.reminder_delivery == ReminderDelivery.IMMEDIATE)
        budget = IMMEDIATE_PER_SWEEP - self._send_bursts(one_by_one, IMMEDIATE_PER_SWEEP)
        if budget <= 0:
            return
        reminders = self._claim(or_(Reminder.user_id.is_(None), Reminder.user_id.in_(one_by_one)),
                                budget)
        if not reminders:
            return
        lines = describe(self.db, reminders, self.now, self.settings.base_url)
        recipients = {user.id: user for user in self.db.scalars(select(User).where(
            User.id.in_({r.user_id for r in reminders if r.user_id is not None})))}
        # Rendered one by one, queued together (one INSERT in multi-row batches) in the order
        # of the reminders, as queuing them one by one would; a key queued before is reused.
        queued_before = queued_ids(self.db, [_email_key(r) for r in reminders])
        emails: list[RenderedEmail] = []
        sent: list[tuple[int, int | None]] = []  # (reminder id, message id if queued before)
        unsent = []
        for reminder in reminders:
            line = lines.get(reminder.id)
            if line is None:
                continue  # it no longer holds: nothing to say, and nothing later either
            key = _email_key(reminder)
            email = (self._nudge(line, key in queued_before) if reminder.user_id is None
                     else None if key in queued_before
                     else self._reminder_email(line, recipients[reminder.user_id]))
            if key in queued_before:
                sent.append((reminder.id, queued_before[key]))
            elif email is None:
                unsent.append(reminder.id)
            else:
                emails.append(email)
                sent.append((reminder.id, None))
        new_ids = iter(queue_rendered(self.db, emails))
        queued = [{"id": reminder_id, "outbox_message_id": message_id or next(new_ids)}
                  for reminder_id, message_id in sent]
        if queued:
            self._link_messages(queued)
            self.emails += len(queued)
        if unsent:  # its template failed: the next sweep tries again
            self.db.execute(update(Reminder).where(Reminder.id.in_(unsent))
                            .values(delivered_at=None)
                            .execution_options(synchronize_session=False))

    def _reminder_email(self, line: ReminderLine, user: User) -> RenderedEmail | None:
        key = _email_key(line.reminder)
        try:
            return render_email(
                dedupe_key=key, to_address=user.email, locale=_language(user.locale),
                template="reminders/reminder", context={"user": user, "line": line,
                                                        **self._links()},
                user_id=user.id, startup_id=line.startup.id)
        except TemplateError as error:
            self._record_failure(key, user.email, user.locale, error, user_id=user.id,
                                 startup_id=line.startup.id)
            return None

    def _nudge(self, line: ReminderLine, queued_before: bool) -> RenderedEmail | None:
        """The applicant's nudge with a fresh resume link; the link replaces the one before, so
        it is made in a savepoint that a template error rolls back. (A nudge queued before gets
        the new link too, as it always did, and is not written again: None.)"""
        application = line.application
        key = _email_key(line.reminder)
        try:
            with self.db.begin_nested():
                resume_url = new_resume_link(self.db, application, self.now)
                if queued_before:
                    return None
                return render_email(
                    dedupe_key=key, to_address=application.email,
                    locale=_language(application.locale), template="reminders/application_nudge",
                    context={"programme": line.programme, "resume_url": resume_url,
                             "expires_at": application.link_expires_at,
                             "last_nudge": line.kind == ReminderKind.APPLICATION_NUDGE_7},
                    startup_id=application.startup_id)
        except TemplateError as error:
            self._record_failure(key, application.email, application.locale, error,
                                 startup_id=application.startup_id)
            return None

    def _send_bursts(self, one_by_one, budget: int) -> int:
        """One email to each person who takes reminders one by one and has more than
        BURST_FROM undelivered, listing them (not a mail storm of hundreds); at most `budget`
        reminders a sweep, so a larger burst goes out over the next sweeps, a few emails each.
        How many reminders it took."""
        crowded = self.db.scalars(
            select(Reminder.user_id).where(Reminder.delivered_at.is_(None),
                                           Reminder.user_id.in_(one_by_one))
            .group_by(Reminder.user_id).having(func.count() > BURST_FROM)
            .order_by(Reminder.user_id)).all()
        taken = 0
        for user in self.db.scalars(select(User).where(User.id.in_(crowded))
                                    .order_by(User.id)):
            if taken >= budget:
                break
            taken += self._burst(user, budget - taken)
        return taken

    def _burst(self, user: User, limit: int) -> int:
        try:
            with self.db.begin_nested():
                reminders, lines = self._claim_lines(user.id, limit)
                if not lines:
                    return len(reminders)  # none of them holds any more: nothing to say
                message = queue_email(
                    self.db, dedupe_key=f"reminders:{user.id}:{reminders[0].id}",
                    to_address=user.email, locale=_language(user.locale),
                    template="reminders/batch",
                    context={"user": user, "lines": lines[:DIGEST_LIST], "count": len(lines),
                             "more_lines": len(lines[DIGEST_LIST:]), **self._links()},
                    user_id=user.id)
                self._attach(reminders, message.id)
                self.emails += 1
        except TemplateError as error:  # the savepoint gave the reminders back
            self._record_failure(f"reminders:{user.id}", user.email, user.locale, error,
                                 user_id=user.id)
            return 0
        return len(reminders)

    # The daily digest --------------------------------------------------------------------

    def send_digests(self) -> None:
        """From 07:00 local time, once a day, to each active user with something to say: their
        open tasks due today or overdue and, if they take a digest, their undelivered
        reminders."""
        local = self.now.astimezone(self.settings.tz)
        if local.time() < DIGEST_FROM:
            return
        today = local.date().isoformat()
        bounds = DayBounds.at(self.now, self.settings.tz)
        digest_key = literal("digest:") + cast(User.id, String) + literal(f":{today}")
        has_tasks = exists().where(Task.assignee_id == User.id, Task.done_at.is_(None),
                                   Task.due_at <= bounds.tomorrow)
        has_reminders = ((User.reminder_delivery == ReminderDelivery.DAILY_DIGEST)
                         & exists().where(Reminder.user_id == User.id,
                                          Reminder.delivered_at.is_(None)))
        users = self.db.scalars(select(User).where(
            User.is_active, or_(has_tasks, has_reminders),
            ~exists().where(OutboxMessage.dedupe_key == digest_key)).order_by(User.id)).all()
        for user in users:
            self._digest(user, f"digest:{user.id}:{today}", bounds)

    def _digest(self, user: User, key: str, bounds: DayBounds) -> None:
        try:
            with self.db.begin_nested():
                reminders, lines = (self._claim_lines(user.id)
                                    if user.reminder_delivery == ReminderDelivery.DAILY_DIGEST
                                    else ([], []))
                overdue, due_today = grouped_tasks(self.db, user.id, bounds,
                                                   limit=DIGEST_LIST, groups=2)
                if not (lines or overdue.total or due_today.total):
                    return  # only reminders that no longer hold: no digest
                message = queue_email(
                    self.db, dedupe_key=key, to_address=user.email,
                    locale=_language(user.locale), template="reminders/digest",
                    context={"user": user, "lines": lines[:DIGEST_LIST],
                             "more_lines": len(lines[DIGEST_LIST:]), "overdue": overdue,
                             "due_today": due_today, "day": self.now.astimezone(
                                 self.settings.tz).date(), **self._links()},
                    user_id=user.id)
                self._attach(reminders, message.id)
                self.digests += 1
        except TemplateError as error:  # the savepoint gave the reminders back
            self._record_failure(key, user.email, user.locale, error, user_id=user.id)
        except IntegrityError:
            pass  # a concurrent sweep queued this digest first; ours was rolled back

    # Helpers -----------------------------------------------------------------------------

    def _claim_lines(self, user_id: int, limit: int | None = None,
                     ) -> tuple[list[Reminder], list[ReminderLine]]:
        """A person's undelivered reminders (at most `limit`, else all), claimed in batches,
        and what those that still hold say."""
        reminders: list[Reminder] = []
        while limit is None or len(reminders) < limit:
            size = CLAIM_BATCH if limit is None else min(CLAIM_BATCH, limit - len(reminders))
            batch = self._claim(Reminder.user_id == user_id, size)
            if not batch:
                break
            reminders += batch
        described = describe(self.db, reminders, self.now, self.settings.base_url)
        return reminders, [described[r.id] for r in reminders if r.id in described]

    def _claim(self, whose, limit: int) -> list[Reminder]:
        """Up to `limit` undelivered reminders matching `whose`, oldest first, now marked
        delivered."""
        undelivered = Reminder.delivered_at.is_(None)
        batch = (select(Reminder.id).where(undelivered, whose).order_by(Reminder.id)
                 .limit(limit).scalar_subquery())
        return list(self.db.scalars(
            update(Reminder).where(Reminder.id.in_(batch), undelivered)
            .values(delivered_at=self.now).returning(Reminder)
            .execution_options(synchronize_session=False, populate_existing=True)))

    def _attach(self, reminders: list[Reminder], message_id: int) -> None:
        """The reminders went out in this one message (one UPDATE per batch, not per row)."""
        for start in range(0, len(reminders), CLAIM_BATCH):
            self.db.execute(
                update(Reminder)
                .where(Reminder.id.in_([r.id for r in reminders[start:start + CLAIM_BATCH]]))
                .values(outbox_message_id=message_id)
                .execution_options(synchronize_session=False))

    def _link_messages(self, queued: list[dict[str, int]]) -> None:
        """Each reminder's message id: one executemany (SQLite), or one UPDATE … FROM
        unnest(ids, message ids) on PostgreSQL, where 500 single-row UPDATEs each cost a
        round trip in the pipeline."""
        if self.db.get_bind().dialect.name != "postgresql":
            self.db.execute(update(Reminder), queued)
            return
        pairs = func.unnest(
            bindparam("ids", [row["id"] for row in queued], type_=ARRAY(Integer)),
            bindparam("messages", [row["outbox_message_id"] for row in queued],
                      type_=ARRAY(Integer))).table_valued("id", "message_id").render_derived()
        self.db.execute(update(Reminder).where(Reminder.id == pairs.c.id)
                        .values(outbox_message_id=pairs.c.message_id)
                        .execution_options(synchronize_session=False))

    def _links(self) -> dict[str, str]:
        base_url = self.settings.base_url
        return {"base_url": base_url, "work_url": f"{base_url}/work/",
                "preferences_url": f"{base_url}/account/preferences"}

    def _record_failure(self, dedupe_key: str, to_address: str, locale: str,
                        error: TemplateError, *, user_id: int | None = None,
                        startup_id: int | None = None) -> None:
        """A dead outbox row showing the error on the Outbox page, once per message. The message
        itself stays unsent (its reminders undelivered): it goes out once the template works."""
        self.failed.append(dedupe_key)
        problem = f"template: {type(error).__name__}: {error}"
        self.db.execute(insert_skipping_duplicates(self.db, OutboxMessage).values({
            "dedupe_key": f"{TEMPLATE_ERROR_PREFIX}{dedupe_key}"[:200], "to_address": to_address,
            "locale": _language(locale), "subject": "Not sent: its template failed",
            "body_text": problem, "status": OutboxStatus.DEAD, "next_attempt_at": None,
            "last_error": problem, "user_id": user_id, "startup_id": startup_id,
            "created_at": self.now, "updated_at": self.now,
        }))


def _email_key(reminder: Reminder) -> str:
    return f"reminder:{reminder.dedupe_key}"


def _language(value: str) -> Language:
    return parse_enum(Language, value) or Language.EN

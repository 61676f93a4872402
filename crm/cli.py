"""`crm …` commands: database migrations, users, demo data, the outbox."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from crm.config import load_settings_or_exit
from crm.core.enums import Role


def _create_app():
    from crm import create_app

    return create_app(load_settings_or_exit())


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True)
def cli() -> None:
    """Landing Desk administration."""


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from crm.migrate import upgrade

    upgrade(revision)
    click.echo(f"database at revision {revision}")


@db.command("check")
def db_check() -> None:
    """Fail if the models and the migrations differ."""
    from crm.migrate import check

    check()
    click.echo("no drift between models and migrations")


@cli.group()
def users() -> None:
    """Staff accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([role.value for role in Role]), default="admin",
              show_default=True)
@click.password_option(help="Prompted for when omitted (at least 12 characters).")
def users_create(email: str, name: str, role: str, password: str) -> None:
    """Create a staff account that can log in at once."""
    from crm.db import unit_of_work
    from crm.users.passwords import MIN_PASSWORD_LENGTH, is_guessable
    from crm.users.services import AccountError, create_user

    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.BadParameter(f"at least {MIN_PASSWORD_LENGTH} characters",
                                 param_hint="password")
    if is_guessable(password, (email, name)):
        raise click.BadParameter("too easy to guess (a common password, a word, a name, a date "
                                 "or a keyboard pattern): a few unrelated words make a strong one",
                                 param_hint="password")
    try:
        with unit_of_work() as session:
            user = create_user(session, email=email, name=name, role=Role(role),
                               password=password)
    except AccountError as error:
        raise click.ClickException(str(error.message)) from None
    click.echo(f"created user #{user.id} with role {role}")


@users.command("unlock")
@click.option("--email", required=True)
@click.option("--reset-two-factor", is_flag=True,
              help="Also turn two-factor off, for someone without their phone or codes.")
def users_unlock(email: str, reset_two_factor: bool) -> None:
    """Lift an account's lock after failed sign-ins (for when no administrator can log in)."""
    from crm.core import audit
    from crm.db import unit_of_work
    from crm.users import lockout, two_factor
    from crm.users.services import end_sessions, find_by_email

    with unit_of_work() as session:
        user = find_by_email(session, email)
        if user is None:
            raise click.ClickException("no account has this email address")
        lockout.clear(user)
        audit.record(session, "user.unlocked", object_type="user", object_id=user.id,
                     via="command line")
        if reset_two_factor:
            two_factor.forget(session, user)
            end_sessions(session, user)
            audit.record(session, "user.two_factor_disabled", object_type="user",
                         object_id=user.id, via="command line")
    click.echo(f"user #{user.id} unlocked" + (", two-factor off" if reset_two_factor else ""))


@cli.group()
def programmes() -> None:
    """Programme definitions."""


@programmes.command("load")
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False))
def programmes_load(directory: str | None) -> None:
    """Load the definitions (default: crm/programmes/definitions); changed ones get a version."""
    from pathlib import Path

    from crm.db import unit_of_work
    from crm.programmes.services import DEFINITIONS_DIR, load_directory
    from crm.workflow.definitions import DefinitionError

    try:
        with unit_of_work() as session:
            results = load_directory(session, Path(directory) if directory else DEFINITIONS_DIR)
    except DefinitionError as error:
        for where, what in error.problems:
            click.echo(f"{error.source}: {where}: {what}", err=True)
        raise click.ClickException("nothing was loaded") from None
    for result in results:
        state = "new version" if result.changed else "unchanged"
        click.echo(f"{result.programme.key}: version {result.version.number} ({state})")


@cli.group()
def outbox() -> None:
    """Outgoing emails."""


@outbox.command("deliver")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1),
              help="Send at most this many emails.")
def outbox_deliver(limit: int) -> None:
    """Send the emails that are due now over SMTP_URL (what the worker does every minute)."""
    from flask import current_app

    from crm.db import unit_of_work
    from crm.outbox.delivery import deliver_due

    settings = current_app.config["SETTINGS"]
    if not settings.smtp_url:
        click.echo("SMTP_URL is not set: emails stay in the outbox", err=True)
    with unit_of_work() as session:
        result = deliver_due(session, settings, limit=limit)
    click.echo(result)


@outbox.command("status")
def outbox_status() -> None:
    """Count the emails in each status; say how long the oldest due one has waited."""
    from crm.core.clock import utcnow
    from crm.core.enums import OutboxStatus
    from crm.db import get_session
    from crm.outbox.queries import outbox_summary

    now = utcnow()
    summary = outbox_summary(get_session(), now, count_sent=True)
    for status in OutboxStatus:
        click.echo(f"{status.value:<8} {summary.count(status)}")
    if summary.oldest_due_at is None:
        click.echo("oldest due: none")
    else:
        click.echo(f"oldest due: waiting {int((now - summary.oldest_due_at).total_seconds())} s")


@cli.group()
def demo() -> None:
    """Demo data."""


@demo.command("load")
def demo_load() -> None:
    """Load the demo programmes, users and startups (running it again changes nothing)."""
    from crm.db import unit_of_work
    from crm.demo.loader import load_demo_data

    with unit_of_work() as session:
        summary = load_demo_data(session)
    click.echo(summary)


@demo.command("logins", with_appcontext=False)
def demo_logins() -> None:
    """Print the demo users' logins as a table (needs no database)."""
    from crm.demo.data import DEMO_PASSWORD, DEMO_USERS

    rows = [("email", "role", "password")]
    rows += [(user.email, user.role.value, DEMO_PASSWORD) for user in DEMO_USERS]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


def _add_domain_commands() -> None:
    """Command groups that live with their domain."""
    from crm.api.commands import api
    from crm.reminders.commands import reminders
    from crm.reports.commands import report

    cli.add_command(api)
    cli.add_command(reminders)
    cli.add_command(report)


_add_domain_commands()

"""`crm reminders …`: run the reminder sweep by hand (the beat runs it every 5 minutes)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup


@click.group(cls=AppGroup)
def reminders() -> None:
    """Reminders and daily digests."""


@reminders.command("sweep")
def sweep_command() -> None:
    """Write the reminders due now and queue their emails and the digests, once each."""
    from crm.core.clock import utcnow
    from crm.db import unit_of_work
    from crm.reminders.sweep import sweep

    with unit_of_work() as db:
        result = sweep(db, current_app.config["SETTINGS"], utcnow())
    click.echo(str(result))

"""`crm api token`: an API token from the command line (a service account for the city's website
forms, a first token on a new installation). `crm openapi` (flask-openapi3's) writes the OpenAPI
document."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from crm.api import tokens


@click.group(cls=AppGroup)
def api() -> None:
    """The JSON API at /api/v1."""


@api.command("token")
@click.option("--email", required=True, help="The staff account the token acts as.")
@click.option("--name", required=True, help="What the token is for, e.g. 'city website forms'.")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(tokens.SCOPES),
              default=[tokens.READ], show_default=True)
@click.option("--days", type=click.Choice([str(days) for days in tokens.EXPIRY_DAYS]),
              default="90", show_default=True)
def token_command(email: str, name: str, scopes: tuple[str, ...], days: str) -> None:
    """Create a token and print it once (it is not kept: only its hash is)."""
    from crm.db import unit_of_work
    from crm.users.services import find_by_email

    with unit_of_work() as db:
        user = find_by_email(db, email)
        if user is None or not user.is_active:
            raise click.ClickException("no active account has this email address")
        try:
            token, secret = tokens.create_token(db, user, name=name, scopes=list(scopes),
                                                days=int(days))
        except tokens.TokenRefused as refused:
            raise click.ClickException(str(refused)) from None
    click.echo(f"token {token.prefix}… ({token.scopes}) for user #{user.id}, "
               f"expires {token.expires_at:%Y-%m-%d}; shown once:", err=True)
    click.echo(secret)

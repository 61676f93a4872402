"""`crm api token`: a token made on the command line works against the API, once printed."""

from __future__ import annotations

from crm.cli import cli
from crm.core.enums import Role


def test_a_token_from_the_command_line_reads_and_writes(app, make_user):
    user = make_user(Role.MANAGER, email="website@desk.example")
    result = app.test_cli_runner().invoke(
        cli, ["api", "token", "--email", "website@desk.example", "--name", "city website",
              "--scope", "read", "--scope", "write", "--days", "30"])

    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("ldt_") and "\n" not in secret
    assert f"for user #{user.id}" in result.stderr and secret not in result.stderr
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/startups", headers=headers).status_code == 200
    created = client.post("/api/v1/startups", headers=headers,
                          json={"name": "Osaka Mobility", "country": "JP"})
    assert created.status_code == 201, created.get_data(as_text=True)


def test_a_viewer_gets_no_write_token_and_an_unknown_address_none(app, make_user):
    make_user(Role.VIEWER, email="viewer@desk.example")
    runner = app.test_cli_runner()

    refused = runner.invoke(cli, ["api", "token", "--email", "viewer@desk.example", "--name",
                                  "bi", "--scope", "write"])
    unknown = runner.invoke(cli, ["api", "token", "--email", "nobody@desk.example", "--name",
                                  "bi"])

    assert refused.exit_code != 0 and "read only" in refused.stderr
    assert unknown.exit_code != 0 and "no active account" in unknown.stderr
    assert "ldt_" not in refused.stdout + unknown.stdout

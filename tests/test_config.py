"""Settings from the environment: unsafe production set-ups and bad values are refused in one
readable line that names the setting, from Python and from the `crm` command."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from crm.config import (
    DEV_SECRET_KEY,
    ConfigurationError,
    Environment,
    Settings,
    load_settings,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CRM_COMMAND = PROJECT_ROOT / ".venv" / "bin" / "crm"
STRONG_SECRET = "s" * 48
POSTGRES = "postgresql+psycopg://desk@db.internal/desk"
REDIS = "redis://cache.internal:6379/0"
SETTING_NAMES = {name.upper() for name in Settings.model_fields}


def clean_environment() -> dict[str, str]:
    """This process's environment without any of our settings (in any letter case)."""
    return {key: value for key, value in os.environ.items()
            if key.upper() not in SETTING_NAMES}


@pytest.fixture(autouse=True)
def environment(monkeypatch):
    """Start every test from no settings in the environment; tests set what they need."""
    for key in os.environ:
        if key.upper() in SETTING_NAMES:
            monkeypatch.delenv(key)
    return monkeypatch


def refusal(**environment_values: str) -> str:
    """The one-line message load_settings() gives for this environment."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in environment_values.items():
            patch.setenv(key, value)
        with pytest.raises(ConfigurationError) as refused:
            load_settings()
    message = str(refused.value)
    assert "\n" not in message, message
    return message


# --- defaults -----------------------------------------------------------------------------------


def test_development_runs_with_no_configuration_at_all():
    settings = load_settings()

    assert settings.env is Environment.DEVELOPMENT
    assert settings.is_sqlite and settings.uses_filesystem_broker
    assert settings.secret_key == DEV_SECRET_KEY
    assert settings.effective_ratelimit_storage_url == "memory://"
    assert not settings.uses_https


def test_settings_come_from_the_environment(environment):
    environment.setenv("ENV", "production")
    environment.setenv("SECRET_KEY", STRONG_SECRET)
    environment.setenv("DATABASE_URL", POSTGRES)
    environment.setenv("CELERY_BROKER_URL", REDIS)
    environment.setenv("BASE_URL", "https://desk.example/")
    environment.setenv("TIMEZONE", "Europe/Berlin")

    settings = load_settings()

    assert settings.env is Environment.PRODUCTION
    assert settings.database_url == POSTGRES
    assert settings.base_url == "https://desk.example"  # trailing slash dropped
    assert settings.uses_https
    assert settings.effective_ratelimit_storage_url == REDIS  # limits shared via Redis
    assert str(settings.tz) == "Europe/Berlin"


def test_explicit_overrides_win_over_the_environment(environment):
    environment.setenv("TIMEZONE", "Mars/Olympus_Mons")

    assert load_settings(timezone="Asia/Seoul").timezone == "Asia/Seoul"


# --- production refuses unsafe settings ---------------------------------------------------------


SAFE_PRODUCTION = {"ENV": "production", "SECRET_KEY": STRONG_SECRET, "DATABASE_URL": POSTGRES,
                   "CELERY_BROKER_URL": REDIS}


def test_a_safe_production_configuration_loads():
    with pytest.MonkeyPatch.context() as patch:
        for key, value in SAFE_PRODUCTION.items():
            patch.setenv(key, value)
        settings = load_settings()

    assert settings.env is Environment.PRODUCTION


@pytest.mark.parametrize(("changes", "setting"), [
    ({"SECRET_KEY": None}, "SECRET_KEY"),
    ({"SECRET_KEY": DEV_SECRET_KEY}, "SECRET_KEY"),
    ({"SECRET_KEY": "too-short-a-secret"}, "SECRET_KEY"),
    ({"DATABASE_URL": None}, "DATABASE_URL"),
    ({"DATABASE_URL": "sqlite:////srv/desk.db"}, "DATABASE_URL"),
    ({"CELERY_BROKER_URL": None}, "CELERY_BROKER_URL"),
    ({"CELERY_BROKER_URL": "filesystem://"}, "CELERY_BROKER_URL"),
    ({"RATELIMIT_STORAGE_URL": "memory://"}, "RATELIMIT_STORAGE_URL"),
])
def test_production_refuses_an_unsafe_setting_and_names_it(changes, setting):
    values = {key: value for key, value in {**SAFE_PRODUCTION, **changes}.items() if value}

    message = refusal(**values)

    assert message.startswith(f"{setting}: "), message


def test_production_names_the_secret_key_first_when_everything_is_default():
    message = refusal(ENV="production")

    assert message == ("SECRET_KEY: set a random secret of at least 32 characters "
                       "in production")


def test_the_error_message_never_shows_the_secret():
    message = refusal(ENV="production", SECRET_KEY="hunter2-short")

    assert "hunter2" not in message


@pytest.mark.parametrize("env", ["development", "test"])
def test_defaults_are_accepted_outside_production(env):
    assert load_settings(env=env).secret_key == DEV_SECRET_KEY


# --- bad values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "value", "wording"), [
    ("TIMEZONE", "Mars/Olympus_Mons", "unknown time zone 'Mars/Olympus_Mons'"),
    ("TIMEZONE", "../../etc/passwd", "unknown time zone"),
    ("BASE_URL", "desk.example", "must start with http:// or https://"),
    ("BASE_URL", "ftp://desk.example", "must start with http:// or https://"),
    ("ENV", "staging", "'development', 'test' or 'production'"),
])
def test_a_bad_value_gives_one_line_naming_the_setting(name, value, wording):
    message = refusal(**{name: value})

    assert message.startswith(f"{name}: "), message
    assert wording in message
    assert "pydantic" not in message and "validation error" not in message


def test_only_the_first_of_several_bad_values_is_reported():
    message = refusal(TIMEZONE="Nowhere/Land", BASE_URL="desk.example")

    assert message.split(":")[0] in {"TIMEZONE", "BASE_URL"}


# --- the `crm` command ---------------------------------------------------------------------------


def run_crm(*arguments: str, **environment_values: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CRM_COMMAND), *arguments],
        env={**clean_environment(), **environment_values},
        capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT,
    )


@pytest.mark.skipif(not CRM_COMMAND.exists(), reason="the crm command is not installed")
def test_crm_command_prints_one_line_and_exits_2_on_unsafe_production_settings():
    result = run_crm("db", "check", ENV="production")

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("Configuration error: SECRET_KEY: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.skipif(not CRM_COMMAND.exists(), reason="the crm command is not installed")
def test_crm_command_names_the_database_url_once_the_secret_is_set():
    result = run_crm("users", "create", "--email", "a@desk.example", "--name", "A",
                     "--password", "x" * 20, ENV="production", SECRET_KEY=STRONG_SECRET)

    assert result.returncode == 2
    assert result.stderr.startswith("Configuration error: DATABASE_URL: ")
    assert "Traceback" not in result.stderr



def test_create_app_refuses_unsafe_production_settings_given_directly():
    from crm import create_app

    unsafe = Settings(env=Environment.PRODUCTION, database_url=POSTGRES,
                      celery_broker_url=REDIS, secret_key=DEV_SECRET_KEY)
    with pytest.raises(ConfigurationError, match=r"^SECRET_KEY: "):
        create_app(unsafe)

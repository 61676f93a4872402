"""Typed settings read once from the environment; refuses unsafe production set-ups."""

from __future__ import annotations

import sys
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm.outbox.smtp import parse_smtp_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"
DEV_SECRET_KEY = "dev-only-secret-key-not-for-production"  # noqa: S105 - refused in production


class ConfigurationError(RuntimeError):
    """A setting is missing or unsafe; the message names the setting in one line."""


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    env: Environment = Environment.DEVELOPMENT
    database_url: str = f"sqlite:///{VAR_DIR / 'landing-desk.db'}"
    celery_broker_url: str = "filesystem://"
    broker_folder: Path = VAR_DIR / "broker"
    upload_folder: Path = VAR_DIR / "uploads"  # evidence files, outside the static folder
    celery_queue: str = "landing-desk"
    smtp_url: str | None = None  # unset: emails stay in the outbox (crm/outbox/smtp.py: forms)
    mail_from: str = "Landing Desk <landing-desk@localhost>"
    outbox_max_attempts: int = Field(default=8, ge=1)  # then an email is given up as dead
    # The first retry waits this long, each next one twice as long (capped at 6 hours).
    outbox_retry_base_seconds: float = Field(default=60.0, gt=0)
    # A message claimed by a worker that then died is claimed again after this long.
    outbox_claim_seconds: int = Field(default=600, ge=5)
    secret_key: str = DEV_SECRET_KEY
    base_url: str = "http://127.0.0.1:5000"
    timezone: str = "Europe/Berlin"
    ratelimit_storage_url: str | None = None
    # Pages kept per user this long at most, dropped at once when data changes (0: off).
    page_cache_seconds: int = Field(default=60, ge=0)
    page_cache_url: str | None = None  # redis://…; unset: the broker's Redis, else the folder
    page_cache_folder: Path = VAR_DIR / "page-cache"
    login_rate_limit: str = "10 per minute;60 per hour"
    # A staff session ends after this long without a request, and this long after sign-in.
    session_idle_minutes: int = Field(default=30, ge=1)
    session_max_hours: int = Field(default=12, ge=1)
    # Per IP, on starting an application, asking for a link and submitting.
    intake_rate_limit: str = "5 per minute;30 per hour"
    # Per API token (per IP for requests without one).
    api_rate_limit: str = "300 per minute;10000 per hour"
    # Retention (crm/gdpr/retention.py): unsubmitted drafts untouched this long are deleted;
    # documents of withdrawn or rejected applications and enrollments this long after closing;
    # audit events (they hold IP addresses) this long after they happened; list exports this
    # long after they were asked for.
    retention_draft_days: int = Field(default=90, ge=1)
    retention_rejected_documents_days: int = Field(default=180, ge=1)
    audit_retention_days: int = Field(default=730, ge=1)
    retention_export_days: int = Field(default=14, ge=1)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @field_validator("smtp_url")
    @classmethod
    def _usable_smtp_url(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        parse_smtp_url(value)
        return value

    @field_validator("base_url")
    @classmethod
    def _absolute_base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def uses_filesystem_broker(self) -> bool:
        return self.celery_broker_url.startswith("filesystem")

    @property
    def uses_https(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def broker_transport_options(self) -> dict:
        if self.uses_filesystem_broker:
            queue = str(self.broker_folder / "queue")
            return {
                "data_folder_in": queue,
                "data_folder_out": queue,
                "processed_folder": str(self.broker_folder / "processed"),
                "store_processed": False,
                "control_folder": str(self.broker_folder / "control"),
            }
        # Redis re-delivers unacknowledged messages after this; tasks are short and idempotent.
        return {"visibility_timeout": 3600}

    @cached_property
    def effective_ratelimit_storage_url(self) -> str:
        """Rate-limit counters live in Redis whenever Redis is configured."""
        if self.ratelimit_storage_url:
            return self.ratelimit_storage_url
        if self.celery_broker_url.startswith(("redis://", "rediss://")):
            return self.celery_broker_url
        return "memory://"

    @cached_property
    def effective_page_cache_url(self) -> str | None:
        """The Redis that keeps pages, or None for the folder (the one-command run)."""
        if self.page_cache_url:
            return self.page_cache_url
        if self.celery_broker_url.startswith(("redis://", "rediss://")):
            return self.celery_broker_url
        return None

    def check_production_safety(self) -> None:
        """Raise ConfigurationError naming the first unsafe setting in production."""
        if self.env is not Environment.PRODUCTION:
            return
        if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32:
            raise ConfigurationError(
                "SECRET_KEY: set a random secret of at least 32 characters in production"
            )
        if self.is_sqlite:
            raise ConfigurationError(
                "DATABASE_URL: production needs PostgreSQL (postgresql+psycopg://...), not SQLite"
            )
        if self.uses_filesystem_broker:
            raise ConfigurationError(
                "CELERY_BROKER_URL: production needs Redis (redis://...), "
                "not the filesystem broker"
            )
        if self.effective_ratelimit_storage_url.startswith("memory"):
            raise ConfigurationError(
                "RATELIMIT_STORAGE_URL: production needs shared storage (redis://...)"
            )


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (overrides win) or raise one readable error."""
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise ConfigurationError(f"{name}: {first['msg']}") from None
    settings.check_production_safety()
    return settings


def load_settings_or_exit() -> Settings:
    """For process entry points: the settings, or exit with one line naming the setting."""
    try:
        return load_settings()
    except ConfigurationError as error:
        sys.stderr.write(f"Configuration error: {error}\n")
        raise SystemExit(2) from None

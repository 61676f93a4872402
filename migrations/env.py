"""Alembic environment: the URL from crm's settings, the metadata from crm.models."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from crm.config import load_settings
from crm.db import build_engine
from crm.models import metadata

config = context.config
if config.config_file_name and not config.attributes.get("skip_logging_config"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    return config.attributes.get("database_url") or load_settings().database_url


def _render_item(type_, obj, autogen_context):
    """Render our own column types by their import path."""
    if type_ == "type" and obj.__class__.__module__.startswith("crm."):
        autogen_context.imports.add(f"import {obj.__class__.__module__}")
        return f"{obj.__class__.__module__}.{obj.__class__.__name__}()"
    return False


def run_migrations_offline() -> None:
    context.configure(url=_database_url(), target_metadata=metadata, literal_binds=True,
                      render_item=_render_item, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = build_engine(_database_url())
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Batch migrations copy and drop tables that others reference; SQLite checks the
            # references only while foreign keys are on (they are, for the app's connections).
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_item=_render_item,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

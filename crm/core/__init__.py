"""Shared building blocks: clock, column types, enums, audit, errors, email rendering."""

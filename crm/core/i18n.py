"""Language and time zone of the current user: EN/DE, dates shown in the desk's zone."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import format_date, format_datetime, get_locale
from flask_login import current_user

from crm.core.enums import LANGUAGE_LABELS, Language
from crm.extensions import babel

SUPPORTED_LOCALES = [language.value for language in Language]


def select_locale() -> str:
    """The user's saved choice, then this browser's choice, then Accept-Language."""
    if not has_request_context():  # commands and tasks: English unless force_locale says
        return Language.EN.value
    if current_user and current_user.is_authenticated:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in SUPPORTED_LOCALES:
        return chosen
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or Language.EN.value


def select_timezone() -> str:
    return current_app.config["SETTINGS"].timezone


def init_app(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(app.root_path + "/translations")
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.filters["datetime"] = _format_datetime
    app.jinja_env.filters["date"] = _format_date
    app.jinja_env.filters["country"] = country_name
    app.jinja_env.globals["LANGUAGE_LABELS"] = LANGUAGE_LABELS


def country_name(code: str | None) -> str:
    """The country's name in the user's language, from its ISO 3166 code ("IN" → "Indien")."""
    if not code:
        return "—"
    return get_locale().territories.get(code.upper(), code)


def _format_datetime(value: datetime | None, format: str = "medium") -> str:
    return format_datetime(value, format) if value else "—"


def _format_date(value: datetime | None, format: str = "medium") -> str:
    return format_date(value, format) if value else "—"

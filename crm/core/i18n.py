"""Language and time zone of the current user: EN/DE, dates shown in the desk's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import dates
from flask import Flask, current_app, g, has_app_context, has_request_context, request, session
from flask_babel import get_locale, get_translations
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
    app.jinja_env.install_gettext_callables(
        gettext=lambda text: _translations().ugettext(text),
        ngettext=lambda singular, plural, n: _translations().ungettext(singular, plural, n),
        pgettext=lambda context, text: _translations().upgettext(context, text),
        npgettext=lambda context, singular, plural, n: _translations().unpgettext(
            context, singular, plural, n),
        newstyle=True,
    )
    app.jinja_env.filters["datetime"] = _format_datetime
    app.jinja_env.filters["date"] = _format_date
    app.jinja_env.filters["country"] = country_name
    app.jinja_env.globals["LANGUAGE_LABELS"] = LANGUAGE_LABELS


def _translations():
    """The current locale's translations for templates, looked up once per request rather
    than once per string (flask-babel's own callables take ~30 µs a string, a list page has
    over a hundred). Kept in the slot of flask-babel's context that its `force_locale` and
    `refresh` reset, so a change of language mid-request is still followed."""
    if not has_app_context():
        return get_translations()
    context = getattr(g, "_flask_babel", None)
    translations = getattr(context, "babel_translations", None)
    if translations is None:
        translations = get_translations()  # creates g._flask_babel
        g._flask_babel.babel_translations = translations
    return translations


def country_name(code: str | None) -> str:
    """The country's name in the user's language, from its ISO 3166 code ("IN" → "Indien")."""
    if not code:
        return "—"
    return get_locale().territories.get(code.upper(), code)


def _format_datetime(value: datetime | None, format: str = "medium") -> str:
    """A moment in the desk's time zone, in the user's language (Babel's formats)."""
    if not value:
        return "—"
    return dates.format_datetime(_aware(value), format, tzinfo=_desk_zone(),
                                 locale=get_locale())


def _format_date(value: datetime | date | None, format: str = "medium") -> str:
    """A moment's day in the desk's time zone (or a day), in the user's language."""
    if not value:
        return "—"
    if isinstance(value, datetime):
        value = _aware(value).astimezone(_desk_zone()).date()
    return _day_text(value, str(get_locale()), format)


@lru_cache(maxsize=4096)
def _day_text(day: date, locale: str, format: str) -> str:
    """Days repeat on every page (due today, created this week): formatted once each."""
    return dates.format_date(day, format, locale=locale)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _desk_zone() -> ZoneInfo:
    return _zone(current_app.config["SETTINGS"].timezone)


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)

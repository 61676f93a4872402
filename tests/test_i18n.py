"""Every UI string is translatable and translated to German; pages follow the chosen language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from crm.config import PROJECT_ROOT
from tests.conftest import csrf_token

GERMAN_CATALOG = PROJECT_ROOT / "crm" / "translations" / "de" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _source_messages() -> set:
    with open(PROJECT_ROOT / "babel.cfg") as config:
        method_map, options_map = parse_mapping_cfg(config)
    return {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(PROJECT_ROOT), method_map, options_map, keywords=KEYWORDS
        )
    }


@pytest.fixture(scope="module")
def german():
    with open(GERMAN_CATALOG, "rb") as catalog_file:
        return read_po(catalog_file)


def test_every_ui_string_has_a_german_translation(german):
    untranslated = []
    for message in _source_messages():
        entry = german.get(message[0] if isinstance(message, tuple) else message)
        strings = entry.string if entry else None
        complete = bool(strings) and (not isinstance(strings, tuple) or all(strings))
        if not complete or entry.fuzzy:
            untranslated.append(message)
    assert not untranslated, f"add German translations (make translations-update): {untranslated}"


def test_german_translations_keep_every_placeholder(german):
    for entry in german:
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == wanted, entry.id


def test_login_page_follows_accept_language(client):
    german_page = client.get("/login", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert "Bei Landing Desk anmelden" in german_page.get_data(as_text=True)
    assert 'lang="de"' in german_page.get_data(as_text=True)
    english_page = client.get("/login", headers={"Accept-Language": "en-IN,en;q=0.9"})
    assert "Log in to Landing Desk" in english_page.get_data(as_text=True)


def test_switching_language_is_remembered_and_validation_messages_follow(client):
    response = client.post("/locale", data={"locale": "de", "next": "/login",
                                            "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    page = client.post("/login", data={"email": "", "password": "",
                                       "csrf_token": csrf_token(client)})
    text = page.get_data(as_text=True)
    assert "Bei Landing Desk anmelden" in text
    assert "Dieses Feld wird benötigt." in text  # WTForms' own German messages


def test_catalogue_file_is_the_compiled_one():
    compiled = Path(GERMAN_CATALOG).with_suffix(".mo")
    assert compiled.exists(), "run `make install` to compile the catalogue"
    assert compiled.stat().st_mtime >= Path(GERMAN_CATALOG).stat().st_mtime


def test_dates_are_shown_in_berlin_time(app):
    from datetime import UTC, datetime

    render = app.jinja_env.filters["datetime"]
    with app.test_request_context(headers={"Accept-Language": "de"}):
        assert "12:00" in render(datetime(2026, 7, 1, 10, 0, tzinfo=UTC), "short")  # CEST
        assert "11:00" in render(datetime(2026, 1, 15, 10, 0, tzinfo=UTC), "short")  # CET
        assert render(None) == "—"


def test_language_chosen_on_the_login_page_survives_login(client, make_user, db):
    from crm.users.models import User
    from tests.conftest import fresh, login

    user = make_user()
    assert user.locale == "en"
    client.post("/locale", data={"locale": "de", "next": "/login",
                                 "csrf_token": csrf_token(client)})
    assert login(client, user.email).status_code == 302
    assert "Abmelden" in client.get("/tasks/").get_data(as_text=True)
    assert fresh(db).get(User, user.id).locale == "de"


def test_country_names_follow_the_language(app):
    render = app.jinja_env.filters["country"]
    with app.test_request_context(headers={"Accept-Language": "de"}):
        assert render("IN") == "Indien"
        assert render("kr") == "Südkorea"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert render("JP") == "Japan"
        assert render(None) == "—"

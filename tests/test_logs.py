"""Logs cannot be forged by what people type, and hold no personal data: the messages our code
logs over a failed login, a search, an application and an import are checked line by line."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest

from crm.core import logs
from crm.core.enums import Role
from tests.conftest import login
from tests.test_imports import check_file, run_now
from tests.test_intake import APPLICANT, COMPANY, PEOPLE, fill_in, submit
from tests.test_intake import programme as programme  # noqa: PLC0414 - the fixture, reused

FORGED = "CRITICAL crm: admin@desk.example granted all rights"
#: A record's first line as the capture formats it; a forged line would not start this way.
LINE = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything the app's and the workers' loggers write, at every level, as text."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger(name) for name in ("crm", "workers")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield stream
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def record_lines(text: str) -> list[str]:
    """The lines that start a record (traceback lines follow them, indented or named)."""
    return [line for line in text.splitlines() if LINE.match(line)]


# Escaping --------------------------------------------------------------------------------------


def test_a_newline_in_a_logged_value_stays_on_its_line(app, captured):
    log = logging.getLogger("crm.test")
    log.warning("search for %r and %s", "x\r\nINFO crm: y", f"a\n{FORGED}\x1b[2J\u2028z\x85")
    log.info("plain %d", 3)
    lines = captured.getvalue().splitlines()
    assert lines == [
        "WARNING crm.test: search for 'x\\r\\nINFO crm: y' and "
        f"a\\n{FORGED}\\x1b[2J\\u2028z\\x85",
        "INFO crm.test: plain 3"]


def test_an_exception_is_logged_with_its_stack_but_not_its_message(app, captured):
    log = logging.getLogger("crm.test")
    address = "".join(["ja", "na@example.com"])  # not in the source lines the stack shows
    try:
        try:
            raise KeyError(address)
        except KeyError as error:
            raise ValueError(f"Key (email)=({address}) already exists.") from error
    except ValueError:
        log.exception("saving failed")
    text = captured.getvalue()
    assert "jana" not in text
    assert "ValueError (message left out)" in text and "KeyError (message left out)" in text
    assert "test_logs.py" in text and "raise ValueError" in text  # where it happened


# Through the app -------------------------------------------------------------------------------


def test_typed_newlines_forge_no_line_and_no_personal_data_is_logged(
        app, client, client_as, make_user, captured):
    jana = make_user(Role.BD_MANAGER, name="Jana Novakova", email="jana.novakova@desk.example")
    typed = f"jana.novakova@desk.example\n{FORGED}"
    assert login(client, typed, "wrong password\nINFO crm: ok").status_code == 200
    assert login(client, jana.email, "not her password").status_code == 200
    bd, _user = client_as(Role.BD_MANAGER)
    assert bd.get("/", query_string={"q": f"Novakova\n{FORGED}"}).status_code == 200
    assert bd.get("/startups/%0aCRITICAL%20forged").status_code == 404
    text = captured.getvalue()
    assert "crm.access: POST users.login 200" in text  # the access log did write
    for line in text.splitlines():
        assert LINE.match(line), f"a line no record started: {line!r}"
    for personal in ("jana", "novakova", "Novakova", "desk.example", "wrong password"):
        assert personal not in text


def test_an_application_logs_nothing_personal(client, db, programme, captured):
    fill_in(client, programme)
    assert submit(client, programme).status_code == 302
    text = captured.getvalue()
    assert record_lines(text), "nothing was logged: the capture does not work"
    for personal in (APPLICANT, PEOPLE["people-0-name"], PEOPLE["people-0-phone"],
                     "2345 6789", COMPANY["name"], "bengaluru"):
        assert personal.lower() not in text.lower()


def test_an_import_logs_nothing_personal(app, db, client_as, monkeypatch, captured):
    client, _user = client_as(Role.BD_MANAGER)
    content = ("Name,Country,Contact name,Contact email,Phone\n"
               "Müller Robotik GmbH,DE,Jürgen Müller,jm@mueller-robotik.de,+49 211 123456\n"
               "Broken Row,XX,Anna Schmidt,not-an-email,\n").encode()
    job_id = check_file(client, content=content, filename="leads.csv")
    run_now(app, client, job_id, monkeypatch)
    text = captured.getvalue()
    assert record_lines(text)
    for personal in ("Müller", "Jürgen", "mueller-robotik", "Anna", "Schmidt", "211 123456"):
        assert personal not in text


def test_escaping_is_installed_for_the_whole_process(app):
    assert logging.getLogRecordFactory() is logs.EscapedLogRecord
    record = logging.getLogger("some.library").makeRecord(
        "some.library", logging.INFO, __file__, 1, "%s", ("a\nb",), None)
    assert record.getMessage() == "a\\nb"

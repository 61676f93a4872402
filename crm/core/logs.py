"""Logging that cannot be forged or leak: every record's message has its line breaks and other
control characters escaped (a newline typed into a form cannot start a fake log line); a logged
exception keeps its type and stack but not its message (a database error quotes the values it
refused: names, addresses); the access log names the endpoint and record ids, never the
address's query string (search terms) or its tokens (reset and resume links)."""

from __future__ import annotations

import logging
import re
import time
import traceback

from flask import Flask, Response, g, request
from sqlalchemy import inspect

access_log = logging.getLogger("crm.access")

#: C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """`text` on one line: CR, LF, tab and other control characters as escapes."""
    return _CONTROL.sub(lambda found: _NAMED.get(found.group()) or
                        (f"\\x{ord(found.group()):02x}" if ord(found.group()) < 0x100
                         else f"\\u{ord(found.group()):04x}"), text)


def traceback_without_messages(error: BaseException) -> str:
    """The traceback as Python prints it, each exception's message left out."""
    return "".join(_trace(traceback.TracebackException.from_exception(error))).rstrip("\n")


def _trace(exception: traceback.TracebackException) -> list[str]:
    lines = []
    if exception.__cause__ is not None:
        lines += [*_trace(exception.__cause__), "\nThe above exception was the direct cause of "
                  "the following exception:\n\n"]
    elif exception.__context__ is not None and not exception.__suppress_context__:
        lines += [*_trace(exception.__context__), "\nDuring handling of the above exception, "
                  "another exception occurred:\n\n"]
    if exception.stack:
        lines += ["Traceback (most recent call last):\n", *exception.stack.format()]
    name = exception.exc_type.__qualname__ if exception.exc_type else "Exception"
    return [*lines, f"{name} (message left out)\n"]


class EscapedLogRecord(logging.LogRecord):
    """A record whose message (format and arguments, as formatted) is escaped and whose
    exception is told without its message."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.exc_info and self.exc_info[1] is not None:
            self.exc_text = traceback_without_messages(self.exc_info[1])

    def getMessage(self) -> str:  # noqa: N802 - logging's name
        return escape_controls(super().getMessage())


def install() -> None:
    """Make every record of this process (app, workers, libraries) an EscapedLogRecord."""
    if logging.getLogRecordFactory() is not EscapedLogRecord:
        logging.setLogRecordFactory(EscapedLogRecord)


def init_app(app: Flask) -> None:
    install()
    access_log.setLevel(logging.INFO)
    _ = app.logger  # Flask gives the app's logger ("crm") a handler to stderr if none has one
    app.before_request(_start_clock)
    app.after_request(_log_access)


def _start_clock() -> None:
    g.access_started = time.monotonic()


def _log_access(response: Response) -> Response:
    """One line a request: method, endpoint, the ids in the address, status, time, user id."""
    ids = " ".join(f"{name}={value}" for name, value in (request.view_args or {}).items()
                   if isinstance(value, int))
    elapsed = time.monotonic() - g.get("access_started", time.monotonic())
    access_log.info("%s %s%s %s %.0fms user=%s", request.method, request.endpoint or "-",
                    f" {ids}" if ids else "", response.status_code, elapsed * 1000,
                    _user_id())
    return response


def _user_id() -> str:
    """The id of the user this request loaded, without loading anything (the request's
    transaction may be over)."""
    user = g.get("_login_user")
    if user is None or not getattr(user, "is_authenticated", False):
        return "-"
    identity = inspect(user).identity
    return str(identity[0]) if identity else "-"

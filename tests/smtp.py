"""A real SMTP server for tests (aiosmtpd on 127.0.0.1, a free port) that keeps what it receives.

    def test_something(db, settings, smtp_server):
        settings = settings.model_copy(update={"smtp_url": smtp_server.url})
        ...  # queue an email, then deliver_due(db, settings) or let a worker do it
        [message] = smtp_server.wait_for(1)
        assert message["Subject"] == "..."

`smtp_server.refuse("451 4.3.0 Try again later")` answers every following message so (at DATA,
or at RCPT with at="rcpt"); `smtp_server.refuse(None)` accepts again. `smtp_server.stop()` takes
it down (connections are refused), `smtp_server.start()` brings it back on the same port.
`smtp_server.hold()` keeps the next client waiting in the middle of its conversation (at RCPT,
before any message is taken) until `smtp_server.release()`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Literal

import pytest
from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Envelope:
    mail_from: str
    rcpt_tos: list[str]


class SmtpServer:
    """What the server received: `.messages` (parsed, in order) and their `.envelopes`."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self.url = ""
        self._refusal: tuple[str, str] | None = None
        self._received = threading.Condition()
        self._port = 0  # until the first start() picks a free one
        self._controller: _AnyPortController | None = None
        self._holding = threading.Event()
        self._held = threading.Event()

    def start(self) -> None:
        """Listen on 127.0.0.1: on a free port the first time, on the same port again after
        stop()."""
        self._controller = _AnyPortController(self, hostname="127.0.0.1", port=self._port)
        self._controller.start()
        self._port = self._controller.port
        self.url = f"smtp://127.0.0.1:{self._port}"

    def stop(self) -> None:
        """Close the port and every open connection: the server is down until start()."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse(self, reply: str | None, *, at: Literal["rcpt", "data"] = "data") -> None:
        """Answer every following message with this reply (e.g. "550 5.1.1 No such user")."""
        self._refusal = (at, reply) if reply else None

    def hold(self) -> threading.Event:
        """Keep the next client waiting at RCPT until release(); the event returned is set once
        a client waits."""
        self._held = threading.Event()
        self._holding.set()
        return self._held

    def release(self) -> None:
        self._holding.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages, once at least `count` have arrived; fails the test after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._received:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"the SMTP server received {len(self.messages)} messages, "
                                f"not {count}, within {timeout} s")
                self._received.wait(left)
            return list(self.messages)

    # aiosmtpd handler hooks (run in the server's thread)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if self._holding.is_set():
            self._held.set()
            while self._holding.is_set():
                await asyncio.sleep(0.01)  # the server's other connections go on meanwhile
        if self._refusal and self._refusal[0] == "rcpt":
            return self._refusal[1]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self._refusal and self._refusal[0] == "data":
            return self._refusal[1]
        raw = envelope.original_content or envelope.content
        # Python line endings, so that get_content() reads as the text that was sent
        parsed = message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default)
        with self._received:
            self.messages.append(parsed)
            self.envelopes.append(Envelope(envelope.mail_from, list(envelope.rcpt_tos)))
            self._received.notify_all()
        return "250 Message accepted for delivery"


class _AnyPortController(Controller):
    """Listens on port 0 (the system picks a free one) and learns the port before aiosmtpd's
    start-up check connects to it."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture(name="smtp_server")
def smtp_server_fixture() -> Iterator[SmtpServer]:
    """An SMTP server on 127.0.0.1 for this test: `.url`, `.messages`, `.wait_for(count)`."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()

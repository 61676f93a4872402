"""SMTP_URL read into where and how to connect, and one connection that sends many messages."""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from enum import StrEnum
from urllib.parse import parse_qsl, unquote, urlsplit

TIMEOUT_SECONDS = 30  # per network operation; a message takes a handful of them


class Security(StrEnum):
    PLAIN = "plain"  # smtp://
    STARTTLS_IF_OFFERED = "starttls_if_offered"  # smtp://...?starttls=1
    STARTTLS = "starttls"  # smtp+starttls://: nothing is sent unless STARTTLS succeeds
    TLS = "tls"  # smtps://: TLS from the first byte


_SCHEMES = {
    "smtp": (Security.PLAIN, 25),
    "smtp+starttls": (Security.STARTTLS, 587),
    "smtps": (Security.TLS, 465),
}


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    security: Security
    username: str | None = None
    password: str = field(default="", repr=False)


def parse_smtp_url(url: str) -> SmtpTarget:
    """`smtp://host:port[?starttls=1]`, `smtp+starttls://user:pass@host:587` or
    `smtps://user:pass@host:465`; user and password are URL-decoded. The ValueError's message
    never repeats the URL (it may hold a password)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError("must start with smtp://, smtp+starttls:// or smtps://")
    security, default_port = _SCHEMES[scheme]
    if not parts.hostname:
        raise ValueError("names no host")
    try:
        port = parts.port or default_port
    except ValueError:
        raise ValueError("has an invalid port") from None
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name != "starttls" or value not in ("0", "1") or security is not Security.PLAIN:
            raise ValueError("knows only the option starttls=0 or starttls=1, on smtp://")
        if value == "1":
            security = Security.STARTTLS_IF_OFFERED
    return SmtpTarget(host=parts.hostname, port=port, security=security,
                      username=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password or ""))


def connect(target: SmtpTarget, timeout: float = TIMEOUT_SECONDS) -> smtplib.SMTP:
    """An open connection, encrypted as the target asks and logged in if it names a user."""
    context = ssl.create_default_context()
    if target.security is Security.TLS:
        client = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=timeout)
    try:
        client.ehlo()
        if target.security is Security.STARTTLS or (
                target.security is Security.STARTTLS_IF_OFFERED and client.has_extn("starttls")):
            client.starttls(context=context)  # refuses a server that does not offer it
            client.ehlo()
        if target.username:
            client.login(target.username, target.password)
    except BaseException:
        client.close()
        raise
    return client


class Courier:
    """Sends messages over one connection, opened on first use and again after it broke."""

    def __init__(self, target: SmtpTarget) -> None:
        self.target = target
        self.client: smtplib.SMTP | None = None
        self.broken = False  # the last send could not connect, or lost the connection

    def send(self, message: EmailMessage, to_address: str) -> None:
        """Send to this one address (never to what the headers name); raises what smtplib
        raises. After a refusal the connection stays usable; after anything else it is closed.
        """
        self.broken = True
        if self.client is None:
            self.client = connect(self.target)
        try:
            self.client.send_message(message, to_addrs=[to_address])
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException):
            if self.client.sock is None:  # e.g. 421: the server closed the connection
                self.close()
            else:
                self.broken = False
            raise
        except BaseException:
            self.close()
            raise
        self.broken = False

    def close(self) -> None:
        if self.client is None:
            return
        client, self.client = self.client, None
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()

    def __enter__(self) -> Courier:
        return self

    def __exit__(self, *_exc_info) -> None:
        self.close()


_ENHANCED_STATUS = re.compile(rb"^([245]\.\d{1,3}\.\d{1,3})\b")


def describe_error(error: BaseException) -> str:
    """A short reason without personal data: servers' texts can quote addresses, so only the
    kind of error and the reply codes are kept."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _text in error.recipients.values()})
        return "recipient refused " + ", ".join(str(code) for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error if isinstance(error.smtp_error, bytes) else b""
        enhanced = _ENHANCED_STATUS.match(reply)
        suffix = f" {enhanced.group(1).decode()}" if enhanced else ""
        return f"{type(error).__name__} {error.smtp_code}{suffix}"
    return type(error).__name__


def is_permanent(error: BaseException) -> bool:
    """The server refused this message for good (5xx to its recipient or its content); a
    refused sender, login or connection is the set-up's fault, so those are retried."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _text in error.recipients.values())
    return isinstance(error, smtplib.SMTPDataError) and error.smtp_code >= 500

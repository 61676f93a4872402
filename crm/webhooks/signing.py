"""The signature every webhook request carries, and how a receiver checks it.

    Landing-Desk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>

The time is signed with the body, so a request recorded by someone else cannot be replayed
later than `tolerance` seconds; receivers should also drop an event id (Landing-Desk-Delivery)
they have seen before, as a delivery may arrive twice (it is retried when no answer came).
`verify` has no dependency but the standard library: receivers written in Python may copy it.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Landing-Desk-Signature"
EVENT_HEADER = "Landing-Desk-Event"
DELIVERY_HEADER = "Landing-Desk-Delivery"


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The header's value for this body, signed at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def verify(secret: str, header: str, body: bytes | str, tolerance: int = 300,
           now: float | None = None) -> bool:
    """Whether `header` (the Landing-Desk-Signature value) signs `body` (the raw request body,
    as received) with `secret`, at most `tolerance` seconds from now."""
    if isinstance(body, str):
        body = body.encode()
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = _digest(secret, body, timestamp)
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()

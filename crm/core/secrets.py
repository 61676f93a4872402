"""Secrets the desk must read back (TOTP seeds, webhook signing keys), encrypted at rest.

Each purpose has its own key derived from SECRET_KEY (HKDF): a stolen database alone gives
none of them away; a changed SECRET_KEY makes them unreadable (2FA set up again, webhook
secrets rotated).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def _fernet(purpose: bytes) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=purpose).derive(current_app.secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(purpose: bytes, secret: str) -> str:
    return _fernet(purpose).encrypt(secret.encode()).decode()


def decrypt(purpose: bytes, encrypted: str) -> str | None:
    """The secret, or None when it was encrypted under another SECRET_KEY."""
    try:
        return _fernet(purpose).decrypt(encrypted.encode()).decode()
    except InvalidToken:
        return None

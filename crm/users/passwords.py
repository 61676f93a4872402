"""Passwords: hashing with argon2id (argon2-cffi's defaults are RFC 9106's), and how strong a
new one must be: 12 characters at least, and not guessable by zxcvbn's estimate (common
passwords, words, names, dates, keyboard patterns, the user's own name or address)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 12
# zxcvbn's score 3: "safely unguessable", about 10^8 guesses or more (an online attack cannot).
MIN_PASSWORD_SCORE = 3
_ESTIMATED_LENGTH = 72  # zxcvbn refuses longer input; a longer passphrase is strong anyway
#: Words of the product and the desk a password must not lean on (ASVS 6.2.11).
CONTEXT_WORDS = ("Landing Desk", "LandingDesk", "Düsseldorf", "Duesseldorf", "Karnataka",
                 "Welcome Package", "Innovation Corridor", "startup")
_SEPARATORS = re.compile(r"[\s.\-_@+]+")
# Compared against when the user is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("no-such-user-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def is_guessable(password: str, user_inputs: Iterable[str] = ()) -> bool:
    """Whether a new password is too easy to guess: estimated as typed and without its
    separators ("Jun Park 2026" is as weak as "JunPark2026"), against the user's name and
    email and the desk's own words, word by word."""
    words = [word for text in (*user_inputs, *CONTEXT_WORDS) if text
             for word in _SEPARATORS.split(text) if word]
    candidates = {password[:_ESTIMATED_LENGTH],
                  _SEPARATORS.sub("", password)[:_ESTIMATED_LENGTH]}
    return any(zxcvbn(candidate, user_inputs=words)["score"] < MIN_PASSWORD_SCORE
               for candidate in candidates if candidate)

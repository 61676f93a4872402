"""Folding names for search and matching: accents, scripts and German spellings found either way.

A startup's `search_text` holds its name, domain and contacts' names and e-mails, folded to
lower-case ASCII once with Unicode transliteration (Müller -> muller, 두산 -> dusan) and once
with German spelling (Müller -> mueller). A search term is folded the same two ways, so
"Muller", "Mueller" and "Müller" all find "Müller GmbH", and a Korean name is found by its
romanisation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from anyascii import anyascii
from sqlalchemy import select
from sqlmodel import Session

from crm.startups.models import Contact, Startup

_GERMAN_SPELLING = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe",
                                  "Ü": "Ue", "ß": "ss"})
_NOT_WORD = re.compile(r"[^a-z0-9@.]+")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
#: Legal forms and filler words dropped from a name before comparing (already folded).
LEGAL_FORMS = frozenset((
    "ag", "co", "company", "corp", "corporation", "gmbh", "group", "holding", "holdings", "inc",
    "incorporated", "kg", "kk", "llc", "llp", "limited", "ltd", "mbh", "plc", "private", "pvt",
    "sa", "sas", "se", "srl", "the", "ug",
    # 株式会社, 주식회사 and 有限公司 as transliterated
    "zhushihuishe", "jusighoesa", "kabushiki", "kaisha", "youxiangongsi",
))


def fold(text: str | None) -> str:
    """Lower-case ASCII words: accents dropped, other scripts romanised."""
    return _NOT_WORD.sub(" ", anyascii(text or "").lower()).strip()


def fold_german(text: str | None) -> str:
    """Like `fold`, with German umlauts spelled out (ü -> ue, ß -> ss)."""
    return fold((text or "").translate(_GERMAN_SPELLING))


def folded_variants(text: str | None) -> list[str]:
    """The distinct foldings of a text (one or two), for building or matching search text."""
    variants = [fold(text), fold_german(text)]
    return [v for i, v in enumerate(variants) if v and v not in variants[:i]]


def name_key(name: str | None) -> str:
    """The name reduced for duplicate matching: romanised, no legal form, no spaces."""
    words = _NOT_ALNUM.sub(" ", anyascii(name or "").lower()).split()
    kept = [word for word in words if word not in LEGAL_FORMS]
    return "".join(kept or words)[:200]


def search_text(name: str, domain: str | None, contacts: Iterable[tuple[str, str | None]]) -> str:
    """The folded text a search looks in: name, domain, each contact's name and e-mail."""
    parts = [name, domain or ""]
    for contact_name, email in contacts:
        parts.extend((contact_name, email or ""))
    words: list[str] = []
    for part in parts:
        words.extend(folded_variants(part))
    return " | ".join(words)


def refresh_search_fields(db: Session, startup: Startup) -> None:
    """Recompute `search_text` and `name_key` after the name, domain or contacts changed."""
    contacts = db.execute(select(Contact.name, Contact.email)
                          .where(Contact.startup_id == startup.id)).all() if startup.id else []
    startup.search_text = search_text(startup.name, startup.domain, contacts)
    startup.name_key = name_key(startup.name)
    db.add(startup)

"""Folding names for search and matching: accents, scripts and German spellings found either way.

A startup's `search_text` holds its name, domain and contacts' names and e-mails, folded to
lower-case ASCII once with Unicode transliteration (Müller -> muller, 두산 -> dusan) and once
with German spelling (Müller -> mueller). A search term is folded the same two ways, so
"Muller", "Mueller" and "Müller" all find "Müller GmbH", and a Korean name is found by its
romanisation.

For duplicate matching a name is also reduced to a `phonetic_key` (sounds that romanisations
confuse made one: l/r, g/k/c, b/p/v/f, d/t, z/j, vowels one symbol) and its consonant
`name_skeleton` (stored, indexed: the blocking key that finds candidates without reading every
startup). Hangul is romanised by sound for this, so "두산로보틱스" and "Doosan Robotics Inc."
share the skeleton "tsnrptks".
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
    "sa", "sas", "se", "srl", "the", "ug", "and", "und",
    # 株式会社, 주식회사 and 有限公司 as transliterated
    "zhushihuishe", "jusighoesa", "kabushiki", "kaisha", "youxiangongsi",
))
#: Legal forms written in Chinese characters or Hangul, removed before transliterating (they
#: are often written without a space, so they would not be separate words afterwards).
_CJK_LEGAL_FORMS = re.compile(
    "股份有限公司|有限责任公司|有限責任公司|有限公司|株式会社|有限会社|合同会社|"
    "주식회사|유한회사|유한책임회사|\\(주\\)|\\(유\\)|\\(株\\)|㈜|㈱")
_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
# Hangul romanised by sound: initial ㄹ as r (loanwords: 로보틱스 robotics), finals as they are
# pronounced (마켓 -> maket), and the filler vowel ㅡ dropped after a consonant at the end of a
# syllable (스 -> s, 드 -> d), as loanwords use it for a bare consonant.
_INITIALS = ("g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch",
             "k", "t", "p", "h")
_MEDIALS = ("a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u",
            "wo", "we", "wi", "yu", "eu", "ui", "i")
_FINALS = ("", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m",
           "p", "p", "t", "t", "ng", "t", "t", "k", "t", "p", "t")
_EU = 18
_NO_INITIAL = 11
# Spellings that sound alike in romanisations, in the order they are applied.
_SOUNDS = (
    (re.compile(r"ph"), "f"), (re.compile(r"ck"), "k"), (re.compile(r"sch"), "s"),
    (re.compile(r"(?<=[a-z])h(?![aeiou])|(?<=[cgkpst])h"), ""),  # sh, th, kh, gh, ch -> s t k g c
    (re.compile(r"c(?=[eiy])"), "s"), (re.compile(r"[ckgq]"), "k"), (re.compile(r"x"), "ks"),
    (re.compile(r"[bpvf]"), "p"), (re.compile(r"[dt]"), "t"), (re.compile(r"[zj]"), "j"),
    (re.compile(r"l"), "r"), (re.compile(r"[wy]"), ""), (re.compile(r"[aeiou]+"), "a"),
    (re.compile(r"([a-z])\1+"), r"\1"),
)


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


def _key_of(romanised: str) -> str:
    words = _NOT_ALNUM.sub(" ", romanised.lower()).split()
    kept = [word for word in words if word not in LEGAL_FORMS]
    return "".join(kept or words)[:200]


def _without_cjk_legal_form(name: str | None) -> str:
    text = name or ""
    stripped = _CJK_LEGAL_FORMS.sub(" ", text)
    return stripped if stripped.strip() else text


def name_key(name: str | None) -> str:
    """The name reduced for duplicate matching: romanised, no legal form, no spaces."""
    return _key_of(anyascii(_without_cjk_legal_form(name)))


def german_name_key(name: str | None) -> str:
    """`name_key` with German umlauts spelled out: "Müller GmbH" -> "mueller"."""
    return _key_of(anyascii(_without_cjk_legal_form(name).translate(_GERMAN_SPELLING)))


def _hangul_by_sound(text: str) -> str:
    out = []
    for char in text:
        code = ord(char)
        if not _HANGUL_FIRST <= code <= _HANGUL_LAST:
            out.append(char)
            continue
        index = code - _HANGUL_FIRST
        initial, medial, final = index // 588, (index % 588) // 28, index % 28
        vowel = _MEDIALS[medial]
        if medial == _EU and final == 0 and initial != _NO_INITIAL:
            vowel = ""
        out.append(_INITIALS[initial] + vowel + _FINALS[final])
    return "".join(out)


def has_other_script(name: str | None) -> bool:
    """True when the name has letters outside the Latin alphabet (Hangul, kana, Han, Cyrillic…)."""
    return any(ord(char) > 0x24F and char.isalpha() for char in name or "")


def phonetic_key(name: str | None) -> str:
    """The name as sounds that romanisations confuse made one (doosanrobotics -> tasanrapataks)."""
    key = _key_of(anyascii(_hangul_by_sound(_without_cjk_legal_form(name))))
    for pattern, replacement in _SOUNDS:
        key = pattern.sub(replacement, key)
    return key


def name_skeleton(name: str | None) -> str:
    """The consonants of the phonetic key (a leading vowel kept as "a"): the blocking key."""
    key = phonetic_key(name)
    return re.sub(r"([a-z])\1+", r"\1", key[:1] + key[1:].replace("a", ""))[:200]


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
    """Recompute `search_text`, `name_key` and `name_skeleton` after the name, domain or
    contacts changed."""
    contacts = db.execute(select(Contact.name, Contact.email)
                          .where(Contact.startup_id == startup.id)).all() if startup.id else []
    startup.search_text = search_text(startup.name, startup.domain, contacts)
    startup.name_key = name_key(startup.name)
    startup.name_skeleton = name_skeleton(startup.name)
    db.add(startup)

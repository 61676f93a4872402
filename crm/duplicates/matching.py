"""Probable duplicates of a startup: same website domain, same contact e-mail or a similar name.

Cheap at 100,000 startups: the domain and the e-mail are indexed equality lookups; names are
blocked by the indexed `Startup.name_skeleton` (the consonants of the name as sounds, see
`crm.startups.search`): the nearest skeletons on either side of the wanted one within the same
three-letter prefix, plus exact `name_key` matches, at most a few hundred short rows. Only
those few are scored with rapidfuzz.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import parseaddr
from functools import lru_cache
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from rapidfuzz import fuzz
from sqlalchemy import select, union_all
from sqlmodel import Session

from crm.startups.models import Contact, Startup
from crm.startups.search import (
    german_name_key,
    has_other_script,
    name_key,
    name_skeleton,
    phonetic_key,
)

#: A name match at or above this score counts as a probable duplicate.
NAME_THRESHOLD = 85
#: Exact phonetic equality of two long Latin names ("Bengaluru"/"Bangalore") scores this much.
SAME_SOUND_SCORE = 90
SAME_SOUND_MIN_LENGTH = 8
#: Length of the skeleton prefix a candidate must share, and how many neighbours per side.
BLOCK_PREFIX = 3
BLOCK_NEIGHBOURS = 150
EXACT_LIMIT = 50

#: Mail and hosting services many unrelated people share: their domain says nothing.
SHARED_DOMAINS = frozenset((
    "gmail.com", "googlemail.com", "google.com", "sites.google.com", "yahoo.com", "ymail.com",
    "rocketmail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "icloud.com",
    "me.com", "mac.com", "aol.com", "gmx.de", "gmx.net", "gmx.com", "web.de", "t-online.de",
    "freenet.de", "posteo.de", "mailbox.org", "proton.me", "protonmail.com", "pm.me",
    "zoho.com", "zohomail.com", "yandex.ru", "yandex.com", "mail.ru", "naver.com", "daum.net",
    "hanmail.net", "kakao.com", "nate.com", "qq.com", "163.com", "126.com", "sina.com",
    "sina.cn", "foxmail.com", "aliyun.com", "rediffmail.com", "linkedin.com", "facebook.com",
    "instagram.com", "twitter.com", "x.com", "youtube.com", "github.com", "gitlab.com",
    "medium.com", "notion.site", "wix.com", "wixsite.com", "squarespace.com", "wordpress.com",
    "blogspot.com", "linktr.ee", "bit.ly", "angel.co", "wellfound.com", "crunchbase.com",
    "example.com",
))
#: Mail services under many country domains (yahoo.co.jp, hotmail.de, outlook.kr …).
SHARED_DOMAIN_BRANDS = frozenset(("yahoo", "hotmail", "outlook", "live", "gmx", "yandex",
                                  "gmail", "googlemail", "aol", "rediffmail", "protonmail"))

_HOST = re.compile(r"[\w.-]+")
_WWW = re.compile(r"^www\d*\.")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


#: Why a startup is a probable duplicate, as shown next to it.
REASON_LABELS = {"domain": _l("same website"), "email": _l("same contact email"),
                 "name": _l("similar name")}

@dataclass
class Candidate:
    startup: Startup
    score: int  # 0..100
    reasons: list[str] = field(default_factory=list)  # "domain", "email", "name"


def normalise_domain(value: str | None) -> str | None:
    """The host of a website or e-mail address: "https://www.Foo.de/x" -> "foo.de"."""
    text = (value or "").strip().lower()
    if text.startswith("mailto:"):
        text = text[len("mailto:"):]
    if not text:
        return None
    if "://" not in text:
        if "@" in text and "/" not in text:  # an e-mail address
            text = text.rsplit("@", 1)[1]
        text = "//" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    host = _WWW.sub("", (host or "").strip("."))
    if "." not in host or not _HOST.fullmatch(host) or ".." in host:
        return None
    return host[:253]


def is_shared_domain(domain: str | None) -> bool:
    """A mail, social or hosting service's domain: same domain, unrelated startups."""
    if not domain:
        return False
    return domain in SHARED_DOMAINS or domain.split(".", 1)[0] in SHARED_DOMAIN_BRANDS


def matchable_domain(value: str | None) -> str | None:
    """The normalised domain when it identifies one organisation, else None."""
    domain = normalise_domain(value)
    return None if is_shared_domain(domain) else domain


def normalise_email(value: str | None) -> str | None:
    """Trimmed and lower-cased ("Name <A@B.de>" -> "a@b.de"); None if it is no address."""
    text = (value or "").strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:"):]
    if "<" in text:
        text = parseaddr(text)[1]
    text = text.strip().lower()
    return text[:254] if _EMAIL.fullmatch(text) else None


@dataclass(frozen=True)
class _NameKeys:
    plain: str
    german: str
    phonetic: str
    other_script: bool


@lru_cache(maxsize=8192)
def _keys(name: str) -> _NameKeys:
    """A name's comparison keys, computed once (the find page compares each name many times)."""
    return _NameKeys(name_key(name), german_name_key(name), phonetic_key(name),
                     has_other_script(name))


def name_score(first: str | None, second: str | None) -> int:
    """How alike two startup names are, 0..100, across spellings and scripts."""
    a, b = _keys(first or ""), _keys(second or "")
    if not (a.plain and b.plain):
        return 0
    score = max(fuzz.ratio(a.plain, b.plain), fuzz.ratio(a.german, b.german))
    if a.phonetic and b.phonetic:
        if a.other_script or b.other_script:
            # A transliteration: compare how the names sound, not how anyascii spells them.
            score = max(score, fuzz.ratio(a.phonetic, b.phonetic))
        elif a.phonetic == b.phonetic and len(a.phonetic) >= SAME_SOUND_MIN_LENGTH:
            score = max(score, SAME_SOUND_SCORE)
    return round(score)


def is_similar_name(first: str | None, second: str | None) -> bool:
    return name_score(first, second) >= NAME_THRESHOLD


def _email_forms(emails: Iterable[str]) -> set[str]:
    """The normalised addresses and the spellings as given: the indexed column is compared
    exactly, so contacts' e-mails are best stored normalised (`normalise_email`)."""
    forms: set[str] = set()
    for email in list(emails)[:50]:
        normalised = normalise_email(email)
        if normalised:
            forms.update((normalised, (email or "").strip()))
    return forms


def _name_rows(db: Session, name: str, excluded) -> list[tuple[int, str]]:
    """(id, name) of the startups whose name could be like `name`: a bounded, indexed read."""
    key, skeleton = name_key(name), name_skeleton(name)
    if not key:
        return []
    columns = (Startup.id, Startup.name)
    queries = [select(*columns).where(Startup.name_key == key, *excluded).limit(EXACT_LIMIT)]
    if skeleton:
        prefix = skeleton[:BLOCK_PREFIX]
        highest = prefix + "z" * (200 - len(prefix))  # skeletons are [a-z0-9]
        queries.append(select(*columns)
                       .where(Startup.name_skeleton >= skeleton, Startup.name_skeleton <= highest,
                              *excluded)
                       .order_by(Startup.name_skeleton, Startup.id).limit(BLOCK_NEIGHBOURS))
        queries.append(select(*columns)
                       .where(Startup.name_skeleton < skeleton, Startup.name_skeleton >= prefix,
                              *excluded)
                       .order_by(Startup.name_skeleton.desc(), Startup.id.desc())
                       .limit(BLOCK_NEIGHBOURS))
    # One statement, read without the ORM: an import runs this for each of its rows.
    statement = (union_all(*(select(query.subquery()) for query in queries))
                 if len(queries) > 1 else queries[0])
    return list(dict(db.connection().execute(statement).all()).items())


def probable_duplicates(db: Session, *, name: str, domain: str | None = None,
                        emails: Iterable[str] = (), exclude_ids: Iterable[int] = (),
                        limit: int = 5) -> list[Candidate]:
    """Startups that are probably the same as the one described, best first.

    Same domain (not a mail or hosting service's) or same contact e-mail score 100; a name
    scores by `name_score` and counts from NAME_THRESHOLD. At most six indexed queries.
    """
    exclude = {int(i) for i in exclude_ids if i is not None}
    excluded = [Startup.id.not_in(exclude)] if exclude else []
    scores: dict[int, int] = {}
    reasons: dict[int, list[str]] = {}

    def found(startup_id: int, score: int, reason: str) -> None:
        scores[startup_id] = max(scores.get(startup_id, 0), score)
        reasons.setdefault(startup_id, [])
        if reason not in reasons[startup_id]:
            reasons[startup_id].append(reason)

    wanted_domain = matchable_domain(domain)
    if wanted_domain:
        for startup_id in db.scalars(select(Startup.id).where(
                Startup.domain.in_((wanted_domain, "www." + wanted_domain)), *excluded)
                .limit(EXACT_LIMIT)):
            found(startup_id, 100, "domain")
    addresses = _email_forms(emails)
    if addresses:
        contact_excluded = [Contact.startup_id.not_in(exclude)] if exclude else []
        for startup_id in db.scalars(select(Contact.startup_id).distinct().where(
                Contact.email.in_(addresses), *contact_excluded).limit(EXACT_LIMIT)):
            found(startup_id, 100, "email")
    if name and name.strip():
        for startup_id, other_name in _name_rows(db, name, excluded):
            score = name_score(name, other_name)
            if score >= NAME_THRESHOLD:
                found(startup_id, score, "name")
    if not scores:
        return []
    best = sorted(scores, key=lambda i: (-scores[i], -len(reasons[i]), i))[:max(limit, 0)]
    if not best:
        return []
    startups = {s.id: s for s in db.scalars(select(Startup).where(Startup.id.in_(best)))}
    return [Candidate(startup=startups[i], score=scores[i], reasons=reasons[i])
            for i in best if i in startups]

"""Probable duplicates of a startup: same website domain, same contact e-mail or a similar name.

Cheap at 100,000 startups: the domain and the e-mail are indexed equality lookups; names are
blocked by the indexed `Startup.name_skeleton` (the consonants of the name as sounds, see
`crm.startups.search`): the nearest skeletons on either side of the wanted one within the same
three-letter prefix, plus exact `name_key` matches, at most a few hundred short rows. Only
those few are scored with rapidfuzz. An import matches its rows by the same rules with a
`DuplicateFinder`: a few reads per batch of rows, each block read once.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import parseaddr
from functools import lru_cache
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from rapidfuzz import fuzz, process
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
    found = _Found()
    wanted_domain = matchable_domain(domain)
    if wanted_domain:
        for startup_id in db.scalars(select(Startup.id).where(
                Startup.domain.in_((wanted_domain, "www." + wanted_domain)), *excluded)
                .limit(EXACT_LIMIT)):
            found.add(startup_id, 100, "domain")
    addresses = _email_forms(emails)
    if addresses:
        contact_excluded = [Contact.startup_id.not_in(exclude)] if exclude else []
        for startup_id in db.scalars(select(Contact.startup_id).distinct().where(
                Contact.email.in_(addresses), *contact_excluded).limit(EXACT_LIMIT)):
            found.add(startup_id, 100, "email")
    if name and name.strip():
        for startup_id, other_name in _name_rows(db, name, excluded):
            score = name_score(name, other_name)
            if score >= NAME_THRESHOLD:
                found.add(startup_id, score, "name")
    best = found.best(limit)
    if not best:
        return []
    startups = {s.id: s for s in db.scalars(select(Startup).where(
        Startup.id.in_([i for i, _score, _reasons in best])))}
    return [Candidate(startup=startups[i], score=score, reasons=reasons)
            for i, score, reasons in best if i in startups]


class _Found:
    """Startups found so far for one wanted startup: best score and reasons of each."""

    def __init__(self) -> None:
        self.scores: dict[int, int] = {}
        self.reasons: dict[int, list[str]] = {}

    def add(self, startup_id: int, score: int, reason: str) -> None:
        self.scores[startup_id] = max(self.scores.get(startup_id, 0), score)
        reasons = self.reasons.setdefault(startup_id, [])
        if reason not in reasons:
            reasons.append(reason)

    def best(self, limit: int) -> list[tuple[int, int, list[str]]]:
        """(id, score, reasons), best score first, then the most reasons, then the oldest."""
        scores, reasons = self.scores, self.reasons
        ranked = sorted(scores, key=lambda i: (-scores[i], -len(reasons[i]), i))
        return [(i, scores[i], reasons[i]) for i in ranked[:max(limit, 0)]]


# Many at once (imports) --------------------------------------------------------------------


@dataclass(frozen=True)
class Wanted:
    """One startup to find probable duplicates of, as `probable_duplicates` takes it."""

    name: str
    domain: str | None = None
    emails: tuple[str, ...] = ()


#: Letters whose German spelling differs (`german_name_key` differs from `name_key` only then).
_GERMAN_LETTERS = re.compile("[äöüÄÖÜß]")
#: A ratio below this cannot round to NAME_THRESHOLD: rapidfuzz skips it in C.
_RATIO_CUTOFF = NAME_THRESHOLD - 1


@dataclass
class _Block:
    """The startups whose skeleton starts with one prefix, sorted by (skeleton, id) as the
    neighbour queries of `_name_rows` walk them, with each name's comparison keys."""

    skeletons: list[str]
    ids: list[int]
    names: list[str]
    # Computed when first needed (most of a block is never anyone's neighbour):
    plains: list[str | None]
    germans: list[str | None]
    other_script: list[bool | None]
    phonetics: list[str | None]  # only where needed


class DuplicateFinder:
    """`probable_duplicates` for many startups at once, by the same rules, in a few reads.

    For each batch: one query for all the batch's domains, one for its e-mails, one for its
    exact name keys; the skeleton blocks names are compared within are read once per finder
    (the rows `_name_rows` would read are the same neighbours of the same block). Names are
    scored with rapidfuzz's batch extraction and only the likely matches by `name_score`.
    Meant for one transaction's reads (an import's plan), without exclusions.
    """

    def __init__(self, db: Session) -> None:
        self.db = db
        self._blocks: dict[str, _Block] = {}

    def find(self, wanted: list[Wanted], limit: int = 5) -> list[list[Candidate]]:
        """Per wanted startup, what `probable_duplicates` would return for it."""
        by_domain = self._by_domain({matchable_domain(w.domain) for w in wanted} - {None})
        by_email = self._by_email(set().union(*(_email_forms(w.emails) for w in wanted))
                                  if wanted else set())
        keys = {w.name: name_key(w.name) for w in wanted if w.name and w.name.strip()}
        by_key = self._by_key(set(keys.values()) - {""})
        ranked: list[list[tuple[int, int, list[str]]]] = []
        for one in wanted:
            found = _Found()
            domain = matchable_domain(one.domain)
            if domain:
                ids = sorted(set(by_domain.get(domain, ()))
                             | set(by_domain.get("www." + domain, ())))
                for startup_id in ids[:EXACT_LIMIT]:
                    found.add(startup_id, 100, "domain")
            addresses = _email_forms(one.emails)
            if addresses:
                ids = sorted({i for address in addresses for i in by_email.get(address, ())})
                for startup_id in ids[:EXACT_LIMIT]:
                    found.add(startup_id, 100, "email")
            key = keys.get(one.name)
            if key:
                for startup_id, score in self._similar_names(one.name, key,
                                                             by_key.get(key, [])):
                    found.add(startup_id, score, "name")
            ranked.append(found.best(limit))
        ids = {i for best in ranked for i, _score, _reasons in best}
        startups = ({s.id: s for s in self.db.scalars(select(Startup).where(
            Startup.id.in_(ids)))} if ids else {})
        return [[Candidate(startup=startups[i], score=score, reasons=reasons)
                 for i, score, reasons in best if i in startups] for best in ranked]

    def _by_domain(self, domains: set[str]) -> dict[str, list[int]]:
        found: dict[str, list[int]] = {}
        if domains:
            forms = domains | {"www." + domain for domain in domains}
            for domain, startup_id in self.db.connection().execute(
                    select(Startup.domain, Startup.id).where(Startup.domain.in_(forms))):
                found.setdefault(domain, []).append(startup_id)
        return found

    def _by_email(self, addresses: set[str]) -> dict[str, set[int]]:
        found: dict[str, set[int]] = {}
        if addresses:
            for email, startup_id in self.db.connection().execute(
                    select(Contact.email, Contact.startup_id).distinct()
                    .where(Contact.email.in_(addresses))):
                found.setdefault(email, set()).add(startup_id)
        return found

    def _by_key(self, keys: set[str]) -> dict[str, list[tuple[int, str]]]:
        """(id, name) of the startups with each exact name key, the first EXACT_LIMIT by id."""
        found: dict[str, list[tuple[int, str]]] = {}
        if keys:
            for key, startup_id, name in self.db.connection().execute(
                    select(Startup.name_key, Startup.id, Startup.name)
                    .where(Startup.name_key.in_(keys)).order_by(Startup.id)):
                same = found.setdefault(key, [])
                if len(same) < EXACT_LIMIT:
                    same.append((startup_id, name))
        return found

    def _block(self, prefix: str) -> _Block:
        block = self._blocks.get(prefix)
        if block is None:
            highest = prefix + "z" * (200 - len(prefix))  # skeletons are [a-z0-9]
            rows = sorted(map(tuple, self.db.connection().execute(
                select(Startup.name_skeleton, Startup.id, Startup.name)
                .where(Startup.name_skeleton >= prefix, Startup.name_skeleton <= highest))))
            size = len(rows)
            block = _Block([row[0] for row in rows], [row[1] for row in rows],
                           [row[2] for row in rows], [None] * size, [None] * size, [None] * size,
                           [None] * size)
            self._blocks[prefix] = block
        return block

    @staticmethod
    def _with_keys(block: _Block, window: range) -> None:
        """The comparison keys of the window's names, computed once per block row."""
        plains, germans, other_script = block.plains, block.germans, block.other_script
        for i in window:
            if plains[i] is None:
                name = block.names[i]
                plains[i] = plain = name_key(name)
                germans[i] = (german_name_key(name) if _GERMAN_LETTERS.search(name)
                              else plain)
                other_script[i] = not name.isascii() and has_other_script(name)

    def _similar_names(self, name: str, key: str,
                       exact: list[tuple[int, str]]) -> list[tuple[int, int]]:
        """(id, score) of the startups `_name_rows` reads for `name` that score as similar."""
        names = dict(exact)
        skeleton = name_skeleton(name)
        if skeleton:
            block = self._block(skeleton[:BLOCK_PREFIX])
            at = bisect_left(block.skeletons, skeleton)
            # The lower neighbours, then the upper ones, as the two queries read them.
            window = range(max(at - BLOCK_NEIGHBOURS, 0),
                           min(at + BLOCK_NEIGHBOURS, len(block.ids)))
            # Only the window's names that might score enough; the exact matches are few and
            # all scored.
            self._with_keys(block, window)
            for i in self._likely(_keys(name), block, window, skeleton):
                names[block.ids[i]] = block.names[i]
        scored = ((startup_id, name_score(name, other)) for startup_id, other in names.items())
        return [(startup_id, score) for startup_id, score in scored if score >= NAME_THRESHOLD]

    @staticmethod
    def _likely(mine: _NameKeys, block: _Block, window: range, skeleton: str) -> set[int]:
        """Positions in the window that might score NAME_THRESHOLD by `name_score`: a
        superset (a ratio under _RATIO_CUTOFF cannot round up to it), found in C."""
        if not mine.plain:
            return set()
        start, stop = window.start, window.stop
        likely = {start + i for _choice, _score, i in process.extract(
            mine.plain, block.plains[start:stop], scorer=fuzz.ratio,
            score_cutoff=_RATIO_CUTOFF, limit=None)}
        likely.update(start + i for _choice, _score, i in process.extract(
            mine.german, block.germans[start:stop], scorer=fuzz.ratio,
            score_cutoff=_RATIO_CUTOFF, limit=None))
        if mine.phonetic:
            # Where either name is in another script, `name_score` compares their sounds.
            others = (list(window) if mine.other_script
                      else [i for i in window if block.other_script[i]])
            if others:
                sounds = []
                for i in others:
                    if block.phonetics[i] is None:
                        block.phonetics[i] = phonetic_key(block.names[i])
                    sounds.append(block.phonetics[i])
                likely.update(others[j] for _choice, _score, j in process.extract(
                    mine.phonetic, sounds, scorer=fuzz.ratio, score_cutoff=_RATIO_CUTOFF,
                    limit=None))
            if not mine.other_script and len(mine.phonetic) >= SAME_SOUND_MIN_LENGTH:
                # The same sounds make the same skeleton.
                likely.update(i for i in window if block.skeletons[i] == skeleton)
        return likely

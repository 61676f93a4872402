"""Whole pages kept for a short while per user, dropped as soon as any commit changes their data.

A page is stored under who asks (user, language, the session's CSRF secret, so its forms stay
valid), its full URL and the data generation: a random token that is replaced after every commit
that wrote to a table pages show, by whichever process committed (web, worker, command). The
view reads the generation before it reads any data, and the token is replaced only once the
commit is done (when the connection goes back to the pool), so a page built while a commit lands
is stored under the old token and is never served once the new one is set. A token is random,
not a counter, so two processes replacing it at once cannot leave an old value behind.

The store is Redis when Redis is configured (production), else a folder shared by the web
process and the worker of the one-command run; `PAGE_CACHE_SECONDS=0` turns it off. Pages with
flashed messages, answers other than 200 and anonymous requests are never stored; whatever
depends on the clock (overdue marks) is at most `PAGE_CACHE_SECONDS` old.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from functools import wraps

import redis
from cachelib import BaseCache, FileSystemCache, RedisCache
from flask import Flask, Response, current_app, make_response, request, session
from flask_babel import get_locale
from flask_login import current_user
from sqlalchemy import Engine, event

from crm.config import Settings

log = logging.getLogger(__name__)

#: Tables no cached page shows: writing them (every minute, by the workers) keeps the pages.
UNSHOWN_TABLES = frozenset({"audit_events", "outbox_messages", "outbox_attachments", "reminders",
                            "service_heartbeats", "import_jobs", "export_jobs",
                            "staff_sessions"})
_WRITE = re.compile(r'\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)',
                    re.IGNORECASE)
_WRITTEN = "page_cache.written"  # in a DBAPI connection's info: this transaction changed data
_COMMITTED = "page_cache.committed"  # … and committed: a new generation on check-in
_GENERATION = "generation"
HIT_HEADER = "X-Page-Cache"


def changes_shown_data(statement: str) -> bool:
    """Whether SQL writes a table pages show (unparsable writes count as such)."""
    match = _WRITE.match(statement)
    if match:
        return match.group(1).lower() not in UNSHOWN_TABLES
    head = statement.lstrip()[:12].upper()
    return head.startswith(("WITH", "MERGE", "REPLACE")) and re.search(
        r"\b(INSERT|UPDATE|DELETE|MERGE)\b", statement, re.IGNORECASE) is not None


class PageCache:
    """The pages of one app: where they are kept, and for how long."""

    def __init__(self, store: BaseCache, seconds: int):
        self.store = store
        self.seconds = seconds

    def generation(self) -> str:
        token = self.store.get(_GENERATION)
        if token is None:
            token = self.new_generation()
        return token

    def new_generation(self) -> str:
        token = secrets.token_hex(8)
        self.store.set(_GENERATION, token, timeout=0)
        return token

    def key(self, *parts: object) -> str:
        digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=20)
        return "page:" + digest.hexdigest()

    def watch(self, engine: Engine) -> None:
        """Replace the generation after every commit of `engine` that changed shown data."""

        @event.listens_for(engine, "before_cursor_execute")
        def _note_write(connection, _cursor, statement, _parameters, _context, _many):
            if not connection.info.get(_WRITTEN) and changes_shown_data(statement):
                connection.info[_WRITTEN] = True

        @event.listens_for(engine, "commit")
        def _note_commit(connection):
            if connection.info.pop(_WRITTEN, False):
                connection.info[_COMMITTED] = True

        @event.listens_for(engine, "rollback")
        def _forget_writes(connection):
            connection.info.pop(_WRITTEN, None)

        @event.listens_for(engine.pool, "checkin")
        def _after_commit(_dbapi_connection, record):
            if record is not None and record.info.pop(_COMMITTED, False):
                try:
                    self.new_generation()
                except Exception:  # the store is down: pages expire after `seconds`
                    log.exception("could not replace the page cache generation")


def init_app(app: Flask, settings: Settings) -> None:
    if settings.page_cache_seconds <= 0:
        return
    cache = PageCache(_store(settings), settings.page_cache_seconds)
    cache.watch(app.extensions["db_engine"])
    app.extensions["page_cache"] = cache


def _store(settings: Settings) -> BaseCache:
    url = settings.effective_page_cache_url
    if url:
        return RedisCache(redis.Redis.from_url(url), key_prefix="landing-desk:pages:")
    return FileSystemCache(str(settings.page_cache_folder), threshold=2000)


def cached_page(view: Callable) -> Callable:
    """Serve the view's page from the cache while nothing it shows has changed."""

    @wraps(view)
    def cached_view(*args, **kwargs):
        cache: PageCache | None = current_app.extensions.get("page_cache")
        csrf_secret = session.get("csrf_token")
        if (cache is None or request.method != "GET" or not current_user.is_authenticated
                or not csrf_secret or "_flashes" in session):
            return view(*args, **kwargs)
        try:
            key = cache.key(cache.generation(), current_user.id, get_locale(), csrf_secret,
                            request.full_path)
            body = cache.store.get(key)
        except Exception:  # the store is down: build the page
            log.exception("page cache unavailable")
            return view(*args, **kwargs)
        if body is not None:
            return Response(body, mimetype="text/html", headers={HIT_HEADER: "hit"})
        response = make_response(view(*args, **kwargs))
        if response.status_code == 200 and "_flashes" not in session:
            try:
                cache.store.set(key, response.get_data(), timeout=cache.seconds)
            except Exception:
                log.exception("page cache unavailable")
        return response

    return cached_view

"""Throughput of the startups list under gunicorn, beside a "hello world" on the same server.

gunicorn runs bench.hello:app (the product, plus /hello/) as the Procfile runs the product: two
sync workers, an access log. With PostgreSQL it gets production settings (ENV=production, Redis
for the broker, the rate limits and the page cache); SQLite, which production refuses, runs with
development settings (the page cache in a folder). wrk loads it from loopback with a logged-in
session cookie: first a short warm-up, then `seconds` on the list, then `seconds` on /hello/.
The one session asks for the same list again and again, so after the first request the list
comes from the page cache (crm/core/page_cache.py); a second server with the page cache off
measures what building the page every time allows. Requests per second come from wrk; the access
log tells how many answers were not 200 (wrk counts redirects as successes).
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.app import CSRF_INPUT, UNLIMITED, PageError
from crm.config import PROJECT_ROOT

WORKERS = 2  # the Procfile's WEB_CONCURRENCY default
CONNECTIONS = 8
WARM_UP_SECONDS = 2
# Flask-Login's strong session protection ties a session to the browser's User-Agent.
USER_AGENT = "landing-desk-bench"
REDIS_URL = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
_REQUESTS_PER_SECOND = re.compile(r"Requests/sec:\s+([\d.]+)")
_LATENCY = re.compile(r"Latency\s+([\d.]+)(us|ms|s)")
_ACCESS_LINE = re.compile(r'"GET (\S+) HTTP/[\d.]+" (\d{3}) ')


def wrk_missing() -> str | None:
    """Why the throughput cannot be measured here, or None."""
    if shutil.which("wrk") is None:
        return "wrk is not installed (Debian package wrk; `make bench` installs it as root)"
    return None


def _redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _server_environment(database_url: str, work_dir: Path) -> tuple[dict[str, str], str]:
    """The gunicorn process's environment, and which settings it runs with."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "UPLOAD_FOLDER": str(work_dir / "uploads"),
        "BROKER_FOLDER": str(work_dir / "broker"),
        "PAGE_CACHE_FOLDER": str(work_dir / "page-cache"),
        "LOGIN_RATE_LIMIT": UNLIMITED,
    }
    if database_url.startswith("postgresql") and _redis_answers():
        environment.update(ENV="production", CELERY_BROKER_URL=REDIS_URL,
                           RATELIMIT_STORAGE_URL=REDIS_URL)
        return environment, "production (PostgreSQL, Redis)"
    environment.update(ENV="development", CELERY_BROKER_URL="filesystem://",
                       RATELIMIT_STORAGE_URL="memory://")
    reason = "SQLite" if database_url.startswith("sqlite") else "no Redis"
    return environment, f"development ({reason}: production refuses it)"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(base: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise PageError(f"gunicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.2)
    raise PageError("gunicorn did not answer /healthz in time")


def _session_cookie(base: str, email: str, password: str) -> str:
    """Log in over HTTP as a person does; the session cookie as a Cookie header value."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", USER_AGENT)]
    with opener.open(f"{base}/login", timeout=30) as page:
        token = CSRF_INPUT.search(page.read().decode()).group(1)
    form = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token})
    with opener.open(f"{base}/login", data=form.encode(), timeout=30) as landed:
        if landed.status != 200 or urllib.parse.urlparse(landed.url).path == "/login":
            raise PageError(f"login over HTTP as {email} failed")
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)


def _wrk(url: str, seconds: int, cookie: str) -> dict[str, Any]:
    command = ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{seconds}s",
               "-H", f"Cookie: {cookie}", "-H", f"User-Agent: {USER_AGENT}", url]
    # wrk from PATH, as `make bench` installs it; arguments of our own
    finished = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    rate = _REQUESTS_PER_SECOND.search(finished.stdout)
    latency = _LATENCY.search(finished.stdout)
    scale = {"us": 0.001, "ms": 1, "s": 1000}
    return {"requests_per_second": float(rate.group(1)) if rate else 0.0,
            "mean_latency_ms": round(float(latency.group(1)) * scale[latency.group(2)], 2)
            if latency else None}


def _answers(access_log: Path) -> Counter[tuple[str, str]]:
    """(path, status) of every request in the access log."""
    found: Counter[tuple[str, str]] = Counter()
    for line in access_log.read_text(errors="replace").splitlines():
        match = _ACCESS_LINE.search(line)
        if match:
            found[(urllib.parse.urlparse(match.group(1)).path, match.group(2))] += 1
    return found


def measure_throughput(database_url: str, email: str, password: str, seconds: int,
                       work_dir: Path) -> dict[str, Any]:
    environment, settings = _server_environment(database_url, work_dir)
    access_log = work_dir / "gunicorn-access.log"
    access_log.unlink(missing_ok=True)
    with _server(environment, access_log, work_dir) as base:
        cookie = _session_cookie(base, email, password)
        _wrk(f"{base}/", WARM_UP_SECONDS, cookie)
        _wrk(f"{base}/hello/", WARM_UP_SECONDS, cookie)
        listing = _wrk(f"{base}/", seconds, cookie)
        hello = _wrk(f"{base}/hello/", seconds, cookie)
    with _server({**environment, "PAGE_CACHE_SECONDS": "0"}, access_log, work_dir) as base:
        cookie = _session_cookie(base, email, password)
        _wrk(f"{base}/", WARM_UP_SECONDS, cookie)
        uncached = _wrk(f"{base}/", seconds, cookie)
    answers = _answers(access_log)
    not_ok = {f"{path} {status}": count for (path, status), count in answers.items()
              if status != "200" and path in ("/", "/hello/")}
    ratio = (listing["requests_per_second"] / hello["requests_per_second"]
             if hello["requests_per_second"] else None)
    return {"settings": settings, "workers": WORKERS, "connections": CONNECTIONS,
            "seconds": seconds, "list": listing, "list_uncached": uncached, "hello": hello,
            "ratio": round(ratio, 3) if ratio is not None else None, "not_200": not_ok}


@contextmanager
def _server(environment: dict[str, str], access_log: Path, work_dir: Path) -> Iterator[str]:
    """gunicorn serving bench.hello:app on a free loopback port: its base URL."""
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - this interpreter, our own arguments
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
         "--workers", str(WORKERS), "--access-logfile", str(access_log), "bench.hello:app"],
        cwd=PROJECT_ROOT, env=environment, stdout=subprocess.DEVNULL,
        stderr=open(work_dir / "gunicorn.log", "a"))  # noqa: SIM115 - closed with the process
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, server)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)

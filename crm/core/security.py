"""Security headers, no caching and cookie flags on every response; input no database can store
refused."""

from __future__ import annotations

from flask import Flask, Response, abort, request

from crm.config import Settings

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


SESSION_COOKIE = "landing_desk_session"
REMEMBER_COOKIE = "landing_desk_remember"
#: Over HTTPS cookie names carry this prefix: browsers then take them only with Secure, Path=/
#: and no Domain, so neither a subdomain nor plain HTTP can set or overwrite them.
HOST_PREFIX = "__Host-"
#: Responses any cache may keep: the app's own CSS, JS and images. Everything else (pages,
#: downloads, JSON, error pages) can hold personal data and is never stored by a browser or proxy.
CACHEABLE_ENDPOINTS = frozenset({"static"})


def init_app(app: Flask, settings: Settings) -> None:
    prefix = HOST_PREFIX if settings.uses_https else ""
    app.config.update(
        SESSION_COOKIE_NAME=prefix + SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.uses_https,
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,
        REMEMBER_COOKIE_NAME=prefix + REMEMBER_COOKIE,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.uses_https,
        REMEMBER_COOKIE_PATH="/",
        REMEMBER_COOKIE_DOMAIN=None,
        PERMANENT_SESSION_LIFETIME=60 * 60 * 12,
    )
    hsts = settings.uses_https

    @app.before_request
    def _refuse_nul_characters() -> None:
        """PostgreSQL cannot take NUL in text: a clear 400 here instead of a 500 at the query."""
        for values in (request.args, request.form):
            if any("\x00" in value for _key, value in values.items(multi=True)):
                abort(400)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if hsts:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint not in CACHEABLE_ENDPOINTS:
            headers["Cache-Control"] = "no-store"
        return response


def same_site_path(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None (for `next` parameters).

    Control characters are refused too: browsers drop tabs and newlines inside URLs (a tab
    between the two slashes makes "//evil.example"), and a newline in a header is a 500.
    """
    if (target and target.startswith("/") and not target.startswith("//")
            and "\\" not in target and target.isprintable()):
        return target
    return None

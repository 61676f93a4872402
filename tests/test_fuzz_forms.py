"""Generated data posted to every form of the app, staff and public: never a 500, every refusal
says why, a refused post stores nothing, and whatever was typed is shown escaped.

The forms are found as a browser finds them: every page a role may open (the route matrix's
world of records, and an application in progress for the public form) is read for its
`<form method="post">` and their fields, choices and hidden values. Each example keeps a field
as the page had it (or a plausible value for its type) or replaces it with generated text:
unicode, control characters, NUL, very long strings, markup and script, numbers, dates, empty
values, unknown choices, files that are not what they claim. A POST endpoint that no page shows
must be listed in UNSHOWN_FORMS with the fields it takes, so a new form is fuzzed too.

Each role's test builds its world once; examples run one after another on it (an accepted post
changes what later examples see, as it would in use). `HYPOTHESIS_PROFILE=fuzz-deep` runs 200
examples per form instead of 10; every test prints how many examples it ran.
"""

from __future__ import annotations

import io
import logging
import os
import re
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event, select, update
from werkzeug.exceptions import HTTPException

from crm import create_app
from crm.core.enums import ApplicationStatus
from crm.db import get_session
from crm.intake.models import Application
from crm.outbox.models import OutboxMessage
from crm.users.models import SecurityPolicy, User
from tests import test_route_matrix
from tests.conftest import CSRF_INPUT, TEST_PASSWORD
from tests.factories import definition, make_programme, make_startup
from tests.page_forms import FormField, PageForm, get_urls, read_page
from tests.test_intake import fill_in
from tests.test_route_matrix import IN, LOGIN, ROUTES, SESSION_ROUTES, World

world = test_route_matrix.world  # the fixture: two BD managers' records of every kind

settings.register_profile("fuzz", max_examples=10)
settings.register_profile("fuzz-deep", max_examples=200)
FUZZ = settings(
    settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "fuzz")
                         if os.environ.get("HYPOTHESIS_PROFILE", "").startswith("fuzz")
                         else "fuzz"),
    deadline=None, database=None, phases=[Phase.generate],  # the world changes: no replay
    suppress_health_check=list(HealthCheck))

#: Tables a refused post may still write, and why.
MAY_CHANGE_ON_REFUSAL = {"audit_events": "refusals and failed sign-ins are audit events",
                         "staff_sessions": "any request keeps its session alive (last seen)"}
#: Columns a refused post may change: a wrong current password counts towards the lock.
COUNTERS = {"users": {"failed_logins", "locked_until", "updated_at"}}
#: POST endpoints no page shows a form for (in the world's state), with the fields they take.
UNSHOWN_FORMS: dict[str, dict[str, FormField]] = {
    # Links from emails: the world has none, so these answer "this link no longer works".
    "intake.resume": {},
    "gdpr.withdraw_by_link": {},
    "users.accept_invitation": {"password": FormField("password", "password"),
                                "confirm": FormField("confirm", "password")},
    "users.reset_password": {"password": FormField("password", "password"),
                             "confirm": FormField("confirm", "password")},
    "users.second_factor": {"code": FormField("code", "text")},
    "account.enable_two_factor": {"code": FormField("code", "text"),
                                  "current_password": FormField("current_password", "password")},
    # Shown only to an account with two-factor or other sessions, for a locked account, or when
    # there is something to resend, merge or migrate.
    "account.disable_two_factor": {"current_password": FormField("current_password",
                                                                 "password")},
    "account.renew_recovery_codes": {"current_password": FormField("current_password",
                                                                   "password")},
    "account.end_other_sessions": {},
    "admin.reset_two_factor": {},
    "admin.unlock": {},
    "gdpr.lift_restriction": {},
    "imports.resend": {},
    "duplicates.merge": {"a": FormField("a", "number", "1"), "b": FormField("b", "number", "2")},
    "programme_admin.migrate": {"from_version": FormField("from_version", "number", "1"),
                                "to_version": FormField("to_version", "number", "1")},
    "admin.activate": {},  # the world's users are all active
    "exports.send_again": {},  # shown only while an export's email could not be sent
    "tasks.reopen": {},
    "imports.run": {},
    "imports.create_anyway": {"create_anyway": FormField("create_anyway", "checkbox",
                                                         choices=["y"])},
}

ERROR_SHOWN = re.compile(r'class="(?:[^"]*\s)?(?:errors|flash-error|notice-error|field-error|'
                         r'error-page)[\s"]')
FLASHES = re.compile(r'<div class="flashes"[^>]*>(.*?)</div>', re.DOTALL)
FLASHED_ERROR = re.compile(r'class="flash flash-error"[^>]*>(.*?)</p>', re.DOTALL)
#: Actions on many records that change those they may and name the others in an error.
PARTIAL = {"startup_list.bulk_assign", "startup_list.bulk_tag"}
#: Markup that would be an element, a handler or a script of its own if shown unescaped; each
#: holds "fz", which no template writes.
MARKUP = ("<script>fz(1)</script>", '"><fz-img src=x onerror=fz(2)>', "</textarea><fz-b>",
          "' onmouseover='fz(3)", "<svg/onload=fz(4)>", "javascript:fz(5)", "{{ fz * 7 }}")
#: What only unescaped (or unchecked) input could put on a page.
UNESCAPED = ("<script>fz(", "<fz", "' onmouseover='fz", "<svg/onload=fz", 'href="javascript:fz',
             "src=\"javascript:fz")
PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32

# Werkzeug takes valid UTF-8 only: every character but the lone surrogates.
characters = st.characters(exclude_categories=("Cs",))
fuzz_text = st.one_of(
    st.text(characters, max_size=40),
    st.sampled_from(MARKUP),
    st.builds(lambda before, markup, after: before + markup + after,
              st.text(characters, max_size=8), st.sampled_from(MARKUP),
              st.text(characters, max_size=8)),
    st.sampled_from(["", " ", "\x00", "a\x00b", "\r\n", "Bcc: x@evil.example\r\nX: y", "\t",
                     "\u202eevil", "\u200b", "🚀🇮🇳", "Straße", "한국어", "हिन्दी", "𝕏" * 5,
                     "-1", "0", "1e309", "NaN", "9" * 30, "2026-02-30", "0000-00-00",
                     "../../etc/passwd", "%00", "' OR 1=1 --", "null", "[]", "{}"]),
    st.integers(min_value=1, max_value=5).map(lambda n: "x" * 10 ** n),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70).map(str),
    st.dates().map(lambda day: day.isoformat()),
)
files = st.tuples(
    st.sampled_from([PDF, PNG, b"", b"MZ\x90\x00 an exe", b"<html><script>x</script></html>",
                     b"%PDF-1.7\n<html><script>x</script>", b"\xff\xd8\xff\xe0 jpeg",
                     b"Name,Country\nAcme,DE\n", b"key: fuzz\nname: {}\n"]),
    st.sampled_from(["deck.pdf", "photo.png", "a.exe.pdf", "../../etc/passwd", "..\\boot.ini",
                     "evil\r\nX-Injected: 1.pdf", 'quote".pdf', "Präsentation 日本.pdf", "",
                     ".pdf", "x" * 300 + ".pdf", "leads.csv", "programme.yaml"]),
)

PLAUSIBLE = {"email": "fuzz@example.com", "number": "3", "date": "2026-12-01",
             "datetime-local": "2026-12-01T10:00", "url": "https://example.com",
             "tel": "+49 211 123456", "password": TEST_PASSWORD, "time": "10:00",
             "month": "2026-12", "week": "2026-W49"}


def plausible(entry: FormField) -> object:
    """What a person would most likely send: the value on the page or one of the choices (no
    named button: one that changes the form, like "add a person", would never let it save)."""
    if entry.kind == "submit":
        return None
    if entry.kind in ("checkbox", "radio") or entry.kind == "select":
        choices = [choice for choice in entry.choices if choice] or entry.choices or [""]
        if entry.multiple:
            return choices[:1]
        return entry.value if entry.value and entry.kind == "select" else choices[0]
    if entry.kind == "file":
        return (PDF, "deck.pdf")
    return entry.value or PLAUSIBLE.get(entry.kind, "Fuzz text")


def field_values(entry: FormField) -> st.SearchStrategy:
    if entry.kind == "file":
        return st.one_of(st.just(plausible(entry)), files)
    options = [st.just(plausible(entry)), fuzz_text, st.just(None)]  # None: not sent at all
    if entry.choices:
        choices = st.sampled_from(entry.choices + ["fz-unknown", "0", "-1"])
        options.append(st.lists(choices, max_size=4) if entry.multiple else choices)
    return st.one_of(options)


def form_data(form: PageForm) -> st.SearchStrategy:
    return st.fixed_dictionaries({name: field_values(entry)
                                  for name, entry in form.fields.items()
                                  if name != "csrf_token"})


@dataclass
class Actor:
    """A browser: anonymous, or signed in as one of the world's users."""

    client: FlaskClient
    user: str | None  # a key of World.users
    token: str = ""


@dataclass
class Fuzzing:
    app: Flask
    world: World
    actor: Actor
    engine: Engine
    writes: Writes
    examples: int = 0
    failures: list[str] = field(default_factory=list)
    drafts: int = 0


def sign_in(actor: Actor, engine: Engine, user_id: int | None) -> None:
    """Sign the browser in again if a post signed it out (and read its new CSRF token)."""
    client = actor.client
    with client.session_transaction() as session:
        signed_in = "_user_id" in session
        has_token = "csrf_token" in session
    if user_id is None or (signed_in and actor.token):
        if not (actor.token and has_token):
            page = client.get("/login").get_data(as_text=True)
            actor.token = CSRF_INPUT.search(page).group(1)
        return
    with engine.connect() as connection:  # an accepted post may have changed the address
        email = connection.scalar(select(User.email).where(User.id == user_id))
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": email, "password": TEST_PASSWORD,
                                           "csrf_token": CSRF_INPUT.search(page).group(1)})
    assert response.status_code == 302, response.get_data(as_text=True)
    actor.token = CSRF_INPUT.search(client.get("/tasks/").get_data(as_text=True)).group(1)


class Writes:
    """The tables that transactions committed writes to while `watching` (statements are seen as
    they run; a rollback forgets them), less those a refused post may write."""

    STATEMENT = re.compile(r'\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)',
                           re.IGNORECASE)
    SET_COLUMNS = re.compile(r'\bSET\s+(.*?)(?:\s+WHERE\b|$)', re.IGNORECASE | re.DOTALL)

    def __init__(self, engine: Engine) -> None:
        self.watching = False
        self.committed: set[str] = set()
        self._pending: dict[int, set[str]] = {}
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)

    def _statement(self, connection, _cursor, statement, *_args) -> None:
        found = self.STATEMENT.match(statement) if self.watching else None
        if found is None or found.group(1).lower() in MAY_CHANGE_ON_REFUSAL:
            return
        table = found.group(1).lower()
        assignments = self.SET_COLUMNS.search(statement)
        if table in COUNTERS and assignments and set(re.findall(
                r'"?(\w+)"?\s*=', assignments.group(1))) <= COUNTERS[table]:
            return
        self._pending.setdefault(id(connection), set()).add(table)

    def _commit(self, connection) -> None:
        self.committed |= self._pending.pop(id(connection), set())

    def _rollback(self, connection) -> None:
        self._pending.pop(id(connection), None)


def text_shown(response) -> str:
    return response.get_data(as_text=True) if response.mimetype == "text/html" else ""


def unescaped(page: str) -> list[str]:
    lowered = page.lower()
    return [marker for marker in UNESCAPED if marker.lower() in lowered]


def encoded(values: dict[str, object]) -> tuple[dict, bool]:
    """The form as the test client posts it (files as streams), and whether it is multipart."""
    data, multipart = {}, False
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, tuple):
            content, filename = value
            data[name] = (io.BytesIO(content), filename)
            multipart = True
        else:
            data[name] = value
    return data, multipart


def restore(fuzzing: Fuzzing) -> None:
    """What would stop the next example from reaching the form: a lock, a required second
    factor, a signed-out browser, an application no longer in draft."""
    with fuzzing.engine.begin() as connection:
        connection.execute(update(User).values(failed_logins=0, locked_until=None,
                                               is_active=True))
        connection.execute(update(SecurityPolicy).values(require_two_factor=False))
    actor = fuzzing.actor
    user_id = None if actor.user is None else fuzzing.world.users[actor.user].id
    sign_in(actor, fuzzing.engine, user_id)
    if actor.user is None:
        keep_an_application_in_draft(fuzzing)


def keep_an_application_in_draft(fuzzing: Fuzzing) -> None:
    client = fuzzing.actor.client
    key = fuzzing.world.programme_key
    with client.session_transaction() as session:
        application_id = session.get("intake_drafts", {}).get(key)
    with fuzzing.engine.connect() as connection:
        application = connection.execute(
            select(Application.status, Application.step).where(Application.id == application_id)
        ).first() if application_id else None
    if application and application.status == ApplicationStatus.DRAFT and \
            application.step == "consent":
        return
    fuzzing.drafts += 1
    fill_in(client, SimpleNamespace(key=key), email=f"applicant{fuzzing.drafts}@fuzz.example")


def check(fuzzing: Fuzzing, endpoint: str, action: str, values: dict[str, object]) -> None:
    """Post one example and judge the answer; what is wrong is collected, not raised, so one
    run reports every form that fails."""
    restore(fuzzing)
    client = fuzzing.actor.client
    with client.session_transaction() as session:  # messages of earlier examples are gone
        session.pop("_flashes", None)
    data, multipart = encoded(values)
    writes = fuzzing.writes
    writes.committed.clear()
    writes.watching = True
    try:
        response = client.post(action, data={**data, "csrf_token": fuzzing.actor.token},
                               content_type="multipart/form-data" if multipart else None)
    finally:
        writes.watching = False
    fuzzing.examples += 1
    status, pages, problems = response.status_code, [text_shown(response)], []
    shown = pages[0]
    if 300 <= status < 400 and response.location.startswith(("/", "http://localhost/")):
        followed = client.get(response.location)
        pages.append(text_shown(followed))
        shown = pages[1]
        if followed.status_code >= 500:
            problems.append(f"led to {response.location}, which answered "
                            f"{followed.status_code}")
    if status >= 500:
        problems.append(f"answered {status}")
    if 300 <= status < 400:  # refused if the page it leads to flashes an error
        flashed = "".join(FLASHES.findall(shown))
        refused = "flash-error" in flashed and endpoint not in PARTIAL
    else:
        refused = status >= 400 or bool(ERROR_SHOWN.search(shown))
    # A form shown again (422) says what is wrong next to a field or above the form; any
    # other refusal may be a page of its own, which says it in its heading.
    said = ERROR_SHOWN.search(pages[0]) or (status != 422 and "<h1>" in pages[0]) or (
        response.is_json and (response.get_json() or {}).get("message"))
    if status >= 400 and not said:
        problems.append(f"refused ({status}) without a message")
    if refused and status < 500:
        changed = sorted(writes.committed)
        if changed:
            said = FLASHED_ERROR.findall("".join(FLASHES.findall(shown)))
            problems.append(f"refused ({status}: {said}) but stored rows in {changed}")
    for page in pages:
        problems += [f"shows {marker!r} unescaped" for marker in unescaped(page)]
    with fuzzing.engine.connect() as connection:
        if connection.scalar(select(OutboxMessage.id).where(
                OutboxMessage.body_html.contains("<fz") |
                OutboxMessage.body_html.contains("<script>fz")).limit(1)):
            problems.append("an email shows markup unescaped")
    if problems:
        fuzzing.failures.append(f"POST {action} ({endpoint}) {values!r}: {'; '.join(problems)}")
        raise AssertionError(fuzzing.failures[-1])


def fuzz_one_form(fuzzing: Fuzzing, endpoint: str, form: PageForm) -> None:
    @FUZZ
    @given(values=form_data(form))
    def post_example(values):
        check(fuzzing, endpoint, form.action, values)

    post_example()


ACTORS = {"anonymous": None, "admin": "admin", "bd": "bd"}
ACCESS_OF = {"anonymous": "anonymous", "admin": "admin", "bd": "bd_own"}


def actor_of(endpoint: str) -> str | None:
    """Who posts to the endpoint: the public (also where a link's token decides), or the most
    senior role the matrix lets in."""
    access = ROUTES[endpoint][0]
    if endpoint in SESSION_ROUTES or access.anonymous != LOGIN:  # public, or by a link's token
        return "anonymous"
    for name in ("admin", "bd"):
        if getattr(access, ACCESS_OF[name]) == IN:
            return name
    return None


def post_endpoints(app: Flask) -> set[str]:
    """Every endpoint a form posts to; the JSON API's are schemathesis's (test_api_schema.py)."""
    return {rule.endpoint for rule in app.url_map.iter_rules()
            if "POST" in rule.methods and not rule.endpoint.startswith("api.")}


def discover(app: Flask, world: World, writes: Writes) -> dict[str, PageForm]:
    """The forms of every page the public, the admin and a BD manager may open, by the endpoint
    they post to (a form is the same whoever sees it; some show only on one's own records)."""
    adapter = app.url_map.bind("localhost")
    forms: dict[str, PageForm] = {}
    for name, user in ACTORS.items():
        fuzzing = Fuzzing(app, world, Actor(app.test_client(), user),
                          app.extensions["db_engine"], writes)
        restore(fuzzing)
        urls = [url for _endpoint, url in get_urls(app, world, ACCESS_OF[name])]
        if user is None:
            key = world.programme_key
            urls += [f"/apply/{key}/{step}" for step in ("company", "people", "plans",
                                                         "documents", "review", "withdraw")]
        for url in urls:
            response = fuzzing.actor.client.get(url)
            if response.status_code == 200 and response.mimetype == "text/html":
                for form in read_page(url, response.get_data(as_text=True)).forms:
                    try:
                        endpoint, _args = adapter.match(form.action.split("?")[0],
                                                        method="POST")
                    except HTTPException:  # a form posting elsewhere
                        continue
                    forms.setdefault(endpoint, form)
            response.close()
    return forms


@pytest.fixture
def fuzz_app(app, settings):
    """The app with rate limits off (they would answer 429 after a few examples)."""
    other = create_app(settings, RATELIMIT_ENABLED=False)
    yield other
    other.extensions["db_engine"].dispose()


@pytest.mark.parametrize("name", list(ACTORS))
def test_every_form_takes_any_input_without_harm(fuzz_app, world, name, caplog):
    app = fuzz_app
    caplog.set_level(logging.ERROR)
    engine = app.extensions["db_engine"]
    actor = Actor(app.test_client(), ACTORS[name])
    fuzzing = Fuzzing(app, world, actor, engine, Writes(engine))
    with app.app_context():  # a programme to enroll in and a look-alike: more forms shown
        db = get_session()
        make_programme(db, definition(key="harbour", intake={}))
        make_startup(db, "Startup own", owner_id=world.users["bd"].id, contact_email=None)
    forms = discover(app, world, fuzzing.writes)
    restore(fuzzing)
    caplog.clear()  # only what the posts log counts
    endpoints = sorted(endpoint for endpoint in post_endpoints(app)
                       if endpoint in ROUTES and actor_of(endpoint) == name)
    for endpoint in endpoints:
        if endpoint in forms and endpoint in UNSHOWN_FORMS:
            fuzzing.failures.append(f"{endpoint}: a page shows its form; drop it from "
                                    "UNSHOWN_FORMS")
        elif endpoint not in forms:
            if endpoint not in UNSHOWN_FORMS:
                fuzzing.failures.append(f"{endpoint}: no page shows a form for it; list it "
                                        "in UNSHOWN_FORMS with its fields")
            with app.test_request_context():
                url = url_for(endpoint, **ROUTES[endpoint][1](world, "own"))
            forms[endpoint] = PageForm(url, dict(UNSHOWN_FORMS.get(endpoint, {})))

    for endpoint in endpoints:
        known = len(fuzzing.failures)
        try:
            fuzz_one_form(fuzzing, endpoint, forms[endpoint])
        except Exception as error:  # noqa: BLE001 - collected; the next form goes on
            if len(fuzzing.failures) == known:
                fuzzing.failures.append(f"{endpoint}: {error!r}")
    print(f"fuzz examples run: {fuzzing.examples} on {len(endpoints)} forms as {name}")
    errors = [record.getMessage() + "\n" + (record.exc_text or "") for record in caplog.records]
    assert not fuzzing.failures, "\n".join(fuzzing.failures + errors)


def test_every_post_endpoint_is_fuzzed_by_someone(fuzz_app):
    unreachable = {endpoint for endpoint in post_endpoints(fuzz_app)
                   if endpoint not in ROUTES or actor_of(endpoint) is None}
    assert not unreachable, f"no role may post to these, or not in the route matrix: {unreachable}"


def test_the_write_log_sees_committed_writes_only(app):
    engine = app.extensions["db_engine"]
    writes = Writes(engine)
    writes.watching = True
    with engine.begin() as connection:
        connection.execute(update(User).values(failed_logins=0))  # a counter: allowed
        connection.execute(update(SecurityPolicy).values(require_two_factor=False))
    with engine.connect() as connection:
        connection.execute(update(OutboxMessage).values(attempts=0))
        connection.rollback()

    assert writes.committed == {"security_policy"}

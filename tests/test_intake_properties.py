"""Generated text in every field of the public form: kept as typed or refused with a message.

Never a 500. Each test replaces one field of a valid step with generated text (control
characters, NUL, very long strings, HTML and script, emoji, Hangul, Devanagari, right-to-left
text) and keeps the other answers valid. One browser and draft serve all examples of a test: a
saved step can be posted again, and a refusal must leave the step's saved answers as they were.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from markupsafe import escape
from sqlalchemy import select
from wtforms import BooleanField

from crm.core.enums import ApplicationStatus
from crm.intake.models import Application
from crm.outbox.models import OutboxMessage
from crm.startups.models import Contact, Startup
from crm.startups.profile_forms import normalised_email
from tests import test_intake
from tests.conftest import fresh
from tests.helpers import count, post_keeping_flashes, text_of
from tests.test_intake import (
    APPLICANT,
    COMPANY,
    PEOPLE,
    PLANS,
    fill_in,
    post_form,
    submit,
    url,
)

programme = test_intake.programme  # the fixture: a programme with an intake section

PROPERTY = examples(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
ERRORS = 'class="errors"'
NUL_REFUSED = "The request could not be understood."
STEP_ANSWERS = {"company": COMPANY, "people": PEOPLE, "plans": PLANS}
#: Fields answered in free text, stored as typed (stripped): the key they are kept under, the
#: most characters they take and whether they must be answered.
FREE_TEXT = {"name": ("name", 200, True), "city": ("city", 120, False),
             "description": ("description", 3000, True),
             "q_incubator": ("q_incubator", 500, False), "notes": ("notes", 3000, False),
             "people-0-name": ("name", 200, True), "people-0-role": ("role", 120, False)}

# Werkzeug needs valid UTF-8: every character but the lone surrogates.
characters = st.characters(exclude_categories=("Cs",))
#: Markup that, shown unescaped, would be a script or element of its own on a page.
MARKUP = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</textarea><b>")
snippets = st.sampled_from([
    *MARKUP,
    "{{ 7*7 }}", "%(name)s", "' OR 1=1 --", "\x00", "a\x00b", "\r\n", "\t", "\u200b",
    "🤖", "👩🏽‍💻", "🇮🇳", "두산로보틱스", "बेंगलुरु रोबोटिक्स", "שלום עולם", "شركة ناشئة",
    "\u202eevil\u202c", "Ünïcödé", "ǅ", "ﬀ", "\ufeff", "\uffff", "\U0010ffff",
])


def _repeated(piece_and_length: tuple[str, int]) -> str:
    piece, length = piece_and_length
    return (piece * (length // len(piece) + 1))[:length]


# Space around what is typed, which the form strips (Python's whitespace: also \x1c-\x1f).
padding = st.sampled_from(["", "", "", " ", "  ", "\t", "\r\n", "\xa0", "\u3000", "\x1f"])
any_text = st.builds(
    "".join, st.tuples(padding, st.one_of(
        st.text(characters, max_size=60),
        st.lists(st.one_of(snippets, st.text(characters, max_size=12)),
                 max_size=6).map("".join),
        st.tuples(st.one_of(snippets, st.text(characters, min_size=1, max_size=12)),
                  st.integers(200, 5_000)).map(_repeated),
    ), padding))


@pytest.fixture
def settings(settings):
    """The test's settings, with rate limits no property test reaches (one browser posts
    starts, links and submits many times a minute)."""
    return settings.model_copy(update={"intake_rate_limit": "10000 per minute"})


@pytest.fixture
def applicant(app, programme):
    """A browser whose draft has every step saved: any step can be posted again."""
    browser = app.test_client()
    fill_in(browser, programme)
    return browser


def the_draft(db) -> Application:
    return fresh(db).scalars(select(Application).order_by(Application.id.desc())).first()


def post(browser, programme, target: str, data: dict):
    """Post with the browser's CSRF token, read once (from the landing page)."""
    return post_keeping_flashes(browser, target, data, token_from=url(programme))


def assert_refused_with_a_message(response, value: str) -> None:
    """A 422 with messages next to the fields; input with NUL, which no database column of
    PostgreSQL can take, is refused for the whole request (crm/core/security.py) with a 400."""
    page = response.get_data(as_text=True)
    if "\x00" in value:
        assert response.status_code == 400, response.status_code
        assert NUL_REFUSED in page
        return
    assert response.status_code == 422, (response.status_code, page[-2000:])
    assert ERRORS in page


def stored_answer(answers: dict, step: str, field: str):
    key = FREE_TEXT[field][0]
    return answers["people"]["people"][0][key] if step == "people" else answers[step][key]


def fits(field: str, value: str) -> bool:
    """Whether a free-text field takes the value: no NUL, not too long, answered if it must."""
    _key, most, required = FREE_TEXT[field]
    return "\x00" not in value and len(value) <= most and bool(value.strip() or not required)


def is_address(value: str) -> bool:
    try:
        return len(value) <= 254 and normalised_email(value) is not None
    except ValueError:
        return False


# Any text in one field of a step -------------------------------------------------------------


@pytest.mark.parametrize("step", ["company", "people", "plans"])
@PROPERTY
@given(data=st.data(), value=any_text)
def test_any_text_in_a_step_is_saved_as_typed_or_refused_with_a_message(
        db, programme, applicant, step, data, value):
    field = data.draw(st.sampled_from(sorted(STEP_ANSWERS[step])), label="field")
    before = the_draft(db).answers[step]

    response = post(applicant, programme, url(programme, f"/{step}"),
                    {**STEP_ANSWERS[step], field: value})

    if field in FREE_TEXT:  # the other fields are choices, numbers, addresses: tested below
        assert response.status_code == (302 if fits(field, value) else
                                        400 if "\x00" in value else 422)
    if response.status_code != 302:
        assert_refused_with_a_message(response, value)
        assert the_draft(db).answers[step] == before  # nothing of the refused post was kept
        return
    if field in FREE_TEXT:
        assert stored_answer(the_draft(db).answers, step, field) == value.strip()
        form = applicant.get(url(programme, f"/{step}")).get_data(as_text=True)
        review = applicant.get(url(programme, "/review")).get_data(as_text=True)
        assert str(escape(value.strip())) in form
        for markup in (markup for markup in MARKUP if markup in value):
            assert markup not in form and markup not in review  # shown escaped, not as markup


@PROPERTY
@given(data=st.data(), value=any_text)
def test_any_text_on_the_start_form_starts_a_draft_or_is_refused(client, db, programme,
                                                                 data, value):
    field = data.draw(st.sampled_from(["email", "leave_empty"]), label="field")
    drafts = count(db, Application)

    response = post(client, programme, url(programme, "/start"),
                    {"email": APPLICANT, "leave_empty": "", field: value})

    if "\x00" in value or field == "email" and not is_address(value):
        assert_refused_with_a_message(response, value)
        assert count(db, Application) == drafts
    elif field == "leave_empty" and value.strip():
        assert response.status_code == 200  # a bot is answered, and nothing kept
        assert count(db, Application) == drafts
    else:
        assert response.status_code == 302
        assert the_draft(db).email == normalised_email(value if field == "email" else APPLICANT)


@PROPERTY
@given(data=st.data(), value=any_text)
def test_any_text_on_the_link_request_sends_a_link_or_is_refused(applicant, db, programme,
                                                                 data, value):
    field = data.draw(st.sampled_from(["link-email", "link-leave_empty"]), label="field")
    emails = count(db, OutboxMessage)

    response = post(applicant, programme, "/apply/link",
                    {"link-email": APPLICANT, "link-leave_empty": "", field: value})

    if "\x00" in value or field == "link-email" and not is_address(value):
        assert_refused_with_a_message(response, value)
        assert count(db, OutboxMessage) == emails
        return
    assert response.status_code == 200, response.status_code
    sent = count(db, OutboxMessage) - emails
    if field == "link-leave_empty":
        assert sent == (0 if value.strip() else 1)  # a bot is answered, and sent nothing
    else:
        assert sent == (1 if normalised_email(value) == APPLICANT else 0)


# Consent and the honeypot on submit ----------------------------------------------------------


@PROPERTY
@given(data=st.data(), value=any_text)
def test_any_text_on_the_review_submits_or_is_refused(applicant, db, programme, data, value):
    field = data.draw(st.sampled_from(["consent", "leave_empty"]), label="field")
    startups = count(db, Startup)

    response = submit(applicant, programme, **{field: value})

    draft = the_draft(db)
    if "\x00" in value or field == "consent" and value in BooleanField.false_values:
        assert_refused_with_a_message(response, value)
        assert draft.status == ApplicationStatus.DRAFT and draft.consent_given_at is None
        assert count(db, Startup) == startups
        return
    assert response.status_code == 302 and response.headers["Location"].endswith("/done")
    if field == "leave_empty" and value.strip():  # a bot is answered, and nothing kept
        assert draft.status == ApplicationStatus.DRAFT and count(db, Startup) == startups
        return
    assert draft.status == ApplicationStatus.SUBMITTED and draft.consent_given_at
    fill_in(applicant, programme)  # a new draft for the next example


# Names in any script -------------------------------------------------------------------------


letters = st.characters(categories=("Lu", "Ll", "Lo"))
names = st.text(st.one_of(letters, letters, st.just(" ")), min_size=1,
                max_size=200).filter(str.strip)


@PROPERTY
@given(company_name=names, person_name=names)
def test_names_in_any_script_are_stored_exactly(db, programme, applicant, company_name,
                                               person_name):
    for step, field, name in (("company", "name", company_name),
                              ("people", "people-0-name", person_name)):
        response = post(applicant, programme, url(programme, f"/{step}"),
                        {**STEP_ANSWERS[step], field: name})

        assert response.status_code == 302, text_of(response)[-2000:]
        assert stored_answer(the_draft(db).answers, step, field) == name.strip()


# Numbers -------------------------------------------------------------------------------------


THIS_YEAR = datetime.now(UTC).year
NUMBER_RANGES = {"founded_year": (1800, THIS_YEAR), "team_size": (1, 100_000)}
OUT_OF_RANGE = {"founded_year": f"Enter a year between 1800 and {THIS_YEAR}.",
                "team_size": "Enter a number of people from 1 to 100,000."}
numbers = st.one_of(st.integers(), st.integers(1790, THIS_YEAR + 10), st.integers(-5, 100_005))
number_texts = st.one_of(numbers.map(str), numbers.map(lambda number: f" {number} "),
                         st.text("0123456789 +-_.,e٣४", max_size=8), any_text)


def whole_number(text: str) -> int | None:
    """What a number field reads in the text (None: left empty); ValueError if no number.

    Python's own reading, as WTForms' IntegerField does: spaces around, a sign, underscores
    between digits and digits of any script ("٣") are accepted."""
    return int(text) if text.strip() else None


@pytest.mark.parametrize("field", sorted(NUMBER_RANGES))
@PROPERTY
@given(text=number_texts)
def test_numbers_are_saved_within_their_range_and_refused_otherwise(db, programme, applicant,
                                                                    field, text):
    low, high = NUMBER_RANGES[field]
    before = the_draft(db).answers["company"]

    response = post(applicant, programme, url(programme, "/company"), {**COMPANY, field: text})

    try:
        number = whole_number(text)
    except ValueError:
        number = "not a number"
    if number is None or isinstance(number, int) and low <= number <= high:
        assert response.status_code == 302, text_of(response)[-2000:]
        assert the_draft(db).answers["company"][field] == number
        return
    assert_refused_with_a_message(response, text)
    assert the_draft(db).answers["company"] == before
    if isinstance(number, int):
        assert OUT_OF_RANGE[field] in text_of(response)


# Whatever a step accepts, the submission takes ----------------------------------------------


#: A country per example: no name of an earlier example's startup is matched (same country).
COUNTRIES = ("IN", "KR", "DE", "JP", "BR", "NG", "VN", "FR", "US", "MX", "KE", "ID", "TR", "EG",
             "AR", "CA", "AU", "ES", "IT", "PL", "TH", "PH", "SG", "CL")


def accepted_text(most: int, *, required: bool = False):
    """Text a step accepts: anything but NUL (refused at the door), within the field's size."""
    texts = any_text.map(lambda text: text.replace("\x00", "")[:most])
    return texts.filter(str.strip) if required else texts


@examples(PROPERTY, max_examples=20)
@given(company_name=accepted_text(200, required=True), city=accepted_text(120),
       description=accepted_text(3000, required=True), incubator=accepted_text(500),
       person_name=accepted_text(200, required=True), role=accepted_text(120),
       notes=accepted_text(3000))
def test_what_the_steps_accept_is_submitted_into_the_startup(
        app, db, programme, company_name, city, description, incubator, person_name, role,
        notes):
    browser = app.test_client()
    number = count(db, Application)
    email = f"founder{number}@startup{number}.example"
    fill_in(browser, programme, email=email, company={
        **COMPANY, "name": company_name, "city": city, "description": description,
        "q_incubator": incubator, "website": f"startup{number}.example",
        "country": COUNTRIES[number % len(COUNTRIES)]})
    for step, answers in (("people", {**PEOPLE, "people-0-email": email,
                                      "people-0-name": person_name, "people-0-role": role}),
                          ("plans", {**PLANS, "notes": notes})):
        assert post_form(browser, url(programme, f"/{step}"), answers).status_code == 302

    startups = count(db, Startup)

    response = submit(browser, programme)

    assert response.status_code == 302, text_of(response)[-2000:]
    draft = the_draft(db)
    assert draft.status == ApplicationStatus.SUBMITTED
    contact = db.scalars(select(Contact).where(Contact.email == email)).one()
    assert (contact.name, contact.role) == (person_name.strip(), role.strip() or None)
    if count(db, Startup) > startups:  # else (rarely) an earlier example's startup matched
        startup = db.get(Startup, draft.startup_id)
        assert (startup.name, startup.city, startup.description) == (
            company_name.strip(), city.strip() or None, description.strip())

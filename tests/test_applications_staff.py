"""Staff's view of applications: the list of unfinished ones (filters, pages, queries), one
application with its answers and documents, who may read them, and the startup's timeline."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.datastructures import FileStorage

from crm.core.enums import Role
from crm.db import get_session
from crm.intake import drafts, staff_views
from crm.intake.models import Application
from crm.intake.submission import submit
from crm.programmes.models import Programme
from tests.factories import definition, make_programme, make_startup
from tests.helpers import text_of

PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
INTAKE = {"questions": [
    {"key": "incubator", "step": "company", "label": {"en": "Which incubator supports you?",
                                                       "de": "Welcher Inkubator?"}},
    {"key": "corridor", "step": "plans", "kind": "choice",
     "label": {"en": "Which corridor?", "de": "Welcher Korridor?"},
     "choices": [{"value": "south", "label": {"en": "Southern corridor", "de": "Südkorridor"}}]},
    {"key": "visa_held", "step": "people", "kind": "yes_no",
     "label": {"en": "Do you hold a Schengen visa?", "de": "Haben Sie ein Schengen-Visum?"}},
]}
COMPANY = {"name": "Bengaluru Robotics", "website": "https://bengaluru-robotics.example",
           "country": "IN", "city": "Bengaluru", "founded_year": 2021, "team_size": 12,
           "sectors": ["MedTech", "Industry 4.0"], "funding_stage": "seed",
           "description": "Robots.\nFor small factories.", "q_incubator": "Elevate"}
PEOPLE = {"people": [{"name": "Ananya Rao", "role": "CEO", "email": "ananya@robotics.example",
                      "phone": "+918023456789", "language": "de"}], "q_visa_held": "yes"}
PLANS = {"timeline": "within_3_months", "office_need": "coworking", "hiring_plans": "1_5",
         "help_needed": ["visa", "bank_account"], "notes": "", "q_corridor": "south"}
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def programme(db) -> Programme:
    return make_programme(db, definition(intake=INTAKE))


@pytest.fixture
def viewer(client_as):
    client, _user = client_as(Role.VIEWER)
    return client


def draft(db, programme: Programme, *, name: str | None = "Bengaluru Robotics",
          email: str = "ananya@robotics.example", at: datetime = START,
          answers: dict | None = None, **fields) -> Application:
    """A draft as the public form leaves it (committed): the company step saved, if named."""
    if answers is None:
        answers = {"company": {**COMPANY, "name": name}} if name else {}
    application = Application(programme_id=programme.id, email=email, answers=answers,
                              created_at=at, last_activity_at=at,
                              step=drafts.next_step(Application(answers=answers)), **fields)
    db.add(application)
    db.commit()
    return application


def submitted(app, db, programme: Programme, company: dict | None = None) -> Application:
    """A complete draft with its pitch deck, submitted through the real service."""
    application = draft(db, programme, answers={"company": company or COMPANY,
                                                "people": PEOPLE, "plans": PLANS,
                                                "documents": {}})
    with app.test_request_context():
        session = get_session()
        application = session.get(Application, application.id)
        drafts.add_document(session, application, "pitch_deck", FileStorage(
            io.BytesIO(PDF), filename="deck.pdf", content_type="application/pdf"))
        submit(session, application, session.get(Programme, programme.id))
        session.commit()
    return db.get(Application, application.id, populate_existing=True)


def rows_of(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


# The list ------------------------------------------------------------------------------------


def test_the_list_shows_unfinished_applications_with_their_progress(app, db, programme,
                                                                     viewer):
    early = draft(db, programme, name=None, email="first@early.example", at=START)
    later = draft(db, programme, name="Seoul <b>Bio</b>", email="ji@seoul.example",
                  at=START + timedelta(days=1))
    submitted(app, db, programme)

    response = viewer.get("/applications/")

    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]  # applicants' addresses
    page = response.get_data(as_text=True)
    rows = rows_of(page)
    assert len(rows) == 2  # unfinished only, by default
    assert "Seoul &lt;b&gt;Bio&lt;/b&gt;" in rows[0] and "ji@seoul.example" in rows[0]
    assert "People" in rows[0]  # the step it continues at, by its title
    assert "first@early.example" in rows[1] and "—" in rows[1] and "Company" in rows[1]
    assert f'href="/applications/{later.id}"' in rows[0]
    assert f'href="/applications/{early.id}"' in rows[1]
    assert "Unfinished" in rows[0]
    # Started and last activity, in Berlin time.
    assert len(re.findall(r"3/3/26, 10:00\sAM", rows[0])) == 2
    assert len(re.findall(r"3/2/26, 10:00\sAM", rows[1])) == 2


def test_the_status_and_programme_filters(app, db, programme, viewer):
    other = make_programme(db, definition(key="korea", name={"en": "Korea Desk",
                                                             "de": "Korea-Desk"},
                                          intake={}))
    draft(db, programme, name="Corridor Draft")
    draft(db, other, name="Korea Draft")
    application = submitted(app, db, programme)

    every = text_of(viewer.get("/applications/"))
    assert "Corridor Draft" in every and "Korea Draft" in every
    only_korea = text_of(viewer.get("/applications/?programme=korea"))
    assert "Korea Draft" in only_korea and "Corridor Draft" not in only_korea
    done = viewer.get("/applications/?status=submitted").get_data(as_text=True)
    assert len(rows_of(done)) == 1
    assert f'href="/startups/{application.startup_id}"' in done
    assert "Corridor Draft" not in done
    # An unknown filter value means the default: unfinished ones of every programme.
    unknown = text_of(viewer.get("/applications/?status=lost&programme=nope"))
    assert "Corridor Draft" in unknown and "Korea Draft" in unknown


def test_no_unfinished_applications_says_so(viewer, programme):
    page = text_of(viewer.get("/applications/"))
    assert "No unfinished applications" in page and "<tbody>" not in page


def test_pages_go_by_last_activity_then_id_without_gaps_or_repeats(db, programme, viewer,
                                                                   monkeypatch):
    monkeypatch.setattr(staff_views, "PAGE_SIZE", 2)
    moments = [START, START, START + timedelta(hours=1), START + timedelta(hours=1),
               START + timedelta(hours=2)]
    made = [draft(db, programme, name=f"Company {index}", at=moment)
            for index, moment in enumerate(moments)]
    expected = [f"/applications/{application.id}" for application in
                sorted(made, key=lambda a: (a.last_activity_at, a.id), reverse=True)]

    seen, url = [], "/applications/"
    while url:
        page = viewer.get(url).get_data(as_text=True)
        seen += [re.search(r'href="(/applications/\d+)"', row).group(1) for row in rows_of(page)]
        following = re.search(r'href="([^"]*after=[^"]*)">Next page', page)
        url = following.group(1).replace("&amp;", "&") if following else None
    assert seen == expected

    broken = viewer.get("/applications/?after=not-a-cursor")
    assert broken.status_code == 200 and len(rows_of(broken.get_data(as_text=True))) == 2


def test_the_list_runs_the_same_queries_for_2_and_20_applications(db, programme, viewer,
                                                                   count_queries):
    for index in range(2):
        draft(db, programme, name=f"Few {index}")
    viewer.get("/applications/")  # warm up
    with count_queries() as for_few:
        viewer.get("/applications/")
    for index in range(18):
        draft(db, programme, name=f"Many {index}", at=START + timedelta(minutes=index))
    with count_queries() as for_many:
        page = viewer.get("/applications/").get_data(as_text=True)
    assert len(rows_of(page)) == 20
    assert len(for_few) == len(for_many), "\n".join(for_many)


# One application -------------------------------------------------------------------------------


def test_an_application_shows_its_answers_labelled_and_escaped(app, db, programme, viewer):
    application = submitted(app, db, programme,
                            company={**COMPANY, "name": "<script>alert(1)</script> Robotics"})

    response = viewer.get(f"/applications/{application.id}")

    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    raw = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Robotics" in raw
    page = text_of(response)
    for label, value in (("Company name", "<script>alert(1)</script> Robotics"),
                         ("Country where the company is based", "India"),
                         ("Sectors", "MedTech, Industry 4.0"), ("Funding stage", "Seed"),
                         ("Which incubator supports you?", "Elevate"),
                         ("When do you plan to start in Germany?", "Within 3 months"),
                         ("Where would you like our help?",
                          "Visa or residence permit, Business bank account"),
                         ("Which corridor?", "Southern corridor"),
                         ("Do you hold a Schengen visa?", "Yes"),
                         ("Preferred language", "Deutsch"), ("Phone", "+918023456789")):
        assert re.search(rf"<dt>{re.escape(label)}</dt><dd>{re.escape(value)}</dd>", page), label
    assert "<h3>Ananya Rao</h3>" in page
    assert "Robots.\nFor small factories." in page
    document = re.search(r'href="/documents/(\d+)">deck.pdf</a>', raw)
    assert document and "Pitch deck" in page
    assert viewer.get(f"/documents/{document.group(1)}").data == PDF
    assert f'href="/startups/{application.startup_id}"' in raw
    assert f'href="/startups/{application.startup_id}#enrollment-{application.enrollment_id}"' \
        in raw
    assert "version 2026-11" in page


def test_a_draft_shows_where_it_stands(db, programme, viewer):
    application = draft(db, programme, answers={"company": COMPANY, "people": PEOPLE})
    page = text_of(viewer.get(f"/applications/{application.id}"))
    assert "Plans in Germany" in page  # the step it continues at
    assert "not given yet" in page and "No documents uploaded yet." in page
    assert "Bengaluru Robotics" in page and "Ananya Rao" in page


def test_an_unknown_application_is_not_found(viewer):
    assert viewer.get("/applications/999999").status_code == 404


def test_anonymous_visitors_are_sent_to_the_login(client, db, programme):
    application = draft(db, programme)
    for url in ("/applications/", f"/applications/{application.id}"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# The startup's timeline ------------------------------------------------------------------------


def test_the_startups_timeline_shows_the_submitted_application(app, db, programme, viewer):
    startup = make_startup(db, "Bengaluru Robotics", contact_email=None)
    application = submitted(app, db, programme)
    assert application.startup_id == startup.id  # matched by name and country

    page = viewer.get(f"/startups/{startup.id}").get_data(as_text=True)

    entry = re.search(r'<li class="timeline-entry timeline-application">(.*?)</li>', page, re.S)
    assert entry, page
    assert f'href="/applications/{application.id}"' in entry.group(1)
    assert "Application to Corridor submitted" in entry.group(1)

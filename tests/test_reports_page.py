"""The reports page and its downloads, on the pipeline of tests/test_report_figures.py.

The figures themselves are checked by hand there; here: that the page shows them as charts
with their numbers, filters by programme and dates, scopes a BD manager to their startups,
answers bad filters next to the field, runs a fixed number of queries, and that the CSV and
XLSX downloads carry the same figures safely.
"""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from openpyxl import load_workbook

from crm.core.enums import LeadSource, Role
from crm.programmes.models import Programme
from crm.users.passwords import hash_password
from crm.workflow import engine
from crm.workflow.engine import Actor
from tests.conftest import TEST_PASSWORD, login
from tests.factories import make_programme, make_startup
from tests.test_report_figures import _definition, at, build_pipeline

WEEK_10 = "start=2026-03-02&end=2026-03-08"


@pytest.fixture
def world(app, db, make_user, clock):
    return build_pipeline(app, db, make_user, clock)


def page(client, query: str = "") -> str:
    response = client.get(f"/reports/?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    return html.unescape(response.get_data(as_text=True))


def section(text: str, title_id: str) -> str:
    return re.search(rf'<section class="report-section" aria-labelledby="{title_id}">(.*?)'
                     r'(?=<section class="report-section"|</main>)', text, re.S).group(1)


def rows(text: str) -> list[list[str]]:
    """Each table row's cells as text (tags dropped, the bar charts empty)."""
    return [[re.sub(r"<[^>]+>", "", cell).replace("\xa0", " ").strip() for cell in
             re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", text, re.S) if "<td" in row]


def bar_widths(text: str) -> list[str]:
    return re.findall(r'<rect[^>]* width="([\d.]+)"', text)


def test_the_page_shows_each_section_as_bars_with_their_numbers(app, world, make_user,
                                                                 count_queries, db):
    client = app.test_client()
    login(client, make_user(Role.MANAGER).email)

    with count_queries() as statements:
        text = page(client, WEEK_10)
    first_count = len(statements)

    assert "From Mar 2, 2026 to Mar 8, 2026" in text
    funnel = section(text, "funnel-title")
    assert rows(funnel) == [
        ["Lead", "", "2", "50% (1)"], ["Review", "", "1", "0% (0)"],
        ["Offer", "", "1", "100% (1)"], ["Landed", "", "1", "—"],  # Corridor
        ["Lead", "", "2", "0% (0)"], ["Review", "", "0", "—"], ["Offer", "", "0", "—"],
        ["Landed", "", "0", "—"],  # Soft
    ]
    assert bar_widths(funnel)[:4] == ["100.0", "50.0", "50.0", "50.0"]
    assert 'href="/reports/funnel.csv?weeks=12&start=2026-03-02&end=2026-03-08"' in funnel

    times = section(text, "stage-times-title")
    assert rows(times) == [["Lead", "", "3 d", "4 d", "2"], ["Review", "", "5 d", "5 d", "1"],
                           ["Offer", "", "2 d", "2 d", "1"]]
    # Lead: median 3 of a scale up to the longest 90th percentile (5 days), p90 4.
    assert bar_widths(times)[:2] == ["80.0", "60.0"]

    trend = section(text, "trend-title")
    assert rows(trend) == [["2026-W10", "", "4", "1"]]

    leads = section(text, "leads-title")
    assert "New leads: 4" in leads
    assert rows(leads) == [["India", "", "2"], ["South Korea", "", "1"], ["United States", "", "1"],
                           ["ai", "", "2"], ["fintech", "", "1"], ["health", "", "1"],
                           ["Event", "", "2"], ["Referral", "", "1"], ["Website", "", "1"],
                           ["Tech Summit", "", "2"]]

    # The session and user, the programmes, then per section: funnel entries, conversions,
    # time in stage (each one query for every programme), trend, new leads.
    assert first_count == 7, statements
    corridor = db.get(Programme, world["p1"])
    third = make_programme(db, _definition("third", 5))
    for number in range(5):  # more of everything and a third programme: the same queries
        made = make_startup(db, f"More {number}", country="FR", source=LeadSource.WEB,
                            contact_email=None, created_at=at(3, 3, 9))
        with app.app_context():
            for programme in (corridor, third):
                enrollment = engine.enroll(db, startup=made, programme=programme,
                                           actor=Actor.system(), now=at(3, 3, 9))
                engine.move(db, enrollment, "review", Actor.system(), now=at(3, 4, 9))
        db.commit()
    with count_queries() as statements:
        more = page(client, WEEK_10)
    assert "New leads: 9" in more and "Third" in section(more, "funnel-title")
    assert len(statements) == first_count


def test_a_bd_manager_sees_the_figures_of_their_own_startups_and_a_programme_filter(
        app, world, db):
    client = app.test_client()
    bea = world["bea"]  # owns A, B and H
    bea.password_hash = hash_password(TEST_PASSWORD)
    db.add(bea)
    db.commit()
    login(client, bea.email)

    text = page(client, WEEK_10)

    assert "Figures of the startups you own." in text
    assert "New leads: 2" in section(text, "leads-title")  # B and H
    assert rows(section(text, "trend-title")) == [["2026-W10", "", "2", "1"]]
    only_soft = page(client, f"programme=soft&{WEEK_10}")
    assert 'option selected value="soft"' in only_soft
    assert "No enrollment entered a stage in this period." in section(only_soft, "funnel-title")
    assert "No new leads in this period." in section(only_soft, "leads-title")


BAD_FILTERS = [
    ("programme=nope", "programme", "Not a valid choice."),
    ("weeks=5", "weeks", "Not a valid choice."),
    ("start=2026-02-30&end=2026-03-08", "start", "Not a valid date value."),
    ("start=2026-03-02", "end", "Give both dates, or neither."),
    ("start=2026-03-08&end=2026-03-02", "end", "The end comes before the start."),
    ("start=2025-03-01&end=2026-03-08", "end", "Choose at most 366 days."),
    ("start=0001-01-01&end=0001-01-02", "start", "Choose a date between 2000 and 2099."),
]


def test_bad_filters_are_answered_next_to_the_field_and_kept(client_as):
    client, _ = client_as(Role.VIEWER)

    for query, field, message in BAD_FILTERS:
        response = client.get(f"/reports/?{query}")

        assert response.status_code == 422, query
        text = html.unescape(response.get_data(as_text=True))
        assert re.search(rf'<ul class="errors" id="{field}-errors">\s*<li>'
                         rf'{re.escape(message)}</li>', text), query
        assert 'id="funnel-title"' not in text
        download = client.get(f"/reports/trend.csv?{query}")
        assert download.status_code == 302 and download.location == f"/reports/?{query}"
    assert 'value="2026-02-30"' in text or 'value="0001-01-01"' in text  # typed, kept


def test_downloads_carry_the_section_with_the_same_filters_as_csv_and_xlsx(
        app, world, db, make_user):
    client = app.test_client()
    login(client, make_user(Role.VIEWER).email)
    made = make_startup(db, "Formula", country="IN", source=LeadSource.EVENT,
                        source_detail="=HYPERLINK(\"http://evil.example\")",
                        created_at=at(3, 3, 9), contact_email=None)
    assert made.id

    response = client.get(f"/reports/leads.csv?{WEEK_10}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=leads-2026-03-02-2026-03-08.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    lines = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert lines[:3] == [["Breakdown", "Value", "New leads"], ["Total", "", "5"],
                         ["Country", "India", "3"]]
    assert ["Event", "'=HYPERLINK(\"http://evil.example\")", "1"] in lines

    workbook = client.get(f"/reports/funnel.xlsx?programme=corridor&{WEEK_10}")
    assert workbook.headers["Content-Disposition"] == (
        "attachment; filename=funnel-2026-03-02-2026-03-08.xlsx")
    sheet = load_workbook(io.BytesIO(workbook.get_data())).active
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [
        ["Programme", "Stage", "Entered", "Entered the next stage", "Conversion (%)"],
        ["Corridor", "Lead", 2, 1, 50], ["Corridor", "Review", 1, 0, 0],
        ["Corridor", "Offer", 1, 1, 100], ["Corridor", "Landed", 1, None, None]]
    trend = client.get(f"/reports/trend.xlsx?{WEEK_10}")
    trend_rows = list(load_workbook(io.BytesIO(trend.get_data())).active.values)
    assert trend_rows[1][0] == "2026-W10" and trend_rows[1][3:] == (5, 1)
    times = client.get(f"/reports/stage-times.csv?{WEEK_10}").get_data().decode("utf-8-sig")
    assert "Corridor,Lead,2,3.0,4.0" in times
    assert client.get("/reports/unknown.csv").status_code == 404
    assert client.get("/reports/funnel.pdf").status_code == 404


def test_with_nothing_to_show_every_section_says_so(client_as):
    client, _ = client_as(Role.MANAGER)

    text = page(client)

    assert "No programmes yet." in section(text, "funnel-title")
    assert "No stay in a stage ended in this period." in text
    assert "No new leads and no landings in this period." in text
    assert "No new leads in this period." in text
    assert 'option selected value="12"' in text  # the last 12 weeks by default

"""The pipeline board: columns with counts and overdue counts, cards with their SLA, filters,
"more" paging, moves through the engine (with and without JavaScript), refusals explained next
to the card, permissions, and queries that do not grow with the data."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, update
from sqlmodel import Session

from crm.core.audit import AuditEvent
from crm.core.clock import set_clock, utcnow
from crm.core.enums import EnrollmentStatus, LeadSource, Role, StartupStatus
from crm.programmes.models import Programme
from crm.programmes.queries import COUNT_CAP, Cursor, SlaState, board, sla_state, stage_counts
from crm.startups.filters import StartupFilters
from crm.startups.models import Startup, StartupSector, StartupTag
from crm.startups.search import refresh_search_fields
from crm.workflow import engine
from crm.workflow.calendar import add_working_days
from crm.workflow.engine import Actor, current_version
from crm.workflow.models import ChecklistItem, ChecklistStatus, Enrollment, StageEvent
from tests.conftest import csrf_token, fresh
from tests.factories import current_version_id, definition, make_programme, make_startup, stage

STAGES = [
    stage("lead", "Lead", "Lead"),
    stage("qualified", "Qualified", "Qualifiziert"),
    stage("landed", "Landed", "Angesiedelt", closes_as="landed"),
]
JSON = {"Accept": "application/json"}
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def programme(db) -> Programme:
    return make_programme(db, definition(stages=STAGES, intake_stage=None, checklist=[],
                                         fields=[]))


@pytest.fixture
def corridor(db) -> Programme:
    """The full test programme: lead → intake → qualified (gated) → landed (checklist gate)."""
    return make_programme(db)


@pytest.fixture
def frozen_clock():
    set_clock(lambda: NOW)
    yield NOW
    set_clock(None)


def _enroll(db, programme, count: int, stage: str, status=EnrollmentStatus.OPEN, *,
            start: datetime | None = None, due_at: datetime | None = None,
            same_time: bool = False, prefix: str | None = None, **startup_fields) -> list[int]:
    """Enrollments written directly (fast, for volume); returns their ids."""
    start = start or utcnow() - timedelta(days=30)
    version_id = current_version_id(db, programme)
    ids = []
    for number in range(count):
        startup = Startup(name=f"{prefix or stage} startup {number:03}",
                          **{"country": "IN", **startup_fields})
        db.add(startup)
        db.flush()
        refresh_search_fields(db, startup)
        enrollment = Enrollment(
            startup_id=startup.id, programme_id=programme.id, programme_version_id=version_id,
            stage=stage, status=status, due_at=due_at,
            stage_entered_at=start if same_time else start + timedelta(hours=number))
        db.add(enrollment)
        db.flush()
        ids.append(enrollment.id)
    db.commit()
    return ids


def _engine_enroll(app, db: Session, programme: Programme, startup: Startup,
                   stage: str | None = None, **fields) -> Enrollment:
    """Enrolled through the engine (its on-enter actions want the app's settings)."""
    with app.app_context():
        enrollment = engine.enroll(db, startup=startup, programme=programme,
                                   actor=Actor.system(), stage=stage, fields=fields)
        db.commit()
    return enrollment


def reloaded(db: Session, enrollment_id: int) -> Enrollment:
    """The enrollment as the requests left it (not as this session remembers it)."""
    fresh(db).expire_all()
    return db.get(Enrollment, enrollment_id)


def get_page(client, url: str, expect: int = 200, **params) -> str:
    response = client.get(url, query_string=params or None)
    assert response.status_code == expect, response.get_data(as_text=True)[-2000:]
    return html.unescape(response.get_data(as_text=True))


def column_html(page: str, stage_key: str) -> str:
    match = re.search(rf'<section [^>]*id="column-{stage_key}".*?</section>', page, re.S)
    assert match, f"no column {stage_key}"
    return match.group(0)


def card_html(page: str, enrollment_id: int) -> str:
    match = re.search(rf'<li [^>]*id="card-{enrollment_id}".*?</li>\s*(?=<li class="board-card|'
                      rf'</ol>)', page, re.S)
    assert match, f"no card {enrollment_id}"
    return match.group(0)


def count_of(column: str) -> int:
    return int(re.search(r"<span data-count>(\d+)</span>", column).group(1))


def overdue_of(column: str) -> int:
    return int(re.search(r"<span data-overdue>(\d+)</span>", column).group(1))


def card_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'id="card-(\d+)" tabindex', page)]


def more_link(fragment: str) -> str | None:
    match = re.search(r'<a href="([^"]+)" data-board-more', fragment)
    return match.group(1) if match else None


def stage_events(db: Session, enrollment_id: int) -> list[tuple[str | None, str]]:
    return [(event.from_stage, event.to_stage) for event in fresh(db).scalars(
        select(StageEvent).where(StageEvent.enrollment_id == enrollment_id)
        .order_by(StageEvent.id))]


def move(client, enrollment: Enrollment, to_stage: str, *, revision: int | None = None,
         headers: dict | None = None, next_path: str = "/pipeline/?programme=corridor"):
    return client.post("/pipeline/move", headers=headers or {}, data={
        "csrf_token": csrf_token(client, "/pipeline/"), "enrollment_id": enrollment.id,
        "to_stage": to_stage, "next": next_path,
        "revision": enrollment.revision if revision is None else revision,
    })


# --- reads -------------------------------------------------------------------------------------


def test_columns_count_all_and_show_the_longest_waiting_first(db, programme):
    _enroll(db, programme, 25, "lead")
    _enroll(db, programme, 2, "qualified")
    _enroll(db, programme, 1, "qualified", EnrollmentStatus.WITHDRAWN)  # closed: not on board
    _enroll(db, programme, 3, "landed", EnrollmentStatus.LANDED)
    columns = {column.stage.key: column
               for column in board(db, programme, current_version(db, programme).parsed,
                                   now=utcnow(), per_column=20)}
    assert [(key, c.count, len(c.cards)) for key, c in columns.items()] == [
        ("lead", 25, 20), ("qualified", 2, 2), ("landed", 3, 3),
    ]
    assert columns["lead"].cards[0].startup_name == "lead startup 000"
    assert columns["lead"].cards[-1].startup_name == "lead startup 019"
    assert columns["lead"].next_cursor == columns["lead"].cards[-1].cursor
    assert columns["qualified"].next_cursor is None


def test_the_board_shows_counts_overdue_counts_and_what_each_card_says(
        db, programme, client_as, frozen_clock):
    client, user = client_as(Role.VIEWER)
    owner = fresh(db).get(type(user), user.id)
    late = _enroll(db, programme, 2, "lead", start=NOW - timedelta(days=9),
                   due_at=NOW - timedelta(hours=1), prefix="late")
    soon = _enroll(db, programme, 1, "lead", start=NOW - timedelta(days=3),
                   due_at=add_working_days(NOW, 1), prefix="soon", owner_id=owner.id)
    fine = _enroll(db, programme, 1, "qualified", start=NOW - timedelta(days=1),
                   due_at=add_working_days(NOW, 10), prefix="fine", country="DE")
    _enroll(db, programme, 1, "landed", EnrollmentStatus.LANDED, prefix="done")

    page = get_page(client, "/pipeline/", programme="corridor")
    lead, qualified = column_html(page, "lead"), column_html(page, "qualified")
    assert (count_of(lead), overdue_of(lead)) == (3, 2)
    assert (count_of(qualified), overdue_of(qualified)) == (1, 0)
    assert count_of(column_html(page, "landed")) == 1

    overdue_card = card_html(page, late[0])
    startup_id = reloaded(db, late[0]).startup_id
    assert f'href="/startups/{startup_id}"' in overdue_card
    assert "late startup 000" in overdue_card and "India" in overdue_card
    assert "9 days in stage" in overdue_card and "Unassigned" in overdue_card
    assert "Overdue" in overdue_card and "sla-overdue" in overdue_card
    soon_card = card_html(page, soon[0])
    assert "Due soon" in soon_card and owner.name in soon_card and "3 days in stage" in soon_card
    fine_card = card_html(page, fine[0])
    assert "On time" in fine_card and "Germany" in fine_card and "1 day in stage" in fine_card
    # A viewer sees no move controls at all.
    assert "data-move-form" not in page and 'draggable="true"' not in page


def test_sla_state_counts_working_days_in_nrw():
    wednesday = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    assert sla_state(None, wednesday, 2) is SlaState.NONE
    assert sla_state(wednesday, wednesday, 2) is SlaState.OVERDUE  # due_at <= now
    assert sla_state(add_working_days(wednesday, 0), wednesday, 2) is SlaState.DUE_SOON
    assert sla_state(add_working_days(wednesday, 2), wednesday, 2) is SlaState.DUE_SOON
    assert sla_state(add_working_days(wednesday, 3), wednesday, 2) is SlaState.ON_TIME
    # Thursday before Good Friday 2026 (3 April): Friday and Easter Monday do not count.
    thursday = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)
    due_tuesday = datetime(2026, 4, 7, 22, 0, tzinfo=UTC)  # end of Tuesday 7 April, CEST
    assert sla_state(due_tuesday, thursday, 1) is SlaState.DUE_SOON
    assert sla_state(due_tuesday, thursday, 0) is SlaState.ON_TIME


def test_filters_narrow_the_counts_and_the_cards(db, programme, client_as, frozen_clock):
    client, user = client_as(Role.BD_MANAGER)
    mine = _enroll(db, programme, 2, "lead", prefix="Müller", owner_id=user.id,
                   source=LeadSource.EVENT, source_detail="Hannover Messe")
    german = _enroll(db, programme, 1, "qualified", prefix="Berlin", country="DE",
                     status=EnrollmentStatus.OPEN, due_at=NOW - timedelta(days=1))
    _enroll(db, programme, 3, "lead", prefix="other")
    startup_id = reloaded(db, german[0]).startup_id
    db.add(StartupSector(startup_id=startup_id, sector="robotics"))
    db.add(StartupTag(startup_id=startup_id, tag="corridor-2026"))
    db.get(Startup, startup_id).status = StartupStatus.ACTIVE
    db.commit()

    def counts(**filters) -> tuple[int, int]:
        page = get_page(client, "/pipeline/", programme="corridor", **filters)
        return count_of(column_html(page, "lead")), count_of(column_html(page, "qualified"))

    assert counts() == (5, 1)
    assert counts(owner="me") == (2, 0)
    assert counts(owner=str(user.id)) == (2, 0)
    assert counts(owner="none") == (3, 1)
    assert counts(country="DE") == (0, 1)
    assert counts(sector="robotics") == (0, 1)
    assert counts(tag="corridor-2026") == (0, 1)
    assert counts(status="active") == (0, 1)
    assert counts(source="event") == (2, 0)
    assert counts(event="Hannover Messe") == (2, 0)
    assert counts(q="mueller") == (2, 0)  # found with the German spelling too
    assert counts(overdue="1") == (0, 1)
    page = get_page(client, "/pipeline/", programme="corridor", owner="me", q="Müller")
    assert set(card_ids(page)) == set(mine)
    # The form shows the filters in force, and a way to clear them.
    assert 'name="q" value="Müller"' in page and '<option value="me" selected>' in page
    assert 'href="/pipeline/?programme=corridor">Clear filters' in page


def test_more_pages_through_a_column_without_repeats_or_gaps(db, programme, client_as):
    client, _user = client_as(Role.VIEWER)
    start = utcnow() - timedelta(days=5)
    # Ties on the time entered: the enrollment id keeps the order total.
    ids = (_enroll(db, programme, 25, "lead", start=start, same_time=True, prefix="tie")
           + _enroll(db, programme, 22, "lead", start=start + timedelta(days=1), prefix="later"))
    page = get_page(client, "/pipeline/", programme="corridor")
    lead = column_html(page, "lead")
    seen = card_ids(lead)
    assert len(seen) == 20 and count_of(lead) == 47
    link = more_link(lead)
    pages = 0
    while link:
        assert link.startswith("/pipeline/column?")
        fragment = get_page(client, link.replace("&amp;", "&") + "&fragment=1")
        assert "<html" not in fragment  # only the cards and the next link, for board.js
        plain = get_page(client, link)  # the same page works without JavaScript
        assert "<html" in plain and card_ids(plain) == card_ids(fragment)
        seen += card_ids(fragment)
        link = more_link(fragment)
        pages += 1
    assert pages == 2
    assert seen == ids  # every card once, longest waiting first


def test_more_keeps_the_filters_and_a_broken_cursor_starts_over(db, programme, client_as):
    client, _user = client_as(Role.VIEWER)
    _enroll(db, programme, 25, "lead", country="DE", prefix="de")
    _enroll(db, programme, 5, "lead", country="IN", prefix="in")
    page = get_page(client, "/pipeline/", programme="corridor", country="DE")
    link = more_link(column_html(page, "lead")).replace("&amp;", "&")
    assert "country=DE" in link
    rest = get_page(client, link)
    assert len(card_ids(rest)) == 5 and "in startup" not in rest
    first = get_page(client, "/pipeline/column", programme="corridor", stage="lead",
                     after="not-a-cursor")
    assert len(card_ids(first)) == 20
    get_page(client, "/pipeline/column", 404, programme="corridor", stage="nowhere")
    get_page(client, "/pipeline/column", 404, programme="no-such-programme", stage="lead")
    # A link to a programme closed meanwhile opens the board of the first one.
    assert "Pipeline: Corridor" in get_page(client, "/pipeline/", programme="no-such-programme")


def test_cursor_round_trips():
    cursor = Cursor(datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), 42)
    assert Cursor.parse(str(cursor)) == cursor
    for broken in (None, "", "1.", ".1", "-1.2", "1.2.3", "9" * 30 + ".1", "a.b"):
        assert Cursor.parse(broken) is None


def test_board_queries_do_not_grow_with_stages_or_cards(db, programme, client_as,
                                                        count_queries):
    client, _user = client_as(Role.MANAGER)
    _enroll(db, programme, 5, "lead")
    _enroll(db, programme, 5, "qualified")
    get_page(client, "/pipeline/", programme="corridor")  # warm up
    with count_queries() as few:
        get_page(client, "/pipeline/", programme="corridor")
    _enroll(db, programme, 500, "lead", prefix="more lead")
    _enroll(db, programme, 480, "qualified", prefix="more qualified")
    _enroll(db, programme, 10, "landed", EnrollmentStatus.LANDED)
    with count_queries() as many:
        page = get_page(client, "/pipeline/", programme="corridor")
    assert count_of(column_html(page, "lead")) == 505
    assert len(card_ids(page)) == 50  # 20 + 20 + 10: never a whole column
    assert len(many) == len(few), "\n".join(many)
    assert len(many) <= 7, "\n".join(many)
    with count_queries() as filtered:
        get_page(client, "/pipeline/", programme="corridor", q="lead", sector="x", tag="y",
                 overdue="1", owner="me")
    assert len(filtered) <= len(many), "\n".join(filtered)  # no cards: no card query


def test_counts_stop_at_the_cap_and_a_column_page_counts_exactly(db, programme, client_as,
                                                                 frozen_clock):
    client, _user = client_as(Role.VIEWER)
    _enroll(db, programme, 3, "lead", due_at=NOW - timedelta(days=1))
    # Closed enrollments pile up in a closing stage: a startup may have many.
    [startup_id] = [row.startup_id for row in db.execute(
        select(Enrollment.startup_id).where(Enrollment.programme_id == programme.id))][:1]
    version_id = current_version_id(db, programme)
    db.execute(insert(Enrollment), [
        {"startup_id": startup_id, "programme_id": programme.id,
         "programme_version_id": version_id, "stage": "landed", "status": "landed",
         "stage_entered_at": NOW - timedelta(days=400, hours=n), "fields": {}}
        for n in range(COUNT_CAP + 1)])
    db.commit()
    parsed = current_version(db, programme).parsed

    assert stage_counts(db, programme, parsed, now=NOW) == {
        "lead": (3, 3), "landed": (COUNT_CAP, 0)}
    assert stage_counts(db, programme, parsed, now=NOW, cap=2) == {
        "lead": (2, 2), "landed": (2, 0)}
    assert stage_counts(db, programme, parsed, now=NOW, cap=None, stage_keys={"landed"}) == {
        "landed": (COUNT_CAP + 1, 0)}
    page = get_page(client, "/pipeline/", programme="corridor")
    landed, lead = column_html(page, "landed"), column_html(page, "lead")
    assert f"<span data-count data-capped>{COUNT_CAP}+</span>" in landed
    assert count_of(lead) == 3 and overdue_of(lead) == 3 and "data-capped" not in lead
    column_page = get_page(client, "/pipeline/column", programme="corridor", stage="landed")
    assert f"{COUNT_CAP + 1} startups in this stage" in column_page


def test_country_and_owner_filters_follow_the_startup(db, programme, client_as, make_user):
    """The enrollments' copies of country and owner (kept by triggers) follow every change."""
    client, user = client_as(Role.BD_MANAGER)
    other = make_user(Role.BD_MANAGER, name="Other Owner")
    [moving] = _enroll(db, programme, 1, "lead", prefix="moving", country="DE")
    [staying] = _enroll(db, programme, 1, "lead", prefix="staying", country="DE",
                        owner_id=user.id)
    [closed] = _enroll(db, programme, 1, "landed", EnrollmentStatus.LANDED, prefix="closed",
                       country="DE")

    def cards(**filters) -> set[int]:
        return set(card_ids(get_page(client, "/pipeline/", programme="corridor", **filters)))

    def copies(enrollment_id: int) -> tuple[str | None, int | None]:
        return tuple(fresh(db).execute(select(Enrollment.country, Enrollment.owner_id)
                                       .where(Enrollment.id == enrollment_id)).one())

    assert (cards(country="DE"), cards(owner="me"), cards(owner="none")) == (
        {moving, staying, closed}, {staying}, {moving, closed})
    assert copies(moving) == ("DE", None) and copies(staying) == ("DE", user.id)

    startup = db.get(Startup, db.get(Enrollment, moving).startup_id)
    startup.country, startup.owner_id = "FR", user.id
    closing = db.get(Startup, db.get(Enrollment, closed).startup_id)
    closing.owner_id = other.id
    db.commit()
    assert copies(moving) == ("FR", user.id)
    assert (cards(country="DE"), cards(country="FR")) == ({staying, closed}, {moving})
    assert (cards(owner="me"), cards(owner=str(other.id)), cards(owner="none")) == (
        {moving, staying}, {closed}, set())
    assert stage_counts(fresh(db), programme, current_version(db, programme).parsed,
                        StartupFilters(country="FR"), now=utcnow()) == {"lead": (1, 0)}

    # A merge moves enrollments to the surviving startup: they take its country and owner.
    survivor = make_startup(db, "Survivor GmbH", country="JP", owner_id=other.id)
    db.execute(update(Enrollment.__table__).where(Enrollment.__table__.c.id == moving)
               .values(startup_id=survivor.id))
    db.commit()
    assert copies(moving) == ("JP", other.id)
    assert (cards(country="JP"), cards(owner="me"), cards(owner=str(other.id))) == (
        {moving}, {staying}, {moving, closed})


def test_a_programme_with_many_stages_is_still_two_queries_for_the_columns(db, count_queries,
                                                                          app):
    many = [stage(f"s{n}", f"Stage {n}", f"Stufe {n}") for n in range(12)]
    programme = make_programme(db, definition(key="wide", stages=[
        *many, stage("landed", "Landed", "Angesiedelt", closes_as="landed")],
        intake_stage=None, checklist=[], fields=[]))
    for number in range(12):
        _enroll(db, programme, 3, f"s{number}")
    parsed = current_version(db, programme).parsed
    with count_queries() as statements:
        columns = board(db, programme, parsed, now=utcnow())
    assert len(statements) == 2
    assert [len(column.cards) for column in columns] == [3] * 12 + [0]


# --- moves -------------------------------------------------------------------------------------


@pytest.fixture
def owned(app, db, corridor, client_as):
    """A BD manager and an enrollment of their own startup, in the lead stage."""
    client, user = client_as(Role.BD_MANAGER)
    startup = make_startup(db, "Aarogya Sense", owner_id=user.id)
    return client, user, _engine_enroll(app, db, corridor, startup, "lead")


def test_a_move_without_javascript_goes_through_the_engine_and_lands_in_the_column(db, owned):
    client, user, enrollment = owned
    response = move(client, enrollment, "intake")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/pipeline/?programme=corridor#card-{enrollment.id}"
    assert stage_events(db, enrollment.id) == [(None, "lead"), ("lead", "intake")]
    event = fresh(db).scalar(select(StageEvent).where(StageEvent.to_stage == "intake"))
    assert event.actor_user_id == user.id
    assert fresh(db).scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "enrollment.moved", AuditEvent.object_id == enrollment.id)) == 1
    page = get_page(client, "/pipeline/", programme="corridor")
    assert enrollment.id in card_ids(column_html(page, "intake"))
    card = card_html(page, enrollment.id)
    assert "Moved to Intake." in card and "Just moved" in card
    # Said once: the next visit shows the board without the notice.
    assert "Moved to Intake." not in get_page(client, "/pipeline/", programme="corridor")


def test_a_move_with_javascript_answers_json_with_the_card_as_it_is_now(db, owned):
    client, _user, enrollment = owned
    response = move(client, enrollment, "intake", headers=JSON)
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["ok"] is True and answer["to_stage"] == "intake"
    assert answer["message"] == "Moved to Intake."
    assert f'id="card-{enrollment.id}"' in answer["card_html"]
    assert 'data-stage="intake"' in answer["card_html"]
    # The new card offers the moves from its new stage, at its new revision.
    moved = reloaded(db, enrollment.id)
    assert f'name="revision" value="{moved.revision}"' in answer["card_html"]
    assert '<option value="qualified">' in answer["card_html"]
    assert stage_events(db, enrollment.id)[-1] == ("lead", "intake")


def test_a_gated_move_is_refused_in_place_naming_what_is_missing(db, owned):
    client, _user, enrollment = owned
    move(client, enrollment, "intake")
    enrollment = reloaded(db, enrollment.id)
    response = move(client, enrollment, "qualified", headers=JSON)
    assert response.status_code == 422
    answer = response.get_json()
    assert answer["ok"] is False and answer["message"] == "This stage cannot be entered yet."
    assert answer["missing"] == ["Website", "Referred by"]
    after = reloaded(db, enrollment.id)
    assert (after.stage, after.revision) == ("intake", enrollment.revision)
    assert stage_events(db, enrollment.id)[-1] == ("lead", "intake")
    # Without JavaScript: back to the board, the explanation on that card.
    response = move(client, enrollment, "qualified")
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"#card-{enrollment.id}")
    card = card_html(get_page(client, "/pipeline/", programme="corridor"), enrollment.id)
    assert "This stage cannot be entered yet." in card
    assert "Missing:" in card and "<li>Website</li>" in card and "<li>Referred by</li>" in card
    assert reloaded(db, enrollment.id).stage == "intake"


def test_a_stale_card_is_refused_and_changes_nothing(db, owned):
    client, _user, enrollment = owned
    shown = enrollment.revision
    move(client, enrollment, "intake")  # someone else moved it meanwhile
    response = move(client, enrollment, "lead", revision=shown, headers=JSON)
    assert response.status_code == 409
    assert response.get_json()["message"] == ("This enrollment changed meanwhile. "
                                              "Look at it again.")
    assert reloaded(db, enrollment.id).stage == "intake"
    assert len(stage_events(db, enrollment.id)) == 2


def test_moves_the_engine_does_not_allow_are_refused(db, owned):
    client, _user, enrollment = owned
    skip = move(client, enrollment, "qualified", headers=JSON)  # two steps ahead
    assert skip.status_code == 422
    assert skip.get_json()["message"] == "This move is not allowed from the current stage."
    closing = move(client, enrollment, "withdrawn", headers=JSON)  # needs a reason
    assert closing.status_code == 422
    answer = closing.get_json()
    assert "close the enrollment on the startup's page" in answer["message"]
    assert answer["link"] == f"/startups/{enrollment.startup_id}#enrollment-{enrollment.id}"
    unknown = move(client, enrollment, "nowhere", headers=JSON)
    assert unknown.status_code == 422
    incomplete = client.post("/pipeline/move", headers=JSON, data={
        "csrf_token": csrf_token(client, "/pipeline/"), "enrollment_id": enrollment.id,
        "to_stage": "intake"})  # no revision
    assert incomplete.status_code == 422 and incomplete.get_json()["ok"] is False
    assert stage_events(db, enrollment.id) == [(None, "lead")]
    # The card's own form offers only what may be done here.
    card = card_html(get_page(client, "/pipeline/", programme="corridor"), enrollment.id)
    assert re.findall(r'<option value="(\w+)">', card) == ["intake", "landed"]
    assert 'data-targets="intake landed withdrawn rejected"' in card


def test_landing_from_the_board_passes_the_checklist_gate(app, db, corridor, client_as):
    client, user = client_as(Role.MANAGER)
    startup = make_startup(db, "Ready GmbH", website="https://ready.example")
    enrollment = _engine_enroll(app, db, corridor, startup, "qualified", referred_by="karnataka")
    refused = move(client, enrollment, "landed", headers=JSON).get_json()
    assert refused["missing"] == ["Address", "Residence permit", "Bank account"]
    with app.app_context():
        for item in fresh(db).scalars(select(ChecklistItem).where(
                ChecklistItem.enrollment_id == enrollment.id).order_by(ChecklistItem.id)):
            engine.settle_checklist_item(db, item, ChecklistStatus.DONE, Actor.system())
        db.commit()
    enrollment = reloaded(db, enrollment.id)
    answer = move(client, enrollment, "landed", headers=JSON).get_json()
    assert answer["ok"] is True and "data-move-form" not in answer["card_html"]
    assert reloaded(db, enrollment.id).status == EnrollmentStatus.LANDED
    page = get_page(client, "/pipeline/", programme="corridor")
    assert enrollment.id in card_ids(column_html(page, "landed"))


def test_viewers_and_other_bd_managers_get_403(app, db, corridor, client_as, make_user):
    other = make_user(Role.BD_MANAGER)
    theirs = _engine_enroll(app, db, corridor, make_startup(db, "Theirs Ltd", owner_id=other.id),
                            "lead")
    unassigned = _engine_enroll(app, db, corridor, make_startup(db, "Nobody's Ltd"), "lead")
    viewer, _ = client_as(Role.VIEWER)
    bd, _ = client_as(Role.BD_MANAGER)
    for client, enrollment in ((viewer, theirs), (viewer, unassigned), (bd, theirs)):
        for headers in ({}, JSON):
            assert move(client, enrollment, "intake", headers=headers).status_code == 403
    assert reloaded(db, theirs.id).stage == "lead"
    assert stage_events(db, theirs.id) == [(None, "lead")]
    # A BD manager sees move controls on unassigned cards, not on a colleague's.
    page = get_page(bd, "/pipeline/", programme="corridor")
    assert "data-move-form" in card_html(page, unassigned.id)
    assert "data-move-form" not in card_html(page, theirs.id)
    assert 'draggable="true"' not in card_html(page, theirs.id)
    assert move(bd, unassigned, "intake").status_code == 302
    assert move(bd, theirs, "intake").status_code == 403
    assert client_as(Role.VIEWER)[0].post("/pipeline/move", data={}).status_code in (400, 404)


def test_a_move_from_the_column_page_returns_there(db, corridor, client_as):
    client, user = client_as(Role.MANAGER)
    ids = _enroll(db, corridor, 23, "lead")
    path = f"/pipeline/column?programme=corridor&stage=lead&after={_cursor_after(db, ids[19])}"
    page = get_page(client, path)
    assert card_ids(page) == ids[20:]
    assert f'name="next" value="{path}"' in page.replace("&amp;", "&")
    fragment = get_page(client, path + "&fragment=1")  # cards loaded into the board go back there
    assert 'name="next" value="/pipeline/?programme=corridor"' in fragment
    enrollment = reloaded(db, ids[21])
    response = move(client, enrollment, "intake", next_path=path)
    assert response.headers["Location"] == f"{path}#card-{enrollment.id}"
    page = get_page(client, path)
    assert "Moved to Intake." in page and card_ids(page) == [ids[20], ids[22]]
    # On the board, a card just moved shows on top of its column even when that is long.
    _enroll(db, corridor, 25, "intake", start=utcnow() - timedelta(days=60))
    last = reloaded(db, ids[22])
    move(client, last, "intake")
    board_page = get_page(client, "/pipeline/", programme="corridor")
    assert card_ids(column_html(board_page, "intake"))[0] == last.id


def test_a_foreign_next_is_not_followed(db, owned):
    client, _user, enrollment = owned
    response = move(client, enrollment, "intake", next_path="//evil.example/")
    assert response.headers["Location"] == f"/pipeline/#card-{enrollment.id}"


def _cursor_after(db: Session, enrollment_id: int) -> str:
    enrollment = reloaded(db, enrollment_id)
    return str(Cursor(enrollment.stage_entered_at, enrollment.id))

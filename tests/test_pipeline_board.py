"""The pipeline board: counts per stage, the first cards only, queries that do not grow."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm.core.clock import utcnow
from crm.core.enums import EnrollmentStatus, Role
from crm.programmes.models import Programme
from crm.programmes.queries import board
from crm.startups.models import Startup
from crm.workflow.engine import current_version
from crm.workflow.models import Enrollment
from tests.factories import current_version_id, definition, make_programme, stage

STAGES = [
    stage("lead", "Lead", "Lead"),
    stage("qualified", "Qualified", "Qualifiziert"),
    stage("landed", "Landed", "Angesiedelt", closes_as="landed"),
]


@pytest.fixture
def programme(db) -> Programme:
    return make_programme(db, definition(stages=STAGES, intake_stage=None, checklist=[],
                                         fields=[]))


def _enroll(db, programme, count: int, stage: str, status=EnrollmentStatus.OPEN) -> None:
    start = utcnow() - timedelta(days=30)
    version_id = current_version_id(db, programme)
    for number in range(count):
        startup = Startup(name=f"{stage} startup {number:03}", country="IN")
        db.add(startup)
        db.flush()
        db.add(Enrollment(startup_id=startup.id, programme_id=programme.id,
                          programme_version_id=version_id, stage=stage,
                          status=status, stage_entered_at=start + timedelta(hours=number)))
    db.commit()


def test_columns_count_all_and_show_the_longest_waiting_first(db, programme):
    _enroll(db, programme, 25, "lead")
    _enroll(db, programme, 2, "qualified")
    _enroll(db, programme, 1, "qualified", EnrollmentStatus.WITHDRAWN)  # closed: not on board
    _enroll(db, programme, 3, "landed", EnrollmentStatus.LANDED)
    columns = {column.stage.key: column
               for column in board(db, programme, current_version(db, programme).parsed,
                                   per_column=20)}
    assert [(key, c.count, len(c.cards)) for key, c in columns.items()] == [
        ("lead", 25, 20), ("qualified", 2, 2), ("landed", 3, 3),
    ]
    assert columns["lead"].cards[0].startup_name == "lead startup 000"
    assert columns["lead"].cards[-1].startup_name == "lead startup 019"


def test_board_page_queries_do_not_grow_with_the_data(app, db, programme, client_as,
                                                      count_queries):
    client, _user = client_as(Role.VIEWER)
    _enroll(db, programme, 3, "lead")
    with count_queries() as few:
        assert client.get("/pipeline/?programme=corridor").status_code == 200
    _enroll(db, programme, 60, "qualified")
    with count_queries() as many:
        page = client.get("/pipeline/?programme=corridor")
    assert page.status_code == 200
    assert "and 40 more" in page.get_data(as_text=True)
    assert len(many) == len(few), many

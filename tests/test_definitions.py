"""Programme definitions: the four real ones, versions on change, broken ones refused whole."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from crm.core.audit import AuditEvent
from crm.core.enums import ActorKind
from crm.programmes.models import Programme, ProgrammeVersion
from crm.programmes.services import (
    DEFINITIONS_DIR,
    load_definition,
    load_directory,
    version_diff,
)
from crm.workflow import engine
from crm.workflow.definitions import (
    STARTUP_GATE_FIELDS,
    DefinitionError,
    parse_definition,
)
from crm.workflow.models import Enrollment
from tests.factories import SIMPLE_DEFINITION, definition, make_programme, make_startup

EMAIL_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "emails" / "workflow"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday, 10:00 in Düsseldorf

REAL = {
    "karnataka_corridor": (
        ["lead", "first_contact", "intake_received", "qualified", "landing_support"],
        "intake_received",
        {("lead", "intake_received")},
    ),
    "korea_desk": (
        ["met", "follow_up", "call_held", "visit_planned", "landing_support"],
        "call_held",
        set(),
    ),
    "welcome_duesseldorf": (
        ["application", "review", "approved", "landing_support"], "application", set(),
    ),
    "welcome_nrw": (["application", "review", "approved", "landing_support"], "application",
                    set()),
}


def dump(data: dict) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def counts(db) -> dict[str, int]:
    """How many programmes, versions and audit events there are (a refusal changes none)."""
    db.rollback()
    return {model.__name__: db.scalar(select(func.count()).select_from(model))
            for model in (Programme, ProgrammeVersion, AuditEvent, Enrollment)}


# The four real definitions -----------------------------------------------------------------


def test_the_definitions_folder_holds_exactly_the_four_programmes():
    assert sorted(path.stem for path in DEFINITIONS_DIR.glob("*.yaml")) == sorted(REAL)


@pytest.mark.parametrize("key", sorted(REAL))
def test_a_real_definition_loads_and_is_consistent(key):
    path = DEFINITIONS_DIR / f"{key}.yaml"
    parsed = parse_definition(path.read_text(encoding="utf-8"), path.name)
    active, intake, extra_transitions = REAL[key]

    assert parsed.key == key
    assert [stage.key for stage in parsed.active_stages()] == active
    assert parsed.first_stage().key == active[0]
    assert not parsed.first_stage().gate.model_dump(exclude_defaults=True), \
        "a new enrollment must be able to enter the first stage"
    assert parsed.intake_stage == intake
    assert parsed.stage(intake).closes_as is None
    assert len(set(parsed.stage_keys())) == len(parsed.stage_keys())
    assert {(t.from_stage, t.to_stage) for t in parsed.transitions} == extra_transitions
    for transition in parsed.transitions:
        assert parsed.stage(transition.from_stage).closes_as is None
        assert transition.to_stage in parsed.allowed_targets(transition.from_stage)

    # Exactly one way to land, and landing needs the whole checklist.
    closing = {stage.closes_as: stage.key for stage in parsed.stages if stage.closes_as}
    assert "landed" in closing and "withdrawn" in closing
    landing_gate = parsed.stage(closing["landed"]).gate
    assert set(landing_gate.checklist) == {item.key for item in parsed.checklist}

    item_keys = {item.key for item in parsed.checklist}
    field_keys = {field.key for field in parsed.fields}
    for stage in parsed.stages:
        assert stage.label.en and stage.label.de
        assert set(stage.gate.checklist) <= item_keys
        assert set(stage.gate.enrollment_fields) <= field_keys
        assert set(stage.gate.startup_fields) <= set(STARTUP_GATE_FIELDS)
        if stage.closes_as is None:
            assert set(closing.values()) <= set(parsed.allowed_targets(stage.key))
        for email in filter(None, [stage.on_enter.email_startup]):
            for suffix in ("subject.txt", "txt", "html"):
                assert (EMAIL_TEMPLATES / f"{email.template}.{suffix}").is_file()
    for item in parsed.checklist:
        assert set(item.depends_on) <= item_keys - {item.key}
    for field in parsed.fields:
        assert parsed.field(field.key).label.de


def test_the_real_definitions_load_as_version_one_and_a_second_load_changes_nothing(db):
    results = load_directory(db)
    db.commit()
    assert sorted(result.programme.key for result in results) == sorted(REAL)
    assert all(result.changed and result.version.number == 1 for result in results)
    assert all(result.programme.current_version == 1 for result in results)
    before = counts(db)
    assert before["ProgrammeVersion"] == 4

    again = load_directory(db)
    db.commit()
    assert [result.changed for result in again] == [False] * 4
    assert [result.version.id for result in again] == [result.version.id for result in results]
    assert counts(db) == before


# Versions -----------------------------------------------------------------------------------


def test_a_comment_or_layout_change_is_not_a_new_version(db, tmp_path):
    shutil.copytree(DEFINITIONS_DIR, tmp_path, dirs_exist_ok=True)
    load_directory(db, tmp_path)
    db.commit()
    path = tmp_path / "korea_desk.yaml"
    path.write_text("# edited by hand\n\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    before = counts(db)
    assert not any(result.changed for result in load_directory(db, tmp_path))
    db.commit()
    assert counts(db) == before


def test_a_changed_definition_becomes_a_new_version_and_enrollments_keep_theirs(app, db,
                                                                               tmp_path):
    shutil.copytree(DEFINITIONS_DIR, tmp_path, dirs_exist_ok=True)
    load_directory(db, tmp_path)
    db.commit()
    programme = db.scalar(select(Programme).where(Programme.key == "korea_desk"))
    startup = make_startup(db)
    with app.app_context():
        first = engine.enroll(db, startup=startup, programme=programme,
                              actor=engine.Actor(ActorKind.SYSTEM), now=T0)
    db.commit()
    version_one = first.programme_version_id

    path = tmp_path / "korea_desk.yaml"
    text = path.read_text(encoding="utf-8")
    assert "    sla_working_days: 20\n" in text
    path.write_text(text.replace("    sla_working_days: 20\n", "    sla_working_days: 25\n"),
                    encoding="utf-8")
    results = {result.programme.key: result for result in load_directory(db, tmp_path)}
    db.commit()

    assert {key for key, result in results.items() if result.changed} == {"korea_desk"}
    new = results["korea_desk"].version
    assert new.number == 2 and new.id != version_one
    assert new.parsed.stage("call_held").sla_working_days == 25
    assert new.source_text == path.read_text(encoding="utf-8")
    db.refresh(programme)
    assert programme.current_version == 2
    assert db.get(ProgrammeVersion, version_one).parsed.stage("call_held").sla_working_days == 20
    db.refresh(first)
    assert first.programme_version_id == version_one
    assert engine.definition_of(db, first).stage("call_held").sla_working_days == 20

    other = make_startup(db, "Seoul Sensors", country="KR")
    with app.app_context():
        second = engine.enroll(db, startup=other, programme=programme,
                               actor=engine.Actor(ActorKind.SYSTEM), now=T0)
    db.commit()
    assert second.programme_version_id == new.id
    audit = db.scalars(select(AuditEvent).where(AuditEvent.action == "programme.version_loaded",
                                                AuditEvent.object_id == programme.id)).all()
    assert [event.details["version"] for event in audit] == [1, 2]


def test_load_definition_keeps_the_programme_name_current(db):
    make_programme(db)
    renamed = definition(name={"en": "Corridor II", "de": "Korridor II"})
    result = load_definition(db, dump(renamed), "test.yaml")
    db.commit()
    assert result.changed and result.version.number == 2
    assert (result.programme.name_en, result.programme.name_de) == ("Corridor II", "Korridor II")


# Broken definitions -------------------------------------------------------------------------


def _stages(**changes_by_key) -> list[dict]:
    return [{**stage, **changes_by_key.get(stage["key"], {})}
            for stage in SIMPLE_DEFINITION["stages"]]


def _checklist(**changes_by_key) -> list[dict]:
    return [{**item, **changes_by_key.get(item["key"], {})}
            for item in SIMPLE_DEFINITION["checklist"]]


# One line indented by three spaces under "- key: lead": YAML cannot read on from there.
SYNTAX_ERROR = dump(definition()).replace("- key: lead\n", "- key: lead\n   bad: indent\n", 1)
SYNTAX_LINE = SYNTAX_ERROR.splitlines().index("   bad: indent") + 1

BROKEN = {
    "yaml syntax": (SYNTAX_ERROR, f"line {SYNTAX_LINE}, column 7",
                    "mapping values are not allowed here"),
    "not a mapping": ("- just\n- a list\n", "top level", "mapping"),
    "unknown top-level key": (dump(definition(colour="blue")), "colour",
                              "Extra inputs are not permitted"),
    "unknown stage setting": (dump(definition(stages=_stages(lead={"deadline": 3}))),
                              "stages.0.deadline", "Extra inputs are not permitted"),
    "duplicate stage key": (
        dump(definition(stages=[*SIMPLE_DEFINITION["stages"], SIMPLE_DEFINITION["stages"][1]])),
        "top level", "stage key 'intake' is used twice"),
    "gate naming an unknown item": (
        dump(definition(stages=_stages(landed={"gate": {"checklist": ["address", "visa"]}}))),
        "top level", "stage 'landed': gate names unknown checklist item 'visa'"),
    "gate naming an unknown field": (
        dump(definition(stages=_stages(qualified={"gate": {"enrollment_fields": ["budget"]}}))),
        "top level", "stage 'qualified': gate names unknown field 'budget'"),
    "dependency on an unknown item": (
        dump(definition(checklist=_checklist(bank={"depends_on": ["visa"]}))),
        "top level", "checklist item 'bank' depends on unknown item 'visa'"),
    "dependency cycle": (
        dump(definition(checklist=_checklist(address={"depends_on": ["bank"]},
                                             bank={"depends_on": ["permit"]}))),
        "top level", "checklist dependencies form a cycle"),
    "self dependency": (
        dump(definition(checklist=_checklist(bank={"depends_on": ["bank"]}))),
        "top level", "checklist dependencies form a cycle"),
    "negative sla": (dump(definition(stages=_stages(intake={"sla_working_days": -2}))),
                     "stages.1.sla_working_days", "greater than or equal to 1"),
    "negative checklist due": (
        dump(definition(checklist=_checklist(bank={"due_in_working_days": -1}))),
        "checklist.2.due_in_working_days", "greater than or equal to 0"),
    "transition to a missing stage": (
        dump(definition(transitions=[{"from": "qualified", "to": "signed"}])),
        "top level", "transitions.0: 'signed' is not a stage"),
    "intake stage missing": (dump(definition(intake_stage="application")), "top level",
                             "intake_stage 'application' is not a stage"),
    "closing intake stage": (dump(definition(intake_stage="landed")), "top level",
                             "intake_stage 'landed' is a closing stage"),
    "missing email template": (
        dump(definition(stages=_stages(qualified={"on_enter": {
            "email_startup": {"template": "no_such_mail"}}}))),
        "top level", "stage 'qualified': no email template 'no_such_mail'"),
    "no active stage": (
        dump(definition(stages=[s for s in SIMPLE_DEFINITION["stages"] if s.get("closes_as")],
                        intake_stage=None)),
        "top level", "at least one stage must be active"),
    "unknown closing outcome": (dump(definition(stages=_stages(landed={"closes_as": "won"}))),
                                "stages.3.closes_as", "Input should be"),
    "bad key": (dump(definition(stages=_stages(lead={"key": "Lead Stage"}))), "stages.0.key",
                "String should match pattern"),
    "missing german label": (dump(definition(stages=_stages(lead={"label": {"en": "Lead"}}))),
                             "stages.0.label.de", "Field required"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_definition_is_refused_with_where_and_why_and_nothing_changes(db, case):
    programme = make_programme(db)
    text, where, what = BROKEN[case]
    # The broken text also renames the programme: a half-applied load would show.
    text = text.replace("en: Corridor\n", "en: Renamed\n", 1)
    before = counts(db)

    with pytest.raises(DefinitionError) as refused:
        load_definition(db, text, "corridor.yaml")
    db.commit()  # even a careless caller that commits must find nothing written

    error = refused.value
    assert error.source == "corridor.yaml"
    assert error.problems, "a refusal names at least one problem"
    assert any(place == where and what in reason for place, reason in error.problems), \
        error.problems
    assert str(error).startswith("corridor.yaml: ")
    assert counts(db) == before
    db.refresh(programme)
    assert (programme.name_en, programme.current_version) == ("Corridor", 1)


def test_a_directory_with_one_broken_file_loads_none_and_names_the_file(db, tmp_path):
    shutil.copytree(DEFINITIONS_DIR, tmp_path, dirs_exist_ok=True)
    (tmp_path / "zz_broken.yaml").write_text(SYNTAX_ERROR, encoding="utf-8")
    before = counts(db)
    with pytest.raises(DefinitionError) as refused:
        load_directory(db, tmp_path)
    db.commit()
    assert refused.value.problems == [
        (f"zz_broken.yaml: line {SYNTAX_LINE}, column 7", "mapping values are not allowed here"),
    ]
    assert str(tmp_path) in str(refused.value)
    assert counts(db) == before == {"Programme": 0, "ProgrammeVersion": 0, "AuditEvent": 0,
                                    "Enrollment": 0}


def test_a_broken_change_leaves_the_loaded_versions_alone(db, tmp_path):
    shutil.copytree(DEFINITIONS_DIR, tmp_path, dirs_exist_ok=True)
    load_directory(db, tmp_path)
    db.commit()
    good = tmp_path / "welcome_nrw.yaml"
    good.write_text(good.read_text(encoding="utf-8").replace("sla_working_days: 5",
                                                             "sla_working_days: 6"),
                    encoding="utf-8")
    bad = tmp_path / "korea_desk.yaml"
    bad.write_text(bad.read_text(encoding="utf-8") + "colour: blue\n", encoding="utf-8")
    before = counts(db)
    with pytest.raises(DefinitionError) as refused:
        load_directory(db, tmp_path)
    db.commit()
    assert refused.value.problems == [("korea_desk.yaml: colour",
                                       "Extra inputs are not permitted")]
    assert counts(db) == before
    versions = db.scalars(select(Programme.current_version)).all()
    assert versions == [1, 1, 1, 1]


def test_every_problem_of_a_definition_is_named_at_once(db):
    broken = definition(colour="blue", stages=_stages(lead={"sla_working_days": 0},
                                                      intake={"key": "Intake"}))
    with pytest.raises(DefinitionError) as refused:
        load_definition(db, dump(broken), "many.yaml")
    assert sorted(where for where, _what in refused.value.problems) == [
        "colour", "stages.0.sla_working_days", "stages.1.key"]


def test_stage_reminders_override_the_programme_default_and_outcomes_are_won_or_lost():
    path = DEFINITIONS_DIR / "karnataka_corridor.yaml"
    parsed = parse_definition(path.read_text(encoding="utf-8"), path.name)
    assert parsed.reminders_for("landing_support").model_dump() == {
        "due_soon_working_days": 10, "escalate_after_working_days": 10}
    assert parsed.reminders_for("lead") == parsed.reminders
    assert parsed.reminders.model_dump() == {"due_soon_working_days": 2,
                                             "escalate_after_working_days": 3}
    assert {stage.key: stage.terminal for stage in parsed.stages} == {
        "lead": None, "first_contact": None, "intake_received": None, "qualified": None,
        "landing_support": None, "landed": "won", "withdrawn": "lost", "rejected": "lost"}


def test_the_diff_of_two_versions_shows_what_changed(db):
    first = load_definition(db, dump(definition()), "test.yaml").version
    second = load_definition(db, dump(definition(stages=_stages(intake={
        "sla_working_days": 4}))), "test.yaml").version
    db.commit()
    diff = version_diff(first, second)
    assert diff[:2] == ["--- version 1", "+++ version 2"]
    assert [line for line in diff if line[:1] in "+-" and line[:3] not in ("---", "+++")] == [
        "-  sla_working_days: 3", "+  sla_working_days: 4"]

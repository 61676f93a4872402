"""Load programme definitions: a changed definition becomes a new version, nothing else moves."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import yaml
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select
from sqlmodel import Session

from crm.core import audit
from crm.programmes.models import Programme, ProgrammeVersion
from crm.workflow.definitions import DefinitionError, ProgrammeDefinition, parse_definition

DEFINITIONS_DIR = Path(__file__).parent / "definitions"


@dataclass
class LoadResult:
    programme: Programme
    version: ProgrammeVersion
    changed: bool  # False: the definition equals the current version


def latest_version(db: Session, programme_id: int) -> ProgrammeVersion | None:
    return db.scalar(select(ProgrammeVersion).where(ProgrammeVersion.programme_id == programme_id)
                     .order_by(ProgrammeVersion.number.desc()).limit(1))


def load_definition(db: Session, text: str, source: str, actor_user_id: int | None = None, *,
                    programme_key: str | None = None, new: bool = False) -> LoadResult:
    """Validate and store; raises DefinitionError (nothing changed) when the text is broken.

    `programme_key`: the definition must be a version of this programme (an admin uploading on
    its page); `new`: it must start a programme not known yet (so a typo cannot replace one).
    """
    definition = parse_definition(text, source)
    if programme_key is not None and definition.key != programme_key:
        raise DefinitionError(source, [("key", _l(
            "This definition is for the programme %(key)s, not for %(expected)s.",
            key=definition.key, expected=programme_key))])
    if new and db.scalar(select(exists().where(Programme.key == definition.key))):
        raise DefinitionError(source, [("key", _l(
            "A programme with the key %(key)s exists already: load new versions on its page.",
            key=definition.key))])
    return _store(db, definition, text, actor_user_id)


def load_directory(db: Session, directory: Path = DEFINITIONS_DIR,
                   actor_user_id: int | None = None) -> list[LoadResult]:
    """Load every *.yaml; if any file is broken, none is loaded."""
    parsed: list[tuple[ProgrammeDefinition, str]] = []
    problems: list[tuple[str, str]] = []
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        try:
            parsed.append((parse_definition(text, path.name), text))
        except DefinitionError as error:
            problems += [(f"{path.name}: {where}", what) for where, what in error.problems]
    if problems:
        raise DefinitionError(str(directory), problems)
    return [_store(db, definition, text, actor_user_id) for definition, text in parsed]


def _store(db: Session, definition: ProgrammeDefinition, text: str,
           actor_user_id: int | None) -> LoadResult:
    programme = db.scalar(select(Programme).where(Programme.key == definition.key))
    if programme is None:
        programme = Programme(key=definition.key, name_en=definition.name.en,
                              name_de=definition.name.de)
        db.add(programme)
        db.flush()
    latest = latest_version(db, programme.id)
    checksum = definition.checksum()
    if latest is not None and latest.checksum == checksum:
        return LoadResult(programme, latest, changed=False)
    version = ProgrammeVersion(
        programme_id=programme.id, number=(latest.number + 1) if latest else 1,
        definition=definition.model_dump(mode="json", by_alias=True), source_text=text,
        checksum=checksum, created_by_id=actor_user_id,
    )
    db.add(version)
    programme.name_en, programme.name_de = definition.name.en, definition.name.de
    programme.description_en = definition.description.en
    programme.description_de = definition.description.de
    programme.current_version = version.number
    db.flush()
    audit.record(db, "programme.version_loaded", actor_user_id=actor_user_id,
                 object_type="programme", object_id=programme.id, version=version.number)
    return LoadResult(programme, version, changed=True)


def version_diff(old: ProgrammeVersion, new: ProgrammeVersion) -> list[str]:
    """A unified diff of the two definitions, in one canonical YAML form."""

    def canonical(version: ProgrammeVersion) -> list[str]:
        return yaml.safe_dump(version.definition, allow_unicode=True, sort_keys=False,
                              width=100).splitlines()

    return list(difflib.unified_diff(canonical(old), canonical(new),
                                     f"version {old.number}", f"version {new.number}",
                                     lineterm=""))

"""Work besides pages: the reminder sweep, intake submissions, a 10,000-row import.

Each runs as production runs it: the sweep and the import's two halves as the worker's task
body in an app context with one commit (workers.celery_app.FlaskTask), the intake through the
public form's requests. They write, so they run on the run's copy of the data.
"""

from __future__ import annotations

import csv
import io
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from bench.app import PageError, csrf_token
from bench.measure import QueryLog, Stats
from crm.core.enums import ImportStatus, Role
from crm.db import get_session, unit_of_work
from crm.imports import services as imports
from crm.imports.models import ImportJob
from crm.intake.drafts import intake_of, open_programmes
from crm.reminders.sweep import sweep
from crm.startups.models import Startup
from crm.users.models import User

SWEEP_INTERVAL = timedelta(minutes=5)  # beat's (workers/schedule.py): the next run
MAX_DRAINING_SWEEPS = 500
PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@dataclass
class TaskRun:
    """A task body run once: how long it took, what it returned, the SQL it ran."""

    seconds: float
    result: Any
    queries: int
    sql_seconds: float

    def as_json(self, prefix: str) -> dict[str, Any]:
        return {f"{prefix}_ms": round(self.seconds * 1000, 1), f"{prefix}_queries": self.queries,
                f"{prefix}_sql_ms": round(self.sql_seconds * 1000, 1)}


def _timed_task(app: Flask, task) -> TaskRun:
    """`task(db)` run as a worker runs a task: own app context, one commit."""
    with app.app_context(), QueryLog(app.extensions["db_engine"]) as log, \
            log.recording() as statements:
        started = time.perf_counter()
        with unit_of_work() as db:
            result = task(db)
        seconds = time.perf_counter() - started
    return TaskRun(seconds, result, len(statements), sum(s.seconds for s in statements))


# The reminder sweep ----------------------------------------------------------------------------


def measure_sweep(app: Flask, now: datetime) -> dict[str, Any]:
    """The first sweep at `now` (what the data owes); the next one, 5 minutes later, which
    finds nothing new but still sends what the first left over (a sweep sends at most 500);
    then, once further sweeps at that moment have sent everything, one with nothing to do."""
    settings = app.config["SETTINGS"]
    later = now + SWEEP_INTERVAL

    def run(at: datetime):
        return _timed_task(app, lambda db: sweep(db, settings, at))

    first = run(now)
    following = run(later)
    result, drained = following.result, 0
    while (result.emails or result.digests) and drained < MAX_DRAINING_SWEEPS:
        result = run(later).result
        drained += 1
    again = run(later)
    return {**first.as_json("first"), "first": str(first.result),
            **following.as_json("next"), "next": str(following.result),
            "sweeps_to_drain": drained, **again.as_json("again"), "again": str(again.result)}


# Intake ----------------------------------------------------------------------------------------


def _intake_programme(app: Flask, now: datetime):
    """The open form asking the fewest questions of its own, and those questions."""
    with app.app_context():
        db = get_session()
        forms = [(programme, intake_of(db, programme)) for programme in open_programmes(db, now)]
    if not forms:
        raise PageError("no programme takes applications at the bench's moment")
    return min(forms, key=lambda pair: (len(pair[1].questions), pair[0].key))


def _own_answers(intake, step: str) -> dict[str, str]:
    """An answer to each of the programme's questions on this step."""
    answers = {}
    for question in intake.questions:
        if question.step == step:
            value = question.choices[0].value if question.choices else "Bench answer"
            answers[f"q_{question.key}"] = "yes" if question.kind == "yes_no" else value
    return answers


def _known_startups(app: Flask, count: int) -> list[tuple[str, str, str]]:
    """(name, domain, country) of startups with a website, to apply again (a match)."""
    with app.app_context():
        rows = get_session().execute(
            select(Startup.name, Startup.domain, Startup.country)
            .where(Startup.domain.is_not(None)).order_by(Startup.id).limit(count)).all()
    return [tuple(row) for row in rows]


@dataclass
class IntakeTimes:
    paths: list[float]
    submits: list[float]
    submit_queries: set[int]


def measure_intake(app: Flask, now: datetime, submissions: int) -> dict[str, Any]:
    """`submissions` applications from start to submit, through the public form; every other
    one by a startup already in the data (the submit finds it by its domain), the others new
    (the submit looks for similar names in the country, then creates it)."""
    programme, intake = _intake_programme(app, now)
    known = _known_startups(app, submissions)
    times = IntakeTimes([], [], set())
    with QueryLog(app.extensions["db_engine"]) as log:
        for number in range(submissions + 1):  # the first one warms up
            if number % 2 and known:
                name, domain, country = known[number % len(known)]
            else:
                name, domain, country = (f"Bench Intake Robotics {number}",
                                         f"bench-intake-{number}.example", "IN")
            path, submit = _apply(app, programme.key, intake, log, number, name, domain, country)
            if number:
                times.paths.append(path)
                times.submits.append(submit[0])
                times.submit_queries.add(submit[1])
    path_stats, submit_stats = Stats.of_seconds(times.paths), Stats.of_seconds(times.submits)
    return {"programme": programme.key, "path": vars(path_stats), "submit": vars(submit_stats),
            "submit_queries": sorted(times.submit_queries)}


def _apply(app: Flask, key: str, intake, log: QueryLog, number: int, name: str, domain: str,
           country: str) -> tuple[float, tuple[float, int]]:
    """One application through every step; (seconds in all, (seconds, queries) of submit)."""
    client = app.test_client()
    token = csrf_token(client, f"/apply/{key}")
    email = f"founder{number}@{domain}"
    steps = [
        ("start", {"email": email}),
        ("company", {"name": name, "website": f"https://{domain}", "country": country,
                     "city": "Bengaluru", "founded_year": "2021", "team_size": "12",
                     "sectors": "Fintech", "funding_stage": "seed",
                     "description": "Payments for small factories.",
                     **_own_answers(intake, "company")}),
        ("people", {"people-0-name": "Ananya Rao", "people-0-role": "CEO",
                    "people-0-email": email, "people-0-phone": "+91 80 2345 6789",
                    "people-0-language": "en", **_own_answers(intake, "people")}),
        ("plans", {"timeline": "within_3_months", "office_need": "coworking",
                   "hiring_plans": "1_5", "help_needed": "visa", "notes": "",
                   **_own_answers(intake, "plans")}),
        ("documents/upload", {"kind": "pitch_deck", "file": (io.BytesIO(PDF), "deck.pdf")}),
        ("documents", {}),
    ]
    started = time.perf_counter()
    for step, data in steps:
        _post(client, f"/apply/{key}/{step}", {**data, "csrf_token": token})
    with log.recording() as statements:
        submit_started = time.perf_counter()
        _post(client, f"/apply/{key}/submit", {"consent": "y", "csrf_token": token})
        submitted = time.perf_counter()
    return submitted - started, (submitted - submit_started, len(statements))


def _post(client, path: str, data: dict[str, Any]) -> None:
    response = client.post(path, data=data, content_type="multipart/form-data")
    if response.status_code != 302:
        raise PageError(f"POST {path}: {response.status_code}")


# Import ----------------------------------------------------------------------------------------

IMPORT_HEADERS = ["Company", "Website", "Country", "City", "Founded", "Team size", "Sector",
                  "Contact", "Email", "Phone"]
_WORDS = ("Nord", "Licht", "Quanta", "Rhein", "Hana", "Sakura", "Indus", "Veda", "Kiran",
          "Orbit", "Pixel", "Terra", "Volt", "Aqua", "Lumen", "Nimbus", "Helix", "Vertex",
          "Cobalt", "Sora", "Mirae", "Tanaka", "Bharat", "Delta", "Ember", "Fjord", "Gaia")
_KINDS = ("Robotics", "Labs", "Health", "Pay", "Logistics", "Energy", "AI", "Systems", "Bio",
          "Mobility")
_PLACES = (("IN", "Bengaluru"), ("KR", "Seoul"), ("JP", "Tokyo"), ("US", "Austin"),
           ("SG", "Singapore"), ("CN", "Shenzhen"), ("TW", "Taipei"), ("FR", "Lyon"))
_SECTORS = ("Fintech", "MedTech", "Mobility", "Energy", "Software / SaaS", "Logistics")


def import_csv(rows: int, known: list[tuple[str, str, str]], seed: int = 7) -> bytes:
    """A trade fair's list: mostly new startups, one in ten already known (by website), one in
    fifty with a mistake (an unknown country or a bad e-mail address)."""
    rng = random.Random(seed)  # noqa: S311 - made-up rows, not secrets
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(IMPORT_HEADERS)
    for number in range(1, rows + 1):
        country, city = rng.choice(_PLACES)
        name = f"{rng.choice(_WORDS)}{rng.choice(_WORDS).lower()} {rng.choice(_KINDS)} {number}"
        domain = f"import-{number}.example"
        if number % 10 == 0 and known:
            name, domain, country = known[number // 10 % len(known)]
        email = f"founder@{domain}"
        if number % 50 == 25:
            country, email = ("Atlantis", email) if number % 100 == 25 else (country, "founder@")
        writer.writerow([name, f"https://{domain}", country, city, rng.randint(2012, 2025),
                         rng.randint(2, 80), rng.choice(_SECTORS), "Alex Kim", email,
                         "+82 2 312 3456" if number % 3 == 0 else ""])
    return out.getvalue().encode()


def measure_import(app: Flask, rows: int) -> dict[str, Any]:
    """Upload and map as a manager, then the worker's dry run, then the worker's run."""
    known = _known_startups(app, max(1, rows // 10))
    content = import_csv(rows, known)
    with app.app_context():
        with unit_of_work() as db:
            actor = db.scalars(select(User).where(User.role == Role.MANAGER, User.is_active)
                               .order_by(User.id).limit(1)).one()
            job = imports.upload(db, FileStorage(io.BytesIO(content), "bench-fair.csv"), actor)
            imports.save_mapping(db, job, job.mapping["columns"], "", "Bench fair", actor)
            imports.check(db, job, actor)  # a large file: queued for the worker
        job_id, actor_id = job.id, actor.id
    dry_run = _timed_task(app, lambda db: imports.process(db, job_id, dry_run=True))
    planned = _job_outcome(app, job_id, ImportStatus.CHECKED)
    with app.app_context(), unit_of_work() as db:
        imports.request_run(db, db.get(ImportJob, job_id), db.get(User, actor_id))
    run = _timed_task(app, lambda db: imports.process(db, job_id, dry_run=False))
    done = _job_outcome(app, job_id, ImportStatus.DONE)
    return {"rows": rows, **dry_run.as_json("dry_run"), **run.as_json("commit"),
            "planned": planned, "done": done}


def _job_outcome(app: Flask, job_id: int, expected: ImportStatus) -> dict[str, int]:
    with app.app_context():
        job = get_session().get(ImportJob, job_id)
        if job.status != expected:
            raise PageError(f"import job {job_id}: {job.status} ({job.error}), not {expected}")
        return {"created": job.created_count, "updated": job.updated_count,
                "duplicates": job.duplicate_count, "errors": job.error_count}

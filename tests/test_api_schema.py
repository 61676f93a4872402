"""The API against its own description: schemathesis walks /api/v1/openapi.json and calls every
operation in it (present and future) with generated data, valid and invalid, as a manager. No
answer may be a server error or differ from what the description says (status, content type,
body schema, headers), and invalid data must be refused.

Run it alone: `.venv/bin/pytest -p no:cacheprovider -q tests/test_api_schema.py -k sqlite`.
(schemathesis' own pytest loader, `schemathesis.pytest.from_fixture`, breaks on pytest 9: the
operations are walked here instead, each with a Hypothesis test of its own.)
"""

from __future__ import annotations

from itertools import product

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api import issue_token
from tests.test_route_matrix import World, build_world

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance, negative_data_rejection]
EXAMPLES = hypothesis_settings(max_examples=25, deadline=None, derandomize=True, database=None,
                               suppress_health_check=list(HealthCheck))


@pytest.fixture
def settings(settings):
    # Thousands of calls in a minute, by one token.
    return settings.model_copy(update={"api_rate_limit": "100000 per minute"})


def _existing_ids(world: World, operation) -> dict[str, object]:
    """The world's records for the operation's path parameters (`startup_id`, `key`…), so
    bodies are tried on records that exist, not only on ids that do not."""
    known = {f"{name}_id": value for name, value in world.of("own").items()}
    known["key"] = world.programme_key
    names = [parameter.name for parameter in operation.path_parameters]
    return {name: known[name] for name in names if name in known}


def test_every_operation_keeps_to_the_description(app, make_user):
    world = build_world(app, make_user)  # a programme, startups, contacts, enrollments…
    headers = {"Authorization": f"Bearer {issue_token(app, world.users['manager'])}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    schema.config.generation.update(with_security_parameters=False)  # the token stays valid
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode, ids in product(GenerationMode, ("generated", "existing")):
            path = _existing_ids(world, operation) if ids == "existing" else None
            if ids == "existing" and not path:
                continue

            @EXAMPLES
            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path))
            def calls(case):
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                calls()
            except Unsatisfiable:  # fixed ids, no query or body: nothing left to make invalid
                assert mode is GenerationMode.NEGATIVE and path
            except (Exception, BaseExceptionGroup) as failure:  # noqa: BLE001 - all listed
                failures.append(f"{operation.label} ({mode}, {ids} ids): {failure}")
    assert operations >= 4
    assert not failures, "\n\n".join(failures)

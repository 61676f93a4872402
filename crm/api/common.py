"""What every API resource shares: documented problem responses, pages with cursors, versions
for optimistic concurrency (ETag / If-Match), and keyset cursors over ids."""

from __future__ import annotations

import base64
import binascii
import json
import types
import typing
from typing import Any
from urllib.parse import urlencode

from flask import Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import Row, Select

from crm.api.problems import PROBLEM_JSON, ApiProblem
from crm.db import get_session

PAGE_SIZE_MAX = 100
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_PROBLEMS = {
    400: "Malformed request: bad JSON or a cursor that is not ours.",
    401: "No token, or an unknown, expired or revoked one.",
    403: "The token's scope or its user's role does not allow this record or action.",
    404: "No such record.",
    413: "The body is larger than 1 MiB.",
    415: "The body is not application/json.",
    422: "Fields are missing, unknown or of the wrong type (see `errors`).",
    429: "Too many requests for this token; see Retry-After.",
}
_WRITE_PROBLEMS = {409: "The record changed meanwhile, or the change conflicts with its state.",
                   412: "If-Match names an older version.",
                   428: "Say which version you change: If-Match or `version`."}


def _types_of(annotation: Any) -> set[Any]:
    """The plain types an annotation admits (through Optional, unions and Annotated)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, typing.Annotated):
        arguments = typing.get_args(annotation)
        if typing.get_origin(annotation) is typing.Annotated:
            arguments = arguments[:1]
        return set().union(*(_types_of(argument) for argument in arguments))
    return {annotation}


class Strict(BaseModel):
    """A request body: unknown fields are refused (422), not ignored; so is true or false for
    a number (pydantic would read them as 1 and 0)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name in cls.model_fields:
            admitted = _types_of(cls.model_fields[info.field_name].annotation)
            if bool not in admitted and admitted & {int, float}:
                raise PydanticCustomError("number_type", "Input should be a number, not a "
                                          "boolean")
        return value


class ListQuery(Strict):
    cursor: str | None = Field(default=None, max_length=2000,
                               description="`next_cursor` of the previous page.")
    limit: int = Field(default=50, ge=1, le=PAGE_SIZE_MAX)


def problem_responses(*statuses: int) -> dict[int, dict[str, Any]]:
    """The documented problem answers for these statuses (application/problem+json)."""
    texts = {**_PROBLEMS, **_WRITE_PROBLEMS}
    return {status: {"description": texts[status],
                     "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}}} for status in statuses}


READ_PROBLEMS = (400, 401, 403, 404, 422, 429)
WRITE_PROBLEMS = (400, 401, 403, 404, 409, 413, 415, 422, 429)


def read_responses(ok: type[BaseModel], *extra: int) -> dict:
    return {200: ok, **problem_responses(*READ_PROBLEMS, *extra)}


def write_responses(ok_status: int, ok: type[BaseModel] | None, *extra: int) -> dict:
    return {ok_status: ok, **problem_responses(*WRITE_PROBLEMS, *extra)}


def json_response(model: BaseModel, status: int = 200, *, version: int | None = None,
                  location: str | None = None) -> Response:
    response = jsonify(model.model_dump(mode="json"))
    response.status_code = status
    if version is not None:
        response.headers["ETag"] = etag(version)
    if location:
        response.headers["Location"] = location
    return response


def page_response(model: BaseModel, next_cursor: str | None) -> Response:
    """A page, with the next page's address in a Link header too (RFC 8288)."""
    response = json_response(model)
    if next_cursor:
        args = request.args.to_dict()
        args["cursor"] = next_cursor
        response.headers["Link"] = f'<{request.base_url}?{urlencode(args)}>; rel="next"'
    return response


# Versions -------------------------------------------------------------------------------------


def etag(version: int) -> str:
    return f'"{version}"'


class Precondition:
    """The version a change is based on: If-Match (a mismatch is 412) or the body's `version`
    (a mismatch is 409); one of the two is required (428)."""

    def __init__(self, body_version: int | None) -> None:
        header = request.headers.get("If-Match")
        self.from_header = header is not None
        if header is not None:
            text = header.strip().removeprefix("W/").strip('"')
            if not text.isdigit():
                raise ApiProblem(412, "If-Match must be an ETag this API gave.",
                                 kind="bad-precondition")
            self.version = int(text)
        elif body_version is not None:
            self.version = body_version
        else:
            raise ApiProblem(428, "Say which version you change: send If-Match with the "
                             "record's ETag, or `version` in the body.", kind="version-required")

    def stale(self, current: int) -> ApiProblem:
        status = 412 if self.from_header else 409
        return ApiProblem(status, "The record changed since that version. Read it again.",
                          kind="stale", current_version=current)


# Id cursors -----------------------------------------------------------------------------------


def encode_id_cursor(kind: str, last_id: int) -> str:
    raw = json.dumps([kind, last_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_id_cursor(kind: str, cursor: str | None) -> int | None:
    """The id after which the page starts; a cursor that is not this list's is a 400."""
    if cursor is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        data = None
    if (not isinstance(data, list) or len(data) != 2 or data[0] != kind
            or type(data[1]) is not int):
        raise bad_cursor()
    return data[1]


def id_page(statement: Select, id_column: Any, kind: str, query: ListQuery
            ) -> tuple[list[Row], str | None]:
    """The page of `statement`'s rows (the first entity of each carries the id) in id order
    after the query's cursor, and the cursor of the page after it (None: the last page)."""
    after = decode_id_cursor(kind, query.cursor)
    if after is not None:
        statement = statement.where(id_column > after)
    rows = get_session().execute(statement.order_by(id_column).limit(query.limit + 1)).all()
    page = rows[:query.limit]
    return page, encode_id_cursor(kind, page[-1][0].id) if len(rows) > query.limit else None


def bad_cursor() -> ApiProblem:
    return ApiProblem(400, "The cursor is not one this list gave (or it was made for another "
                      "order). Start again without it.", kind="bad-cursor")
